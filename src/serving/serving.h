// src/serving/serving.h — endpoints: autoscaled replica processes that serve a model version,
// and the gateway (activator) that forwards requests to them.
//
// An endpoint has 0..max_replicas replica processes (`sskai replica`) on this machine, reached
// over loopback HTTP, or (placement "slurm") Slurm jobs on cluster nodes reached over TCP. The manager's loop (RunOnce) asks each endpoint's Autoscaler
// (serving/policy.h) how many replicas it needs, starts replicas (from the warm pool of
// standby processes that have already loaded the ML engine when there is one), checks readiness
// (GET /healthz, or the standby's POST /load answer) before routing traffic, replaces replicas
// that die, drains and stops surplus ones, and stops the replicas of deleted endpoints.
// Requests that find no ready replica wait in a bounded per-endpoint queue (the activator) and
// are dispatched as soon as a replica is ready; a full queue answers 429, a request that waited
// longer than queue_timeout 503, both with Retry-After. Replicas die with the server; a
// restarted server starts them again from the store.
// Endpoint states in the store: deploying (no replica ready yet), ready, idle (scaled to zero),
// failed, blocked (budget: scaled to zero, callers get 402 with the reason), stopped.
// Usage: one store::UsageRecord per replica (count 1) from its launch to its stop, so the sum
// is exact replica-seconds.
// Forwarding is asynchronous (http::AsyncClient, keep-alive connections per replica). With
// ServingConfig batching on, forwarded predicts carry the batching header and the replica
// coalesces them into one forward pass (docs/serving.md, "Dynamic batching").
// Thread-safety: EndpointManager is thread-safe. Predict() never blocks the caller's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/jobs.h"
#include "serving/policy.h"
#include "serving/rollout.h"

namespace sskai::store {
class Store;
struct Endpoint;
struct UsageRecord;
struct ModelVersion;
}  // namespace sskai::store
namespace sskai::artifacts {
class BlobStore;
}
namespace sskai::http {
struct Response;
}

