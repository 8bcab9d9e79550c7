// Uniform JSON error responses and the status-code mapping.
#include <nlohmann/json.hpp>

#include "http/internal.h"

namespace sskai::http {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kPayloadTooLarge: return 413;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kCancelled: return 409;
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

Response ErrorResponse(const Status& status, const std::string& details_json) {
  nlohmann::json details = nlohmann::json::parse(details_json, nullptr, /*allow_exceptions=*/false);
  if (!details.is_object()) details = nlohmann::json::object();
  StatusCode code = status.ok() ? StatusCode::kInternal : status.code();
  nlohmann::json body = {{"error",
                          {{"code", StatusCodeName(code)},
                           {"message", status.message()},
                           {"details", std::move(details)}}}};
  // Replace invalid UTF-8 rather than throwing.
  return Response::Json(HttpStatusFor(code),
                        body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

namespace internal {

Response MethodNotAllowed(const std::string& method, const std::string& path,
                          const std::string& allow) {
  nlohmann::json body = {{"error",
                          {{"code", "method_not_allowed"},
                           {"message", "method " + method + " is not allowed for " + path},
                           {"details", {{"allow", allow}}}}}};
  Response r = Response::Json(405, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  r.headers.emplace_back("Allow", allow);
  return r;
}

}  // namespace internal
}  // namespace sskai::http
