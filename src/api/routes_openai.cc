// OpenAI-compatible routes of LM endpoints, forwarded through the gateway (activator, auth,
// metering as for /predict; streamed answers pass through chunk by chunk):
//   POST /v1/endpoints/{name}/v1/chat/completions, POST /v1/endpoints/{name}/v1/completions,
//   GET  /v1/endpoints/{name}/v1/models,
//   POST /v1/chat/completions, POST /v1/completions with "model" = the endpoint name, so an
//   OpenAI client with base_url http://host:port/v1 and an API token as its key works.
// GET /v1/models stays the platform's model registry; OpenAI clients that list models use
// base_url http://host:port/v1/endpoints/{name}/v1.
#include "api/internal.h"
#include "serving/serving.h"

namespace sskai::api {
namespace {

// OpenAI's error shape ({"error":{"message","type","param","code"}}), which its clients parse.
http::Response OpenAiError(const Status& st, const std::string& param = "") {
  int status = http::HttpStatusFor(st.code());
  json body = {{"error",
                {{"message", st.message()},
                 {"type", status >= 500 ? "server_error" : "invalid_request_error"},
                 {"param", param.empty() ? json(nullptr) : json(param)},
                 {"code", status == 404 ? json("model_not_found") : json(nullptr)}}}};
  return JsonResponse(status, body);
}

// Forwards the body to `target` of the caller's endpoint `name`.
void Forward(ApiContext& ctx, const store::User& u, const std::string& name, http::Request& req,
             const std::string& target, http::Responder respond) {
  auto ep = ctx.store.GetEndpoint(u.id, name);
  if (!ep.ok()) {
    return respond(OpenAiError(Status::NotFound("endpoint '" + name + "' not found"), "model"));
  }
  if (ep->state == serving::kFailed) {
    return respond(OpenAiError(
        Status::FailedPrecondition("endpoint '" + ep->name + "' failed: " + ep->reason)));
  }
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return respond(OpenAiError(Status::InvalidArgument("the request body must be a JSON object")));
  }
  bool stream = body.value("stream", false) == true;
  ctx.endpoints.Predict(*ep, std::move(req.body), std::move(respond), target, stream);
}

void AddPair(ApiContext& ctx, http::Router& router, const std::string& suffix) {
  router.Add("POST", "/v1/endpoints/{name}" + suffix,
             AuthedAsyncHandler(ctx, [&ctx, suffix](http::Request& req, const store::User& u,
                                                    http::Responder respond) {
               Forward(ctx, u, req.params.at("name"), req, suffix, std::move(respond));
             }),
             {.summary = "OpenAI-compatible " + suffix + " of an LM endpoint (stream: true = SSE)"});
  router.Add("POST", suffix,
             AuthedAsyncHandler(ctx, [&ctx, suffix](http::Request& req, const store::User& u,
                                                    http::Responder respond) {
               json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
               if (body.is_discarded() || !body.is_object()) {
                 return respond(OpenAiError(
                     Status::InvalidArgument("the request body must be a JSON object")));
               }
               if (!body.contains("model") || !body["model"].is_string()) {
                 return respond(OpenAiError(
                     Status::InvalidArgument("'model' must name one of your LM endpoints"), "model"));
               }
               Forward(ctx, u, body["model"].get<std::string>(), req, suffix, std::move(respond));
             }),
             {.summary = "OpenAI-compatible " + suffix + "; \"model\" = an LM endpoint's name"});
}

}  // namespace

void AddOpenAiRoutes(ApiContext& ctx, http::Router& router) {
  AddPair(ctx, router, "/v1/chat/completions");
  AddPair(ctx, router, "/v1/completions");
  router.AddSync("GET", "/v1/endpoints/{name}/v1/models",
                 Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
                   auto ep = ctx.store.GetEndpoint(u.id, req.params.at("name"));
                   if (!ep.ok()) return OpenAiError(ep.status(), "model");
                   json model = {{"id", ep->name},
                                 {"object", "model"},
                                 {"created", static_cast<int64_t>(ep->created_at)},
                                 {"owned_by", u.name}};
                   return JsonResponse(200, {{"object", "list"}, {"data", json::array({model})}});
                 }),
                 {.summary = "OpenAI-compatible model list of an LM endpoint (its name)"});
}

}  // namespace sskai::api
