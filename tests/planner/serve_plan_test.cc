#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "planner/test_catalog.h"

namespace sskai::planner {
namespace {

using ::testing::HasSubstr;
using testing::RealCatalog;

ServeRequest SmallCpuModel(double mean_rps, double peak_rps) {
  ServeRequest r;
  r.traffic.mean_rps = mean_rps;
  r.traffic.peak_rps = peak_rps;
  r.latency_objective_seconds = 1.0;
  r.request_gflops = 2;  // a ~1 B-FLOP MLP/CNN forward pass
  r.model_memory_gib = 0.5;
  r.regions = {"us-east-1"};
  return r;
}

const ServeOption& Kind(const ServePlan& plan, ServeKind kind) {
  for (const ServeOption& o : plan.options) {
    if (o.kind == kind) return o;
  }
  ADD_FAILURE() << "missing kind";
  return plan.options.front();
}

TEST(ServePlanTest, LowTrafficPicksServerlessHighTrafficPicksReplicas) {
  auto low = PlanServing(SmallCpuModel(0.01, 0.1), RealCatalog(), ServeOptions{});
  ASSERT_TRUE(low.ok()) << low.status().ToString();
  EXPECT_EQ(low->best.kind, ServeKind::kServerless);
  ASSERT_TRUE(low->break_even_mean_rps.has_value());
  EXPECT_GT(*low->break_even_mean_rps, 0.01);

  auto high = PlanServing(SmallCpuModel(200, 400), RealCatalog(), ServeOptions{});
  ASSERT_TRUE(high.ok()) << high.status().ToString();
  EXPECT_NE(high->best.kind, ServeKind::kServerless);
  ASSERT_TRUE(high->break_even_mean_rps.has_value());
  EXPECT_LT(*high->break_even_mean_rps, 200);
  // Both sides of the break-even agree on where it is (same model, traffic only scales).
  EXPECT_NEAR(*low->break_even_mean_rps, *high->break_even_mean_rps, *high->break_even_mean_rps * 0.05);
  EXPECT_THAT(FormatServePlan(*high), HasSubstr("serverless"));
}

TEST(ServePlanTest, CostsPerThousandRequestsAreConsistent) {
  auto plan = PlanServing(SmallCpuModel(5, 20), RealCatalog(), ServeOptions{});
  ASSERT_TRUE(plan.ok());
  for (const ServeOption& o : plan->options) {
    if (!o.feasible) continue;
    EXPECT_NEAR(o.usd_per_1k_requests, o.usd_per_month / plan->requests_per_month * 1000, 1e-9);
    EXPECT_LE(o.p95_latency_seconds, 1.0);
  }
  EXPECT_LT(Kind(*plan, ServeKind::kSpotWithFallback).usd_per_month, Kind(*plan, ServeKind::kDedicated).usd_per_month);
}

TEST(ServePlanTest, GpuModelsCannotGoServerlessAndBigModelsExplain) {
  ServeRequest r = SmallCpuModel(1, 5);
  r.needs_gpu = true;
  r.model_memory_gib = 16;
  r.request_gflops = 2000;
  auto plan = PlanServing(r, RealCatalog(), ServeOptions{});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_FALSE(Kind(*plan, ServeKind::kServerless).feasible);
  EXPECT_THAT(Kind(*plan, ServeKind::kServerless).reason, HasSubstr("CPU-only"));
  EXPECT_FALSE(Kind(*plan, ServeKind::kDedicated).instance_type.empty());

  ServeRequest huge = SmallCpuModel(1, 5);
  huge.model_memory_gib = 20;
  auto huge_plan = PlanServing(huge, RealCatalog(), ServeOptions{});
  ASSERT_TRUE(huge_plan.ok());
  EXPECT_THAT(Kind(*huge_plan, ServeKind::kServerless).reason, HasSubstr("serverless maximum"));
}

TEST(ServePlanTest, ColdStartsBreakTightObjectivesAtSparseTraffic) {
  ServeRequest r = SmallCpuModel(0.0005, 0.01);  // one request every ~33 min: every request is cold
  r.model_memory_gib = 2;                        // 2 GiB at 0.1 GiB/s: 20 s cold start
  auto plan = PlanServing(r, RealCatalog(), ServeOptions{});
  ASSERT_TRUE(plan.ok());
  const ServeOption& sl = Kind(*plan, ServeKind::kServerless);
  EXPECT_FALSE(sl.feasible);
  EXPECT_THAT(sl.reason, HasSubstr("cold starts"));
}

TEST(ServePlanTest, HourlySeriesAndBadInput) {
  ServeRequest r = SmallCpuModel(1, 1);
  r.traffic.hourly_rps.assign(24, 0);
  for (int hour = 9; hour < 17; ++hour) r.traffic.hourly_rps[hour] = 3;
  auto plan = PlanServing(r, RealCatalog(), ServeOptions{});
  ASSERT_TRUE(plan.ok());
  EXPECT_NEAR(plan->requests_per_month, 3 * 8 * 3600 * 730.0 / 24, 1);
  r.traffic.hourly_rps.resize(5);
  EXPECT_EQ(PlanServing(r, RealCatalog(), {}).status().code(), StatusCode::kInvalidArgument);
  ServeRequest bad = SmallCpuModel(10, 5);  // peak < mean
  EXPECT_EQ(PlanServing(bad, RealCatalog(), {}).status().code(), StatusCode::kInvalidArgument);
  bad = SmallCpuModel(1, 5);
  bad.latency_objective_seconds = -1;
  EXPECT_EQ(PlanServing(bad, RealCatalog(), {}).status().code(), StatusCode::kInvalidArgument);
  bad = SmallCpuModel(1, 5);
  bad.instance_types = {"x9.nope"};
  EXPECT_EQ(PlanServing(bad, RealCatalog(), {}).status().code(), StatusCode::kNotFound);
  bad = SmallCpuModel(1, 5);
  bad.request_gflops = 1e6;  // ~hours per request everywhere
  bad.latency_objective_seconds = 0.01;
  EXPECT_THAT(PlanServing(bad, RealCatalog(), {}).status().message(), HasSubstr("no serving option"));
}

}  // namespace
}  // namespace sskai::planner
