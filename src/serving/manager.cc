// EndpointManager: supervises one replica process per serving endpoint.
#include <filesystem>
#include <fstream>

#include "artifacts/artifacts.h"
#include "common/log.h"
#include "common/thread_pool.h"
#include "http/http.h"
#include "serving/serving.h"
#include "store/store.h"

namespace sskai::serving {

namespace fs = std::filesystem;

struct EndpointManager::Replica {
  jobs::WorkerHandle handle;
  int port = 0;
  bool ready = false;
  int64_t model_version_id = 0;
  std::chrono::steady_clock::time_point launched_at;
  int failed_starts = 0;
  std::shared_ptr<http::ClientPool> pool;
};

class EndpointManager::ProxyPool {
 public:
  explicit ProxyPool(int threads) : pool(threads) {}
  ThreadPool pool;
};

EndpointManager::EndpointManager(Options options, store::Store& store,
                                 artifacts::BlobStore& blobs, jobs::Executor& executor,
                                 Clock& clock)
    : options_(std::move(options)),
      store_(store),
      blobs_(blobs),
      executor_(executor),
      clock_(clock),
      proxy_(std::make_unique<ProxyPool>(options_.proxy_threads)) {}

EndpointManager::~EndpointManager() { Stop(); }

void EndpointManager::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    while (!stop_) {
      RunOnce();
      auto deadline = std::chrono::steady_clock::now() + options_.interval;
      while (!stop_ && !kicked_ && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      kicked_ = false;
    }
  });
}

void EndpointManager::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, r] : replicas_) StopReplica(id, *r);
  replicas_.clear();
}

void EndpointManager::Kick() { kicked_ = true; }

std::string EndpointManager::LogPath(int64_t endpoint_id) const {
  return options_.log_dir + "/endpoint-" + std::to_string(endpoint_id) + ".log";
}

std::map<int64_t, EndpointManager::ReplicaInfo> EndpointManager::Replicas() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<int64_t, ReplicaInfo> out;
  for (auto& [id, r] : replicas_) {
    out[id] = ReplicaInfo{r->handle.pid, r->port, r->ready, r->failed_starts};
  }
  return out;
}

void EndpointManager::Forget(int64_t endpoint_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = replicas_.find(endpoint_id);
  if (it == replicas_.end()) return;
  StopReplica(endpoint_id, *it->second);
  replicas_.erase(it);
}

void EndpointManager::StopReplica(int64_t endpoint_id, Replica& r) {
  executor_.Signal(r.handle, /*force=*/false);
  for (int idx = 0; idx < 50; ++idx) {
    if (executor_.Poll(r.handle).exited) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!executor_.Poll(r.handle).exited) executor_.Signal(r.handle, /*force=*/true);
  IgnoreError(store_.CloseOpenUsage("endpoint", endpoint_id, clock_.NowSeconds()).status());
}

void EndpointManager::SetState(store::Endpoint& ep, const std::string& state,
                               const std::string& reason) {
  if (ep.state == state && ep.reason == reason) return;
  ep.state = state;
  ep.reason = reason;
  ep.updated_at = clock_.NowSeconds();
  IgnoreError(store_.UpdateEndpoint(ep));
  store::Event ev;
  ev.owner_id = ep.owner_id;
  ev.kind = "endpoint";
  ev.subject_id = ep.id;
  ev.action = state;
  ev.message = "endpoint '" + ep.name + "' " + state + (reason.empty() ? "" : ": " + reason);
  ev.created_at = clock_.NowSeconds();
  IgnoreError(store_.AddEvent(ev).status());
}

