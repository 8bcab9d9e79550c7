// EndpointManager: supervision and autoscaling of the replica processes of every endpoint.
// The request path (activator, proxy, metrics) is in gateway.cc.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "artifacts/artifacts.h"
#include "common/log.h"
#include "serving/internal.h"
#include "store/store.h"

namespace sskai::serving {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr auto kStopGrace = std::chrono::seconds(2);
constexpr size_t kHistory = 120;

std::shared_ptr<http::ClientPool> PoolFor(int port, std::chrono::milliseconds timeout) {
  return std::make_shared<http::ClientPool>(
      "http://127.0.0.1:" + std::to_string(port), 256,
      http::Client::Options{std::chrono::milliseconds(1000), timeout});
}

// Reads the port file (once) and asks /healthz; true when healthy.
bool Probe(const std::string& port_file, int* port) {
  if (*port == 0) {
    std::ifstream in(port_file);
    int p = 0;
    if (in >> p && p > 0) *port = p;
  }
  if (*port == 0) return false;
  auto client = http::Client::Create("http://127.0.0.1:" + std::to_string(*port),
                                     {std::chrono::milliseconds(500), std::chrono::milliseconds(2000)});
  if (!client.ok()) return false;
  auto health = (*client)->Request("GET", "/healthz");
  return health.ok() && health->status == 200;
}
}  // namespace

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
      bool busy = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& [id, rt] : endpoints_) {
          if (!rt->queue.empty()) busy = true;
          for (auto& r : rt->replicas) busy = busy || (!r->ready && !r->draining);
        }
        for (auto& r : standby_) busy = busy || !r->ready;
      }
      // Poll fast while a replica starts or requests wait: readiness is noticed within ~5 ms.
      auto wait = busy ? std::chrono::milliseconds(5) : options_.interval;
      std::unique_lock<std::mutex> lock(wake_mu_);
      wake_.wait_for(lock, wait, [this] { return kicked_ || stop_.load(); });
      kicked_ = false;
    }
  });
}

void EndpointManager::Stop() {
  stop_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::vector<Done> after;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, rt] : endpoints_) {
      for (auto& r : rt->replicas) StopReplica(*r);
      rt->replicas.clear();
      FailQueue(*rt, http::ErrorResponse(Status::Unavailable("the server is shutting down")), after);
    }
    endpoints_.clear();
    for (auto& r : standby_) StopReplica(*r);
    standby_.clear();
    for (int idx = 0; idx < 50 && !stopping_.empty(); ++idx) {
      ReapStopping();
      if (!stopping_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (auto& r : stopping_) executor_.Signal(r->handle, /*force=*/true);
    stopping_.clear();
  }
  for (auto& fn : after) fn();
}

void EndpointManager::Kick() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    kicked_ = true;
  }
  wake_.notify_all();
}

std::string EndpointManager::LogPath(int64_t endpoint_id) const {
  return options_.log_dir + "/endpoint-" + std::to_string(endpoint_id) + ".log";
}

std::map<int64_t, std::vector<EndpointManager::ReplicaInfo>> EndpointManager::Replicas() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<int64_t, std::vector<ReplicaInfo>> out;
  for (auto& [id, rt] : endpoints_) {
    for (auto& r : rt->replicas) {
      out[id].push_back(ReplicaInfo{r->handle.pid, r->port, r->ready, rt->failed_starts, r->in_flight});
    }
  }
  return out;
}

void EndpointManager::Forget(int64_t endpoint_id) {
  std::vector<Done> after;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = endpoints_.find(endpoint_id);
    if (it == endpoints_.end()) return;
    for (auto& r : it->second->replicas) StopReplica(*r);
    FailQueue(*it->second, http::ErrorResponse(Status::NotFound("the endpoint was deleted")), after);
    endpoints_.erase(it);
  }
  for (auto& fn : after) fn();
}

void EndpointManager::StopReplica(Replica& r) {
  executor_.Signal(r.handle, /*force=*/false);
  r.stop_sent_at = clock_.Monotonic();
  r.ready = false;
  if (r.usage_id > 0) IgnoreError(store_.CloseUsage(r.usage_id, clock_.NowSeconds()));
  r.usage_id = 0;
  // Kept until it exits so a slow shutdown is finished with SIGKILL.
  for (auto& s : stopping_) {
    if (s.get() == &r) return;
  }
  auto copy = std::make_shared<Replica>();
  copy->handle = r.handle;
  copy->stop_sent_at = r.stop_sent_at;
  stopping_.push_back(std::move(copy));
}

