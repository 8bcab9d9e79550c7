// src/serving/internal.h — state shared by the manager's implementation files (not public).
#pragma once

#include <deque>
#include <map>
#include <optional>

#include "common/thread_pool.h"
#include "http/http.h"
#include "serving/serving.h"

namespace sskai::serving {

struct EndpointManager::Replica {
  int64_t id = 0;
  jobs::WorkerHandle handle;
  std::string port_file;     // the replica writes "port" or "host:port" here once listening
  std::string host = "127.0.0.1";  // Slurm replicas: the node they run on
  int port = 0;
  bool ready = false;
  bool loading = false;      // a standby is loading the model (POST /load in flight)
  bool draining = false;     // no new traffic; stopped once in_flight is 0
  bool load_failed = false;  // the standby's /load answered an error
  bool broken = false;       // a request to it failed at the connection: no more traffic
  bool was_ready = false;    // it served at some point (its exit is not a failed start)
  std::string pending_model; // a starting standby taken by a cold start: /load once healthy
  // A Slurm standby job taken before it was ready: its load order (body, and the standby's own
  // key that authenticates it), sent once the standby answers (supervise.cc).
  std::string pending_load, pending_load_key;
  std::string served_name;   // LM: the model id its OpenAI routes answer (the endpoint name)
  int in_flight = 0;
  int64_t model_version_id = 0;
  int64_t model_version = 0;  // the version number (X-Sskai-Model-Version, metric labels)
  bool spot = false;          // runs on the spot-simulating pool (else on-demand)
  bool noticed = false;       // reclaim notice received (or rebalanced): replaced, then drained
  TimePoint reclaim_at = TimePoint::max();  // spot: the pool kills it then
  TimePoint launched_at{};
  TimePoint stop_sent_at{};
  TimePoint kill_sent_at{};  // the last forced stop (Kill): repeated at most every kKillResend
  int64_t usage_id = 0;
  std::shared_ptr<http::ClientPool> pool;
  // Slurm placement (slurm_replicas.cc): the endpoint_replicas row that survives a restart.
  int64_t slurm_row_id = 0;
  std::string standby_file;  // a standby job of the Slurm warm pool: its job file (slurm_pool.cc)
  std::string standby_partition;  // ... and the partition whose pool it is in
  int64_t owner_id = 0;
  std::string token_name;  // the replica's model-download token (revoked once it is ready)
  TimePoint next_poll{};   // Slurm: scontrol is asked at most every slurm_poll_interval
  std::string key;         // Slurm: its replica key (kReplicaKeyHeader), sent on every call
  bool slurm() const { return slurm_row_id > 0 || !standby_file.empty(); }
  std::string BaseUrl() const { return "http://" + host + ":" + std::to_string(port); }
  // Where the gateway forwards requests: the Unix socket when the replica has one, else BaseUrl.
  std::string ForwardUrl() const { return unix_socket.empty() ? BaseUrl() : "unix:" + unix_socket; }
  std::string unix_socket;  // local replicas: the socket file it also listens on ("" = TCP only)
};

struct EndpointManager::Pending {
  std::string body;
  std::string target;
  std::function<void(http::Response)> done;
  TimePoint arrived{};
  TimePoint dispatched{};
  bool waited = false;
  bool stream = false;    // pass a text/event-stream answer on as it arrives
  bool answered = false;  // `done` already got the (streamed) response
};

struct EndpointManager::EndpointRt {
  int64_t id = 0, owner_id = 0;
  std::string name;
  std::string config_json;  // as last parsed
  ServingConfig config;
  std::unique_ptr<Autoscaler> scaler;
  std::vector<std::shared_ptr<Replica>> replicas;
  std::deque<std::shared_ptr<Pending>> queue;
  int failed_starts = 0;
  bool failed = false;
  bool blocked = false;
  std::string blocked_reason;
  TimePoint last_request{};
  bool cold = true;  // no ready replica since the last scale to zero
  EndpointMetrics metrics;
  // Rollout (rollout_manager.cc).
  bool rollout_loaded = false;
  std::optional<RolloutState> rollout;
  VersionWindow stable_window, canary_window;
  int64_t canary_step_requests = 0;
  int canary_failures = 0;
  TrafficSplitter splitter;
  bool windows_dirty = false;     // answers recorded since the windows were last persisted
  TimePoint windows_saved_at{};
  struct VersionCounters {
    int64_t version = 0, requests = 0, errors = 0;
    double latency_sum_s = 0;
  };
  std::map<int64_t, VersionCounters> by_version;  // by model_version_id
  // A replica of the running rollout's canary version (not the serving one).
  bool IsCanary(int64_t version_id, int64_t serving_version_id) const {
    return rollout && rollout->phase == RolloutPhase::kRunning &&
           version_id == rollout->canary_version_id && version_id != serving_version_id;
  }
  int64_t serving_version_id = 0;  // the endpoint's model_version_id as last supervised
  // Spot (spot_manager.cc): notice times in the preemption window, the market in use.
  std::deque<TimePoint> preemptions;
  Market market = Market::kSpot;
};

// Blocking calls to replicas (/load) run on `pool`; forwarded requests run on `forward`'s io
// thread (async, keep-alive connections per replica).
class EndpointManager::ProxyPool {
 public:
  explicit ProxyPool(int threads) : pool(threads), forward(http::AsyncClient::Options{}) {}
  ThreadPool pool;
  http::AsyncClient forward;
};

// LM model versions (spec_json {"type":"lm","files":{name: sha256}}): materialized as a
// directory of symlinks to the blobs under `root`/<manifest sha> (idempotent, atomic rename).
bool IsLmVersion(const store::ModelVersion& mv);
Result<std::string> MaterializeLm(artifacts::BlobStore& blobs, const store::ModelVersion& mv,
                                  const std::string& root);

// Sends `p` to a replica with Client::Stream: a 2xx text/event-stream answer is handed to
// p.done at once as a streamed Response (p.answered) and copied chunk by chunk until the replica
// ends it or the caller goes away; any other answer is returned whole, as ClientPool::Request
// would. Runs on a proxy thread (blocks for the whole generation).
// `key`: the replica's key ("" = none).
Result<http::ClientResponse> ProxyStream(http::ClientPool& pool, EndpointManager::Pending& p,
                                         const std::string& key);

// Replica addresses: a port file holds "port" (loopback) or "host:port" (another node).
// ParseReplicaAddress is pure; Probe reads the file once (*port == 0) and asks GET `target`
// (sending `key` when not empty): true on 200. `status` (optional) gets the HTTP status of
// the answer, 0 when there was none (no address yet, nothing listening, a timeout).
bool ParseReplicaAddress(const std::string& text, std::string* host, int* port);
bool Probe(const std::string& port_file, std::string* host, int* port, const std::string& key,
           const char* target = "/healthz", int* status = nullptr);
// What tells that a replica can serve: GET /healthz, or for a keyed replica GET /metadata with
// its key (a model is loaded and the key is right: a key the replica does not know — say, a
// changed secret file after a restart — shows as a failed start, not as 401s to callers).
inline const char* ReadinessTarget(const std::string& key) {
  return key.empty() ? "/healthz" : "/metadata";
}
std::shared_ptr<http::ClientPool> PoolFor(const std::string& base_url,
                                          std::chrono::milliseconds timeout);

// Replica keys (replica_key.cc). The secret file holds 64 hex characters; it is created
// (0600, O_EXCL) when missing. Errors: kFailedPrecondition (malformed file), kInternal (I/O).
Result<std::string> LoadOrCreateReplicaSecret(const std::string& path);
// Hex HMAC-SHA256 of (row id, created_at) under `secret`: 64 hex characters ("" if OpenSSL fails).
std::string DeriveReplicaKey(const std::string& secret, int64_t row_id, double created_at);
// Constant-time comparison (in the content) of a presented key with the expected one.
bool ReplicaKeyMatches(const std::string& expected, const std::string& given);
// The replica's http::Server middleware: 401 JSON unless the request carries `key` in
// kReplicaKeyHeader; GET /healthz is always open. Empty `key`: no middleware (nullptr).
using ReplicaMiddleware =
    std::function<std::optional<http::Response>(http::Request&, const http::RouteInfo&)>;
ReplicaMiddleware ReplicaKeyMiddleware(std::string key);
// The same with a key a load order may replace (a Slurm standby taken by an endpoint).
// Thread-safe.
class ReplicaKey {
 public:
  explicit ReplicaKey(std::string key) : key_(std::move(key)) {}
  std::string Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return key_;
  }
  void Set(std::string key) {
    std::lock_guard<std::mutex> lock(mu_);
    key_ = std::move(key);
  }

 private:
  mutable std::mutex mu_;
  std::string key_;
};
ReplicaMiddleware ReplicaKeyMiddleware(std::shared_ptr<ReplicaKey> key);
// A random key (256 bits, 64 hex): a standby's, which no restart needs to derive again.
Result<std::string> RandomReplicaKey();

// A standby's load order (POST /load; load_order.cc): {"model_path"} (a local standby) or
// {"model_url","model_sha256"[,"model_files"],"token"} (a Slurm standby fetches the model as
// `sskai replica --model-url` would), plus "served_name" (language models) and "key" (the
// replica's key from now on). Errors: kInvalidArgument naming the field.
struct LoadOrder {
  std::string model_path;
  ReplicaOptions fetch;  // model_url, model_sha256, model_files over the replica's options
  std::string token, key, served_name;
};
Result<LoadOrder> ParseLoadOrder(const std::string& body, const ReplicaOptions& base);

// {"error":{"code":"payment_required","message":reason}} with status 402.
http::Response BlockedResponse(const std::string& endpoint, const std::string& reason);

}  // namespace sskai::serving
