#include <chrono>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "planner/test_catalog.h"

namespace sskai::planner {
namespace {

using ::testing::HasSubstr;
using testing::RealCatalog;

constexpr const char* kHeader =
    "instance_type,region,zone,arch,vcpus,memory_gib,accelerator,accelerator_count,"
    "accelerator_memory_gib,ondemand_usd_per_hour,spot_usd_per_hour,interruption_band\n";

TEST(CatalogTest, LoadsCommittedCatalog) {
  const Catalog& catalog = RealCatalog();
  EXPECT_EQ(catalog.offerings.size(), 3673u);
  EXPECT_EQ(catalog.catalog_date.size(), 10u);
  EXPECT_EQ(catalog.prices_date, catalog.catalog_date);
  const GpuSpec* h100 = catalog.FindGpu("H100");
  ASSERT_NE(h100, nullptr);
  EXPECT_DOUBLE_EQ(h100->bf16_tflops, 989.4);
  EXPECT_TRUE(h100->cuda);
  EXPECT_FALSE(catalog.FindGpu("Trainium2")->cuda);
  EXPECT_EQ(catalog.FindGpu("K80"), nullptr);
  EXPECT_NEAR(catalog.serverless.usd_per_gb_second, 0.0000166667, 1e-12);
  EXPECT_DOUBLE_EQ(catalog.serverless.spot_notice_seconds, 120);
  bool found = false;
  for (const Offering& o : catalog.offerings) {
    if (o.instance_type == "g5.xlarge" && o.region == "us-east-1") {
      found = true;
      EXPECT_EQ(o.accelerator, "A10G");
      EXPECT_DOUBLE_EQ(o.accelerator_count, 1);
      EXPECT_NEAR(o.accelerator_memory_gib, 22.35, 0.01);
      EXPECT_TRUE(o.ondemand_usd_per_hour.has_value());
      EXPECT_GE(o.interruption_band, 0);
    }
  }
  EXPECT_TRUE(found);
}

TEST(CatalogTest, LoadsFastEnoughForServerStart) {
  auto start = std::chrono::steady_clock::now();
  auto catalog = LoadCatalog(SSKAI_CATALOG_DIR);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(catalog.ok());
  EXPECT_LT(ms, 500);  // measured ~10 ms in Release; generous for sanitizer/debug builds
}

TEST(CatalogTest, MissingDirectoryIsNotFound) {
  auto catalog = LoadCatalog("/nonexistent/catalog");
  EXPECT_EQ(catalog.status().code(), StatusCode::kNotFound);
}

TEST(CatalogTest, BadNumberNamesFileLineAndField) {
  std::string text = std::string(kHeader) + "g5.xlarge,us-east-1,use1-az1,x86_64,4,16,A10G,1,22.35,1.006,0.4,1\n" +
                     "g5.xlarge,us-east-1,use1-az2,x86_64,four,16,A10G,1,22.35,1.006,0.4,1\n";
  auto parsed = ParseOfferingsCsv(text, "offerings.csv");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("offerings.csv:3: field 'vcpus': 'four' is not a number"));
}

TEST(CatalogTest, RejectsNegativePriceBadBandMissingColumnAndShortRow) {
  std::string row = "g5.xlarge,us-east-1,use1-az1,x86_64,4,16,A10G,1,22.35,";
  EXPECT_THAT(ParseOfferingsCsv(std::string(kHeader) + row + "-1,0.4,1\n", "f.csv").status().message(),
              HasSubstr("f.csv:2: field 'ondemand_usd_per_hour'"));
  EXPECT_THAT(ParseOfferingsCsv(std::string(kHeader) + row + "1,0.4,7\n", "f.csv").status().message(),
              HasSubstr("field 'interruption_band': 7 is not an integer 0..4"));
  EXPECT_THAT(ParseOfferingsCsv(std::string(kHeader) + row + "1,0.4\n", "f.csv").status().message(),
              HasSubstr("f.csv:2: expected 12 fields, found 11"));
  EXPECT_THAT(ParseOfferingsCsv("instance_type,region\n", "f.csv").status().message(),
              HasSubstr("missing column 'zone'"));
  EXPECT_THAT(ParseOfferingsCsv(std::string(kHeader) + row + "1e9,0.4,1\n", "f.csv").status().message(),
              HasSubstr("outside (0, 10000)"));
}

TEST(CatalogTest, PriceRefreshUpdatesPricesAndDate) {
  const Catalog& base = RealCatalog();
  std::string text = "# as_of=2099-01-02\ninstance_type,region,zone,ondemand_usd_per_hour,spot_usd_per_hour,interruption_band\n"
                     "g5.xlarge,us-east-1,use1-az1,,0.123,4\n";
  auto updated = ApplyPriceText(base, text, "prices.csv");
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->prices_date, "2099-01-02");
  for (size_t idx = 0; idx < base.offerings.size(); ++idx) {
    const Offering& o = updated->offerings[idx];
    if (o.instance_type == "g5.xlarge" && o.zone == "use1-az1") {
      EXPECT_DOUBLE_EQ(*o.spot_usd_per_hour, 0.123);
      EXPECT_EQ(o.interruption_band, 4);
      EXPECT_EQ(o.ondemand_usd_per_hour, base.offerings[idx].ondemand_usd_per_hour);  // empty cell keeps it
    }
  }
  EXPECT_EQ(base.prices_date, base.catalog_date);  // base untouched
}

