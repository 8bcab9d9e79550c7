#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "planner/test_catalog.h"

namespace sskai::planner {
namespace {

using ::testing::HasSubstr;
using testing::Decoder;
using testing::RealCatalog;

const Offering& Find(const Catalog& catalog, const std::string& type) {
  for (const Offering& o : catalog.offerings) {
    if (o.instance_type == type) return o;
  }
  ADD_FAILURE() << "no " << type;
  return catalog.offerings.front();
}

TEST(PerfModelTest, MfuCurveMatchesH200Measurements) {
  EXPECT_NEAR(MfuForParams(134.1e6), 0.389, 1e-9);
  EXPECT_NEAR(MfuForParams(1345.4e6), 0.491, 1e-9);
  EXPECT_NEAR(MfuForParams(70e9), 0.465, 1e-9);  // clamped beyond the largest measurement
  EXPECT_LT(MfuForParams(10e6), 0.219);           // extrapolated down for tiny models
  EXPECT_GT(MfuForParams(10e6), 0.1);
  EXPECT_GT(MfuForParams(500e6), 0.409);
  EXPECT_LT(MfuForParams(500e6), 0.452);
}

TEST(PerfModelTest, ReproducesH200ReferenceThroughput) {
  // 1345M decoder (d2048 L24), seq 1024, micro-batch 16: measured 56,018 tokens/s on one H200.
  const Catalog& catalog = RealCatalog();
  TrainWorkload w = Decoder(1345.4e6, 56018.0 * 3600);
  w.layers = 24;
  w.d_model = 2048;
  w.micro_batch = 16;
  auto est = EstimateRun(w, Find(catalog, "p5en.48xlarge"), catalog, 1, PerfOptions{});  // 8x H200
  ASSERT_TRUE(est.ok()) << est.status().ToString();
  // 8 GPUs over PCIe-free NVLink: ~1/8 of an hour plus a little all-reduce.
  EXPECT_NEAR(est->work_seconds, 3600.0 / 8, 3600.0 / 8 * 0.15);
  EXPECT_GT(est->comm_seconds_per_step, 0);
}

TEST(PerfModelTest, SlowerGpusTakeLongerAndMoreNodesFaster) {
  const Catalog& catalog = RealCatalog();
  TrainWorkload w = Decoder(125e6, 2e9);
  auto t4 = EstimateRun(w, Find(catalog, "g4dn.xlarge"), catalog, 1, PerfOptions{});
  auto a10 = EstimateRun(w, Find(catalog, "g5.xlarge"), catalog, 1, PerfOptions{});
  auto a10_4 = EstimateRun(w, Find(catalog, "g5.xlarge"), catalog, 4, PerfOptions{});
  ASSERT_TRUE(t4.ok() && a10.ok() && a10_4.ok());
  EXPECT_GT(t4->work_seconds, a10->work_seconds);
  EXPECT_LT(a10_4->work_seconds, a10->work_seconds);
  EXPECT_GT(a10_4->work_seconds, a10->work_seconds / 4);  // communication costs something
}

TEST(PerfModelTest, MemoryDoesNotFitGivesNeededAndAvailable) {
  const Catalog& catalog = RealCatalog();
  auto est = EstimateRun(Decoder(7e9, 1e9), Find(catalog, "g5.xlarge"), catalog, 1, PerfOptions{});
  ASSERT_FALSE(est.ok());
  EXPECT_EQ(est.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(est.status().message(), HasSubstr("GiB per GPU (replicated data parallel), A10G has 22.4 GiB"));
  TrainWorkload lora = Decoder(7e9, 1e9);
  lora.trainable_params = 40e6;
  lora.micro_batch = 1;
  EXPECT_TRUE(EstimateRun(lora, Find(catalog, "g6e.xlarge"), catalog, 1, PerfOptions{}).ok());
}

TEST(PerfModelTest, NonCudaAndUnspecifiedGpusAreRejected) {
  const Catalog& catalog = RealCatalog();
  TrainWorkload w = Decoder(125e6, 1e9);
  EXPECT_THAT(EstimateRun(w, Find(catalog, "trn1.2xlarge"), catalog, 1, PerfOptions{}).status().message(),
              HasSubstr("not a CUDA GPU"));
  EXPECT_THAT(EstimateRun(w, Find(catalog, "g5g.xlarge"), catalog, 1, PerfOptions{}).status().message(),
              HasSubstr("no compute spec"));
}

TEST(PerfModelTest, CpuUsesEfficiencyParameter) {
  const Catalog& catalog = RealCatalog();
  TrainWorkload w = Decoder(10e6, 1e8);
  PerfOptions slow, fast;
  fast.cpu_efficiency = 2 * slow.cpu_efficiency;
  auto a = EstimateRun(w, Find(catalog, "c7i.8xlarge"), catalog, 1, slow);
  auto b = EstimateRun(w, Find(catalog, "c7i.8xlarge"), catalog, 1, fast);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NEAR(a->work_seconds / b->work_seconds, 2.0, 1e-6);
}

TEST(PerfModelTest, AbsurdNumbersAreInvalid) {
  const Catalog& catalog = RealCatalog();
  const Offering& o = Find(catalog, "g5.xlarge");
  EXPECT_EQ(EstimateRun(Decoder(-1, 1e9), o, catalog, 1, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EstimateRun(Decoder(1e6, 0), o, catalog, 1, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EstimateRun(Decoder(1e20, 1e9), o, catalog, 1, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EstimateRun(Decoder(1e6, 1e9), o, catalog, 0, {}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sskai::planner
