// The pure rollout decisions: spec parsing, state persistence, the deterministic split, the
// rollback rule (noise guard included) and a whole canary / blue-green run driven by a fake clock.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "serving/rollout.h"

namespace sskai::serving {
namespace {

using namespace std::chrono_literals;

TEST(RolloutSpecTest, DefaultsAndFields) {
  auto d = ParseRolloutSpec(R"({"model":"m","version":2})");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->strategy, RolloutStrategy::kCanary);
  EXPECT_EQ(d->steps, (std::vector<int>{10, 25, 50, 100}));
  EXPECT_DOUBLE_EQ(d->step_seconds, 60);
  EXPECT_EQ(d->rollback.min_requests, 50);
  auto s = ParseRolloutSpec(
      R"({"strategy":"canary","steps":[50,100],"step_seconds":1.5,"step_requests":10,
          "rollback":{"max_error_rate_delta":0.1,"max_p95_ratio":2,"min_requests":5}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->steps, (std::vector<int>{50, 100}));
  EXPECT_DOUBLE_EQ(s->step_seconds, 1.5);
  EXPECT_EQ(s->step_requests, 10);
  EXPECT_DOUBLE_EQ(s->rollback.max_error_rate_delta, 0.1);
  EXPECT_DOUBLE_EQ(s->rollback.max_p95_ratio, 2);
  EXPECT_EQ(s->rollback.min_requests, 5);
  auto bg = ParseRolloutSpec(R"({"strategy":"blue_green"})");
  ASSERT_TRUE(bg.ok());
  EXPECT_EQ(bg->steps, std::vector<int>{100});
}

TEST(RolloutSpecTest, ErrorsNameTheField) {
  struct Case { const char* json; const char* field; };
  for (const Case& c : {Case{R"({"strategy":"yolo"})", "'strategy'"},
                        Case{R"({"steps":[]})", "'steps'"},
                        Case{R"({"steps":[50,25]})", "'steps'"},
                        Case{R"({"steps":[0,100]})", "'steps'"},
                        Case{R"({"steps":[10,"x"]})", "'steps'"},
                        Case{R"({"step_seconds":-1})", "'step_seconds'"},
                        Case{R"({"rollback":{"max_p95_ratio":0.5}})", "'rollback.max_p95_ratio'"},
                        Case{R"({"rollback":{"min_requests":0}})", "'rollback.min_requests'"},
                        Case{R"({"rollback":{"nope":1}})", "'rollback.nope'"},
                        Case{R"({"rollback":3})", "'rollback'"},
                        Case{R"({"strategy":"blue_green","steps":[50,100]})", "'steps'"},
                        Case{R"({"colour":"blue"})", "'colour'"}}) {
    auto r = ParseRolloutSpec(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.field), std::string::npos)
        << c.json << " -> " << r.status().message();
  }
  EXPECT_FALSE(ParseRolloutSpec("[1]").ok());
  EXPECT_FALSE(ParseRolloutSpec("{").ok());
}

