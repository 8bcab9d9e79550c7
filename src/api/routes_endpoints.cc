// Endpoints: deploy a model version, list, show, delete, predict through the gateway.
#include "api/internal.h"
#include "serving/serving.h"

namespace sskai::api {

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
    auto model_name = StringField(*body, "model", true);
    if (!model_name.ok()) return Error(model_name.status());
    auto version = IntField(*body, "version", 0, 0, 1'000'000'000);
    if (!version.ok()) return Error(version.status());
    auto model = ctx.store.GetModel(u.id, *model_name);
    if (!model.ok()) return Error(Status::NotFound("field 'model': model '" + *model_name + "' not found"));
    auto mv = ctx.store.GetModelVersion(model->id, *version);
    if (!mv.ok()) {
      return Error(Status::NotFound("field 'version': model '" + *model_name + "' has no version " +
                                    std::to_string(*version)));
    }
    auto plan = PlanReference(ctx, *body, u.id, "serve");
    if (!plan.ok()) return Error(plan.status());
    if (Status admit = AdmitNewWork(ctx, u, *tags); !admit.ok()) return Error(admit);
    store::Endpoint ep;
    ep.owner_id = u.id;
    ep.name = *name;
    ep.model_version_id = mv->id;
    ep.state = serving::kDeploying;
    ep.config_json = json{{"mode", "dedicated"}, {"replicas", 1}, {"plan", *plan}}.dump();
    ep.created_at = ctx.clock.NowSeconds();
    ep.updated_at = ep.created_at;
    auto created = ctx.store.CreateEndpoint(ep);
    if (!created.ok()) return Error(created.status());
    SaveTags(ctx, "endpoint", created->id, *tags);
    AddEvent(ctx, u.id, "endpoint", created->id, "deploying",
             "endpoint '" + *name + "' deploying model '" + *model_name + "' v" + std::to_string(mv->version));
    ctx.endpoints.Kick();
    return JsonResponse(201, EndpointJson(ctx, *created));
  }), {.summary = "Deploy a model version as an endpoint {name, model, version?}"});

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
    ctx.endpoints.Predict(ep->id, std::move(req.body), std::move(respond));
  }), {.summary = "Predict: JSON rows (tabular) or instances (tensors)"});
}

}  // namespace sskai::api
