// The ledger: prices across price changes, day splits, open intervals, unpriced resources,
// totals equal to the sum of entries, restarts not double counted, a hand-computed job.
#include <random>

#include "common/clock.h"
#include "cost_fixture.h"

namespace sskai::cost {
namespace {

constexpr const char* kG5 = "g5.xlarge@use1-az1";

TEST_F(CostTest, RecordCatalogPricesWritesOnlyChanges) {
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0).ok());
  auto points = store_->ListPricePoints().value();
  EXPECT_EQ(points.size(), 6u);  // 3 resources x 2 markets
  for (const auto& p : points) EXPECT_EQ(p.effective_from, 0);
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0 + 10).ok());
  EXPECT_EQ(store_->ListPricePoints().value().size(), 6u);
  catalog_.offerings[0].spot_usd_per_hour = 0.5;
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0 + 20).ok());
  points = store_->ListPricePoints().value();
  ASSERT_EQ(points.size(), 7u);
  // The p9 spot market is recorded as unpriced, the local machine as a real zero in both markets.
  int unpriced = 0, zero = 0;
  for (const auto& p : points) {
    if (!p.priced) ++unpriced;
    if (p.resource == "this-machine") {
      EXPECT_TRUE(p.priced);
      EXPECT_EQ(p.usd_per_hour, 0);
      ++zero;
    }
  }
  EXPECT_EQ(unpriced, 1);
  EXPECT_EQ(zero, 2);
}

TEST_F(CostTest, PriceChangeMidRunSplitsTheInterval) {
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0).ok());
  auto u = Open(alice_, "job", 1, kG5, 2, true, kT0 + 3600);
  ASSERT_TRUE(store_->CloseUsage(u.id, kT0 + 7200).ok());
  catalog_.offerings[0].spot_usd_per_hour = 0.5;
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0 + 5400).ok());
  Ledger ledger(*store_);
  ASSERT_TRUE(ledger.Sync(kT0 + 9000).ok());
  auto entries = store_->ListCostEntries(0, kT0, kT0 + 86400).value();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_DOUBLE_EQ(entries[0].end, kT0 + 5400);
  EXPECT_NEAR(entries[0].cost_usd, 2 * 0.5 * 0.4, 1e-12);
  EXPECT_NEAR(entries[1].cost_usd, 2 * 0.5 * 0.5, 1e-12);
  Report r = Query(kT0, kT0 + 86400);
  EXPECT_NEAR(r.total_usd, 0.9, 1e-9);
  EXPECT_NEAR(r.ondemand_usd, 2 * 1.006, 1e-9);
  EXPECT_NEAR(r.savings_usd, 2.012 - 0.9, 1e-9);
  EXPECT_NEAR(r.compute_seconds, 2 * 3600, 1e-6);
}

TEST_F(CostTest, IntervalAcrossMidnightIsSplitByDay) {
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0).ok());
  auto u = Open(alice_, "job", 1, kG5, 1, false, kT0 + 86400 - 1800);
  ASSERT_TRUE(store_->CloseUsage(u.id, kT0 + 86400 + 3600).ok());
  Ledger ledger(*store_);
  ASSERT_TRUE(ledger.Sync(kT0 + 2 * 86400).ok());
  Report r = Query(kT0, kT0 + 2 * 86400, "day");
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].key, "2024-06-01");
  EXPECT_EQ(r.groups[1].key, "2024-06-02");
  EXPECT_NEAR(r.groups[0].cost_usd, 0.5 * 1.006, 1e-9);
  EXPECT_NEAR(r.groups[1].cost_usd, 1.006, 1e-9);
  // A range that is not day-aligned is clipped pro rata from the entries.
  Report part = Query(kT0 + 86400 - 900, kT0 + 86400 + 1800);
  EXPECT_NEAR(part.total_usd, 0.75 * 1.006, 1e-9);
}

