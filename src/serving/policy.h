// src/serving/policy.h — the pure decisions of serving: per-endpoint configuration, the
// autoscaler (Knative-KPA-like), and the activator's admission rule. No I/O, no threads, no
// clocks of their own: every function takes the time it should reason about, so tests drive
// them with a FakeClock over scripted traffic.
// Thread-safety: ServingConfig and the free functions are pure; an Autoscaler is externally
// synchronized (one per endpoint, called from the manager's loop).
#pragma once

#include <chrono>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "serving/spot.h"

namespace sskai::serving {

using Millis = std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;

// Per-endpoint serving configuration (stored in the endpoint's config_json). Defaults are
// documented in docs/serving.md; every field can be overridden per endpoint.
struct ServingConfig {
  std::string mode = "dedicated";  // "serverless" (min 0) | "dedicated" | "spot" (min >= 1)
  int min_replicas = 1;            // serverless default 0
  int max_replicas = 3;
  double target_concurrency = 10;  // in-flight requests per replica the autoscaler aims for
  int replica_concurrency = 32;    // hard cap of in-flight requests per replica; more wait
  Millis stable_window{60000};     // average concurrency over this window -> desired replicas
  Millis panic_window{6000};       // short window for bursts
  double panic_threshold = 2.0;    // panic when panic-window demand >= 2x the ready replicas
  Millis scale_down_delay{30000};  // desired = max over this long before scaling down
  Millis idle_timeout{60000};      // serverless: no request for this long -> zero replicas
  int queue_limit = 256;           // requests waiting for a replica; beyond -> 429
  Millis queue_timeout{30000};     // a waiting request older than this -> 503 + Retry-After
  SpotSettings spot;               // mode "spot": the spot pool and its on-demand fallback
  // Dynamic batching at the replica ("batching": {"max_batch_size", "max_delay_ms"}): requests
  // wait up to max_batch_delay for others and run as one forward pass of up to max_batch_size
  // requests. max_batch_size 1 = off (default).
  int max_batch_size = 1;
  Millis max_batch_delay{2};
  // Placement: "local" (replica processes on the server's machine), "slurm" (each replica is a
  // Slurm job the gateway reaches over the network) or "" (the server's --serving-executor).
  std::string executor;
  std::string partition;  // slurm: "" = the server's default partition
};

// Parses `json_text` ("" or "{}" = defaults for "dedicated"). "mode" picks the defaults first;
// the legacy {"replicas": N} sets min = max = N. Errors: kInvalidArgument naming the field
// ("field 'max_replicas': must be >= min_replicas (1)"), unknown fields included; the "spot"
// object is parsed by ParseSpotSettings (serving/spot.h).
Result<ServingConfig> ParseServingConfig(const std::string& json_text);
// Applies the fields present in `patch_json` on top of `base`; same errors as above.
Result<ServingConfig> PatchServingConfig(const ServingConfig& base, const std::string& patch_json);
// Every field, milliseconds as *_ms integers.
std::string ServingConfigJson(const ServingConfig& config);

// What the autoscaler sees at one instant.
struct AutoscaleSnapshot {
  TimePoint now;
  int in_flight = 0;      // requests being served by replicas
  int queued = 0;         // requests waiting in the activator queue
  int ready = 0;          // replicas serving
  int starting = 0;       // replicas launched, not yet ready
  TimePoint last_request; // arrival of the newest request (epoch value = never)
};

struct AutoscaleDecision {
  int desired = 0;
  bool panic = false;
  std::string reason;  // a short human explanation (for events/logs)
};

// Knative-KPA-like: desired = ceil(avg concurrency / target) over the stable window; a panic
// window catches bursts (never scales down while panicking); scale-downs wait scale_down_delay;
// serverless endpoints drop to zero after idle_timeout without requests. A queued request with
// no replica always asks for one (activation). Result is clamped to [min, max] (activation may
// lift a min of 0 to 1).
class Autoscaler {
 public:
  explicit Autoscaler(ServingConfig config) : config_(std::move(config)) {}
  void set_config(ServingConfig config) { config_ = std::move(config); }
  const ServingConfig& config() const { return config_; }
  // Records the snapshot's concurrency as a sample and decides. Call periodically (the manager
  // calls it every supervision pass) with non-decreasing `now`.
  AutoscaleDecision Decide(const AutoscaleSnapshot& snapshot);

 private:
  double Average(TimePoint now, Millis window) const;
  ServingConfig config_;
  std::deque<std::pair<TimePoint, double>> samples_;  // concurrency samples, stable window
  std::deque<std::pair<TimePoint, int>> recent_;      // raw desired values, scale-down delay
  TimePoint panic_until_{};
  bool panicking_ = false;
};

// Activator admission for one request when it arrives.
enum class Admission { kDispatch, kQueue, kReject };
// kDispatch when a ready replica has room (in-flight < replica_concurrency), kQueue when the
// queue has room (< queue_limit), else kReject (the caller answers 429 + Retry-After).
Admission Admit(const ServingConfig& config, int least_loaded_in_flight, bool any_ready, int queued);

// The warm pool on Slurm, one per partition (`sskai server --slurm-warm-pool`, docs/serving.md):
// standby replica jobs, engine loaded and no model, that a replica launch of a Slurm endpoint in
// the same partition takes instead of submitting a job. The pool holds `min` standbys and grows
// towards `max` while launches in its partition ask for them (WarmPoolTarget).
struct WarmPoolSpec {
  std::string partition;  // resolved: an entry without one names the default partition
  int min = 0;
  int max = 0;  // >= min; == min: a fixed size
};

// Parses a comma-separated list of entries `[partition=]N` or `[partition=]N..M` (at least N
// standbys, up to M on demand); an entry without a partition is for `default_partition`. ""
// and "0" mean no pool. Errors (kInvalidArgument) name the entry and what is wrong, e.g.
// "--slurm-warm-pool entry 2 ('gpu=4..2'): the maximum 2 is below the minimum 4"; a partition
// named twice or with characters other than letters, digits, '_', '-', '.', counts that are not
// integers in 0..64, and max < min are refused.
Result<std::vector<WarmPoolSpec>> ParseWarmPoolSpec(const std::string& text, const std::string& default_partition);

// How many standbys a pool should hold at `now`: its min plus the replica launches in its
// partition during the last `window` (`launches`, oldest first; each either took a standby or
// had to wait for a new job), at most its max. So a burst of cold starts grows the pool for the
// next ones, and a quiet window shrinks it back to min.
int WarmPoolTarget(const WarmPoolSpec& spec, const std::deque<TimePoint>& launches, TimePoint now, Millis window);

}  // namespace sskai::serving
