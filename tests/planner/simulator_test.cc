#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "planner/test_catalog.h"

namespace sskai::planner {
namespace {

using testing::Decoder;
using testing::RealCatalog;

TrainRequest Request(double params, double tokens, double deadline_hours) {
  TrainRequest r;
  r.workload = Decoder(params, tokens);
  r.deadline_seconds = deadline_hours * 3600;
  r.regions = {"us-east-1", "us-west-2"};
  return r;
}

TEST(SimulatorTest, OnDemandIsDeterministicAndMatchesTheModel) {
  TrainRequest r = Request(125e6, 5e9, 48);
  auto plan = PlanTraining(r, RealCatalog(), PlanOptions{});
  ASSERT_TRUE(plan.ok() && plan->best_ondemand);
  TrainChoice choice = ChoiceFromCandidate(*plan->best_ondemand);
  PlanOptions exact;
  exact.runtime_sigma = 0;
  SimOutcome run = SimulateTraining(r, RealCatalog(), choice, exact, 1, 0);
  EXPECT_TRUE(run.finished);
  EXPECT_EQ(run.interruptions, 0);
  EXPECT_NEAR(run.seconds, plan->best_ondemand->expected_seconds, 1e-6);
  EXPECT_NEAR(run.cost_usd, plan->best_ondemand->expected_cost_usd, 1e-6);
}

TEST(SimulatorTest, SameSeedSameDrawsAndSpotMeanMatchesModel) {
  TrainRequest r = Request(1.3e9, 2e10, 24 * 7);
  r.instance_types = {"g6e.xlarge"};
  PlanOptions options;
  auto candidate = PlanTraining(r, RealCatalog(), options);
  ASSERT_TRUE(candidate.ok()) << candidate.status().ToString();
  ASSERT_EQ(candidate->best.market, Market::kSpot);
  TrainChoice choice = ChoiceFromCandidate(candidate->best);
  SimOutcome a = SimulateTraining(r, RealCatalog(), choice, options, 7, 3);
  SimOutcome b = SimulateTraining(r, RealCatalog(), choice, options, 7, 3);
  EXPECT_EQ(a.seconds, b.seconds);
  EXPECT_EQ(a.interruptions, b.interruptions);
  double mean_seconds = 0;
  int interruptions = 0;
  const int kTrials = 2000;
  PlanOptions exact = options;
  exact.runtime_sigma = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    SimOutcome run = SimulateTraining(r, RealCatalog(), choice, exact, 11, trial);
    mean_seconds += run.seconds / kTrials;
    interruptions += run.interruptions;
  }
  // The model's expectation uses band midpoints; the simulator draws the rate inside the band.
  EXPECT_NEAR(mean_seconds, candidate->best.expected_seconds, candidate->best.expected_seconds * 0.03);
  EXPECT_GT(interruptions, 0);
}

TEST(SimulatorTest, FallbackSavesTheDeadline) {
  // A ~500 h spot run on the riskiest g5.xlarge zone with a deadline only 200 s above its work:
  // any interruption makes it late, unless it switches to a faster on-demand fallback in time.
  const Catalog& catalog = RealCatalog();
  TrainRequest r = Request(125e6, 1, 1000);
  PlanOptions options;
  options.runtime_sigma = 0;
  int spot_index = -1;
  for (size_t idx = 0; idx < catalog.offerings.size(); ++idx) {
    const Offering& o = catalog.offerings[idx];
    if (o.instance_type == "g5.xlarge" && o.spot_usd_per_hour &&
        (spot_index < 0 || o.interruption_band > catalog.offerings[spot_index].interruption_band)) {
      spot_index = static_cast<int>(idx);
    }
  }
  ASSERT_GE(spot_index, 0);
  const Offering& spot = catalog.offerings[spot_index];
  auto per_token = EstimateRun(r.workload, spot, catalog, 1, options.perf);
  ASSERT_TRUE(per_token.ok());
  r.workload.tokens = 500 * 3600 / per_token->work_seconds;
  r.deadline_seconds = 500 * 3600 + 200;
  TrainChoice risky;
  risky.offering_index = spot_index;
  risky.market = Market::kSpot;
  risky.checkpoint_on_notice = true;
  TrainChoice guarded = risky;
  auto fallback = EvaluateTraining(r, catalog, spot, Market::kOnDemand, 4, options);
  ASSERT_TRUE(fallback.ok()) << fallback.status().ToString();
  guarded.fallback = *fallback;
  int met_risky = 0, met_guarded = 0, fell_back = 0;
  for (int trial = 0; trial < 200; ++trial) {
    met_risky += SimulateTraining(r, catalog, risky, options, 5, trial).met_deadline;
    SimOutcome g = SimulateTraining(r, catalog, guarded, options, 5, trial);
    met_guarded += g.met_deadline;
    fell_back += g.fell_back;
  }
  EXPECT_EQ(met_guarded, 200);
  EXPECT_LT(met_risky, 200);
  EXPECT_GT(fell_back, 0);
}

// The planner's deadline quantile is honest: a spot run given exactly its quantile time as deadline
// meets it at least as often as promised (runtime noise and interruptions both drawn).
TEST(SimulatorTest, ModelQuantileIsCalibratedAgainstSimulation) {
  const Catalog& catalog = RealCatalog();
  TrainRequest r = Request(125e6, 1, 1e6);
  r.deadline_probability = 0.9;
  PlanOptions options;
  options.checkpoint_write_gib_per_second = 0.005;  // 1.6 GiB takes 5 min: periodic checkpoints
  int spot_index = -1;
  for (size_t idx = 0; idx < catalog.offerings.size(); ++idx) {
    const Offering& o = catalog.offerings[idx];
    if (o.instance_type == "g5.xlarge" && o.spot_usd_per_hour && o.interruption_band >= 3) spot_index = static_cast<int>(idx);
  }
  ASSERT_GE(spot_index, 0);
  const Offering& spot = catalog.offerings[spot_index];
  auto per_token = EstimateRun(r.workload, spot, catalog, 1, options.perf);
  ASSERT_TRUE(per_token.ok());
  r.workload.tokens = 400 * 3600 / per_token->work_seconds;  // 400 h of work
  auto c = EvaluateTraining(r, catalog, spot, Market::kSpot, 1, options);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->checkpoint_on_notice);
  r.deadline_seconds = c->quantile_seconds;
  TrainChoice choice = ChoiceFromCandidate(*c);
  int met = 0, interrupted = 0;
  const int kTrials = 1000;
  for (int trial = 0; trial < kTrials; ++trial) {
    SimOutcome run = SimulateTraining(r, catalog, choice, options, 3, trial);
    met += run.met_deadline;
    interrupted += run.interruptions > 0;
  }
  EXPECT_GE(met, 0.9 * kTrials - 30);
  EXPECT_GT(interrupted, kTrials / 20);
}

TEST(SimulatorTest, PoliciesCompareOnSharedDraws) {
  TrainRequest r = Request(350e6, 2e10, 48);
  auto stats = CompareTrainingPolicies(r, RealCatalog(), PlanOptions{}, 40, 42);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  ASSERT_EQ(stats->size(), 4u);
  const PolicyStats& sskai = (*stats)[0];
  const PolicyStats& hindsight = (*stats)[3];
  EXPECT_TRUE(sskai.error.empty());
  EXPECT_GE(sskai.deadline_success, 0.95);
  EXPECT_GT(hindsight.mean_cost_usd, 0);
  EXPECT_LE(hindsight.mean_cost_usd, sskai.mean_cost_usd * (1 + 1e-9));
  EXPECT_LT(sskai.regret, 0.25);
  EXPECT_EQ(CompareTrainingPolicies(r, RealCatalog(), PlanOptions{}, 0, 1).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sskai::planner
