// The pure serving decisions: config parsing, the autoscaler over scripted traffic with a fake
// clock, activator admission.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "serving/policy.h"

namespace sskai::serving {
namespace {

using namespace std::chrono_literals;

TEST(ServingConfigTest, DefaultsPerMode) {
  auto dedicated = ParseServingConfig("");
  ASSERT_TRUE(dedicated.ok());
  EXPECT_EQ(dedicated->mode, "dedicated");
  EXPECT_EQ(dedicated->min_replicas, 1);
  EXPECT_EQ(dedicated->stable_window, 60s);
  EXPECT_EQ(dedicated->panic_window, 6s);
  EXPECT_DOUBLE_EQ(dedicated->panic_threshold, 2.0);
  auto serverless = ParseServingConfig(R"({"mode":"serverless","idle_timeout_ms":500})");
  ASSERT_TRUE(serverless.ok()) << serverless.status().ToString();
  EXPECT_EQ(serverless->min_replicas, 0);
  EXPECT_EQ(serverless->idle_timeout, 500ms);
  auto legacy = ParseServingConfig(R"({"mode":"dedicated","replicas":2})");
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(legacy->min_replicas, 2);
  EXPECT_EQ(legacy->max_replicas, 2);
}

TEST(ServingConfigTest, ErrorsNameTheField) {
  struct Case { const char* json; const char* field; };
  for (const Case& c : {Case{R"({"mode":"spot","spot":{"band":9}})", "'spot.band'"},
                        Case{R"({"mode":"spot","spot":{"nope":1}})", "'spot.nope'"},
                        Case{R"({"mode":"spot","spot":{"notice_ms":5000,"chaos_every_ms":4000}})",
                             "'spot.chaos_every_ms'"},
                        Case{R"({"mode":"spot","min_replicas":0})", "'min_replicas'"},
                        Case{R"({"mode":"turbo"})", "'mode'"},
                        Case{R"({"mode":"dedicated","min_replicas":0})", "'min_replicas'"},
                        Case{R"({"mode":"serverless","min_replicas":2})", "'min_replicas'"},
                        Case{R"({"min_replicas":3,"max_replicas":2})", "'max_replicas'"},
                        Case{R"({"target_concurrency":0})", "'target_concurrency'"},
                        Case{R"({"queue_limit":"x"})", "'queue_limit'"},
                        Case{R"({"panic_window_ms":70000})", "'panic_window_ms'"},
                        Case{R"({"colour":1})", "'colour'"},
                        Case{R"({"batching":{"max_batch_size":0}})", "'batching.max_batch_size'"},
                        Case{R"({"batching":{"max_delay_ms":-1}})", "'batching.max_delay_ms'"},
                        Case{R"({"batching":{"size":4}})", "'batching.size'"},
                        Case{R"({"batching":4})", "'batching'"}}) {
    auto parsed = ParseServingConfig(c.json);
    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(c.field), std::string::npos)
        << c.json << " -> " << parsed.status().message();
  }
  EXPECT_FALSE(ParseServingConfig("[1]").ok());
}

TEST(ServingConfigTest, PlacementDefaultsToTheServerAndRoundTrips) {
  auto d = ParseServingConfig("");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->executor, "");
  EXPECT_EQ(ServingConfigJson(*d).find("executor"), std::string::npos);
  auto s = ParseServingConfig(R"({"executor":"slurm","partition":"gpu-a100"})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->executor, "slurm");
  EXPECT_EQ(s->partition, "gpu-a100");
  auto back = ParseServingConfig(ServingConfigJson(*s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->executor, "slurm");
  EXPECT_EQ(back->partition, "gpu-a100");
  auto local = PatchServingConfig(*s, R"({"executor":"local","partition":""})");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_EQ(local->executor, "local");
  struct Case { const char* json; const char* field; };
  for (const Case& c : {Case{R"({"executor":"k8s"})", "'executor'"},
                        Case{R"({"executor":1})", "'executor'"},
                        Case{R"({"partition":"a b"})", "'partition'"},
                        Case{R"({"executor":"local","partition":"gpu"})", "'partition'"}}) {
    auto r = ParseServingConfig(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_NE(r.status().message().find(c.field), std::string::npos) << r.status().message();
  }
}

TEST(ServingConfigTest, BatchingIsOffByDefaultAndRoundTrips) {
  auto plain = ParseServingConfig("{}");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->max_batch_size, 1);
  auto on = ParseServingConfig(R"({"batching":{"max_batch_size":32,"max_delay_ms":2}})");
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  EXPECT_EQ(on->max_batch_size, 32);
  EXPECT_EQ(on->max_batch_delay.count(), 2);
  auto again = ParseServingConfig(ServingConfigJson(*on));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->max_batch_size, 32);
  auto off = PatchServingConfig(*on, R"({"batching":{"max_batch_size":1}})");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->max_batch_size, 1);
}

TEST(ServingConfigTest, PatchKeepsOtherFieldsAndSwitchesModeDefaults) {
  auto base = ParseServingConfig(R"({"mode":"dedicated","max_replicas":5,"queue_limit":7})");
  ASSERT_TRUE(base.ok());
  auto patched = PatchServingConfig(*base, R"({"mode":"serverless"})");
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ(patched->min_replicas, 0);
  EXPECT_EQ(patched->max_replicas, 5);
  EXPECT_EQ(patched->queue_limit, 7);
  auto round = ParseServingConfig(ServingConfigJson(*patched));
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(ServingConfigJson(*round), ServingConfigJson(*patched));
  EXPECT_FALSE(PatchServingConfig(*base, R"({"max_replicas":0})").ok());
}

