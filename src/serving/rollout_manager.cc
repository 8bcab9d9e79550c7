// EndpointManager: the effects of canary / blue-green rollouts. Decisions are pure
// (serving/rollout.h); this file keeps the canary's replicas, routes by the split, records the
// per-version windows, and applies steps, promotions and rollbacks (row, events, replicas).
#include <sstream>

#include "common/log.h"
#include "serving/internal.h"
#include "store/store.h"

namespace sskai::serving {

namespace {
constexpr auto kWindowSaveInterval = std::chrono::seconds(1);

std::string Label(const store::ModelVersion& mv, const std::string& model_name) {
  return model_name + " v" + std::to_string(mv.version);
}

// The persisted windows of `state`'s rollout (nullopt: none, or another rollout's).
std::optional<RolloutWindows> StoredWindows(const store::Endpoint& ep, const RolloutState& state) {
  if (ep.rollout_windows_json.empty()) return std::nullopt;
  auto parsed = ParseRolloutWindows(ep.rollout_windows_json);
  if (!parsed.ok() || parsed->started_at != state.started_at) return std::nullopt;
  return *parsed;
}
}  // namespace

void EndpointManager::SaveRolloutWindows(EndpointRt& rt, bool force) {
  if (!rt.rollout || (!force && !rt.windows_dirty)) return;
  const auto now = clock_.Monotonic();
  if (!force && now - rt.windows_saved_at < kWindowSaveInterval) return;
  RolloutWindows w;
  w.started_at = rt.rollout->started_at;
  w.stable = rt.stable_window;
  w.canary = rt.canary_window;
  w.canary_step_requests = rt.canary_step_requests;
  w.canary_failures = rt.canary_failures;
  IgnoreError(store_.SetEndpointRolloutWindows(rt.id, RolloutWindowsJson(w)));
  rt.windows_dirty = false;
  rt.windows_saved_at = now;
}

void EndpointManager::LoadRollout(const store::Endpoint& ep, EndpointRt& rt) {
  if (rt.rollout_loaded) return;
  rt.rollout_loaded = true;
  auto parsed = ParseRolloutState(ep.rollout_json);
  if (!parsed.ok()) {
    SSKAI_LOG_WARN("serving: endpoint '{}' has an invalid rollout ({}); ignoring it", ep.name,
                   parsed.status().message());
    return;
  }
  rt.rollout = std::move(*parsed);
  // A restarted server continues the analysis where the last persisted windows left it.
  if (rt.rollout) {
    if (auto w = StoredWindows(ep, *rt.rollout)) {
      rt.stable_window = w->stable;
      rt.canary_window = w->canary;
      rt.canary_step_requests = w->canary_step_requests;
      rt.canary_failures = w->canary_failures;
    }
  }
}

std::shared_ptr<EndpointManager::Replica> EndpointManager::PickReplica(EndpointRt& rt,
                                                                       bool under_cap) {
  // which: 0 = serving version only, 1 = canary only, 2 = any (no rollout running).
  auto best_of = [&](int which) {
    std::shared_ptr<Replica> best;
    for (auto& r : rt.replicas) {
      if (!r->ready || r->draining) continue;
      if (under_cap && r->in_flight >= rt.config.replica_concurrency) continue;
      bool canary = rt.IsCanary(r->model_version_id, rt.serving_version_id);
      if ((which == 0 && canary) || (which == 1 && !canary)) continue;
      if (!best || r->in_flight < best->in_flight) best = r;
    }
    return best;
  };
  const bool running = rt.rollout && rt.rollout->phase == RolloutPhase::kRunning;
  if (!running) return best_of(2);
  if (rt.rollout->percent <= 0) return best_of(0);
  int want = rt.splitter.NextIsCanary(rt.rollout->percent) ? 1 : 0;
  auto best = best_of(want);
  return best ? best : best_of(1 - want);  // the other version rather than a wait
}

void EndpointManager::RecordVersion(EndpointRt& rt, const Replica& r, int status,
                                    double latency_s) {
  const bool ok = status < 400;
  auto& c = rt.by_version[r.model_version_id];
  c.version = r.model_version;
  c.requests += 1;
  c.errors += ok ? 0 : 1;
  c.latency_sum_s += latency_s;
  if (!rt.rollout || rt.rollout->phase != RolloutPhase::kRunning) return;
  rt.windows_dirty = true;
  if (r.model_version_id == rt.rollout->canary_version_id) {
    rt.canary_window.Record(ok, latency_s * 1000);
    rt.canary_step_requests += 1;
  } else if (r.model_version_id == rt.rollout->stable_version_id) {
    rt.stable_window.Record(ok, latency_s * 1000);
  }
}

void EndpointManager::SuperviseRollout(store::Endpoint& ep, EndpointRt& rt, int stable_desired) {
  if (!rt.rollout || rt.rollout->phase != RolloutPhase::kRunning) return;
  RolloutState& st = *rt.rollout;
  if (st.stable_version_id != ep.model_version_id) {
    // The endpoint was redeployed under the rollout: it no longer applies.
    ApplyRollout(ep, rt, {RolloutAction::Kind::kRollback, -1, 0,
                          "the endpoint now serves another version"}, /*manual=*/false);
    return;
  }
  int active = 0, ready = 0;
  for (auto& r : rt.replicas) {
    if (r->draining || r->broken || !rt.IsCanary(r->model_version_id, ep.model_version_id)) continue;
    ++active;
    ready += r->ready ? 1 : 0;
  }
  const int want = CanaryReplicas(st, stable_desired, rt.config.max_replicas);
  for (int n = active; n < want && rt.canary_failures < st.spec.rollback.max_canary_failures; ++n) {
    if (!Launch(ep, rt, st.canary_version_id)) break;
  }
  RolloutInputs in;
  in.now = clock_.NowSeconds();
  in.canary_ready = st.spec.strategy == RolloutStrategy::kBlueGreen
                        ? ready >= std::max(1, stable_desired)
                        : ready >= 1;
  in.stable = rt.stable_window.Stats();
  in.canary = rt.canary_window.Stats();
  in.canary_step_requests = rt.canary_step_requests;
  in.canary_failures = rt.canary_failures;
  RolloutAction action = DecideRollout(st, in);
  if (action.kind != RolloutAction::Kind::kNone) ApplyRollout(ep, rt, action, /*manual=*/false);
  SaveRolloutWindows(rt, /*force=*/false);
}

void EndpointManager::ApplyRollout(store::Endpoint& ep, EndpointRt& rt,
                                   const RolloutAction& action, bool manual) {
  RolloutState& st = *rt.rollout;
  const double now = clock_.NowSeconds();
  std::string event, message;
  const std::string who = manual ? " (manual)" : "";
  switch (action.kind) {
    case RolloutAction::Kind::kNone:
      return;
    case RolloutAction::Kind::kStep: {
      const bool bg = st.spec.strategy == RolloutStrategy::kBlueGreen;
      st.step_index = action.step_index;
      st.percent = action.percent;
      st.step_started_at = now;
      rt.canary_step_requests = 0;
      event = bg ? "rollout_switch" : "rollout_step";
      message = bg ? "switched 100% of traffic to green " + st.canary_label
                   : "canary " + st.canary_label + " now gets " + std::to_string(st.percent) + "%";
      break;
    }
    case RolloutAction::Kind::kPromote:
      st.phase = RolloutPhase::kPromoted;
      st.percent = 100;
      st.finished_at = now;
      ep.model_version_id = st.canary_version_id;
      ep.updated_at = now;
      WriteEndpoint(ep);
      rt.serving_version_id = ep.model_version_id;
      for (auto& r : rt.replicas) {  // the old version drains; nothing is cut off
        if (r->model_version_id != ep.model_version_id) r->draining = true;
      }
      event = "rollout_promoted";
      message = "promoted " + st.canary_label + " (was " + st.stable_label + ")";
      break;
    case RolloutAction::Kind::kRollback:
      st.phase = RolloutPhase::kRolledBack;
      st.percent = 0;
      st.finished_at = now;
      for (auto& r : rt.replicas) {
        if (r->model_version_id == st.canary_version_id && st.canary_version_id != ep.model_version_id) {
          r->draining = true;
        }
      }
      event = "rollout_rolled_back";
      message = "rolled back " + st.canary_label + " to " + st.stable_label;
      break;
  }
  st.reason = action.reason + who;
  IgnoreError(store_.SetEndpointRollout(ep.id, RolloutStateJson(st)));
  SaveRolloutWindows(rt, /*force=*/true);
  ep.rollout_json = RolloutStateJson(st);
  store::Event ev;
  ev.owner_id = ep.owner_id;
  ev.kind = "endpoint";
  ev.subject_id = ep.id;
  ev.action = event;
  ev.message = "endpoint '" + ep.name + "': " + message + (st.reason.empty() ? "" : ": " + st.reason);
  ev.created_at = now;
  IgnoreError(store_.AddEvent(ev).status());
  SSKAI_LOG_INFO("serving: {}", ev.message);
}

Status EndpointManager::StartRollout(int64_t endpoint_id, int64_t canary_version_id,
                                     RolloutSpec spec) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    SSKAI_ASSIGN_OR_RETURN(store::Endpoint ep, store_.GetEndpointById(endpoint_id));
    if (ep.state == kFailed || ep.state == kStopped || ep.state == kBlocked) {
      return Status::FailedPrecondition("endpoint '" + ep.name + "' is " + ep.state +
                                        "; a rollout needs a serving endpoint");
    }
    if (canary_version_id == ep.model_version_id) {
      return Status::InvalidArgument("field 'version': the endpoint already serves this version");
    }
    EndpointRt& rt = RtFor(ep);
    LoadRollout(ep, rt);
    if (rt.rollout && rt.rollout->phase == RolloutPhase::kRunning) {
      return Status::FailedPrecondition("endpoint '" + ep.name + "' already has a running rollout (" +
                                        rt.rollout->canary_label + "); promote or roll it back first");
    }
    SSKAI_ASSIGN_OR_RETURN(store::ModelVersion stable, store_.GetModelVersionById(ep.model_version_id));
    SSKAI_ASSIGN_OR_RETURN(store::ModelVersion canary, store_.GetModelVersionById(canary_version_id));
    auto stable_model = store_.GetModelById(stable.model_id);
    auto canary_model = store_.GetModelById(canary.model_id);
    RolloutState st;
    st.spec = std::move(spec);
    st.stable_version_id = stable.id;
    st.canary_version_id = canary.id;
    st.stable_version = stable.version;
    st.canary_version = canary.version;
    st.stable_label = Label(stable, stable_model.ok() ? stable_model->name : "model");
    st.canary_label = Label(canary, canary_model.ok() ? canary_model->name : "model");
    st.started_at = st.step_started_at = clock_.NowSeconds();
    st.reason = "started";
    rt.rollout = st;
    rt.serving_version_id = ep.model_version_id;
    rt.stable_window = VersionWindow{};
    rt.canary_window = VersionWindow{};
    rt.canary_step_requests = 0;
    rt.canary_failures = 0;
    SSKAI_RETURN_IF_ERROR(store_.SetEndpointRollout(ep.id, RolloutStateJson(st)));
    SaveRolloutWindows(rt, /*force=*/true);
    store::Event ev;
    ev.owner_id = ep.owner_id;
    ev.kind = "endpoint";
    ev.subject_id = ep.id;
    ev.action = "rollout_started";
    ev.message = "endpoint '" + ep.name + "': " + std::string(ToString(st.spec.strategy)) +
                 " rollout of " + st.canary_label + " over " + st.stable_label;
    ev.created_at = st.started_at;
    IgnoreError(store_.AddEvent(ev).status());
    if (ep.state == kIdle) {  // a serverless endpoint at zero: start the canary's replica now
      ep.state = kDeploying;
      ep.reason = "starting a rollout";
      WriteEndpoint(ep);
    }
  }
  Kick();
  return Status::Ok();
}