void EndpointManager::RunOnce() {
  auto listed = store_.ListEndpointsInStates({kDeploying, kReady});
  if (!listed.ok()) {
    SSKAI_LOG_WARN("serving: cannot list endpoints: {}", listed.status().ToString());
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::set<int64_t> wanted;
  for (auto& ep : *listed) {
    wanted.insert(ep.id);
    Supervise(ep);
  }
  for (auto it = replicas_.begin(); it != replicas_.end();) {
    if (wanted.count(it->first) == 0) {
      StopReplica(it->first, *it->second);
      it = replicas_.erase(it);
    } else {
      ++it;
    }
  }
}

void EndpointManager::Launch(store::Endpoint& ep, Replica& r) {
  auto mv = store_.GetModelVersionById(ep.model_version_id);
  if (!mv.ok()) {
    SetState(ep, kFailed, "model version is gone: " + mv.status().message());
    return;
  }
  auto path = blobs_.LocalPath(mv->blob_sha256);
  if (!path.ok()) {
    SetState(ep, kFailed, "model file is missing: " + path.status().message());
    return;
  }
  std::string port_file = options_.run_dir + "/endpoint-" + std::to_string(ep.id) + ".port";
  std::error_code ec;
  fs::remove(port_file, ec);
  jobs::LaunchSpec spec;
  spec.argv = {options_.binary, "replica", "--model", *path, "--port-file", port_file};
  spec.log_path = LogPath(ep.id);
  spec.new_session = true;
  spec.die_with_parent = true;
  auto handle = executor_.Launch(spec);
  if (!handle.ok()) {
    SetState(ep, kFailed, "cannot start a replica: " + handle.status().message());
    return;
  }
  r.handle = *handle;
  r.port = 0;
  r.ready = false;
  r.pool.reset();
  r.model_version_id = ep.model_version_id;
  r.launched_at = clock_.Monotonic();
  ep.replica_pid = handle->pid;
  ep.replica_start_time = handle->start_time;
  ep.replica_port = 0;
  SetState(ep, kDeploying, ep.restarts > 0 ? "replica restarting" : "");
  IgnoreError(store_.UpdateEndpoint(ep));
}

void EndpointManager::Supervise(store::Endpoint& ep) {
  auto& slot = replicas_[ep.id];
  if (!slot) {
    slot = std::make_shared<Replica>();
    Launch(ep, *slot);
    return;
  }
  Replica& r = *slot;
  if (r.model_version_id != ep.model_version_id) {  // redeployed with another version
    StopReplica(ep.id, r);
    Launch(ep, r);
    return;
  }
  jobs::ExitInfo exit = executor_.Poll(r.handle);
  if (exit.exited) {
    bool was_ready = r.ready;
    IgnoreError(store_.CloseOpenUsage("endpoint", ep.id, clock_.NowSeconds()).status());
    r.failed_starts = was_ready ? 0 : r.failed_starts + 1;
    ep.restarts += 1;
    if (r.failed_starts >= options_.max_restarts) {
      SetState(ep, kFailed,
               "replica failed to start " + std::to_string(r.failed_starts) + " times (last: " +
                   exit.Describe() + "); see the endpoint's logs");
      return;
    }
    SSKAI_LOG_WARN("serving: replica of '{}' {}; restarting", ep.name, exit.Describe());
    SetState(ep, kDeploying, "replica " + exit.Describe() + "; restarting");
    Launch(ep, r);
    return;
  }
  if (r.ready) return;
  if (r.port == 0) {
    std::ifstream in(options_.run_dir + "/endpoint-" + std::to_string(ep.id) + ".port");
    int port = 0;
    if (in >> port && port > 0) r.port = port;
  }
  if (r.port > 0) {
    auto client = http::Client::Create("http://127.0.0.1:" + std::to_string(r.port),
                                       {std::chrono::milliseconds(500), std::chrono::milliseconds(2000)});
    if (client.ok()) {
      auto health = (*client)->Request("GET", "/healthz");
      if (health.ok() && health->status == 200) {
        r.ready = true;
        r.failed_starts = 0;
        r.pool = std::make_shared<http::ClientPool>(
            "http://127.0.0.1:" + std::to_string(r.port), 64,
            http::Client::Options{std::chrono::milliseconds(1000), options_.predict_timeout});
        ep.replica_port = r.port;
        SetState(ep, kReady, "");
        store::UsageRecord usage;
        usage.owner_id = ep.owner_id;
        usage.subject_kind = "endpoint";
        usage.subject_id = ep.id;
        usage.resource = options_.resource;
        usage.count = 1;
        usage.started_at = clock_.NowSeconds();
        IgnoreError(store_.OpenUsage(usage).status());
        return;
      }
    }
  }
  if (clock_.Monotonic() - r.launched_at > options_.ready_timeout) {
    executor_.Signal(r.handle, /*force=*/true);  // the exit is handled on the next pass
  }
}

void EndpointManager::Predict(int64_t endpoint_id, std::string body,
                              std::function<void(http::Response)> done) {
  std::shared_ptr<http::ClientPool> pool;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = replicas_.find(endpoint_id);
    if (it != replicas_.end() && it->second->ready) pool = it->second->pool;
  }
  if (!pool) {
    auto resp = http::ErrorResponse(Status::Unavailable("the endpoint has no ready replica yet"));
    resp.headers.push_back({"Retry-After", "1"});
    done(std::move(resp));
    return;
  }
  auto task = [pool, body = std::move(body), done]() mutable {
    auto r = pool->Request("POST", "/predict", body, {{"content-type", "application/json"}});
    if (!r.ok()) {
      done(http::ErrorResponse(Status(StatusCode::kUnavailable,
                                      "the replica failed during the request: " +
                                          r.status().message())));
      return;
    }
    http::Response resp;
    resp.status = r->status;
    resp.body = std::move(r->body);
    done(std::move(resp));
  };
  if (!proxy_->pool.Submit(std::move(task))) {
    done(http::ErrorResponse(Status::ResourceExhausted("too many requests in flight")));
  }
}

}  // namespace sskai::serving
