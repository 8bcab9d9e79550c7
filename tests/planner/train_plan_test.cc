#include <cmath>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "planner/test_catalog.h"

namespace sskai::planner {
namespace {

using ::testing::HasSubstr;
using testing::Decoder;
using testing::RealCatalog;

TrainRequest Request(double params, double tokens, double deadline_hours) {
  TrainRequest r;
  r.workload = Decoder(params, tokens);
  r.deadline_seconds = deadline_hours * 3600;
  return r;
}

TEST(TrainPlanTest, HazardFromBands) {
  PlanOptions options;
  EXPECT_NEAR(HazardPerHour(0, options), -std::log(1 - 0.025) / 730, 1e-12);
  EXPECT_LT(HazardPerHour(0, options), HazardPerHour(4, options));
  EXPECT_DOUBLE_EQ(HazardPerHour(-1, options), HazardPerHour(4, options));  // unknown = worst
}

TEST(TrainPlanTest, PicksSpotWithGenerousDeadlineAndReportsSavings) {
  auto plan = PlanTraining(Request(125e6, 5e9, 48), RealCatalog(), PlanOptions{});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->best.market, Market::kSpot);
  EXPECT_TRUE(plan->best.meets_deadline);
  EXPECT_TRUE(plan->best_ondemand.has_value());
  EXPECT_GT(plan->savings_vs_ondemand, 0.3);
  EXPECT_LE(plan->best.expected_cost_usd, plan->ranked.back().expected_cost_usd);
  EXPECT_FALSE(plan->rejected.empty());
  EXPECT_THAT(plan->reason, HasSubstr("least expected cost"));
  std::string table = FormatTrainPlan(*plan);
  EXPECT_THAT(table, HasSubstr(plan->best.instance_type));
  EXPECT_THAT(table, HasSubstr("rejected"));
}

TEST(TrainPlanTest, SmallCheckpointUsesNoticeLargeUsesYoungDaly) {
  auto small = PlanTraining(Request(125e6, 5e9, 48), RealCatalog(), PlanOptions{});
  ASSERT_TRUE(small.ok());
  EXPECT_TRUE(small->best.checkpoint_on_notice);  // 1.6 GiB writes in ~3 s
  TrainRequest big = Request(7e9, 2e9, 24 * 14);
  big.workload.trainable_params = 7e9;
  big.workload.micro_batch = 1;
  big.instance_types = {"p5.48xlarge", "p4de.24xlarge", "p5en.48xlarge"};
  PlanOptions options;
  options.checkpoint_write_gib_per_second = 0.2;  // 91 GiB checkpoint: ~8 min > notice
  auto large = PlanTraining(big, RealCatalog(), options);
  ASSERT_TRUE(large.ok()) << large.status().ToString();
  for (const TrainCandidate& c : large->ranked) {
    if (c.market == Market::kSpot) {
      EXPECT_FALSE(c.checkpoint_on_notice);
      EXPECT_GT(c.checkpoint_interval_seconds, 0);
    }
  }
}

TEST(TrainPlanTest, TightDeadlineFallsBackToOnDemand) {
  // With 0.9999 certainty the Poisson tail forces at least one restart into the budget of time;
  // choose a deadline just above the on-demand run time.
  TrainRequest r = Request(125e6, 5e9, 96);
  r.instance_types = {"g5.xlarge"};
  r.regions = {"us-east-1"};
  r.max_nodes = 1;
  auto loose = PlanTraining(r, RealCatalog(), PlanOptions{});
  ASSERT_TRUE(loose.ok());
  ASSERT_TRUE(loose->best_ondemand);
  double od_seconds = loose->best_ondemand->expected_seconds;
  r.max_nodes = 1;
  r.deadline_seconds = od_seconds + 60;  // a restart (300 s) no longer fits
  r.deadline_probability = 0.9999;
  PlanOptions exact;
  exact.runtime_sigma = 0;  // isolate the interruption tail from runtime uncertainty
  auto tight = PlanTraining(r, RealCatalog(), exact);
  ASSERT_TRUE(tight.ok()) << tight.status().ToString();
  EXPECT_EQ(tight->best.market, Market::kOnDemand);
  EXPECT_THAT(tight->reason, HasSubstr("on-demand"));
}

TEST(TrainPlanTest, ImpossibleRequestsExplainTheClosest) {
  auto impossible = PlanTraining(Request(125e6, 5e12, 1), RealCatalog(), PlanOptions{});
  EXPECT_EQ(impossible.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(impossible.status().message(), HasSubstr("no plan meets the 1.0 h deadline with 95% probability"));
  EXPECT_THAT(impossible.status().message(), HasSubstr("the fastest is"));

  auto too_big = PlanTraining(Request(70e9, 1e9, 1000), RealCatalog(), PlanOptions{});
  EXPECT_EQ(too_big.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(too_big.status().message(), HasSubstr("GiB per GPU"));
  EXPECT_THAT(too_big.status().message(), HasSubstr("the closest is B200 on p6-b200.48xlarge with 179 GiB"));

  TrainRequest budget = Request(125e6, 5e9, 48);
  budget.budget_usd = 0.01;
  EXPECT_THAT(PlanTraining(budget, RealCatalog(), PlanOptions{}).status().message(), HasSubstr("budget"));
}

TEST(TrainPlanTest, BadInputsAreClearErrors) {
  const Catalog& catalog = RealCatalog();
  TrainRequest r = Request(125e6, 5e9, 48);
  r.instance_types = {"g9.mega"};
  EXPECT_THAT(PlanTraining(r, catalog, {}).status().message(), HasSubstr("unknown instance type 'g9.mega'"));
  r = Request(125e6, 5e9, 48);
  r.regions = {"mars-1"};
  EXPECT_EQ(PlanTraining(r, catalog, {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(PlanTraining(Request(125e6, 5e9, -1), catalog, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanTraining(Request(-5, 5e9, 10), catalog, {}).status().code(), StatusCode::kInvalidArgument);
  r = Request(125e6, 5e9, 48);
  r.deadline_probability = 1.5;
  EXPECT_EQ(PlanTraining(r, catalog, {}).status().code(), StatusCode::kInvalidArgument);
  r.deadline_probability = 0.95;
  r.max_nodes = 0;
  EXPECT_EQ(PlanTraining(r, catalog, {}).status().code(), StatusCode::kInvalidArgument);
}

TEST(TrainPlanTest, LocalFreeMachineWinsWhenFastEnough) {
  auto catalog = AddLocalCompute(RealCatalog(), {LocalCompute{.name = "this-machine", .vcpus = 64, .memory_gib = 256}});
  ASSERT_TRUE(catalog.ok());
  auto plan = PlanTraining(Request(10e6, 5e7, 48), *catalog, PlanOptions{});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->best.instance_type, "this-machine");
  EXPECT_DOUBLE_EQ(plan->best.expected_cost_usd, 0);
}

// Brute force over every catalog row (every zone), node count and market under the planner's own
// cost model, on random requests; the planner's pruned search must find the same minimum.
TEST(TrainPlanTest, MatchesExhaustiveSearchOnRandomInputs) {
  const Catalog& catalog = RealCatalog();
  std::mt19937_64 rng(20261128);
  std::vector<std::string> regions = {"us-east-1", "us-west-2", "eu-west-1", "ap-northeast-2", "eu-central-1"};
  int compared = 0, infeasible = 0;
  for (int trial = 0; trial < 40; ++trial) {
    TrainRequest r;
    r.workload.params = std::pow(10.0, std::uniform_real_distribution<double>(7, 10)(rng));
    r.workload.tokens = std::pow(10.0, std::uniform_real_distribution<double>(8, 11)(rng));
    r.workload.micro_batch = 1 << std::uniform_int_distribution<int>(0, 4)(rng);
    if (rng() % 4 == 0) r.workload.trainable_params = r.workload.params / 100;
    r.deadline_seconds = std::pow(10.0, std::uniform_real_distribution<double>(3, 6)(rng));
    r.deadline_probability = std::uniform_real_distribution<double>(0.5, 0.999)(rng);
    r.max_nodes = std::uniform_int_distribution<int>(1, 4)(rng);
    r.allow_spot = rng() % 5 != 0;
    if (rng() % 2) r.regions = {regions[rng() % regions.size()], regions[rng() % regions.size()]};
    if (rng() % 4 == 0) r.budget_usd = std::pow(10.0, std::uniform_real_distribution<double>(0, 4)(rng));
    if (rng() % 4 == 0) r.max_usd_per_hour = std::pow(10.0, std::uniform_real_distribution<double>(0, 2)(rng));
    PlanOptions options;
    options.restart_seconds = std::uniform_real_distribution<double>(60, 900)(rng);
    options.checkpoint_write_gib_per_second = std::uniform_real_distribution<double>(0.05, 2)(rng);

    std::optional<TrainCandidate> best;
    for (const Offering& o : catalog.offerings) {
      if (!r.regions.empty() && std::find(r.regions.begin(), r.regions.end(), o.region) == r.regions.end()) continue;
      for (Market market : {Market::kOnDemand, Market::kSpot}) {
        if (market == Market::kSpot && !r.allow_spot) continue;
        for (int nodes = 1; nodes <= r.max_nodes; ++nodes) {
          auto c = EvaluateTraining(r, catalog, o, market, nodes, options);
          if (!c.ok() || !c->meets_deadline) continue;
          if (r.budget_usd && c->expected_cost_usd > *r.budget_usd) continue;
          if (r.max_usd_per_hour && c->cluster_usd_per_hour > *r.max_usd_per_hour) continue;
          if (!best || c->expected_cost_usd < best->expected_cost_usd) best = *c;
        }
      }
    }
    auto plan = PlanTraining(r, catalog, options);
    if (!best) {
      EXPECT_FALSE(plan.ok()) << "trial " << trial;
      EXPECT_EQ(plan.status().code(), StatusCode::kFailedPrecondition);
      ++infeasible;
      continue;
    }
    ASSERT_TRUE(plan.ok()) << "trial " << trial << ": " << plan.status().ToString();
    EXPECT_NEAR(plan->best.expected_cost_usd, best->expected_cost_usd, 1e-9 * (1 + best->expected_cost_usd))
        << "trial " << trial << ": planner " << plan->best.instance_type << " " << plan->best.zone << " vs "
        << best->instance_type << " " << best->zone;
    ++compared;
  }
  EXPECT_GE(compared, 15);
  EXPECT_GE(infeasible, 1);
}

}  // namespace
}  // namespace sskai::planner