TEST_F(CostTest, OpenIntervalIsPricedUpToNow) {
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0).ok());
  FakeClock clock(static_cast<int64_t>(kT0 * 1000));
  auto u = Open(alice_, "endpoint", 7, kG5, 1, false, clock.NowSeconds());
  Ledger ledger(*store_);
  clock.Advance(std::chrono::seconds(600));
  ASSERT_TRUE(ledger.Sync(clock.NowSeconds()).ok());
  EXPECT_NEAR(Query(kT0, kT0 + 86400).total_usd, 600 / 3600.0 * 1.006, 1e-9);
  clock.Advance(std::chrono::seconds(600));
  ASSERT_TRUE(ledger.Sync(clock.NowSeconds()).ok());
  EXPECT_NEAR(Query(kT0, kT0 + 86400).total_usd, 1200 / 3600.0 * 1.006, 1e-9);
  EXPECT_EQ(store_->ListCostEntries(0, kT0, kT0 + 86400).value().size(), 1u);  // one growing entry
  ASSERT_TRUE(store_->CloseUsage(u.id, kT0 + 1500).ok());
  clock.Advance(std::chrono::seconds(600));
  ASSERT_TRUE(ledger.Sync(clock.NowSeconds()).ok());
  ASSERT_TRUE(ledger.Sync(clock.NowSeconds() + 100).ok());
  EXPECT_NEAR(Query(kT0, kT0 + 86400).total_usd, 1500 / 3600.0 * 1.006, 1e-9);
  EXPECT_TRUE(store_->ListUnbilledUsage(0, 10).value().empty());
}

TEST_F(CostTest, MissingPriceIsUnpricedNeverZero) {
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0).ok());
  auto a = Open(alice_, "job", 1, "unknown.type@nowhere", 2, false, kT0);
  auto b = Open(alice_, "job", 2, "p9.huge@use1-az1", 1, true, kT0);  // no spot market
  auto c = Open(alice_, "job", 3, "this-machine", 1, false, kT0);     // priced at zero
  for (const auto& u : {a, b, c}) ASSERT_TRUE(store_->CloseUsage(u.id, kT0 + 3600).ok());
  Ledger ledger(*store_);
  ASSERT_TRUE(ledger.Sync(kT0 + 7200).ok());
  Report r = Query(kT0, kT0 + 86400, "job");
  ASSERT_EQ(r.groups.size(), 3u);
  EXPECT_EQ(r.groups[0].unpriced_seconds, 7200);
  EXPECT_EQ(r.groups[1].unpriced_seconds, 3600);
  EXPECT_EQ(r.groups[2].unpriced_seconds, 0);
  EXPECT_EQ(r.total_usd, 0);
  EXPECT_EQ(r.unpriced_seconds, 10800);
  auto entries = store_->ListCostEntries(0, kT0, kT0 + 86400).value();
  int unpriced = 0;
  for (const auto& e : entries) unpriced += e.priced ? 0 : 1;
  EXPECT_EQ(unpriced, 2);
}

TEST_F(CostTest, TotalsEqualTheSumOfEntries) {
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0).ok());
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> when(0, 5 * 86400), len(60, 2 * 86400);
  Ledger ledger(*store_);
  double now = kT0;
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 20; ++i) {
      double start = kT0 + when(rng);
      auto u = Open(i % 2 ? alice_ : bob_, i % 3 ? "job" : "endpoint", i, i % 4 ? kG5 : "this-machine",
                    1 + i % 3, i % 2 == 0, start);
      if (i % 5 != 0) ASSERT_TRUE(store_->CloseUsage(u.id, start + len(rng)).ok());
    }
    catalog_.offerings[0].spot_usd_per_hour = 0.3 + 0.01 * round;
    now += 86400 * 0.7;
    ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, now).ok());
    ASSERT_TRUE(ledger.Sync(now).ok());
  }
  double from = kT0 - 86400, to = kT0 + 20 * 86400;
  double entries = SumEntries(from, to);
  for (const char* g : {"none", "day", "job", "endpoint", "user"}) {
    Report r = Query(from, to, g);
    double groups = 0;
    for (const auto& x : r.groups) groups += x.cost_usd;
    EXPECT_NEAR(r.total_usd, entries, 1e-6) << g;
    EXPECT_NEAR(groups, r.total_usd, 1e-9) << g;
  }
  // Entries path (not day-aligned) agrees with the rollup path.
  EXPECT_NEAR(Query(from + 1, to).total_usd, entries, 1e-6);
  EXPECT_GT(entries, 0);
}

