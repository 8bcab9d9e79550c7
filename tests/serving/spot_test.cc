// The pure spot decisions: settings, simulated reclaim times (deterministic, always with the full
// notice), and the market choice (fallback to on-demand and back) over a fake clock.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "serving/policy.h"
#include "serving/spot.h"

namespace sskai::serving {
namespace {

using namespace std::chrono_literals;

TEST(SpotSettingsTest, DefaultsFieldsAndErrors) {
  auto d = ParseSpotSettings("");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->band, 2);
  EXPECT_EQ(d->notice, 120s);
  auto s = ParseSpotSettings(R"({"offering":"g5.xlarge@use1-az1","band":4,"acceleration":1e6,
      "notice_ms":2000,"chaos_every_ms":5000,"unavailable":true,"max_preemptions":2,
      "preemption_window_ms":60000,"fallback_ms":1000,"seed":7})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->offering, "g5.xlarge@use1-az1");
  EXPECT_EQ(s->chaos_every, 5s);
  EXPECT_TRUE(s->unavailable);
  auto back = ParseSpotSettings(SpotSettingsJson(*s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(SpotSettingsJson(*back), SpotSettingsJson(*s));
  for (const char* bad : {R"({"band":5})", R"({"notice_ms":-1})", R"({"unavailable":1})",
                          R"({"what":1})", R"({"notice_ms":3000,"chaos_every_ms":3000})"}) {
    auto r = ParseSpotSettings(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("field 'spot."), std::string::npos) << r.status().message();
  }
  auto config = ParseServingConfig(R"({"mode":"spot","spot":{"chaos_every_ms":4000,"notice_ms":1000}})");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->min_replicas, 1);
  EXPECT_EQ(config->spot.chaos_every, 4s);
}

TEST(SpotInterruptTest, DeterministicAlwaysAfterTheNoticeAndFasterWhenAccelerated) {
  SpotSettings s;
  s.notice = 2s;
  s.acceleration = 1e5;
  auto a = SpotInterruptAfter(s, 1, 1);
  EXPECT_EQ(a, SpotInterruptAfter(s, 1, 1));
  EXPECT_NE(a, SpotInterruptAfter(s, 1, 2));
  double slow_sum = 0, fast_sum = 0;
  for (int64_t replica = 1; replica <= 200; ++replica) {
    EXPECT_GT(SpotInterruptAfter(s, 3, replica), s.notice);
    s.acceleration = 1e3;
    slow_sum += static_cast<double>(SpotInterruptAfter(s, 3, replica).count());
    s.acceleration = 1e5;
    fast_sum += static_cast<double>(SpotInterruptAfter(s, 3, replica).count());
  }
  EXPECT_GT(slow_sum, 10 * fast_sum);
  s.band = 4;
  s.chaos_every = 3s;
  EXPECT_EQ(SpotInterruptAfter(s, 1, 1), 3s);
  s.chaos_every = 0ms;
  s.acceleration = 0;
  EXPECT_EQ(SpotInterruptAfter(s, 1, 1), std::chrono::milliseconds::max());
}

TEST(ChooseMarketTest, FallsBackOnUnavailabilityOrTooManyPreemptionsAndReturnsLater) {
  SpotSettings s;
  s.max_preemptions = 2;
  s.preemption_window = 60s;
  s.fallback_for = 30s;
  FakeClock clock;
  std::deque<TimePoint> pre;
  EXPECT_EQ(ChooseMarket(s, pre, clock.Monotonic()).market, Market::kSpot);
  s.unavailable = true;
  auto d = ChooseMarket(s, pre, clock.Monotonic());
  EXPECT_EQ(d.market, Market::kOnDemand);
  EXPECT_NE(d.reason.find("unavailable"), std::string::npos);
  s.unavailable = false;
  pre.push_back(clock.Monotonic());
  EXPECT_EQ(ChooseMarket(s, pre, clock.Monotonic()).market, Market::kSpot);  // 1 < 2
  clock.Advance(10s);
  pre.push_back(clock.Monotonic());
  EXPECT_EQ(ChooseMarket(s, pre, clock.Monotonic()).market, Market::kOnDemand);
  clock.Advance(29s);
  EXPECT_EQ(ChooseMarket(s, pre, clock.Monotonic()).market, Market::kOnDemand);
  clock.Advance(1s);  // fallback_for after the last preemption: spot again
  EXPECT_EQ(ChooseMarket(s, pre, clock.Monotonic()).market, Market::kSpot);
}

}  // namespace
}  // namespace sskai::serving
