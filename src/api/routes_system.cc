// Health, readiness, OpenAPI, users, tokens, activity, usage, maintenance.
#include <regex>

#include "api/internal.h"
#include "api/lm_internal.h"
#include "api/token_cache.h"
#include "artifacts/artifacts.h"

namespace sskai::api {

namespace {

// "/v1/jobs/{id}" -> path parameters of an OpenAPI path.
json PathParameters(const std::string& pattern) {
  json params = json::array();
  static const std::regex kParam(R"(\{([a-z_]+)(\.\.\.)?\})");
  for (auto it = std::sregex_iterator(pattern.begin(), pattern.end(), kParam);
       it != std::sregex_iterator(); ++it) {
    params.push_back({{"name", (*it)[1].str()}, {"in", "path"}, {"required", true},
                      {"schema", {{"type", "string"}}}});
  }
  return params;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

json OpenApi(const http::Router& router, const std::string& version) {
  json paths = json::object();
  for (const auto& route : router.routes()) {
    if (route.pattern.rfind("/{", 0) == 0) continue;  // the console's catch-all is not API
    std::string path = std::regex_replace(route.pattern, std::regex(R"(\.\.\.\})"), "}");
    json op = {{"summary", route.summary},
               {"responses",
                {{"200", {{"description", "success"}}},
                 {"default",
                  {{"description", "error"},
                   {"content",
                    {{"application/json",
                      {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}}}}}};
    json params = PathParameters(route.pattern);
    if (!params.empty()) op["parameters"] = params;
    bool is_public = route.pattern == "/healthz" || route.pattern == "/readyz" ||
                     route.pattern == "/v1/openapi.json";
    if (is_public) op["security"] = json::array();
    if (route.stream_body) {
      op["requestBody"] = {{"content", {{"application/octet-stream",
                                         {{"schema", {{"type", "string"}, {"format", "binary"}}}}}}}};
    }
    paths[path][Lower(route.method)] = op;
  }
  json error_schema = {
      {"type", "object"},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"properties",
           {{"code", {{"type", "string"}}},
            {"message", {{"type", "string"}}},
            {"details", {{"type", "object"}}}}}}}}}};
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "sskai API"}, {"version", version}}},
          {"paths", paths},
          {"security", json::array({{{"bearer", json::array()}}})},
          {"components",
           {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
            {"schemas", {{"Error", error_schema}}}}}};
}

}  // namespace

void AddSystemRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("GET", "/healthz", [](http::Request&) {
    return JsonResponse(200, {{"status", "ok"}});
  }, {.summary = "Liveness: the process answers"});

  router.AddSync("GET", "/readyz", [&ctx](http::Request&) {
    auto users = ctx.store.CountUsers();
    if (!users.ok()) return Error(Status::Unavailable("store: " + users.status().message()));
    return JsonResponse(200, {{"status", "ready"}});
  }, {.summary = "Readiness: the store answers"});

  router.AddSync("GET", "/v1/openapi.json", [&ctx, &router](http::Request&) {
    return JsonResponse(200, OpenApi(router, ctx.version));
  }, {.summary = "This document"});

  router.AddSync("GET", "/v1/cluster", Authed(ctx, [&ctx](http::Request&, const store::User&) {
    const auto& c = ctx.cluster;
    json executors = json::array({"local"});
    json slurm = nullptr;
    if (c.slurm) {
      executors.push_back("slurm");
      json partitions = json::array();
      for (const auto& p : c.partitions) {
        partitions.push_back({{"name", p.name},
                              {"offering", p.offering.empty() ? json(nullptr) : json(p.offering)},
                              {"spot", p.spot}});
      }
      slurm = {{"default_partition", c.default_partition.empty() ? json(nullptr) : json(c.default_partition)},
               {"partitions", partitions}};
    }
    return JsonResponse(200, {{"executors", executors},
                              {"default_executor", {{"jobs", c.default_job_executor},
                                                    {"endpoints", c.default_endpoint_executor}}},
                              {"slurm", slurm}});
  }), {.summary = "Where jobs and replicas can run: executors, defaults, Slurm partitions and their offerings"});

  router.AddSync("GET", "/v1/events", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    page->descending = true;
    auto list = ctx.store.ListEvents(u.id, *page, store::EventFilter{req.Query("kind")});
    if (!list.ok()) return Error(list.status());
    return JsonResponse(200, ListJson(list->items, list->next_after_id, EventJson));
  }), {.summary = "Activity feed, newest first (?kind=job|dataset|model|endpoint)"});

  router.AddSync("GET", "/v1/usage", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    auto list = ctx.store.ListUsage(u.id, *page, 0, 0);
    if (!list.ok()) return Error(list.status());
    return JsonResponse(200, ListJson(list->items, list->next_after_id, UsageJson));
  }), {.summary = "Compute usage records (who used which compute for how long)"});

  router.AddSync("POST", "/v1/admin/gc", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    if (!u.is_admin) return Error(Status::PermissionDenied("only admins can collect garbage"));
    auto refs = ctx.store.ReferencedBlobs();
    if (!refs.ok()) return Error(refs.status());
    double min_age = 3600;
    std::string q = req.Query("min_age_seconds");
    if (!q.empty()) {
      try {
        min_age = std::stod(q);
      } catch (...) {
        return Error(Status::InvalidArgument("query parameter 'min_age_seconds': expected a number"));
      }
    }
    auto stats = ctx.blobs.CollectGarbage(*refs, min_age);
    if (!stats.ok()) return Error(stats.status());
    return JsonResponse(200, {{"removed", stats->removed}, {"bytes", stats->bytes},
                              {"kept", stats->kept}});
  }), {.summary = "Remove unreferenced blobs (admin)"});
}

void AddUserRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("GET", "/v1/me", Authed(ctx, [](http::Request&, const store::User& u) {
    return JsonResponse(200, UserJson(u));
  }), {.summary = "The caller"});

  router.AddSync("POST", "/v1/users", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    if (!u.is_admin) return Error(Status::PermissionDenied("only admins can create users"));
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto name = StringField(*body, "name", true);
    if (!name.ok()) return Error(name.status());
    Status valid = store::ValidateName(*name);
    if (!valid.ok()) return Error(valid.WithPrefix("field 'name'"));
    bool admin = body->value("admin", false);
    auto created = ctx.store.CreateUser(*name, admin, ctx.clock.NowSeconds());
    if (!created.ok()) return Error(created.status());
    auto token = CreateToken(ctx.store, ctx.clock, created->id, "initial");
    if (!token.ok()) return Error(token.status());
    return JsonResponse(201, {{"user", UserJson(*created)}, {"token", *token}});
  }), {.summary = "Create a user and its first token (admin)"});

  router.AddSync("GET", "/v1/users", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    if (!u.is_admin) return Error(Status::PermissionDenied("only admins can list users"));
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    auto list = ctx.store.ListUsers(*page);
    if (!list.ok()) return Error(list.status());
    return JsonResponse(200, ListJson(list->items, list->next_after_id, UserJson));
  }), {.summary = "List users (admin)"});

  router.AddSync("POST", "/v1/tokens", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto body = ParseObject(req.body.empty() ? "{}" : req.body);
    if (!body.ok()) return Error(body.status());
    auto name = StringField(*body, "name", false, "token");
    if (!name.ok()) return Error(name.status());
    auto token = CreateToken(ctx.store, ctx.clock, u.id, *name);
    if (!token.ok()) return Error(token.status());
    return JsonResponse(201, {{"name", *name}, {"token", *token}});
  }), {.summary = "Create an API token for the caller"});

  router.AddSync("GET", "/v1/tokens", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    auto list = ctx.store.ListTokens(u.id, *page);
    if (!list.ok()) return Error(list.status());
    return JsonResponse(200, ListJson(list->items, list->next_after_id, [](const store::ApiToken& t) {
      return json{{"id", t.id}, {"name", t.name}, {"created_at", t.created_at}};
    }));
  }), {.summary = "List the caller's tokens (hashes are never shown)"});

  router.AddSync("DELETE", "/v1/tokens/{id}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto id = IdParam(req, "id");
    if (!id.ok()) return Error(id.status());
    Status st = ctx.store.DeleteToken(u.id, *id);
    if (!st.ok()) return Error(st);
    return JsonResponse(200, {{"deleted", *id}});
  }), {.summary = "Revoke one of the caller's tokens"});
}

std::shared_ptr<http::Router> BuildRouter(ApiContext& ctx) {
  auto router = std::make_shared<http::Router>();
  if (!ctx.token_cache) ctx.token_cache = std::make_shared<TokenCache>();
  AddSystemRoutes(ctx, *router);
  AddUserRoutes(ctx, *router);
  AddDatasetRoutes(ctx, *router);
  AddModelRoutes(ctx, *router);
  AddLmFileRoutes(ctx, *router);
  AddLmImportRoutes(ctx, *router);
  AddLmGalleryRoutes(ctx, *router);
  AddLmPullRoutes(ctx, *router);
  AddJobRoutes(ctx, *router);
  AddWorkerRoutes(ctx, *router);
  AddEndpointRoutes(ctx, *router);
  AddRolloutRoutes(ctx, *router);
  AddPlanRoutes(ctx, *router);
  AddCostRoutes(ctx, *router);
  AddOipRoutes(ctx, *router);
  AddOpenAiRoutes(ctx, *router);
  AddMetricsRoutes(ctx, *router);
  AddStaticRoutes(ctx, *router);  // last: the console's catch-all
  return router;
}

}  // namespace sskai::api
