// EndpointManager: one supervision pass of an endpoint — replica exits and replacement,
// autoscaling, draining surplus replicas, the endpoint's state, and queued requests.
#include "common/log.h"
#include "serving/internal.h"
#include "store/store.h"

namespace sskai::serving {

namespace {
constexpr size_t kHistory = 120;
}  // namespace

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
    jobs::ExitInfo exit = PollReplica(r);
    if (!exit.exited) {
      if (r.broken) {
        Kill(r);  // unreachable: replace it
      } else if (!r.pending_model.empty()) {
        if (Probe(r.port_file, &r.host, &r.port, r.key)) {
          std::string path = std::move(r.pending_model);
          r.pending_model.clear();
          StartLoad(ep.id, rt.replicas[idx], path);
        } else if (clock_.Monotonic() - r.launched_at > options_.ready_timeout) {
          Kill(r);
        }
      } else if (!r.pending_load.empty()) {
        if (Probe(r.port_file, &r.host, &r.port, r.pending_load_key)) {
          std::string body = std::move(r.pending_load), key = std::move(r.pending_load_key);
          r.pending_load.clear();
          r.pending_load_key.clear();
          SSKAI_LOG_INFO("serving: standby Slurm job {} taken by '{}' is ready on {}:{}; sending its load order",
                         r.handle.pid, ep.name, r.host, r.port);
          SendLoad(ep.id, rt.replicas[idx], std::move(body), key);
        } else if (clock_.Monotonic() - r.launched_at > ReadyTimeout(r)) {
          Kill(r);
        }
      } else if (!r.ready && !r.loading && !r.draining && !r.load_failed) {
        CheckReady(ep, rt, r);
      }
      ++idx;
      continue;
    }
    if (r.usage_id > 0) IgnoreError(store_.CloseUsage(r.usage_id, clock_.NowSeconds()));
    if (r.slurm()) {
      // A preempted job is requeued by Slurm (and held by the executor): cancel it for good;
      // the replacement is a new job.
      executor_.Signal(r.handle, /*force=*/true);
      ReleaseSlurm(r);
    }
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
    WriteEndpoint(ep);
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

}  // namespace sskai::serving