void EndpointManager::ReapStopping() {
  auto now = clock_.Monotonic();
  for (auto it = stopping_.begin(); it != stopping_.end();) {
    if (executor_.Poll((*it)->handle).exited) {
      it = stopping_.erase(it);
      continue;
    }
    if (now - (*it)->stop_sent_at > kStopGrace) executor_.Signal((*it)->handle, /*force=*/true);
    ++it;
  }
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

EndpointManager::EndpointRt& EndpointManager::RtFor(const store::Endpoint& ep) {
  auto& slot = endpoints_[ep.id];
  if (!slot) {
    slot = std::make_unique<EndpointRt>();
    slot->id = ep.id;
    slot->owner_id = ep.owner_id;
    slot->name = ep.name;
    slot->config_json = "\x01";  // parsed below
  }
  if (slot->config_json != ep.config_json) {
    auto parsed = ParseServingConfig(ep.config_json);
    if (!parsed.ok()) {
      SSKAI_LOG_WARN("serving: endpoint '{}' has an invalid config ({}); using defaults", ep.name,
                     parsed.status().message());
      parsed = ServingConfig{};
    }
    slot->config = *parsed;
    if (slot->scaler) {
      slot->scaler->set_config(*parsed);
    } else {
      slot->scaler = std::make_unique<Autoscaler>(*parsed);
    }
    slot->config_json = ep.config_json;
  }
  return *slot;
}

void EndpointManager::RunOnce() {
  std::vector<Done> after;
  {
    // Listed under the lock: commands that change a row under the lock (rollout promotion)
    // are never overwritten by a pass working on an older copy.
    std::lock_guard<std::mutex> lock(mu_);
    auto listed = store_.ListEndpointsInStates({kDeploying, kReady, kIdle});
    if (!listed.ok()) {
      SSKAI_LOG_WARN("serving: cannot list endpoints: {}", listed.status().ToString());
      return;
    }
    std::set<int64_t> wanted;
    for (auto& ep : *listed) {
      wanted.insert(ep.id);
      Supervise(ep, after);
    }
    for (auto it = endpoints_.begin(); it != endpoints_.end();) {
      EndpointRt& rt = *it->second;
      if (wanted.count(it->first) != 0 && !rt.failed) {
        ++it;
        continue;
      }
      for (auto& r : rt.replicas) StopReplica(*r);
      rt.replicas.clear();
      if (rt.blocked) {
        FailQueue(rt, BlockedResponse(rt.name, rt.blocked_reason), after);
      } else {
        FailQueue(rt, http::ErrorResponse(Status::Unavailable("endpoint '" + rt.name +
                                                              "' is no longer serving")),
                  after);
      }
      if (wanted.count(it->first) != 0) {  // failed this pass: forget it on the next
        rt.failed = false;
        ++it;
        continue;
      }
      it = endpoints_.erase(it);
    }
    FillWarmPool();
    ReapStopping();
  }
  for (auto& fn : after) fn();
}

std::shared_ptr<EndpointManager::Replica> EndpointManager::Launch(store::Endpoint& ep,
                                                                  EndpointRt& rt,
                                                                  int64_t version_id) {
  if (version_id == 0) version_id = ep.model_version_id;
  auto mv = store_.GetModelVersionById(version_id);
  bool lm = mv.ok() && IsLmVersion(*mv);
  auto path = !mv.ok() ? Result<std::string>(mv.status())
              : lm     ? MaterializeLm(blobs_, *mv,
                                       options_.lm_dir.empty() ? options_.run_dir + "/lm"
                                                               : options_.lm_dir)
                       : blobs_.LocalPath(mv->blob_sha256);
  if (!path.ok() && rt.IsCanary(version_id, ep.model_version_id)) {
    rt.canary_failures = 1 << 20;  // the canary cannot start at all: roll back
    return nullptr;
  }
  if (!mv.ok()) {
    SetState(ep, kFailed, "model version is gone: " + mv.status().message());
    rt.failed = true;
    return nullptr;
  }
  if (!path.ok()) {
    SetState(ep, kFailed, "model file is missing: " + path.status().message());
    rt.failed = true;
    return nullptr;
  }
  if (!lm) warmup_model_ = *path;  // standbys preload tabular/image models only
  std::shared_ptr<Replica> r;
  for (auto it = standby_.begin(); it != standby_.end(); ++it) {
    if ((*it)->ready) {
      r = *it;
      standby_.erase(it);
      break;
    }
  }
  if (r && lm) r->served_name = ep.name;
  if (!r && !standby_.empty()) {
    // A standby still loading the engine is further along than a fresh process: take it and
    // send it the model once it is healthy.
    r = standby_.front();
    standby_.erase(standby_.begin());
    r->pending_model = *path;
    if (lm) r->served_name = ep.name;
  } else if (r) {
    StartLoad(ep.id, r, *path);
  }
  if (r) {
    r->ready = false;
  } else {
    r = std::make_shared<Replica>();
    r->id = next_replica_id_++;
    r->port_file = options_.run_dir + "/endpoint-" + std::to_string(ep.id) + "-r" +
                   std::to_string(r->id) + ".port";
    std::error_code ec;
    fs::remove(r->port_file, ec);
    jobs::LaunchSpec spec;
    spec.argv = {options_.binary, "replica", "--model", *path, "--port-file", r->port_file};
    if (lm) spec.argv.insert(spec.argv.end(), {"--served-name", ep.name});
    spec.log_path = LogPath(ep.id);
    spec.new_session = true;
    spec.die_with_parent = true;
    auto handle = executor_.Launch(spec);
    if (!handle.ok()) {
      SetState(ep, kFailed, "cannot start a replica: " + handle.status().message());
      rt.failed = true;
      return nullptr;
    }
    r->handle = *handle;
  }
  r->model_version_id = version_id;
  r->model_version = mv->version;
  r->launched_at = clock_.Monotonic();
  store::UsageRecord usage;
  usage.owner_id = ep.owner_id;
  usage.subject_kind = "endpoint";
  usage.subject_id = ep.id;
  usage.resource = options_.resource;
  usage.count = 1;
  usage.started_at = clock_.NowSeconds();
  SpotLaunch(ep, rt, *r, usage);
  auto opened = store_.OpenUsage(usage);
  if (opened.ok()) r->usage_id = opened->id;
  ep.replica_pid = r->handle.pid;
  ep.replica_start_time = r->handle.start_time;
  ep.replica_port = 0;
  IgnoreError(store_.UpdateEndpoint(ep));
  rt.replicas.push_back(r);
  return r;
}

void EndpointManager::StartLoad(int64_t endpoint_id, const std::shared_ptr<Replica>& r,
                                const std::string& path) {
  // A warm standby: the engine is loaded; it only has to load the model file.
  r->ready = false;
  r->loading = true;
  if (!r->pool) r->pool = PoolFor(r->port, options_.predict_timeout);
  std::weak_ptr<Replica> weak = r;
  json load = {{"model_path", path}};
  if (!r->served_name.empty()) load["served_name"] = r->served_name;
  std::string body = load.dump();
  auto pool = r->pool;
  bool submitted = proxy_->pool.Submit([this, weak, endpoint_id, body, pool] {
    auto resp = pool->Request("POST", "/load", body, {{"content-type", "application/json"}});
    std::vector<Done> after;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto r = weak.lock();
      auto it = endpoints_.find(endpoint_id);
      if (!r || it == endpoints_.end()) return;
      if (resp.ok() && resp->status == 200) {
        MarkReady(*it->second, *r);
        DrainQueue(*it->second, after);
      } else {
        SSKAI_LOG_WARN("serving: standby could not load the model of endpoint {}: {}",
                       endpoint_id, resp.ok() ? resp->body : resp.status().ToString());
        r->loading = false;
        r->load_failed = true;
        executor_.Signal(r->handle, /*force=*/true);  // its exit counts as a failed start
      }
    }
    for (auto& fn : after) fn();
    Kick();
  });
  if (!submitted) {
    r->loading = false;
    r->load_failed = true;
    executor_.Signal(r->handle, /*force=*/true);
  }
}