namespace sskai::serving {

inline constexpr const char* kDeploying = "deploying";
inline constexpr const char* kReady = "ready";
inline constexpr const char* kIdle = "idle";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kStopped = "stopped";
inline constexpr const char* kBlocked = "blocked";

// Replica keys (docs/serving.md, "Replica keys"): a replica started with a key in this
// environment variable answers 401 on every route except GET /healthz unless the request
// carries the key in this header. The gateway gives each Slurm replica its own key (replicas
// on this machine listen on loopback / a Unix socket and run without one).
inline constexpr const char* kReplicaKeyEnv = "SSKAI_REPLICA_KEY";
inline constexpr const char* kReplicaKeyHeader = "x-sskai-replica-key";

// Per-endpoint counters since the server started.
struct EndpointMetrics {
  static constexpr double kBucketsMs[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
                                          10000, 30000};
  static constexpr size_t kBuckets = sizeof(kBucketsMs) / sizeof(kBucketsMs[0]);
  int64_t requests = 0;          // answered (any status)
  int64_t errors = 0;            // answered >= 500, or 429/402 shed by the gateway
  int64_t rejected = 0;          // 429 (queue full) and 503 (queue timeout) by the activator
  int64_t cold_starts = 0;       // scale-ups from zero ready replicas with requests waiting
  int64_t latency_counts[kBuckets + 1] = {};  // cumulative per bucket is computed on export
  double latency_sum_s = 0;
  int64_t queued_total = 0;      // requests that waited for a replica
  double queue_sum_s = 0;
  int in_flight = 0, queued = 0, ready = 0, starting = 0;
  std::vector<std::pair<double, int>> replica_history;  // (unix seconds, replicas), last 120
};

class EndpointManager {
 public:
  struct Options {
    std::string binary;                          // the sskai executable
    std::string run_dir;                         // port files
    std::string log_dir;                         // replica logs
    std::chrono::milliseconds interval{250};     // supervision period
    std::chrono::seconds ready_timeout{60};      // start -> healthy, else restart
    int max_restarts = 5;                        // consecutive failed starts -> endpoint failed
    int proxy_threads = 64;                      // blocking calls to replicas (/load) run here;
                                                 // predicts are forwarded async (one io thread)
    std::chrono::milliseconds predict_timeout{30000};
    std::string resource = "this-machine";       // catalog offering name (usage records)
    std::string lm_dir;  // LM model directories (symlinks to blobs); "" = run_dir + "/lm"
    // Local replicas also listen on a Unix socket under run_dir and the gateway forwards over it
    // (no loopback TCP stack per hop); false = loopback TCP only. Slurm replicas always use TCP.
    bool unix_sockets = true;
    int warm_pool = 0;  // standby replica processes with the engine loaded, ready for any model
    // Called after each request a replica answered: busy seconds (time at the replica) and
    // whether it succeeded (2xx). Runs on the forwarding io thread: must not block; may be empty.
    std::function<void(int64_t endpoint_id, int64_t owner_id, double busy_seconds, bool ok)>
        on_request;
    // Replicas on Slurm (docs/serving.md, "Replicas on Slurm"). `executor` must route
    // LaunchSpec::executor "slurm" (jobs::MakeRoutingExecutor). Endpoints whose config has no
    // "executor" use default_executor ("local" | "slurm").
    std::string default_executor = "local";
    std::chrono::seconds slurm_ready_timeout{300};  // submit -> healthy (includes queueing)
    std::chrono::milliseconds slurm_poll_interval{1000};  // scontrol per replica at most this often
    // A Slurm replica fetches its model from the server (server_url, set_server_url) with an
    // API token of the endpoint's owner minted per replica and revoked once it is ready (or
    // stopped). Without mint_token, Slurm replicas cannot start.
    std::function<Result<std::string>(int64_t owner_id, const std::string& name)> mint_token;
    std::function<void(int64_t owner_id, const std::string& name)> revoke_token;
    // Each Slurm replica's key is derived from this secret (created on first use, mode 0600,
    // 64 hex characters) and its endpoint_replicas row, so a restarted server can still call
    // the replicas it re-attaches to. "" = run_dir + "/replica-key.secret".
    std::string replica_secret_file;
    // The warm pools on Slurm (docs/serving.md, "Warm pool on Slurm"; ParseWarmPoolSpec in
    // policy.h): per partition, standby replica jobs (engine loaded, no model) that a replica
    // launch of a Slurm endpoint in that partition takes instead of submitting a job; each pool
    // holds its min and grows towards its max with the launches of the last
    // slurm_warm_pool_window. Empty = none. They cost cluster time: each has a usage record
    // (owner 0, subject_kind "standby") until an endpoint takes it.
    std::vector<WarmPoolSpec> slurm_warm_pools;
    Millis slurm_warm_pool_window{std::chrono::minutes(10)};
    std::string slurm_default_partition;  // the executor's default ("" = Slurm's own)
  };

  EndpointManager(Options options, store::Store& store, artifacts::BlobStore& blobs,
                  jobs::Executor& executor, Clock& clock);
  ~EndpointManager();

  // How Slurm replicas reach the API ("http://host:port"); call before Start().
  void set_server_url(std::string url);
  void Start();
  // Stops the loop and the local replicas (server shutdown). Endpoints keep their state in the
  // store; Slurm replicas keep running (and their usage records open): a restarted server
  // re-attaches to them by Slurm job id.
  void Stop();

  // Wakes the loop (an endpoint was created, changed or unblocked).
  void Kick();
  // Stops the endpoint's replicas (after the row was deleted or stopped).
  void Forget(int64_t endpoint_id);
  // Forwards a body to `target` ("/predict") of one of the endpoint's ready replicas; `done`
  // gets the replica's answer. No ready replica: the request waits (see the file comment).
  // Answers 402 for a blocked endpoint, 429/503 + Retry-After when shed, 503 naming the
  // failure when the replica died during the request.
  // `stream`: the caller asked for a streamed answer (OpenAI "stream": true). A replica answer
  // of type text/event-stream is then passed on chunk by chunk: `done` gets a Response whose
  // `stream` is set as soon as the replica's header arrives, and a caller that goes away closes
  // the connection to the replica, which cancels the generation.
  void Predict(const store::Endpoint& endpoint, std::string body,
               std::function<void(http::Response)> done, std::string target = "/predict",
               bool stream = false);
  // One supervision pass (also used by tests).
  void RunOnce();
  std::string LogPath(int64_t endpoint_id) const;