namespace {
Status NoRollout(const store::Endpoint& ep) {
  return Status::FailedPrecondition("endpoint '" + ep.name + "' has no running rollout");
}
}  // namespace

Status EndpointManager::PromoteRollout(int64_t endpoint_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    SSKAI_ASSIGN_OR_RETURN(store::Endpoint ep, store_.GetEndpointById(endpoint_id));
    EndpointRt& rt = RtFor(ep);
    LoadRollout(ep, rt);
    if (!rt.rollout || rt.rollout->phase != RolloutPhase::kRunning) return NoRollout(ep);
    ApplyRollout(ep, rt, {RolloutAction::Kind::kPromote, -1, 100, "promoted by request"}, true);
  }
  Kick();
  return Status::Ok();
}

Status EndpointManager::RollbackRollout(int64_t endpoint_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    SSKAI_ASSIGN_OR_RETURN(store::Endpoint ep, store_.GetEndpointById(endpoint_id));
    EndpointRt& rt = RtFor(ep);
    LoadRollout(ep, rt);
    if (!rt.rollout || rt.rollout->phase != RolloutPhase::kRunning) return NoRollout(ep);
    ApplyRollout(ep, rt, {RolloutAction::Kind::kRollback, -1, 0, "rolled back by request"}, true);
  }
  Kick();
  return Status::Ok();
}