void EndpointManager::MarkReady(EndpointRt& rt, Replica& r) {
  r.ready = true;
  r.was_ready = true;
  r.loading = false;
  if (!r.pool) r.pool = PoolFor(r.port, options_.predict_timeout);
  rt.failed_starts = 0;
  rt.cold = false;
}

void EndpointManager::CheckReady(store::Endpoint& ep, EndpointRt& rt, Replica& r) {
  if (Probe(r.port_file, &r.port)) {
    MarkReady(rt, r);
    ep.replica_port = r.port;
    return;
  }
  if (clock_.Monotonic() - r.launched_at > options_.ready_timeout) {
    executor_.Signal(r.handle, /*force=*/true);  // the exit is handled on the next pass
  }
}

void EndpointManager::FillWarmPool() {
  for (auto it = standby_.begin(); it != standby_.end();) {
    Replica& r = **it;
    if (executor_.Poll(r.handle).exited) {
      it = standby_.erase(it);
      continue;
    }
    if (!r.ready && Probe(r.port_file, &r.port)) {
      r.ready = true;
      r.pool = PoolFor(r.port, options_.predict_timeout);
    }
    ++it;
  }
  while (static_cast<int>(standby_.size()) < options_.warm_pool) {
    auto r = std::make_shared<Replica>();
    r->id = next_replica_id_++;
    r->port_file = options_.run_dir + "/standby-r" + std::to_string(r->id) + ".port";
    std::error_code ec;
    fs::remove(r->port_file, ec);
    jobs::LaunchSpec spec;
    spec.argv = {options_.binary, "replica", "--standby", "--port-file", r->port_file};
    if (!warmup_model_.empty()) {
      spec.argv.push_back("--warmup-model");
      spec.argv.push_back(warmup_model_);
    }
    spec.log_path = options_.log_dir + "/standby.log";
    spec.new_session = true;
    spec.die_with_parent = true;
    auto handle = executor_.Launch(spec);
    if (!handle.ok()) {
      SSKAI_LOG_WARN("serving: cannot start a standby replica: {}", handle.status().ToString());
      return;
    }
    r->handle = *handle;
    r->launched_at = clock_.Monotonic();
    standby_.push_back(std::move(r));
  }
}