  // Budgets: scales the endpoint to zero and makes callers get 402 with `reason` until Unblock
  // (state "blocked" in the store, so it survives a restart). Errors: kNotFound.
  Status Block(int64_t endpoint_id, std::string reason);
  Status Unblock(int64_t endpoint_id);

  // Snapshot of the replicas for the API.
  struct ReplicaInfo {
    int pid = 0;          // local: the process id; Slurm: the Slurm job id
    std::string host;     // where the gateway reaches it ("127.0.0.1" for local replicas)
    bool slurm = false;
    int port = 0;
    bool ready = false;
    int restarts = 0;    // consecutive failed starts of the endpoint
    int in_flight = 0;
  };
  std::map<int64_t, std::vector<ReplicaInfo>> Replicas();
  // Metrics of one endpoint (zeros when the manager has not seen it).
  EndpointMetrics Metrics(int64_t endpoint_id);
  // Prometheus exposition text of every endpoint the manager knows (sskai_endpoint_* series).
  std::string PrometheusText();

  // Rollouts (canary / blue-green; decisions in serving/rollout.h, effects in rollout_manager.cc).
  // While a rollout runs the endpoint keeps replicas of both versions, splits requests by the
  // rollout's percent (answers carry X-Sskai-Model-Version), steps, promotes or rolls back on
  // its own, and records every transition as an endpoint event and in the endpoint row.
  // StartRollout errors: kNotFound, kInvalidArgument (canary = the serving version),
  // kFailedPrecondition (a rollout is already running, or the endpoint is not deployable).
  Status StartRollout(int64_t endpoint_id, int64_t canary_version_id, RolloutSpec spec);
  // Manual control of a running rollout. Errors: kNotFound, kFailedPrecondition (none running).
  Status PromoteRollout(int64_t endpoint_id);
  Status RollbackRollout(int64_t endpoint_id);
  struct RolloutView {
    RolloutState state;
    WindowStats stable, canary;  // since the rollout started (this server process)
    int stable_ready = 0, canary_ready = 0;
  };
  // The endpoint's latest rollout (running or finished). Errors: kNotFound (never had one).
  Result<RolloutView> Rollout(int64_t endpoint_id);

  struct EndpointRt;  // private; public only so the implementation files can share it
  struct Replica;
  struct Pending;

