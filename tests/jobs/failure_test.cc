// Failure classification, backoff, limits and the spot injector: pure functions, table-tested.
#include <gtest/gtest.h>

#include <cmath>

#include "jobs/jobs.h"

namespace sskai::jobs {
namespace {

using namespace std::chrono_literals;
using Action = ExitDecision::Action;

ExitFacts Facts(int exit_code, int signal = 0) {
  ExitFacts f;
  f.state = kRunning;
  f.exit_code = exit_code;
  f.signal = signal;
  f.exit_text = signal ? "killed by signal " + std::to_string(signal) : "exit code " + std::to_string(exit_code);
  f.max_attempts = 3;
  return f;
}

TEST(ClassifyExitTest, TableOfExits) {
  struct Case {
    const char* name;
    ExitFacts facts;
    Action action;
    bool preemption;
    int64_t retries;
    const char* reason_part;
  };
  ExitFacts noticed = Facts(kExitPreempted);
  noticed.progressed = true;
  noticed.retries = 2;
  ExitFacts killed = Facts(-1, 9);
  ExitFacts unseen = Facts(-1);
  unseen.unknown = true;
  unseen.exit_text = "exited while the server was not watching";
  ExitFacts first_error = Facts(kExitFailed);
  first_error.error_message = "bad row 7";
  first_error.error_step = 12;
  first_error.error_count = 1;
  ExitFacts same_error = first_error;
  same_error.error_count = 2;
  ExitFacts capped = Facts(-1, 9);
  capped.retries = 2;
  ExitFacts capped_progress = capped;
  capped_progress.progressed = true;
  ExitFacts pause = Facts(kExitPreempted);
  pause.state = kCheckpointing;
  pause.pause_requested = true;
  ExitFacts pause_error = same_error;
  pause_error.pause_requested = true;
  ExitFacts no_server = Facts(kExitNoServer);
  ExitFacts unlimited = Facts(-1, 9);
  unlimited.retries = 100;
  unlimited.max_attempts = 0;
  const std::vector<Case> cases = {
      {"noticed preemption with progress", noticed, Action::kRetry, true, 0, "preempted with notice"},
      {"killed by a signal", killed, Action::kRetry, true, 1, "worker lost (killed by signal 9)"},
      {"lost while unwatched", unseen, Action::kRetry, true, 1, "not watching"},
      {"lost the server", no_server, Action::kRetry, true, 1, "exit code 3"},
      {"first reported error", first_error, Action::kRetry, false, 1, "error at step 12: bad row 7"},
      {"same error twice at a step", same_error, Action::kFail, false, 0,
       "deterministic failure at step 12 (same error twice): bad row 7"},
      {"retry cap without progress", capped, Action::kFail, false, 3, "3 times without finishing"},
      {"progress resets the cap", capped_progress, Action::kRetry, true, 0, "worker lost"},
      {"pause honoured", pause, Action::kPause, false, 0, "checkpointed and released"},
      {"pause wins over errors", pause_error, Action::kPause, false, 0, "paused"},
      {"no cap when max_attempts is 0", unlimited, Action::kRetry, true, 101, "worker lost"},
  };
  for (const auto& c : cases) {
    ExitDecision d = ClassifyExit(c.facts);
    EXPECT_EQ(d.action, c.action) << c.name;
    if (c.action == Action::kRetry) {
      EXPECT_EQ(d.preemption, c.preemption) << c.name;
      EXPECT_EQ(d.retries, c.retries) << c.name;
    }
    if (c.action == Action::kFail && c.retries > 0) EXPECT_EQ(d.retries, c.retries) << c.name;
    EXPECT_NE(d.reason.find(c.reason_part), std::string::npos) << c.name << ": " << d.reason;
  }
}

TEST(RetryBackoffTest, DoublesUpToTheCap) {
  EXPECT_EQ(RetryBackoff(0, 500ms, 60s), 0ms);
  EXPECT_EQ(RetryBackoff(1, 500ms, 60s), 500ms);
  EXPECT_EQ(RetryBackoff(2, 500ms, 60s), 1000ms);
  EXPECT_EQ(RetryBackoff(5, 500ms, 60s), 8000ms);
  EXPECT_EQ(RetryBackoff(8, 500ms, 60s), 60000ms);
  EXPECT_EQ(RetryBackoff(1000, 500ms, 60s), 60000ms);
}

TEST(LimitExceededTest, WallAndCost) {
  EXPECT_EQ(LimitExceeded(100, 0, 100, 0), "");
  EXPECT_EQ(LimitExceeded(59, 60, 0.5, 1), "");
  EXPECT_NE(LimitExceeded(60, 60, 0, 0).find("max_wall_seconds exceeded: ran 60 s of 60 s"), std::string::npos);
  EXPECT_NE(LimitExceeded(1, 0, 2.5, 2).find("max_cost_usd exceeded: spent $2.5000 of $2.0000"),
            std::string::npos);
}

TEST(SpotSimTest, BandsMapToPoissonRates) {
  EXPECT_DOUBLE_EQ(BandMonthlyProbability(0), 0.025);
  EXPECT_DOUBLE_EQ(BandMonthlyProbability(4), 0.25);
  EXPECT_DOUBLE_EQ(BandMonthlyProbability(-1), 0);
  double month = 30.0 * 24 * 3600;
  for (int band = 0; band <= 4; ++band) {
    double rate = BandRatePerSecond(band, 1);
    EXPECT_NEAR(1 - std::exp(-rate * month), BandMonthlyProbability(band), 1e-12) << band;
    EXPECT_NEAR(BandRatePerSecond(band, 1000), rate * 1000, 1e-15) << band;
    if (band > 0) EXPECT_GT(rate, BandRatePerSecond(band - 1, 1));
  }
}

TEST(SpotSimTest, InterruptionsAreDeterministicPerSeedJobAndAttempt) {
  ExecutionSpec spec;
  spec.executor = "spot-sim";
  spec.interruption_band = 4;
  spec.acceleration = 100000;  // ~minutes instead of months
  spec.seed = 7;
  double a = NextInterruptionSeconds(spec, 1, 1);
  EXPECT_GT(a, 0);
  EXPECT_EQ(a, NextInterruptionSeconds(spec, 1, 1));
  EXPECT_NE(a, NextInterruptionSeconds(spec, 1, 2));
  EXPECT_NE(a, NextInterruptionSeconds(spec, 2, 1));
  // The mean of many draws is near 1/rate.
  double sum = 0;
  for (int attempt = 1; attempt <= 4000; ++attempt) sum += NextInterruptionSeconds(spec, 3, attempt);
  double mean = 1 / BandRatePerSecond(4, 100000);
  EXPECT_NEAR(sum / 4000, mean, mean * 0.1);
  spec.chaos_every_seconds = 5;
  EXPECT_EQ(NextInterruptionSeconds(spec, 1, 1), 5);
  spec.executor = "local";
  EXPECT_EQ(NextInterruptionSeconds(spec, 1, 1), 0);
}

TEST(ExecutionSpecTest, ParsesAndRejectsFields) {
  auto spec = ParseExecutionSpec(
      R"({"executor":"spot-sim","offering":"g5.xlarge@use1-az1","acceleration":60,"notice_seconds":30,)"
      R"("chaos":{"every_seconds":4,"after_steps":10,"seed":9},"checkpoint_interval_steps":50,"task":"x"})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->executor, "spot-sim");
  EXPECT_EQ(spec->offering, "g5.xlarge@use1-az1");
  EXPECT_EQ(spec->acceleration, 60);
  EXPECT_EQ(spec->notice_seconds, 30);
  EXPECT_EQ(spec->chaos_every_seconds, 4);
  EXPECT_EQ(spec->chaos_after_steps, 10);
  EXPECT_EQ(spec->seed, 9u);
  EXPECT_EQ(spec->checkpoint_interval_steps, 50);
  EXPECT_EQ(spec->checkpoint_interval_seconds, 30);  // default
  EXPECT_TRUE(ParseExecutionSpec("").ok());
  for (const char* bad : {R"({"executor":"k8s"})", R"({"acceleration":-1})", R"({"notice_seconds":"x"})",
                          R"({"chaos":3})", R"({"command":[]})", R"({"command":["a",1]})",
                          R"({"interruption_band":5})", "[]"}) {
    auto r = ParseExecutionSpec(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(ParseExecutionSpec(R"({"acceleration":-1})").status().message().find("'acceleration'"),
            std::string::npos);
}

}  // namespace
}  // namespace sskai::jobs