void EndpointManager::Supervise(store::Endpoint& ep, std::vector<Done>& after) {
  EndpointRt& rt = RtFor(ep);
  rt.blocked = false;
  LoadRollout(ep, rt);
  rt.serving_version_id = ep.model_version_id;
  const auto now = clock_.Monotonic();
  std::string exit_reason;
  // Replicas of another version (redeploy) drain and are replaced; a running rollout's canary
  // replicas stay.
  for (auto& r : rt.replicas) {
    if (r->model_version_id != ep.model_version_id &&
        !rt.IsCanary(r->model_version_id, ep.model_version_id)) {
      r->draining = true;
    }
  }
  for (size_t idx = 0; idx < rt.replicas.size();) {
    Replica& r = *rt.replicas[idx];
    jobs::ExitInfo exit = executor_.Poll(r.handle);
    if (!exit.exited) {
      if (r.broken) {
        executor_.Signal(r.handle, /*force=*/true);  // unreachable: replace it
      } else if (!r.pending_model.empty()) {
        if (Probe(r.port_file, &r.port)) {
          std::string path = std::move(r.pending_model);
          r.pending_model.clear();
          StartLoad(ep.id, rt.replicas[idx], path);
        } else if (clock_.Monotonic() - r.launched_at > options_.ready_timeout) {
          executor_.Signal(r.handle, /*force=*/true);
        }
      } else if (!r.ready && !r.loading && !r.draining && !r.load_failed) {
        CheckReady(ep, rt, r);
      }
      ++idx;
      continue;
    }
    if (r.usage_id > 0) IgnoreError(store_.CloseUsage(r.usage_id, clock_.NowSeconds()));
    bool was_ready = r.was_ready, draining = r.draining;
    bool canary = rt.IsCanary(r.model_version_id, ep.model_version_id);
    rt.replicas.erase(rt.replicas.begin() + static_cast<std::ptrdiff_t>(idx));
    if (draining) continue;
    if (canary) {  // judged by the rollout (rollback), never fails the endpoint
      rt.canary_failures += 1;
      SSKAI_LOG_WARN("serving: canary replica of '{}' {}", ep.name, exit.Describe());
      continue;
    }
    rt.failed_starts = was_ready ? 0 : rt.failed_starts + 1;
    ep.restarts += 1;
    IgnoreError(store_.UpdateEndpoint(ep));
    if (rt.failed_starts >= options_.max_restarts) {
      SetState(ep, kFailed,
               "replica failed to start " + std::to_string(rt.failed_starts) + " times (last: " +
                   exit.Describe() + "); see the endpoint's logs");
      rt.failed = true;
      return;
    }
    SSKAI_LOG_WARN("serving: replica of '{}' {}; replacing it", ep.name, exit.Describe());
    exit_reason = "replica " + exit.Describe() + "; restarting";
  }

  SuperviseSpot(ep, rt);
  // Autoscale.
  AutoscaleSnapshot snap;
  snap.now = now;
  snap.queued = static_cast<int>(rt.queue.size());
  snap.last_request = rt.last_request;
  int active = 0;
  for (auto& r : rt.replicas) {
    snap.in_flight += r->in_flight;
    if (r->draining || r->broken || r->noticed ||
        rt.IsCanary(r->model_version_id, ep.model_version_id)) {
      continue;
    }
    ++active;
    (r->ready ? snap.ready : snap.starting) += 1;
  }
  AutoscaleDecision decision = rt.scaler->Decide(snap);
  if (decision.desired > active && snap.ready == 0 && !rt.queue.empty() && rt.cold) {
    rt.metrics.cold_starts += 1;
  }
  for (int n = active; n < decision.desired; ++n) {
    if (!Launch(ep, rt)) return;
  }
  if (decision.desired < active) {
    // Surplus: drain the ones not ready first, then the least loaded.
    std::vector<Replica*> order;
    for (auto& r : rt.replicas) {
      if (!r->draining && !r->broken && !r->noticed &&
          !rt.IsCanary(r->model_version_id, ep.model_version_id)) {
        order.push_back(r.get());
      }
    }
    std::stable_sort(order.begin(), order.end(), [](Replica* a, Replica* b) {
      if (a->ready != b->ready) return !a->ready;
      return a->in_flight < b->in_flight;
    });
    for (int n = 0; n < active - decision.desired; ++n) order[static_cast<size_t>(n)]->draining = true;
  }
  SuperviseRollout(ep, rt, decision.desired);
  for (auto it = rt.replicas.begin(); it != rt.replicas.end();) {
    if ((*it)->draining && (*it)->in_flight == 0) {
      StopReplica(**it);
      it = rt.replicas.erase(it);
    } else {
      ++it;
    }
  }
  int ready = 0, total = 0;
  for (auto& r : rt.replicas) {
    if (r->draining || r->broken) continue;
    ++total;
    ready += r->ready ? 1 : 0;
  }
  if (rt.metrics.replica_history.empty() || rt.metrics.replica_history.back().second != total) {
    rt.metrics.replica_history.emplace_back(clock_.NowSeconds(), total);
    if (rt.metrics.replica_history.size() > kHistory) {
      rt.metrics.replica_history.erase(rt.metrics.replica_history.begin());
    }
  }
  if (ready > 0) {
    SetState(ep, kReady, "");
  } else if (total == 0 && decision.desired == 0) {
    SetState(ep, kIdle, "scaled to zero; the next request starts a replica");
    rt.cold = true;
  } else {
    SetState(ep, kDeploying, !exit_reason.empty() ? exit_reason
                             : ep.state == kDeploying ? ep.reason
                                                      : "starting a replica");
  }
  DrainQueue(rt, after);
  // Requests that waited too long.
  while (!rt.queue.empty() && now - rt.queue.front()->arrived >= rt.config.queue_timeout) {
    auto p = rt.queue.front();
    rt.queue.pop_front();
    auto resp = http::ErrorResponse(Status::Unavailable(
        "endpoint '" + rt.name + "' has no ready replica after " +
        std::to_string(rt.config.queue_timeout.count()) + " ms; retry later"));
    resp.headers.push_back({"Retry-After", "1"});
    rt.metrics.requests += 1;
    rt.metrics.errors += 1;
    rt.metrics.rejected += 1;
    after.push_back([p, resp] { p->done(resp); });
  }
}