TEST(CatalogTest, PriceRefreshErrorsAreAllOrNothingAndSpecific) {
  const Catalog& base = RealCatalog();
  std::string head = "# as_of=2099-01-02\ninstance_type,region,zone,ondemand_usd_per_hour,spot_usd_per_hour\n";
  EXPECT_THAT(ApplyPriceText(base, head + "g9.huge,us-east-1,use1-az1,1,1\n", "p.csv").status().message(),
              HasSubstr("p.csv:3: unknown offering g9.huge"));
  EXPECT_THAT(ApplyPriceText(base, head + "g5.xlarge,us-east-1,use1-az1,1,abc\n", "p.csv").status().message(),
              HasSubstr("p.csv:3: field 'spot_usd_per_hour': 'abc' is not a number"));
  EXPECT_THAT(ApplyPriceText(base, "instance_type\n", "p.csv").status().message(), HasSubstr("as_of"));
  EXPECT_THAT(ApplyPriceText(base, "# as_of=2000-01-01\ninstance_type,region,zone,ondemand_usd_per_hour,spot_usd_per_hour\n", "p.csv")
                  .status().message(), HasSubstr("older than the loaded prices"));
  EXPECT_EQ(ApplyPriceFile(base, "/nonexistent/p.csv").status().code(), StatusCode::kNotFound);
}

TEST(CatalogTest, LocalComputeBecomesOfferings) {
  const Catalog& base = RealCatalog();
  LocalCompute machine{.name = "this-machine", .vcpus = 2, .memory_gib = 8};
  LocalCompute slurm{.name = "slurm:gpu", .vcpus = 32, .memory_gib = 256, .accelerator = "A100", .accelerator_count = 4,
                     .nodes = 2, .pricing = LocalCompute::Pricing::kSameAs, .same_as_instance_type = "p4d.24xlarge"};
  LocalCompute rated{.name = "lab", .vcpus = 8, .memory_gib = 32, .pricing = LocalCompute::Pricing::kRate, .usd_per_hour = 0.5};
  auto updated = AddLocalCompute(base, {machine, slurm, rated});
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  ASSERT_EQ(updated->offerings.size(), base.offerings.size() + 3);
  const Offering& local = updated->offerings[base.offerings.size()];
  EXPECT_TRUE(local.local);
  EXPECT_EQ(local.region, "local");
  EXPECT_DOUBLE_EQ(*local.ondemand_usd_per_hour, 0);
  EXPECT_FALSE(local.spot_usd_per_hour.has_value());
  const Offering& partition = updated->offerings[base.offerings.size() + 1];
  EXPECT_GT(*partition.ondemand_usd_per_hour, 10);  // p4d.24xlarge us-east-1 on-demand
  EXPECT_DOUBLE_EQ(partition.accelerator_memory_gib, 40);
  EXPECT_DOUBLE_EQ(*updated->offerings.back().ondemand_usd_per_hour, 0.5);

  slurm.same_as_instance_type = "p9.huge";
  EXPECT_EQ(AddLocalCompute(base, {slurm}).status().code(), StatusCode::kNotFound);
  machine.accelerator = "K80";
  machine.accelerator_count = 1;
  EXPECT_THAT(AddLocalCompute(base, {machine}).status().message(), HasSubstr("unknown GPU 'K80'"));
  rated.usd_per_hour = -1;
  EXPECT_EQ(AddLocalCompute(base, {rated}).status().code(), StatusCode::kInvalidArgument);
  LocalCompute dup{.name = "g5.xlarge", .vcpus = 1, .memory_gib = 1};
  EXPECT_THAT(AddLocalCompute(base, {dup}).status().message(), HasSubstr("duplicate"));
}

}  // namespace
}  // namespace sskai::planner