Result<EndpointManager::RolloutView> EndpointManager::Rollout(int64_t endpoint_id) {
  std::lock_guard<std::mutex> lock(mu_);
  SSKAI_ASSIGN_OR_RETURN(store::Endpoint ep, store_.GetEndpointById(endpoint_id));
  RolloutView view;
  auto it = endpoints_.find(endpoint_id);
  if (it != endpoints_.end() && it->second->rollout_loaded) {
    EndpointRt& rt = *it->second;
    if (!rt.rollout) return Status::NotFound("endpoint '" + ep.name + "' has no rollout");
    view.state = *rt.rollout;
    view.stable = rt.stable_window.Stats();
    view.canary = rt.canary_window.Stats();
    for (auto& r : rt.replicas) {
      if (!r->ready || r->draining) continue;
      (r->model_version_id == view.state.canary_version_id ? view.canary_ready
                                                            : view.stable_ready) += 1;
    }
    return view;
  }
  SSKAI_ASSIGN_OR_RETURN(std::optional<RolloutState> st, ParseRolloutState(ep.rollout_json));
  if (!st) return Status::NotFound("endpoint '" + ep.name + "' has no rollout");
  view.state = *st;
  if (auto w = StoredWindows(ep, *st)) {
    view.stable = w->stable.Stats();
    view.canary = w->canary.Stats();
  }
  return view;
}