// Drives an autoscaler every 250 ms (the manager's pass) with a fake clock.
class AutoscalerTest : public ::testing::Test {
 protected:
  AutoscaleDecision Step(int in_flight, int queued, bool request_now) {
    clock_.Advance(250ms);
    if (request_now) last_request_ = clock_.Monotonic();
    AutoscaleSnapshot s;
    s.now = clock_.Monotonic();
    s.in_flight = in_flight;
    s.queued = queued;
    s.ready = ready_;
    s.last_request = last_request_;
    AutoscaleDecision d = scaler_->Decide(s);
    ready_ = d.desired;  // replicas appear instantly in this script
    return d;
  }
  // Holds a constant load for `duration`; returns the last decision.
  AutoscaleDecision Hold(int in_flight, std::chrono::milliseconds duration) {
    AutoscaleDecision d;
    for (auto t = 0ms; t < duration; t += 250ms) d = Step(in_flight, 0, in_flight > 0);
    return d;
  }
  void Use(const std::string& json) {
    auto c = ParseServingConfig(json);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    scaler_ = std::make_unique<Autoscaler>(*c);
  }
  FakeClock clock_;
  TimePoint last_request_{};
  int ready_ = 0;
  std::unique_ptr<Autoscaler> scaler_;
};

TEST_F(AutoscalerTest, ServerlessStaysAtZeroWithoutTrafficAndActivatesOnAQueuedRequest) {
  Use(R"({"mode":"serverless","max_replicas":4,"idle_timeout_ms":10000})");
  EXPECT_EQ(Hold(0, 5s).desired, 0);
  AutoscaleDecision d = Step(0, 1, true);  // one request waits in the activator queue
  EXPECT_EQ(d.desired, 1);
  EXPECT_EQ(d.reason, "activation");
}

TEST_F(AutoscalerTest, SteadyLoadScalesToConcurrencyOverTarget) {
  Use(R"({"mode":"dedicated","max_replicas":10,"target_concurrency":10})");
  ready_ = 1;
  EXPECT_EQ(Hold(5, 60s).desired, 1);
  EXPECT_EQ(Hold(30, 120s).desired, 3);  // after a full stable window of 30 in flight
}

TEST_F(AutoscalerTest, BurstPanicsWithinThePanicWindowAndNeverScalesDownWhilePanicking) {
  Use(R"({"mode":"dedicated","max_replicas":10,"target_concurrency":10})");
  ready_ = 1;
  Hold(5, 60s);
  // 60 in flight: the 6 s window crosses 2x of one replica within a few passes; the 60 s window
  // alone would take far longer.
  AutoscaleDecision d = Hold(60, 2s);
  EXPECT_TRUE(d.panic);
  EXPECT_GE(d.desired, 3);
  d = Hold(60, 6s);
  EXPECT_EQ(d.desired, 6);
  int peak = d.desired;
  d = Hold(0, 10s);  // load vanished, still panicking: never below the current count
  EXPECT_TRUE(d.panic);
  EXPECT_EQ(d.desired, peak);
}

TEST_F(AutoscalerTest, ScaleDownWaitsForTheDelayAndRespectsMin) {
  Use(R"({"mode":"dedicated","min_replicas":1,"max_replicas":10,"target_concurrency":10,)"
      R"("stable_window_ms":10000,"panic_window_ms":1000,"panic_threshold":1000,)"
      R"("scale_down_delay_ms":20000})");
  ready_ = 4;
  EXPECT_EQ(Hold(40, 10s).desired, 4);
  // Load drops: the stable average falls within 10 s, but the delay keeps 4 for 20 s more.
  EXPECT_EQ(Hold(0, 15s).desired, 4);
  EXPECT_EQ(Hold(0, 20s).desired, 1);  // min 1, never zero for a dedicated endpoint
  EXPECT_EQ(Hold(0, 600s).desired, 1);
}

TEST_F(AutoscalerTest, ServerlessScalesToZeroOnlyAfterTheIdleWindow) {
  Use(R"({"mode":"serverless","max_replicas":3,"idle_timeout_ms":30000,)"
      R"("scale_down_delay_ms":0})");
  EXPECT_EQ(Step(1, 0, true).desired, 1);
  EXPECT_EQ(Hold(0, 29s).desired, 1);  // quiet, but not idle long enough
  EXPECT_EQ(Hold(0, 1500ms).desired, 0);
  EXPECT_EQ(Hold(0, 10s).desired, 0);
}

TEST_F(AutoscalerTest, MaxReplicasCapsEverything) {
  Use(R"({"mode":"dedicated","max_replicas":2,"target_concurrency":1})");
  ready_ = 1;
  EXPECT_EQ(Hold(100, 10s).desired, 2);
}

TEST(AdmitTest, DispatchQueueReject) {
  ServingConfig c;
  c.replica_concurrency = 2;
  c.queue_limit = 3;
  EXPECT_EQ(Admit(c, 0, true, 0), Admission::kDispatch);
  EXPECT_EQ(Admit(c, 2, true, 0), Admission::kQueue);  // every replica is full
  EXPECT_EQ(Admit(c, 0, false, 2), Admission::kQueue);  // cold: wait for a replica
  EXPECT_EQ(Admit(c, 0, false, 3), Admission::kReject);
  c.queue_limit = 0;
  EXPECT_EQ(Admit(c, 0, false, 0), Admission::kReject);
}

}  // namespace
}  // namespace sskai::serving