 private:
  using Done = std::function<void()>;
  void Supervise(store::Endpoint& ep, std::vector<Done>& after);
  // version_id 0 = the endpoint's serving version.
  std::shared_ptr<Replica> Launch(store::Endpoint& ep, EndpointRt& rt, int64_t version_id = 0);
  std::shared_ptr<Replica> LaunchLocal(store::Endpoint& ep, EndpointRt& rt, const std::string& path,
                                       bool lm);
  void CheckReady(store::Endpoint& ep, EndpointRt& rt, Replica& r);
  void MarkReady(EndpointRt& rt, Replica& r);
  void StartLoad(int64_t endpoint_id, const std::shared_ptr<Replica>& r, const std::string& path);
  // POST /load `body` to a standby, authenticated with `key` (its key before the load order).
  void SendLoad(int64_t endpoint_id, const std::shared_ptr<Replica>& r, std::string body,
                const std::string& key);
  void SetState(store::Endpoint& ep, const std::string& state, const std::string& reason);
  // Every endpoint-row write of the manager (under mu_): the store, then endpoint_writes_.
  void WriteEndpoint(const store::Endpoint& ep);
  void StopReplica(Replica& r);  // SIGTERM now, reaped by later passes
  // SIGKILL / scancel, at most once per kKillResend for one replica: supervision passes run on
  // every kick, and a dying Slurm job stays "running" until the next scontrol poll.
  void Kill(Replica& r);
  void ReapStopping();
  void FillWarmPool();
  void DrainQueue(EndpointRt& rt, std::vector<Done>& after);
  void Dispatch(EndpointRt& rt, std::shared_ptr<Replica> r, std::shared_ptr<Pending> p);
  void Finish(int64_t endpoint_id, Replica* r, Pending& p, http::Response resp);
  void FailQueue(EndpointRt& rt, const http::Response& resp, std::vector<Done>& after);
  EndpointRt& RtFor(const store::Endpoint& ep);
  // Rollout effects (rollout_manager.cc); all REQUIRE mu_.
  void LoadRollout(const store::Endpoint& ep, EndpointRt& rt);
  void SuperviseRollout(store::Endpoint& ep, EndpointRt& rt, int stable_desired);
  void ApplyRollout(store::Endpoint& ep, EndpointRt& rt, const RolloutAction& action, bool manual);
  std::shared_ptr<Replica> PickReplica(EndpointRt& rt, bool under_cap);
  void RecordVersion(EndpointRt& rt, const Replica& r, int status, double latency_s);
  // Persists the comparison windows (at most every second unless `force`).
  void SaveRolloutWindows(EndpointRt& rt, bool force);
  std::string RolloutPrometheusText();
  // Slurm placement (slurm_replicas.cc); REQUIRE mu_.
  bool OnSlurm(const EndpointRt& rt) const;
  Result<std::shared_ptr<Replica>> LaunchSlurm(const store::Endpoint& ep, const EndpointRt& rt,
                                               const store::ModelVersion& mv, bool lm);
  void AdoptSlurmReplicas(const store::Endpoint& ep, EndpointRt& rt);
  void PersistSlurm(int64_t endpoint_id, const Replica& r);
  void ReleaseSlurm(Replica& r);  // revokes its token, forgets its row
  jobs::ExitInfo PollReplica(Replica& r);
  std::chrono::milliseconds ReadyTimeout(const Replica& r) const;
  // The key of the replica of `row` (replica_key.cc); "" with the reason logged when the
  // secret file cannot be read or created.
  std::string ReplicaKeyFor(int64_t row_id, double created_at);
  // The warm pool on Slurm (slurm_pool.cc); REQUIRE mu_.
  void FillSlurmWarmPool();
  void CancelCrashedStandbys();
  Result<std::shared_ptr<Replica>> LaunchSlurmStandby(const std::string& partition);
  // Called for every replica launch of a Slurm endpoint: counts the launch as demand for its
  // partition's pool (if it has one) and returns a standby of that pool — a ready one, else the
  // oldest still starting — taken out of it (its usage record closed; its job file is the
  // caller's to remove), or nullptr.
  std::shared_ptr<Replica> TakeSlurmStandby(const EndpointRt& rt);
  // Spot effects (spot_manager.cc); REQUIRE mu_.
  void SpotLaunch(store::Endpoint& ep, EndpointRt& rt, Replica& r, store::UsageRecord& usage);
  void SuperviseSpot(store::Endpoint& ep, EndpointRt& rt);
  class ProxyPool;

