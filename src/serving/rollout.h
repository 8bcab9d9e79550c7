// src/serving/rollout.h — the pure decisions of canary and blue/green rollouts: the rollout
// specification and state, the deterministic traffic splitter, per-version request windows, the
// automatic-rollback rule and the step/promote decision. No I/O, no threads, no clock: time is an
// argument (unix seconds), so tests drive every decision with a FakeClock.
// The EndpointManager (serving.h) applies the decisions, records events and persists the state.
// Thread-safety: the free functions are pure; TrafficSplitter and VersionWindow are externally
// synchronized (the manager holds its lock).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace sskai::serving {

enum class RolloutStrategy {
  kCanary,     // canary_percent of the traffic, raised stepwise while healthy
  kBlueGreen,  // 0 -> 100 % in one switch once the green replicas are ready
};
std::string_view ToString(RolloutStrategy strategy);

enum class RolloutPhase {
  kRunning,     // traffic is split (or waiting for the canary's first ready replica)
  kPromoted,    // the canary became the endpoint's version; the old replicas drained
  kRolledBack,  // the canary was stopped; all traffic is back on the stable version
};
std::string_view ToString(RolloutPhase phase);

// When to roll back automatically (compared over the rollout's windows).
struct RollbackPolicy {
  double max_error_rate_delta = 0.05;  // canary error rate - stable error rate above this
  double max_p95_ratio = 1.5;          // canary p95 > stable p95 * ratio + p95_slack_ms
  double p95_slack_ms = 5;             // absolute slack so sub-millisecond noise is not a regression
  int64_t min_requests = 50;           // canary requests before any judgement (noise guard)
  int max_canary_failures = 3;         // canary replicas that died (failed start or crash)
};

// What the user asked for (POST /v1/endpoints/{name}/rollout).
struct RolloutSpec {
  RolloutStrategy strategy = RolloutStrategy::kCanary;
  std::vector<int> steps = {10, 25, 50, 100};  // canary percent per step; blue/green: {100}
  double step_seconds = 60;                    // time on each step (the last one included)
  int64_t step_requests = 0;                   // also needs this many canary requests per step
  RollbackPolicy rollback;
};

// The rollout of one endpoint, persisted as JSON in the endpoint row.
struct RolloutState {
  RolloutSpec spec;
  RolloutPhase phase = RolloutPhase::kRunning;
  int64_t stable_version_id = 0, canary_version_id = 0;  // model_versions row ids
  std::string stable_label, canary_label;                // "model v3" for humans
  int64_t stable_version = 0, canary_version = 0;        // version numbers (metric labels)
  int step_index = -1;   // index into spec.steps; -1 = waiting for the canary to be ready
  int percent = 0;       // share of requests sent to the canary now
  double started_at = 0, step_started_at = 0, finished_at = 0;  // unix seconds
  std::string reason;    // why the last transition happened
};

// Parses the request body's rollout settings: strategy, steps, step_seconds, step_requests,
// rollback{max_error_rate_delta, max_p95_ratio, p95_slack_ms, min_requests,
// max_canary_failures}; "model" and "version" are ignored (the caller resolves them).
// Errors: kInvalidArgument naming the field; unknown fields included.
Result<RolloutSpec> ParseRolloutSpec(const std::string& json_text);
// Persistence of the whole state (round-trips exactly); "" parses to nullopt.
std::string RolloutStateJson(const RolloutState& state);
Result<std::optional<RolloutState>> ParseRolloutState(const std::string& json_text);

// Deterministic weighted split: over any 100 consecutive calls with the same percent, exactly
// `percent` return true (canary), evenly spread (Bresenham accumulator).
class TrafficSplitter {
 public:
  bool NextIsCanary(int percent);

 private:
  int acc_ = 0;
};

// Answers of one version during a rollout: counts and the latest latencies (for p95).
struct WindowStats {
  int64_t requests = 0, errors = 0;
  double p95_ms = 0;
  double ErrorRate() const { return requests == 0 ? 0 : static_cast<double>(errors) / requests; }
};
struct RolloutWindows;
class VersionWindow {
 public:
  static constexpr size_t kMaxLatencies = 2048;
  void Record(bool ok, double latency_ms);
  WindowStats Stats() const;
  bool operator==(const VersionWindow&) const = default;

 private:
  friend std::string RolloutWindowsJson(const RolloutWindows& windows);
  friend Result<RolloutWindows> ParseRolloutWindows(const std::string& json_text);
  int64_t requests_ = 0, errors_ = 0;
  std::deque<double> latencies_ms_;
};

// The comparison windows of one rollout (persisted, throttled, in the endpoint row so a
// restarted server continues the analysis). `started_at` ties them to the rollout they belong
// to (RolloutState::started_at).
struct RolloutWindows {
  double started_at = 0;
  VersionWindow stable, canary;
  int64_t canary_step_requests = 0;
  int canary_failures = 0;
};
// Round-trips exactly (latencies included). Parse errors: kInvalidArgument.
std::string RolloutWindowsJson(const RolloutWindows& windows);
Result<RolloutWindows> ParseRolloutWindows(const std::string& json_text);

// Why the canary should be rolled back, or nullopt while it is healthy or has fewer than
// min_requests answers. An error rate worse by more than max_error_rate_delta, or a p95 above
// stable_p95 * max_p95_ratio + p95_slack_ms (when the stable version has answers to compare).
std::optional<std::string> RollbackReason(const RollbackPolicy& policy, const WindowStats& stable,
                                          const WindowStats& canary);

struct RolloutInputs {
  double now = 0;                    // unix seconds
  bool canary_ready = false;         // canary: one replica ready; blue/green: the full green set
  WindowStats stable, canary;        // since the rollout started
  int64_t canary_step_requests = 0;  // canary answers since the current step began
  int canary_failures = 0;           // canary replicas that died
};

struct RolloutAction {
  enum class Kind { kNone, kStep, kPromote, kRollback };
  Kind kind = Kind::kNone;
  int step_index = -1;  // kStep: the new step
  int percent = 0;      // kStep: the new canary share
  std::string reason;
};

// One decision for a running rollout (kNone for a finished one): roll back when the canary
// fails (replica deaths or RollbackReason); otherwise take the first step once the canary is
// ready, the next step after step_seconds (and step_requests), and promote after the last step
// has lasted step_seconds.
RolloutAction DecideRollout(const RolloutState& state, const RolloutInputs& inputs);

// Replicas the canary version should have: blue/green = the stable count (the green set);
// canary = its share of `stable_desired`, at least 1 while the rollout runs.
int CanaryReplicas(const RolloutState& state, int stable_desired, int max_replicas);

}  // namespace sskai::serving
