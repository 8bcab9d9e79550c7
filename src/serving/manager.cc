// EndpointManager: the supervision loop and endpoint state (store rows, events, blocking).
// Replica processes (launch, readiness, stop, warm pool) are in replicas.cc, the per-endpoint
// scaling pass in supervise.cc, the request path in gateway.cc.
#include <set>

#include "common/log.h"
#include "serving/internal.h"
#include "store/store.h"

namespace sskai::serving {

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
        // (Slurm standbys starting are polled at the normal interval: scontrol is a process.)
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
      for (auto& r : rt->replicas) {
        if (!r->slurm()) StopReplica(*r);  // Slurm jobs keep serving; a restart re-attaches
      }
      rt->replicas.clear();
      FailQueue(*rt, http::ErrorResponse(Status::Unavailable("the server is shutting down")), after);
    }
    endpoints_.clear();
    for (auto& r : standby_) StopReplica(*r);
    standby_.clear();
    // Slurm standbys serve nobody: cancelled (a restart submits fresh ones).
    for (auto& r : slurm_standby_) StopReplica(*r);
    slurm_standby_.clear();
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
      out[id].push_back(ReplicaInfo{r->handle.pid, r->host, r->slurm(), r->port, r->ready,
                                    rt->failed_starts, r->in_flight});
    }
  }
  return out;
}

void EndpointManager::Forget(int64_t endpoint_id) {
  std::vector<Done> after;
  {
    std::lock_guard<std::mutex> lock(mu_);
    endpoint_writes_.fetch_add(1);  // deleted: a pass that listed it before must list again
    auto it = endpoints_.find(endpoint_id);
    if (it == endpoints_.end()) return;
    for (auto& r : it->second->replicas) StopReplica(*r);
    FailQueue(*it->second, http::ErrorResponse(Status::NotFound("the endpoint was deleted")), after);
    endpoints_.erase(it);
  }
  for (auto& fn : after) fn();
}


void EndpointManager::WriteEndpoint(const store::Endpoint& ep) {
  IgnoreError(store_.UpdateEndpoint(ep));
  endpoint_writes_.fetch_add(1);
}

void EndpointManager::SetState(store::Endpoint& ep, const std::string& state,
                               const std::string& reason) {
  if (ep.state == state && ep.reason == reason) return;
  ep.state = state;
  ep.reason = reason;
  ep.updated_at = clock_.NowSeconds();
  WriteEndpoint(ep);
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
    AdoptSlurmReplicas(ep, *slot);  // Slurm jobs of this endpoint from before a restart
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
    // Listed before taking mu_: the query can wait on the store's lock (another thread's write
    // transaction) for milliseconds, and every request through the gateway needs mu_. Listed
    // again under mu_ when a command wrote a row meanwhile (rollout promotion, blocking), so a
    // pass never writes back an older copy of a row.
    const uint64_t writes = endpoint_writes_.load();
    auto listed = store_.ListEndpointsInStates({kDeploying, kReady, kIdle});
    std::lock_guard<std::mutex> lock(mu_);
    if (endpoint_writes_.load() != writes) listed = store_.ListEndpointsInStates({kDeploying, kReady, kIdle});
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
    FillSlurmWarmPool();
    ReapStopping();
  }
  for (auto& fn : after) fn();
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