  Options options_;
  store::Store& store_;
  artifacts::BlobStore& blobs_;
  jobs::Executor& executor_;
  Clock& clock_;
  std::mutex mu_;
  // Counts WriteEndpoint calls: a supervision pass lists the endpoints before taking mu_ (a store
  // query can wait on the store's lock for milliseconds, and every request needs mu_) and lists
  // them again under mu_ only when a row was written in between.
  std::atomic<uint64_t> endpoint_writes_{0};
  std::map<int64_t, std::unique_ptr<EndpointRt>> endpoints_;
  std::vector<std::shared_ptr<Replica>> standby_;   // warm pool
  std::vector<std::shared_ptr<Replica>> slurm_standby_;  // warm pools on Slurm, all partitions
  bool slurm_pool_checked_ = false;  // a crashed predecessor's standby jobs were cancelled
  // Per pool partition: replica launches in the window (WarmPoolTarget), the current target,
  // and, after a failed sbatch, the time before which no standby is submitted there.
  std::map<std::string, std::deque<TimePoint>> slurm_launches_;
  std::map<std::string, int> slurm_pool_target_;
  std::map<std::string, TimePoint> next_standby_submit_;
  std::vector<std::shared_ptr<Replica>> stopping_;  // signalled, not yet exited
  int64_t next_replica_id_ = 1;
  std::string server_url_;
  std::string replica_secret_;  // loaded by the first ReplicaKeyFor
  std::string warmup_model_;  // the model of the latest launch: standbys preload it
  std::unique_ptr<ProxyPool> proxy_;
  std::atomic<bool> stop_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool kicked_ = false;
  std::thread thread_;
};

struct ReplicaOptions {
  std::string model_path;       // "" with standby
  bool standby = false;         // load the engine, wait for POST /load {"model_path"} (or, a
                                // Slurm standby, {"model_url","model_sha256","token","key"}:
                                // fetch as model_url does; "key" replaces `key`)
  std::string warmup_model;     // standby: load this model at start (warms libtorch's lazy
                                // init; a later /load of the same path reuses it)
  std::string host = "127.0.0.1";
  int port = 0;                 // 0 = ephemeral
  std::string port_file;        // written (atomically) once listening: "port" when host is
                                // 127.0.0.1, else "host:port" (advertise_host, or this node's
                                // hostname when host is 0.0.0.0)
  std::string advertise_host;   // how the server reaches this replica ("" = see above)
  std::string unix_socket;      // also listen on this Unix socket file (the gateway's fast path)
  // A replica on another node (Slurm) fetches its model over HTTP instead of --model: GET
  // model_url with the bearer token in $SSKAI_TOKEN, into cache_dir/<model_sha256> (reused when
  // present and intact), verified against model_sha256.
  // model_files: model_url is a language model version's file list
  // (GET /v1/models/{name}/versions/{v}/files) and model_sha256 its manifest_sha256; every file
  // is fetched, verified against its sha256, into the directory cache_dir/<model_sha256>/.
  std::string model_url;
  std::string model_sha256;
  bool model_files = false;
  std::string cache_dir;        // "" = $TMPDIR (or /tmp) + "/sskai-models"
  int threads = 2;
  // Language models (a model directory with config.json): the "model" id of the OpenAI routes
  // ("" = the directory name), decode batching and engine threads.
  std::string served_name;
  int max_batch = 16;           // requests per batched generation
  int batch_window_us = 2000;   // an idle model waits this long for more requests to batch
  // "continuous": requests join the running decode batch between steps; "static": they wait
  // until the whole batch has finished.
  std::string lm_batching = "continuous";
  int torch_threads = 0;        // 0 = the engine's default
  // Required in the kReplicaKeyHeader header on every route except GET /healthz (401 JSON
  // otherwise; compared in constant time). "" = no key. The CLI reads it from $SSKAI_REPLICA_KEY
  // (never argv: argv shows in ps and squeue).
  std::string key;
};
// Runs a replica until SIGTERM/SIGINT: loads the model once (or, standby, the engine only),
// then serves GET /healthz, GET /metadata, POST /predict (and POST /load when standby).
// A model directory with config.json is a language model: the replica then serves the
// OpenAI-compatible POST /v1/chat/completions, POST /v1/completions (stream: true = server-sent
// events), GET /v1/models and GET /v1/lm/stats, batching concurrent requests in the decode loop.
// Returns the process exit code.
int RunReplica(const ReplicaOptions& options);
// The model fetch of a replica started with model_url (see ReplicaOptions); returns the local
// path (a directory with model_files). Errors: kInvalidArgument (bad url or sha256),
// kUnavailable (download failed or answered non-2xx), kInternal (a file does not match its
// sha256, or the file list is not model_sha256's).
Result<std::string> FetchReplicaModel(const ReplicaOptions& options, const std::string& token);

}  // namespace sskai::serving
