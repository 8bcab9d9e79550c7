// Models and their versions (with lineage and metrics).
#include "api/internal.h"
#include "artifacts/artifacts.h"

namespace sskai::api {

void AddModelRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("GET", "/v1/models", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    auto list = ctx.store.ListModels(u.id, *page);
    if (!list.ok()) return Error(list.status());
    return JsonResponse(200, ListJson(list->items, list->next_after_id, ModelJson));
  }), {.summary = "List the caller's models"});

  router.AddSync("GET", "/v1/models/{name}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto model = ctx.store.GetModel(u.id, req.params.at("name"));
    if (!model.ok()) return Error(model.status());
    json out = ModelJson(*model);
    auto latest = ctx.store.GetModelVersion(model->id, 0);
    if (latest.ok()) out["latest"] = ModelVersionJson(ctx, *latest, model->name);
    return JsonResponse(200, out);
  }), {.summary = "A model and its latest version"});

  router.AddSync("GET", "/v1/models/{name}/versions", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto model = ctx.store.GetModel(u.id, req.params.at("name"));
    if (!model.ok()) return Error(model.status());
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    auto list = ctx.store.ListModelVersions(model->id, *page);
    if (!list.ok()) return Error(list.status());
    std::string name = model->name;
    return JsonResponse(200, ListJson(list->items, list->next_after_id, [&](const store::ModelVersion& v) {
      return ModelVersionJson(ctx, v, name);
    }));
  }), {.summary = "List a model's versions"});

  router.AddSync("GET", "/v1/models/{name}/versions/{version}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto model = ctx.store.GetModel(u.id, req.params.at("name"));
    if (!model.ok()) return Error(model.status());
    auto version = VersionParam(req);
    if (!version.ok()) return Error(version.status());
    auto mv = ctx.store.GetModelVersion(model->id, *version);
    if (!mv.ok()) return Error(mv.status());
    return JsonResponse(200, ModelVersionJson(ctx, *mv, model->name));
  }), {.summary = "One model version: kind, metrics, lineage"});

  router.AddSync("GET", "/v1/models/{name}/versions/{version}/content", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto model = ctx.store.GetModel(u.id, req.params.at("name"));
    if (!model.ok()) return Error(model.status());
    auto version = VersionParam(req);
    if (!version.ok()) return Error(version.status());
    auto mv = ctx.store.GetModelVersion(model->id, *version);
    if (!mv.ok()) return Error(mv.status());
    auto path = ctx.blobs.LocalPath(mv->blob_sha256);
    if (!path.ok()) return Error(path.status());
    http::Response resp;
    resp.content_type = "application/octet-stream";
    resp.file_path = *path;
    return resp;
  }), {.summary = "Download the model artifact"});
}

}  // namespace sskai::api
