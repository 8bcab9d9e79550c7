// src/api/internal.h — helpers shared by the route files of the api module (not public).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "api/api.h"
#include "http/http.h"
#include "store/store.h"

namespace sskai::api {

using nlohmann::json;

// Handler that runs after authentication with the caller's user.
using AuthedSync = std::function<http::Response(http::Request&, const store::User&)>;
using AuthedAsync =
    std::function<void(http::Request&, const store::User&, http::Responder)>;

// Resolves the bearer token. Errors: kUnauthenticated with a message saying what is wrong.
Result<store::User> Authenticate(ApiContext& ctx, const http::Request& req);
http::SyncHandler Authed(ApiContext& ctx, AuthedSync handler);
http::Handler AuthedAsyncHandler(ApiContext& ctx, AuthedAsync handler);
// Runs `work` on the blocking pool, answering with its response.
void RunBlocking(ApiContext& ctx, http::Responder respond, std::function<http::Response()> work);

http::Response JsonResponse(int status, const json& body);
http::Response Error(const Status& status, const json& details = json::object());

// Parses a JSON object body. Errors: kInvalidArgument naming the parse problem.
Result<json> ParseObject(const std::string& body);
// Field readers: kInvalidArgument "field 'x': expected a string" (missing required too).
Result<std::string> StringField(const json& obj, const std::string& name, bool required,
                                const std::string& def = "");
Result<int64_t> IntField(const json& obj, const std::string& name, int64_t def, int64_t min,
                         int64_t max);
// The model version a body names: "model" (required unless default_model is given) and
// "version" (0 or absent = latest), owned by owner_id; *model_name gets the model's name.
// Errors: kInvalidArgument (field types), kNotFound naming field 'model' or 'version'.
Result<store::ModelVersion> ModelVersionFromBody(ApiContext& ctx, const json& body,
                                                 int64_t owner_id, const std::string& default_model,
                                                 std::string* model_name = nullptr);
// ?limit=&after= ; errors name the parameter.
Result<store::Page> PageFromQuery(const http::Request& req);
// {"items":[...],"next_after":N|null}
template <typename T, typename F>
json ListJson(const std::vector<T>& items, int64_t next_after, F to_json) {
  json out = json::object();
  json& arr = out["items"] = json::array();
  arr.get_ref<json::array_t&>().reserve(items.size());
  for (const auto& item : items) arr.push_back(to_json(item));
  out["next_after"] = next_after > 0 ? json(next_after) : json(nullptr);
  return out;
}
// Parses the {version} path param ("latest" or a positive integer; 0 = latest).
Result<int64_t> VersionParam(const http::Request& req);
// Parses an id path param. Errors: kInvalidArgument.
Result<int64_t> IdParam(const http::Request& req, const std::string& name);

// JSON views of store rows.
json UserJson(const store::User& u);
json DatasetJson(const store::Dataset& d);
json DatasetVersionJson(const store::DatasetVersion& v, const std::string& dataset_name);
json ModelJson(const store::Model& m);
// Optional body field "visibility" ("private" | "public"); `fallback` when absent. Errors:
// kInvalidArgument naming the field.
Result<std::string> VisibilityField(const json& body, const std::string& fallback);
// The model `name` as `u` may change it (new versions, visibility, profiles): its own, or for
// an admin a public one. Errors: kNotFound, kPermissionDenied (another user's public model).
Result<store::Model> WritableModel(ApiContext& ctx, const store::User& u, const std::string& name);
json ModelVersionJson(ApiContext& ctx, const store::ModelVersion& v, const std::string& model_name);
// `memo` (optional) caches dataset-version lookups across the rows of one list response.
json JobJson(ApiContext& ctx, const store::Job& j, std::map<int64_t, json>* memo = nullptr);
json EndpointJson(ApiContext& ctx, const store::Endpoint& e);
json EventJson(const store::Event& e);
json UsageJson(const store::UsageRecord& u);
json ParseStoredJson(const std::string& text);  // "" or invalid -> {}

void AddEvent(ApiContext& ctx, int64_t owner_id, const std::string& kind, int64_t subject_id,
              const std::string& action, const std::string& message);

// Route groups.
void AddSystemRoutes(ApiContext& ctx, http::Router& router);
void AddUserRoutes(ApiContext& ctx, http::Router& router);
void AddDatasetRoutes(ApiContext& ctx, http::Router& router);
void AddModelRoutes(ApiContext& ctx, http::Router& router);
// POST /v1/models/{name}/versions (TorchScript upload; routes_models_upload.cc).
void AddModelUploadRoutes(ApiContext& ctx, http::Router& router);
void AddJobRoutes(ApiContext& ctx, http::Router& router);
void AddWorkerRoutes(ApiContext& ctx, http::Router& router);
// Limits and execution fields shared by every job kind (routes_jobs.cc): sets job->max_* and
// returns the execution fields (executor, chaos, checkpoint interval, ...). Errors name the field.
Status ParseJobControl(const ApiContext& ctx, const json& body, const json& plan, store::Job* job,
                       json* exec);
// kInvalidArgument naming `field` when obj[key] is "slurm" and the server has no Slurm backend.
Status CheckExecutorAvailable(const ApiContext& ctx, const json& obj, const std::string& key,
                              const std::string& field);
// POST /v1/jobs {"kind":"lm", "base_model" | "config", "dataset", "hyperparameters", ...}
// (lm_jobs.cc): validates everything up front (spec, dataset format and shape, base model files)
// and returns the job row. Errors name the field.
Result<store::Job> ParseLmJobRequest(ApiContext& ctx, const json& body, const store::User& u);
void AddEndpointRoutes(ApiContext& ctx, http::Router& router);
// /v1/endpoints/{name}/rollout[/promote|/rollback], /v1/endpoints/{name}/events
void AddRolloutRoutes(ApiContext& ctx, http::Router& router);
// The plan a job ("train") or endpoint ("serve") is created from: body's optional "plan_id" →
// {plan_id, catalog, choice, reason}, or null when absent. Errors name the field.
Result<json> PlanReference(ApiContext& ctx, const json& body, int64_t owner_id, const std::string& kind);
void AddPlanRoutes(ApiContext& ctx, http::Router& router);   // /v1/plans, /v1/catalog
// GET /{path...}: the web console's files (registered last: every other route wins).
void AddStaticRoutes(ApiContext& ctx, http::Router& router);
// Content type for a file name by extension ("application/octet-stream" when unknown).
std::string ContentTypeFor(const std::string& filename);
void AddCostRoutes(ApiContext& ctx, http::Router& router);   // /v1/cost, /v1/budgets

// Tags and budgets on create (routes_cost.cc). ParseTags reads the optional "tags" object
// (keys/values 1-63 chars of [A-Za-z0-9._-], at most 16). AdmitNewWork answers 403 naming an
// exceeded refuse_new budget. SaveTags stores them on the new job/endpoint.
Result<std::map<std::string, std::string>> ParseTags(const json& body);
Status AdmitNewWork(ApiContext& ctx, const store::User& u, const std::map<std::string, std::string>& tags);
void SaveTags(ApiContext& ctx, const std::string& kind, int64_t id,
              const std::map<std::string, std::string>& tags);
json TagsJson(ApiContext& ctx, const std::string& kind, int64_t id);
void AddOipRoutes(ApiContext& ctx, http::Router& router);
void AddOpenAiRoutes(ApiContext& ctx, http::Router& router);  // LM endpoints, OpenAI-style    // /v2/... (Open Inference Protocol)
void AddMetricsRoutes(ApiContext& ctx, http::Router& router);  // /metrics (Prometheus)

}  // namespace sskai::api
