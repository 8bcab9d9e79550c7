// src/serving/serving.h — endpoints: supervised replica processes that serve a model version,
// and the gateway call that forwards predictions to them.
//
// Each endpoint has one replica process (`sskai replica`) on this machine, reached over loopback
// HTTP. The manager's loop (RunOnce) starts replicas for endpoints that should serve, checks
// readiness (GET /healthz) before routing traffic, restarts replicas that die (and records it on
// the endpoint), and stops replicas of deleted endpoints. Replicas die with the server; a
// restarted server starts them again from the store.
// Thread-safety: EndpointManager is thread-safe. Predict() never blocks the caller's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/jobs.h"

namespace sskai::store {
class Store;
struct Endpoint;
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
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kStopped = "stopped";

class EndpointManager {
 public:
  struct Options {
    std::string binary;                          // the sskai executable
    std::string run_dir;                         // port files
    std::string log_dir;                         // replica logs
    std::chrono::milliseconds interval{250};     // supervision period
    std::chrono::seconds ready_timeout{60};      // start -> healthy, else restart
    int max_restarts = 5;                        // consecutive failed starts -> endpoint failed
    int proxy_threads = 8;                       // blocking calls to replicas run here
    std::chrono::milliseconds predict_timeout{30000};
    std::string resource = "this-machine";  // catalog offering name
  };

  EndpointManager(Options options, store::Store& store, artifacts::BlobStore& blobs,
                  jobs::Executor& executor, Clock& clock);
  ~EndpointManager();

  void Start();
  // Stops the loop and the replicas (server shutdown). Endpoints keep their state in the store.
  void Stop();

  // Records that `endpoint_id` should serve (state deploying) and wakes the loop.
  void Kick();
  // Stops the endpoint's replica (after the row was deleted or stopped).
  void Forget(int64_t endpoint_id);
  // Forwards a predict body to the endpoint's ready replica; `done` gets the replica's answer,
  // or 503 + Retry-After when no replica is ready, 503 when the replica failed mid-request.
  void Predict(int64_t endpoint_id, std::string body, std::function<void(http::Response)> done);
  // One supervision pass (also used by tests).
  void RunOnce();
  std::string LogPath(int64_t endpoint_id) const;

  // Snapshot of one replica for the API.
  struct ReplicaInfo {
    int pid = 0;
    int port = 0;
    bool ready = false;
    int restarts = 0;
  };
  std::map<int64_t, ReplicaInfo> Replicas();

 private:
  struct Replica;
  void Supervise(store::Endpoint& ep);
  void Launch(store::Endpoint& ep, Replica& r);
  void SetState(store::Endpoint& ep, const std::string& state, const std::string& reason);
  void StopReplica(int64_t endpoint_id, Replica& r);
  class ProxyPool;

  Options options_;
  store::Store& store_;
  artifacts::BlobStore& blobs_;
  jobs::Executor& executor_;
  Clock& clock_;
  std::mutex mu_;
  std::map<int64_t, std::shared_ptr<Replica>> replicas_;
  std::unique_ptr<ProxyPool> proxy_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> kicked_{false};
  std::thread thread_;
};

struct ReplicaOptions {
  std::string model_path;
  std::string host = "127.0.0.1";
  int port = 0;                 // 0 = ephemeral
  std::string port_file;        // written (atomically) once listening
  int threads = 2;
};
// Runs a replica until SIGTERM/SIGINT: loads the model once, then serves GET /healthz,
// GET /metadata and POST /predict. Returns the process exit code.
int RunReplica(const ReplicaOptions& options);

}  // namespace sskai::serving