TEST_F(CostTest, RestartsAreNotDoubleCounted) {
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0).ok());
  {
    Ledger ledger(*store_);
    auto first = Open(alice_, "job", 1, kG5, 1, false, kT0);
    ASSERT_TRUE(ledger.Sync(kT0 + 1000).ok());
    // The controller closes the record on restart and opens a new one for the resumed run.
    ASSERT_TRUE(store_->CloseOpenUsage("job", 1, kT0 + 1800).ok());
    Open(alice_, "job", 1, kG5, 1, false, kT0 + 1800);
    ASSERT_TRUE(ledger.Sync(kT0 + 2000).ok());
    ASSERT_TRUE(ledger.Sync(kT0 + 2000).ok());  // idempotent
    (void)first;
  }
  Reopen();  // server restart: a new ledger over the same database
  Ledger ledger(*store_);
  ASSERT_TRUE(ledger.Sync(kT0 + 3600).ok());
  ASSERT_TRUE(store_->CloseOpenUsage("job", 1, kT0 + 3600).ok());
  ASSERT_TRUE(ledger.Sync(kT0 + 4000).ok());
  Report r = Query(kT0, kT0 + 86400);
  EXPECT_NEAR(r.total_usd, 1.006, 1e-9);
  EXPECT_NEAR(r.compute_seconds, 3600, 1e-6);
  EXPECT_NEAR(SumEntries(kT0, kT0 + 86400), 1.006, 1e-9);
}

TEST_F(CostTest, HandComputedJobMatchesToTheCent) {
  // 2 spot g5.xlarge workers for 1 h 23 min 17 s at $0.40/h, then the spot price moves to
  // $0.4187/h for the last 41 min 3 s: 2 x (4997 s x 0.40 + 2463 s x 0.4187) / 3600
  //   = 2 x (1998.8 + 1031.2581) / 3600 = 1.683365... -> $1.68 (on-demand: 2 x 7460 x 1.006 / 3600
  //   = 4.169311... -> $4.17; savings $2.49).
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0).ok());
  auto u = Open(alice_, "job", 1, kG5, 2, true, kT0 + 100);
  catalog_.offerings[0].spot_usd_per_hour = 0.4187;
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0 + 100 + 4997).ok());
  ASSERT_TRUE(store_->CloseUsage(u.id, kT0 + 100 + 4997 + 2463).ok());
  Ledger ledger(*store_);
  ASSERT_TRUE(ledger.Sync(kT0 + 86000).ok());
  Report r = Query(kT0, kT0 + 86400);
  EXPECT_EQ(std::round(r.total_usd * 100) / 100, 1.68);
  EXPECT_EQ(std::round(r.ondemand_usd * 100) / 100, 4.17);
  EXPECT_EQ(std::round(r.savings_usd * 100) / 100, 2.49);
}

