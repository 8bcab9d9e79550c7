// src/serving/spot.h — the pure decisions of spot replicas (endpoint mode "spot"): the settings,
// when the spot-simulating pool interrupts a replica (the jobs module's Spot Advisor bands,
// optionally accelerated, or a chaos period), and which market a new replica uses (spot, or
// on-demand while spot capacity is unavailable or preemptions came too often).
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include "common/status.h"

namespace sskai::serving {

struct SpotSettings {
  std::string offering;             // catalog offering of the spot replicas ("" = the server's)
  int band = 2;                     // Spot Advisor interruption band 0..4
  double acceleration = 1;          // time compression of the band's rate (tests: large)
  std::chrono::milliseconds notice{120000};     // notice before the reclaim (AWS 2 min)
  std::chrono::milliseconds chaos_every{0};     // > 0: interrupt every replica this long after launch
  bool unavailable = false;         // simulate "no spot capacity": on-demand until cleared
  int max_preemptions = 3;          // this many within preemption_window -> fall back
  std::chrono::milliseconds preemption_window{3600000};
  std::chrono::milliseconds fallback_for{600000};  // stay on-demand this long, then spot again
  uint64_t seed = 1;
};

// Parses the endpoint config's "spot" object (fields: offering, band, acceleration, notice_ms,
// chaos_every_ms, unavailable, max_preemptions, preemption_window_ms, fallback_ms, seed).
// Errors: kInvalidArgument naming the field ("field 'spot.band': ...").
Result<SpotSettings> ParseSpotSettings(const std::string& json_object_text);
std::string SpotSettingsJson(const SpotSettings& settings);

// Milliseconds from a spot replica's launch to its reclaim: chaos_every when set, else an
// exponential draw at the band's (accelerated) rate; deterministic in (seed, endpoint, replica).
// Never less than notice + 1 ms, so every reclaim comes with its full notice.
std::chrono::milliseconds SpotInterruptAfter(const SpotSettings& settings, int64_t endpoint_id,
                                             int64_t replica_id);

enum class Market { kSpot, kOnDemand };
struct MarketDecision {
  Market market = Market::kSpot;
  std::string reason;  // why on-demand ("" for spot)
};
// The market of the next replica at `now`, given the recent preemption times (oldest first).
// On-demand while settings.unavailable, or while max_preemptions fell within
// preemption_window and the last of them is younger than fallback_for; spot otherwise.
MarketDecision ChooseMarket(const SpotSettings& settings,
                            const std::deque<std::chrono::steady_clock::time_point>& preemptions,
                            std::chrono::steady_clock::time_point now);

}  // namespace sskai::serving
