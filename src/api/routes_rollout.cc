// Endpoint rollouts (canary / blue-green): start, show, promote, roll back; the endpoint's events.
#include "api/internal.h"
#include "serving/serving.h"

namespace sskai::api {
namespace {

json WindowJson(const serving::WindowStats& w, int ready) {
  return {{"requests", w.requests},
          {"errors", w.errors},
          {"error_rate", w.ErrorRate()},
          {"p95_ms", w.p95_ms},
          {"ready_replicas", ready}};
}

json RolloutJson(const std::string& endpoint, const serving::EndpointManager::RolloutView& v) {
  const serving::RolloutState& s = v.state;
  json out = ParseStoredJson(serving::RolloutStateJson(s));
  json spec = out["spec"];
  out.erase("spec");
  out["endpoint"] = endpoint;
  out["strategy"] = spec["strategy"];
  out["steps"] = spec["steps"];
  out["step_seconds"] = spec["step_seconds"];
  out["step_requests"] = spec["step_requests"];
  out["rollback"] = spec["rollback"];
  const bool running = s.phase == serving::RolloutPhase::kRunning;
  out["canary_percent"] = running ? s.percent : (s.phase == serving::RolloutPhase::kPromoted ? 100 : 0);
  out["versions"] = {
      {{"role", "stable"}, {"model_version", s.stable_label}, {"version", s.stable_version},
       {"percent", running ? 100 - s.percent : (s.phase == serving::RolloutPhase::kPromoted ? 0 : 100)},
       {"metrics", WindowJson(v.stable, v.stable_ready)}},
      {{"role", "canary"}, {"model_version", s.canary_label}, {"version", s.canary_version},
       {"percent", out["canary_percent"]},
       {"metrics", WindowJson(v.canary, v.canary_ready)}}};
  return out;
}

http::Response ViewResponse(ApiContext& ctx, const store::Endpoint& ep, int status) {
  auto view = ctx.endpoints.Rollout(ep.id);
  if (!view.ok()) return Error(view.status());
  return JsonResponse(status, RolloutJson(ep.name, *view));
}

}  // namespace

void AddRolloutRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("POST", "/v1/endpoints/{name}/rollout", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto ep = ctx.store.GetEndpoint(u.id, req.params.at("name"));
    if (!ep.ok()) return Error(ep.status());
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto current = ctx.store.GetModelVersionById(ep->model_version_id);
    if (!current.ok()) return Error(current.status());
    auto current_model = ctx.store.GetModelById(current->model_id);
    if (!current_model.ok()) return Error(current_model.status());
    auto mv = ModelVersionFromBody(ctx, *body, u.id, current_model->name);
    if (!mv.ok()) return Error(mv.status());
    auto spec = serving::ParseRolloutSpec(req.body);
    if (!spec.ok()) return Error(spec.status());
    Status started = ctx.endpoints.StartRollout(ep->id, mv->id, *spec);
    if (!started.ok()) return Error(started);
    return ViewResponse(ctx, *ep, 201);
  }), {.summary = "Start a canary or blue/green rollout {model?, version, strategy?, steps?, "
                 "step_seconds?, step_requests?, rollback?}"});

  router.AddSync("GET", "/v1/endpoints/{name}/rollout", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto ep = ctx.store.GetEndpoint(u.id, req.params.at("name"));
    if (!ep.ok()) return Error(ep.status());
    return ViewResponse(ctx, *ep, 200);
  }), {.summary = "The endpoint's rollout: versions, traffic percent, per-version metrics"});

  // Manual control of the running rollout: the manager's action, then the view.
  using Control = Status (serving::EndpointManager::*)(int64_t);
  auto control = [&](const std::string& action, Control act, std::string summary) {
    router.AddSync("POST", "/v1/endpoints/{name}/rollout/" + action,
                   Authed(ctx, [&ctx, act](http::Request& req, const store::User& u) {
      auto ep = ctx.store.GetEndpoint(u.id, req.params.at("name"));
      if (!ep.ok()) return Error(ep.status());
      Status st = (ctx.endpoints.*act)(ep->id);
      if (!st.ok()) return Error(st);
      return ViewResponse(ctx, *ep, 200);
    }), {.summary = std::move(summary)});
  };
  control("promote", &serving::EndpointManager::PromoteRollout,
          "Promote the running rollout's canary now");
  control("rollback", &serving::EndpointManager::RollbackRollout,
          "Roll the running rollout back to the stable version now");

  router.AddSync("GET", "/v1/endpoints/{name}/events", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto ep = ctx.store.GetEndpoint(u.id, req.params.at("name"));
    if (!ep.ok()) return Error(ep.status());
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    page->descending = true;
    auto list = ctx.store.ListEvents(u.id, *page, store::EventFilter{"endpoint", ep->id});
    if (!list.ok()) return Error(list.status());
    return JsonResponse(200, ListJson(list->items, list->next_after_id, EventJson));
  }), {.summary = "The endpoint's timeline (deploys, scaling states, rollout steps), newest first"});
}

}  // namespace sskai::api