TEST_F(CostTest, GroupsByTagAndModel) {
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0).ok());
  int64_t j1 = NewJob(alice_, "succeeded"), j2 = NewJob(alice_, "succeeded");
  ASSERT_TRUE(store_->SetSubjectTags("job", j1, R"({"team":"nlp"})").ok());
  for (int64_t j : {j1, j2}) {
    auto u = Open(alice_, "job", j, kG5, 1, false, kT0);
    ASSERT_TRUE(store_->CloseUsage(u.id, kT0 + 3600).ok());
  }
  Ledger ledger(*store_);
  ASSERT_TRUE(ledger.Sync(kT0 + 4000).ok());
  Report r = Query(kT0, kT0 + 86400, "tag:team");
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].key, "(none)");
  EXPECT_EQ(r.groups[1].key, "nlp");
  EXPECT_NEAR(r.groups[1].cost_usd, 1.006, 1e-9);
  EXPECT_EQ(Query(kT0, kT0 + 86400, "model").groups.size(), 1u);
  store::CostQuery bad;
  bad.from = kT0;
  bad.to = kT0 + 1;
  bad.group_by = "color";
  EXPECT_EQ(store_->QueryCost(bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CostTest, ServerlessAndEndpointUnitCosts) {
  EXPECT_NEAR(ServerlessUsd(catalog_.serverless, 1e6, 400000), 0.20 + 400000 * 0.0000166667, 1e-9);
  // One dedicated replica at $1.006/h for an hour serving 36,000 requests busy 900 s.
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, kT0).ok());
  auto u = Open(alice_, "endpoint", 5, kG5, 1, false, kT0);
  ASSERT_TRUE(store_->CloseUsage(u.id, kT0 + 3600).ok());
  Ledger ledger(*store_);
  ASSERT_TRUE(ledger.Sync(kT0 + 4000).ok());
  for (int m = 0; m < 60; ++m) {
    store::RequestUsage ru{5, alice_, kT0 + 60.0 * m, 300, 1, 7.5, 1024, 15000};
    ASSERT_TRUE(store_->AddRequestUsage(ru).ok());
    ASSERT_TRUE(store_->AddRequestUsage(ru).ok());  // same bucket: adds up
  }
  auto costs = EndpointCosts(*store_, catalog_.serverless, alice_, kT0, kT0 + 86400).value();
  ASSERT_EQ(costs.size(), 1u);
  const auto& e = costs[0];
  EXPECT_EQ(e.requests, 36000);
  EXPECT_EQ(e.tokens, 1'800'000);
  EXPECT_NEAR(e.busy_seconds, 900, 1e-9);
  EXPECT_NEAR(e.busy_usd, 1.006 / 4, 1e-9);
  EXPECT_NEAR(e.idle_usd, 1.006 * 3 / 4, 1e-9);
  EXPECT_NEAR(e.usd_per_1k_predictions, 1.006 / 36, 1e-9);
  EXPECT_NEAR(e.usd_per_million_tokens, 1.006 / 1.8, 1e-9);
  EXPECT_NEAR(e.serverless_usd, ServerlessUsd(catalog_.serverless, 36000, 900), 1e-12);
}

TEST_F(CostTest, StorageAccruesPerGbMonth) {
  store::DatasetVersion v;
  v.blob_sha256 = "ab";
  v.size_bytes = 10'000'000'000;  // 10 GB
  v.created_at = kT0;
  ASSERT_TRUE(store_->AddDatasetVersion(alice_, "d", v).ok());
  store::CostQuery q;
  q.from = kT0;
  q.to = kT0 + kSecondsPerMonth;
  auto r = BuildReport(*store_, q, kDefaultStorageUsdPerGbMonth).value();
  EXPECT_NEAR(r.storage_usd, 10 * 0.023, 1e-9);
  EXPECT_EQ(r.total_usd, 0);
}

TEST(CostTime, ParsesDatesAndSeconds) {
  EXPECT_EQ(ParseTime("from", "2024-06-01").value(), kT0);
  EXPECT_EQ(ParseTime("from", "1717200000").value(), kT0);
  for (const char* bad : {"", "2024-13-01", "2024-02-30", "yesterday", "-5", "2024-6-1"}) {
    auto r = ParseTime("from", bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    if (!r.ok()) EXPECT_NE(r.status().message().find("'from'"), std::string::npos);
  }
  auto [a, b] = MonthOf(kT0 + 15 * 86400.0);
  EXPECT_EQ(a, kT0);
  EXPECT_EQ(b, kT0 + 30 * 86400.0);
  EXPECT_EQ(DateString(kT0), "2024-06-01");
}

}  // namespace
}  // namespace sskai::cost