TEST(RolloutStateTest, RoundTripsThroughJson) {
  RolloutState s;
  s.spec.strategy = RolloutStrategy::kCanary;
  s.spec.steps = {20, 100};
  s.spec.step_seconds = 3;
  s.spec.rollback.min_requests = 7;
  s.phase = RolloutPhase::kRolledBack;
  s.stable_version_id = 4;
  s.canary_version_id = 9;
  s.stable_label = "m v1";
  s.canary_label = "m v2";
  s.stable_version = 1;
  s.canary_version = 2;
  s.step_index = 1;
  s.percent = 100;
  s.started_at = 1000.5;
  s.step_started_at = 1001.5;
  s.finished_at = 1002.5;
  s.reason = "why";
  auto back = ParseRolloutState(RolloutStateJson(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ(RolloutStateJson(**back), RolloutStateJson(s));
  EXPECT_EQ((*back)->phase, RolloutPhase::kRolledBack);
  auto none = ParseRolloutState("");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(ParseRolloutState("{\"x\":1}").ok());
}

TEST(TrafficSplitterTest, SendsExactlyThePercentPerHundredEvenlySpread) {
  for (int percent : {0, 1, 10, 25, 33, 50, 75, 99, 100}) {
    TrafficSplitter split;
    int canary = 0, longest_gap = 0, gap = 0;
    for (int n = 0; n < 1000; ++n) {
      if (split.NextIsCanary(percent)) {
        ++canary;
        gap = 0;
      } else {
        longest_gap = std::max(longest_gap, ++gap);
      }
    }
    EXPECT_EQ(canary, percent * 10) << percent;
    if (percent > 0) EXPECT_LE(longest_gap, 100 / percent) << percent;
  }
}

TEST(VersionWindowTest, CountsAndP95) {
  VersionWindow w;
  for (int n = 1; n <= 100; ++n) w.Record(n % 10 != 0, n);
  WindowStats s = w.Stats();
  EXPECT_EQ(s.requests, 100);
  EXPECT_EQ(s.errors, 10);
  EXPECT_DOUBLE_EQ(s.ErrorRate(), 0.1);
  EXPECT_DOUBLE_EQ(s.p95_ms, 95);
  EXPECT_DOUBLE_EQ(VersionWindow{}.Stats().p95_ms, 0);
}

WindowStats Stats(int64_t requests, int64_t errors, double p95) {
  WindowStats s;
  s.requests = requests;
  s.errors = errors;
  s.p95_ms = p95;
  return s;
}

TEST(RolloutWindowsTest, RoundTripExactlyAndRejectBadInput) {
  RolloutWindows w;
  w.started_at = 1700000000.123456;
  for (int idx = 0; idx < 3000; ++idx) w.stable.Record(idx % 7 != 0, 0.5 + idx * 0.001);
  w.canary.Record(false, 12.25);
  w.canary.Record(true, 3.5);
  w.canary_step_requests = 2;
  w.canary_failures = 1;
  auto back = ParseRolloutWindows(RolloutWindowsJson(w));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->started_at, w.started_at);
  EXPECT_TRUE(back->stable == w.stable);  // counts and the latest 2048 latencies
  EXPECT_TRUE(back->canary == w.canary);
  EXPECT_EQ(back->stable.Stats().p95_ms, w.stable.Stats().p95_ms);
  EXPECT_EQ(back->canary.Stats().errors, 1);
  EXPECT_EQ(back->canary_step_requests, 2);
  EXPECT_EQ(back->canary_failures, 1);
  for (const char* bad : {"", "[]", R"({"stable":{}})",
                          R"({"started_at":1,"stable":{"latencies_ms":[1]}})",
                          R"({"started_at":1,"stable":{"latencies_ms":["x"]},"canary":{"latencies_ms":[]}})"}) {
    EXPECT_FALSE(ParseRolloutWindows(bad).ok()) << bad;
  }
}

TEST(RollbackReasonTest, Table) {
  RollbackPolicy p;  // delta 0.05, ratio 1.5, slack 5 ms, min 50
  struct Case {
    WindowStats stable, canary;
    bool rollback;
    const char* why;
  };
  const Case cases[] = {
      {Stats(500, 0, 10), Stats(49, 49, 1000), false, "below min_requests: noise guard"},
      {Stats(500, 0, 10), Stats(50, 0, 10), false, "identical"},
      {Stats(500, 0, 10), Stats(100, 5, 10), false, "delta exactly 0.05"},
      {Stats(500, 0, 10), Stats(100, 6, 10), true, "delta 0.06"},
      {Stats(500, 50, 10), Stats(100, 15, 10), false, "both bad, delta 0.05"},
      {Stats(500, 0, 10), Stats(100, 0, 20), false, "p95 20 <= 10*1.5+5"},
      {Stats(500, 0, 10), Stats(100, 0, 20.1), true, "p95 over ratio+slack"},
      {Stats(500, 0, 0.4), Stats(100, 0, 3), false, "sub-ms noise within slack"},
      {Stats(0, 0, 0), Stats(100, 0, 1000), false, "no stable answers: p95 not judged"},
      {Stats(0, 0, 0), Stats(100, 10, 1), true, "no stable answers: errors still judged"},
  };
  for (const Case& c : cases) {
    auto why = RollbackReason(p, c.stable, c.canary);
    EXPECT_EQ(why.has_value(), c.rollback) << c.why;
  }
}

// Drives DecideRollout like the manager does: applies each action to the state.
struct Driver {
  RolloutState state;
  FakeClock clock;
  RolloutAction Step(RolloutInputs in) {
    in.now = clock.NowSeconds();
    RolloutAction a = DecideRollout(state, in);
    switch (a.kind) {
      case RolloutAction::Kind::kStep:
        state.step_index = a.step_index;
        state.percent = a.percent;
        state.step_started_at = in.now;
        break;
      case RolloutAction::Kind::kPromote: state.phase = RolloutPhase::kPromoted; break;
      case RolloutAction::Kind::kRollback: state.phase = RolloutPhase::kRolledBack; break;
      case RolloutAction::Kind::kNone: break;
    }
    return a;
  }
};

TEST(DecideRolloutTest, CanaryStepsEveryStepSecondsWhileHealthyThenPromotes) {
  Driver d;
  d.state.spec.steps = {10, 25, 50, 100};
  d.state.spec.step_seconds = 60;
  d.state.started_at = d.state.step_started_at = d.clock.NowSeconds();
  RolloutInputs in;
  EXPECT_EQ(d.Step(in).kind, RolloutAction::Kind::kNone);  // canary not ready: 0 %
  EXPECT_EQ(d.state.percent, 0);
  d.clock.Advance(5s);
  in.canary_ready = true;
  EXPECT_EQ(d.Step(in).kind, RolloutAction::Kind::kStep);
  EXPECT_EQ(d.state.percent, 10);
  std::vector<int> seen = {10};
  for (int tick = 0; tick < 400 && d.state.phase == RolloutPhase::kRunning; ++tick) {
    d.clock.Advance(1s);
    in.stable = Stats(1000, 1, 10);
    in.canary = Stats(200, 0, 11);
    auto a = d.Step(in);
    if (a.kind == RolloutAction::Kind::kStep) {
      seen.push_back(a.percent);
      EXPECT_EQ(static_cast<int>(d.clock.NowSeconds() - d.state.started_at - 5) % 60, 0);
    }
  }
  EXPECT_EQ(seen, (std::vector<int>{10, 25, 50, 100}));
  EXPECT_EQ(d.state.phase, RolloutPhase::kPromoted);
  EXPECT_NEAR(d.clock.NowSeconds() - d.state.started_at, 5 + 4 * 60, 1);
}

TEST(DecideRolloutTest, StepRequestsHoldAStepUntilEnoughCanaryTraffic) {
  Driver d;
  d.state.spec.steps = {50, 100};
  d.state.spec.step_seconds = 1;
  d.state.spec.step_requests = 20;
  d.state.step_index = 0;
  d.state.percent = 50;
  d.state.step_started_at = d.clock.NowSeconds();
  RolloutInputs in;
  in.canary_ready = true;
  d.clock.Advance(10s);
  in.canary_step_requests = 19;
  EXPECT_EQ(d.Step(in).kind, RolloutAction::Kind::kNone);
  in.canary_step_requests = 20;
  EXPECT_EQ(d.Step(in).percent, 100);
}

TEST(DecideRolloutTest, BadCanaryRollsBackAtAnyStepAndNeverAfterFinishing) {
  Driver d;
  d.state.spec.step_seconds = 60;
  d.state.step_index = 1;
  d.state.percent = 25;
  d.state.step_started_at = d.clock.NowSeconds();
  RolloutInputs in;
  in.canary_ready = true;
  in.stable = Stats(300, 0, 5);
  in.canary = Stats(60, 30, 5);
  auto a = d.Step(in);
  EXPECT_EQ(a.kind, RolloutAction::Kind::kRollback);
  EXPECT_NE(a.reason.find("error rate"), std::string::npos) << a.reason;
  EXPECT_EQ(d.Step(in).kind, RolloutAction::Kind::kNone);  // rolled back: nothing more
}

// The blue version gets no traffic after the switch: green latencies are from another period
// (another machine load) and are not compared; its error rate still is.
TEST(DecideRolloutTest, BlueGreenIgnoresLatencyFromDisjointPeriodsButNotErrors) {
  for (auto strategy : {RolloutStrategy::kCanary, RolloutStrategy::kBlueGreen}) {
    RolloutState st;
    st.spec.strategy = strategy;
    st.spec.steps = {100};
    st.spec.step_seconds = 3600;
    st.step_index = 0;
    st.percent = 100;
    RolloutInputs in;
    in.canary_ready = true;
    in.stable.requests = 500;
    in.stable.p95_ms = 2;
    in.canary.requests = 60;
    in.canary.p95_ms = 80;  // a busy machine right after the switch
    auto a = DecideRollout(st, in);
    EXPECT_EQ(a.kind, strategy == RolloutStrategy::kBlueGreen ? RolloutAction::Kind::kNone
                                                               : RolloutAction::Kind::kRollback)
        << a.reason;
    in.canary.errors = 30;
    EXPECT_EQ(DecideRollout(st, in).kind, RolloutAction::Kind::kRollback);
  }
}

TEST(DecideRolloutTest, CanaryReplicaDeathsRollBack) {
  Driver d;
  RolloutInputs in;
  in.canary_failures = 2;
  EXPECT_EQ(d.Step(in).kind, RolloutAction::Kind::kNone);
  in.canary_failures = 3;
  auto a = d.Step(in);
  EXPECT_EQ(a.kind, RolloutAction::Kind::kRollback);
  EXPECT_NE(a.reason.find("died 3 times"), std::string::npos);
}

TEST(DecideRolloutTest, BlueGreenSwitchesWhenGreenIsReadyThenPromotesAfterTheWindow) {
  Driver d;
  auto spec = ParseRolloutSpec(R"({"strategy":"blue_green","step_seconds":30})");
  ASSERT_TRUE(spec.ok());
  d.state.spec = *spec;
  RolloutInputs in;
  d.clock.Advance(100s);
  EXPECT_EQ(d.Step(in).kind, RolloutAction::Kind::kNone);  // green not ready: blue keeps 100 %
  in.canary_ready = true;
  auto a = d.Step(in);
  EXPECT_EQ(a.kind, RolloutAction::Kind::kStep);
  EXPECT_EQ(d.state.percent, 100);
  d.clock.Advance(29s);
  EXPECT_EQ(d.Step(in).kind, RolloutAction::Kind::kNone);
  d.clock.Advance(1s);
  EXPECT_EQ(d.Step(in).kind, RolloutAction::Kind::kPromote);
}

TEST(CanaryReplicasTest, ShareOfStableAtLeastOneAndTheFullSetForBlueGreen) {
  RolloutState s;
  s.percent = 0;
  EXPECT_EQ(CanaryReplicas(s, 4, 8), 1);
  s.percent = 50;
  EXPECT_EQ(CanaryReplicas(s, 4, 8), 2);
  s.percent = 100;
  EXPECT_EQ(CanaryReplicas(s, 4, 3), 3);
  EXPECT_EQ(CanaryReplicas(s, 0, 3), 1);
  s.spec.strategy = RolloutStrategy::kBlueGreen;
  s.percent = 0;
  EXPECT_EQ(CanaryReplicas(s, 3, 8), 3);
  s.phase = RolloutPhase::kPromoted;
  EXPECT_EQ(CanaryReplicas(s, 3, 8), 0);
}

}  // namespace
}  // namespace sskai::serving