std::string EndpointManager::RolloutPrometheusText() {
  std::ostringstream out;
  std::lock_guard<std::mutex> lock(mu_);
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    for (auto& [id, rt] : endpoints_) {
      for (auto& [version_id, c] : rt->by_version) {
        out << name << "{endpoint=\"" << rt->name << "\",owner_id=\"" << rt->owner_id
            << "\",version=\"" << c.version << "\",model_version_id=\"" << version_id << "\"} "
            << value(*rt, version_id, c) << "\n";
      }
    }
  };
  using C = EndpointRt::VersionCounters;
  family("sskai_endpoint_version_requests_total", "counter", "Requests answered, per model version.",
         [](EndpointRt&, int64_t, const C& c) { return c.requests; });
  family("sskai_endpoint_version_errors_total", "counter",
         "Requests answered >= 400 by a replica, per model version.",
         [](EndpointRt&, int64_t, const C& c) { return c.errors; });
  family("sskai_endpoint_version_request_duration_seconds_sum", "counter",
         "Gateway latency per model version.",
         [](EndpointRt&, int64_t, const C& c) { return c.latency_sum_s; });
  family("sskai_endpoint_version_traffic_percent", "gauge",
         "Share of new requests routed to the model version (rollouts).",
         [](EndpointRt& rt, int64_t version_id, const C&) {
           if (!rt.rollout || rt.rollout->phase != RolloutPhase::kRunning) {
             return version_id == rt.serving_version_id ? 100 : 0;
           }
           if (version_id == rt.rollout->canary_version_id) return rt.rollout->percent;
           return version_id == rt.serving_version_id ? 100 - rt.rollout->percent : 0;
         });
  return out.str();
}

}  // namespace sskai::serving
