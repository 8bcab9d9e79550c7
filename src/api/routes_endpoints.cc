// Endpoints: deploy a model version, list, show, delete, predict through the gateway.
#include "api/internal.h"
#include "serving/serving.h"

namespace sskai::api {
namespace {

// Serving settings of a request body: the "config" object plus the top-level shorthands
// mode / min_replicas / max_replicas / executor / partition. Returns "" when none is present.
Result<std::string> ServingFields(const ApiContext& ctx, const json& body) {
  json config = json::object();
  if (body.contains("config")) {
    if (!body["config"].is_object()) {
      return Status::InvalidArgument("field 'config': expected an object");
    }
    config = body["config"];
    SSKAI_RETURN_IF_ERROR(CheckExecutorAvailable(ctx, config, "executor", "config.executor"));
  }
  SSKAI_RETURN_IF_ERROR(CheckExecutorAvailable(ctx, body, "executor", "executor"));
  for (const char* key : {"mode", "min_replicas", "max_replicas", "executor", "partition"}) {
    if (body.contains(key)) config[key] = body[key];
  }
  return config.empty() ? std::string() : config.dump();
}

json MetricsJson(const serving::EndpointMetrics& m) {
  json buckets = json::array();
  int64_t cumulative = 0;
  for (size_t b = 0; b <= serving::EndpointMetrics::kBuckets; ++b) {
    cumulative += m.latency_counts[b];
    buckets.push_back({{"le_ms", b < serving::EndpointMetrics::kBuckets
                                     ? json(serving::EndpointMetrics::kBucketsMs[b])
                                     : json("+Inf")},
                       {"count", cumulative}});
  }
  json history = json::array();
  for (const auto& [t, n] : m.replica_history) history.push_back({{"at", t}, {"replicas", n}});
  return {{"requests", m.requests},
          {"errors", m.errors},
          {"rejected", m.rejected},
          {"cold_starts", m.cold_starts},
          {"in_flight", m.in_flight},
          {"queued", m.queued},
          {"replicas", {{"ready", m.ready}, {"starting", m.starting}}},
          {"latency", {{"sum_seconds", m.latency_sum_s}, {"buckets", buckets}}},
          {"queue", {{"waited", m.queued_total}, {"sum_seconds", m.queue_sum_s}}},
          {"replica_history", history}};
}

}  // namespace

void AddEndpointRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("POST", "/v1/endpoints", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto tags = ParseTags(*body);  // cost: tags + refuse_new budgets
    if (!tags.ok()) return Error(tags.status());
    auto name = StringField(*body, "name", true);
    if (!name.ok()) return Error(name.status());
    Status valid = store::ValidateName(*name);
    if (!valid.ok()) return Error(valid.WithPrefix("field 'name'"));
    std::string model_name;
    auto mv = ModelVersionFromBody(ctx, *body, u.id, "", &model_name);
    if (!mv.ok()) return Error(mv.status());
    auto plan = PlanReference(ctx, *body, u.id, "serve");
    if (!plan.ok()) return Error(plan.status());
    auto fields = ServingFields(ctx, *body);
    if (!fields.ok()) return Error(fields.status());
    auto config = serving::ParseServingConfig(*fields);
    if (!config.ok()) return Error(config.status());
    if (Status admit = AdmitNewWork(ctx, u, *tags); !admit.ok()) return Error(admit);
    store::Endpoint ep;
    ep.owner_id = u.id;
    ep.name = *name;
    ep.model_version_id = mv->id;
    ep.state = config->min_replicas == 0 ? serving::kIdle : serving::kDeploying;
    json stored_config = json::parse(serving::ServingConfigJson(*config));
    stored_config["plan"] = *plan;  // the plan it was created from (not a serving setting)
    ep.config_json = stored_config.dump();
    ep.created_at = ctx.clock.NowSeconds();
    ep.updated_at = ep.created_at;
    auto created = ctx.store.CreateEndpoint(ep);
    if (!created.ok()) return Error(created.status());
    SaveTags(ctx, "endpoint", created->id, *tags);
    AddEvent(ctx, u.id, "endpoint", created->id, ep.state,
             "endpoint '" + *name + "' (" + config->mode + ") serving model '" + model_name + "' v" + std::to_string(mv->version));
    ctx.endpoints.Kick();
    return JsonResponse(201, EndpointJson(ctx, *created));
  }), {.summary = "Deploy a model version as an endpoint {name, model, version?, mode?, "
                 "min_replicas?, max_replicas?, executor?, partition?, config?}"});

  router.AddSync("PATCH", "/v1/endpoints/{name}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto ep = ctx.store.GetEndpoint(u.id, req.params.at("name"));
    if (!ep.ok()) return Error(ep.status());
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    for (auto it = body->begin(); it != body->end(); ++it) {
      if (it.key() != "config" && it.key() != "mode" && it.key() != "min_replicas" &&
          it.key() != "max_replicas") {
        return Error(Status::InvalidArgument("field '" + it.key() + "': cannot be changed"));
      }
    }
    auto fields = ServingFields(ctx, *body);
    if (!fields.ok()) return Error(fields.status());
    auto base = serving::ParseServingConfig(ep->config_json);
    if (!base.ok()) base = serving::ServingConfig{};
    auto config = serving::PatchServingConfig(*base, *fields);
    if (!config.ok()) return Error(config.status());
    json plan = ParseStoredJson(ep->config_json).value("plan", json(nullptr));
    json stored_config = json::parse(serving::ServingConfigJson(*config));
    stored_config["plan"] = plan;  // kept across setting changes
    ep->config_json = stored_config.dump();
    ep->updated_at = ctx.clock.NowSeconds();
    if (ep->state == serving::kIdle && config->min_replicas > 0) ep->state = serving::kDeploying;
    Status st = ctx.store.UpdateEndpoint(*ep);
    if (!st.ok()) return Error(st);
    AddEvent(ctx, u.id, "endpoint", ep->id, "configured",
             "endpoint '" + ep->name + "' configured: " + ep->config_json);
    ctx.endpoints.Kick();
    return JsonResponse(200, EndpointJson(ctx, *ep));
  }), {.summary = "Change an endpoint's serving settings {mode?, min_replicas?, max_replicas?, config?}"});

  router.AddSync("GET", "/v1/endpoints/{name}/metrics", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto ep = ctx.store.GetEndpoint(u.id, req.params.at("name"));
    if (!ep.ok()) return Error(ep.status());
    json out = MetricsJson(ctx.endpoints.Metrics(ep->id));
    out["endpoint"] = ep->name;
    out["state"] = ep->state;
    return JsonResponse(200, out);
  }), {.summary = "Endpoint metrics: requests, errors, latency histogram, queue, cold starts, replicas"});

  router.AddSync("GET", "/v1/endpoints", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    auto list = ctx.store.ListEndpoints(u.id, *page);
    if (!list.ok()) return Error(list.status());
    return JsonResponse(200, ListJson(list->items, list->next_after_id, [&](const store::Endpoint& e) {
      return EndpointJson(ctx, e);
    }));
  }), {.summary = "List the caller's endpoints"});

  router.AddSync("GET", "/v1/endpoints/{name}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto ep = ctx.store.GetEndpoint(u.id, req.params.at("name"));
    if (!ep.ok()) return Error(ep.status());
    return JsonResponse(200, EndpointJson(ctx, *ep));
  }), {.summary = "One endpoint: state, replicas, restarts"});

  router.AddSync("DELETE", "/v1/endpoints/{name}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto ep = ctx.store.GetEndpoint(u.id, req.params.at("name"));
    if (!ep.ok()) return Error(ep.status());
    Status st = ctx.store.DeleteEndpoint(u.id, ep->name);
    if (!st.ok()) return Error(st);
    ctx.endpoints.Forget(ep->id);
    AddEvent(ctx, u.id, "endpoint", ep->id, "deleted", "endpoint '" + ep->name + "' deleted");
    return JsonResponse(200, {{"deleted", ep->name}});
  }), {.summary = "Stop and delete an endpoint"});

  router.Add("POST", "/v1/endpoints/{name}/predict",
             AuthedAsyncHandler(ctx, [&ctx](http::Request& req, const store::User& u, http::Responder respond) {
    auto ep = ctx.store.GetEndpoint(u.id, req.params.at("name"));
    if (!ep.ok()) return respond(Error(ep.status()));
    if (ep->state == serving::kFailed) {
      return respond(Error(Status::FailedPrecondition("endpoint '" + ep->name + "' failed: " + ep->reason)));
    }
    if (req.body.empty()) {
      return respond(Error(Status::InvalidArgument(
          "request body is empty; send {\"rows\": [...]} or {\"instances\": [...]}")));
    }
    ctx.endpoints.Predict(*ep, std::move(req.body), std::move(respond));
  }), {.summary = "Predict: JSON rows (tabular) or instances (tensors)"});
}

}  // namespace sskai::api