Status EndpointManager::Block(int64_t endpoint_id, std::string reason) {
  SSKAI_ASSIGN_OR_RETURN(store::Endpoint ep, store_.GetEndpointById(endpoint_id));
  std::vector<Done> after;
  {
    std::lock_guard<std::mutex> lock(mu_);
    SetState(ep, kBlocked, reason);
    auto it = endpoints_.find(endpoint_id);
    if (it != endpoints_.end()) {
      EndpointRt& rt = *it->second;
      rt.blocked = true;
      rt.blocked_reason = reason;
      for (auto& r : rt.replicas) {
        r->draining = true;
        if (r->in_flight == 0) StopReplica(*r);
      }
      std::erase_if(rt.replicas, [](auto& r) { return r->in_flight == 0; });
      FailQueue(rt, BlockedResponse(rt.name, reason), after);
    }
  }
  for (auto& fn : after) fn();
  Kick();
  return Status::Ok();
}

Status EndpointManager::Unblock(int64_t endpoint_id) {
  SSKAI_ASSIGN_OR_RETURN(store::Endpoint ep, store_.GetEndpointById(endpoint_id));
  if (ep.state != kBlocked) return Status::Ok();
  auto config = ParseServingConfig(ep.config_json);
  {
    std::lock_guard<std::mutex> lock(mu_);
    SetState(ep, config.ok() && config->min_replicas == 0 ? kIdle : kDeploying, "unblocked");
  }
  Kick();
  return Status::Ok();
}

}  // namespace sskai::serving
