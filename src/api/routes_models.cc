// Models and their versions (with lineage and metrics).
#include "api/internal.h"
#include "artifacts/artifacts.h"

namespace sskai::api {

namespace {

// Model {name} (the caller's own, else a public one; `write`: as WritableModel) and its version
// {version} ("latest" or a number).
Result<store::ModelVersion> FindVersion(ApiContext& ctx, const http::Request& req, const store::User& u,
                                        store::Model* model, bool write = false) {
  const std::string& name = req.params.at("name");
  SSKAI_ASSIGN_OR_RETURN(*model, write ? WritableModel(ctx, u, name) : ctx.store.GetVisibleModel(u.id, name));
  SSKAI_ASSIGN_OR_RETURN(int64_t version, VersionParam(req));
  return ctx.store.GetModelVersion(model->id, version);
}

}  // namespace

Result<std::string> VisibilityField(const json& body, const std::string& fallback) {
  SSKAI_ASSIGN_OR_RETURN(std::string v, StringField(body, "visibility", false, fallback));
  if (v != fallback && v != "private" && v != "public") {
    return Status::InvalidArgument("field 'visibility': expected 'private' or 'public', got '" + v + "'");
  }
  return v;
}

Result<store::Model> WritableModel(ApiContext& ctx, const store::User& u, const std::string& name) {
  auto own = ctx.store.GetModel(u.id, name);
  if (own.ok() || own.status().code() != StatusCode::kNotFound) return own;
  SSKAI_ASSIGN_OR_RETURN(store::Model shared, ctx.store.GetVisibleModel(u.id, name));
  if (!u.is_admin) {
    return Status::PermissionDenied("model '" + name + "' is public but belongs to another user: only its owner or "
                                    "an admin can change it (fine-tune or deploy it, or register your own '" +
                                    name + "')");
  }
  return shared;
}

void AddModelRoutes(ApiContext& ctx, http::Router& router) {
  AddModelUploadRoutes(ctx, router);
  router.AddSync("GET", "/v1/models", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    auto list = ctx.store.ListVisibleModels(u.id, *page);
    if (!list.ok()) return Error(list.status());
    return JsonResponse(200, ListJson(list->items, list->next_after_id, ModelJson));
  }), {.summary = "List the caller's models and every public model (field visibility, owner_id)"});

  router.AddSync("PATCH", "/v1/models/{name}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    for (const auto& [key, value] : body->items()) {
      if (key != "visibility") return Error(Status::InvalidArgument("field '" + key + "': unknown field (only 'visibility' can change)"));
    }
    auto visibility = VisibilityField(*body, "");
    if (!visibility.ok()) return Error(visibility.status());
    if (visibility->empty()) return Error(Status::InvalidArgument("field 'visibility': required"));
    auto model = WritableModel(ctx, u, req.params.at("name"));
    if (!model.ok()) return Error(model.status());
    Status set = ctx.store.SetModelVisibility(model->id, *visibility);
    if (!set.ok()) return Error(set);
    AddEvent(ctx, model->owner_id, "model", model->id, "visibility", "model '" + model->name + "' is now " + *visibility);
    model->visibility = *visibility;
    return JsonResponse(200, ModelJson(*model));
  }), {.summary = "Change a model's visibility {visibility: private|public} (owner or admin)"});

  router.AddSync("GET", "/v1/models/{name}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto model = ctx.store.GetVisibleModel(u.id, req.params.at("name"));
    if (!model.ok()) return Error(model.status());
    json out = ModelJson(*model);
    auto latest = ctx.store.GetModelVersion(model->id, 0);
    if (latest.ok()) out["latest"] = ModelVersionJson(ctx, *latest, model->name);
    return JsonResponse(200, out);
  }), {.summary = "A model and its latest version"});

  router.AddSync("GET", "/v1/models/{name}/versions", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto model = ctx.store.GetVisibleModel(u.id, req.params.at("name"));
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
    store::Model model;
    auto mv = FindVersion(ctx, req, u, &model);
    if (!mv.ok()) return Error(mv.status());
    return JsonResponse(200, ModelVersionJson(ctx, *mv, model.name));
  }), {.summary = "One model version: kind, metrics, lineage"});

  router.AddSync("GET", "/v1/models/{name}/versions/{version}/content", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    store::Model model;
    auto mv = FindVersion(ctx, req, u, &model);
    if (!mv.ok()) return Error(mv.status());
    auto path = ctx.blobs.LocalPath(mv->blob_sha256);
    if (!path.ok()) return Error(path.status());
    http::Response resp;
    resp.content_type = "application/octet-stream";
    resp.file_path = *path;
    return resp;
  }), {.summary = "Download the model artifact"});

  // Profiles run in a child process (libtorch) on the blocking pool; the result is kept on the
  // model version. A model that fails to run is an error, never a partial profile.
  router.Add("POST", "/v1/models/{name}/versions/{version}/profile",
             AuthedAsyncHandler(ctx, [&ctx](http::Request& req, const store::User& u, http::Responder respond) {
    store::Model model;
    auto mv = FindVersion(ctx, req, u, &model, /*write=*/true);
    if (!mv.ok()) return respond(Error(mv.status()));
    if (!ctx.profile_model) return respond(Error(Status::Unavailable("profiling is not available on this server")));
    std::string options = "{}";
    if (!req.body.empty()) {
      auto body = ParseObject(req.body);
      if (!body.ok()) return respond(Error(body.status()));
      options = body->dump();
    }
    auto path = ctx.blobs.LocalPath(mv->blob_sha256);
    if (!path.ok()) return respond(Error(path.status()));
    int64_t mv_id = mv->id;
    std::string label = model.name + " v" + std::to_string(mv->version);
    int64_t owner = u.id;
    RunBlocking(ctx, std::move(respond), [&ctx, mv_id, owner, label, model_path = *path, options] {
      auto profile = ctx.profile_model(model_path, options);
      if (!profile.ok()) {
        AddEvent(ctx, owner, "model", mv_id, "profile_failed", label + ": " + profile.status().message());
        return Error(profile.status().WithPrefix("profiling " + label));
      }
      json parsed = json::parse(*profile, nullptr, false);
      if (parsed.is_discarded()) return Error(Status::Internal("profiling " + label + ": the profiler printed no JSON"));
      parsed["model"] = label;
      parsed["profiled_at"] = ctx.clock.NowSeconds();
      Status put = ctx.store.PutModelProfile(mv_id, parsed.dump(), ctx.clock.NowSeconds());
      if (!put.ok()) return Error(put);
      AddEvent(ctx, owner, "model", mv_id, "profiled", label + " profiled");
      return JsonResponse(200, parsed);
    });
  }), {.summary = "Measure the model on this machine (params, FLOPs, memory, latency) and keep the profile"});

  router.AddSync("GET", "/v1/models/{name}/versions/{version}/profile", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    store::Model model;
    auto mv = FindVersion(ctx, req, u, &model);
    if (!mv.ok()) return Error(mv.status());
    auto profile = ctx.store.GetModelProfile(mv->id);
    if (!profile.ok()) {
      return Error(Status::NotFound(model.name + " v" + std::to_string(mv->version) +
                                    " has no profile yet; POST to this URL to measure one"));
    }
    return JsonResponse(200, ParseStoredJson(*profile));
  }), {.summary = "The model version's stored profile"});
}

}  // namespace sskai::api
