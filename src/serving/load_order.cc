// A standby replica's load order (POST /load): a local model path, or (a Slurm standby) the
// model's URL, sha256 and download token, plus the key the endpoint gives the replica.
#include <nlohmann/json.hpp>

#include "serving/internal.h"

namespace sskai::serving {

using nlohmann::json;

namespace {

// `field` of `j` into *out when present; kInvalidArgument naming it when not a string.
Status OptionalString(const json& j, const char* field, std::string* out) {
  if (!j.contains(field)) return Status::Ok();
  if (!j[field].is_string()) {
    return Status::InvalidArgument(std::string("field '") + field + "': expected a string");
  }
  *out = j[field].get<std::string>();
  return Status::Ok();
}

}  // namespace

Result<LoadOrder> ParseLoadOrder(const std::string& body, const ReplicaOptions& base) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::InvalidArgument("body: expected a JSON object");
  LoadOrder order;
  order.fetch = base;
  SSKAI_RETURN_IF_ERROR(OptionalString(j, "model_path", &order.model_path));
  SSKAI_RETURN_IF_ERROR(OptionalString(j, "model_url", &order.fetch.model_url));
  SSKAI_RETURN_IF_ERROR(OptionalString(j, "model_sha256", &order.fetch.model_sha256));
  SSKAI_RETURN_IF_ERROR(OptionalString(j, "token", &order.token));
  SSKAI_RETURN_IF_ERROR(OptionalString(j, "key", &order.key));
  SSKAI_RETURN_IF_ERROR(OptionalString(j, "served_name", &order.served_name));
  if (j.contains("model_files")) {
    if (!j["model_files"].is_boolean()) {
      return Status::InvalidArgument("field 'model_files': expected true or false");
    }
    order.fetch.model_files = j["model_files"].get<bool>();
  }
  if (order.model_path.empty() == order.fetch.model_url.empty()) {
    return Status::InvalidArgument(
        "field 'model_path': expected a string (or 'model_url' with 'model_sha256'), not both");
  }
  if (!order.fetch.model_url.empty() && order.fetch.model_sha256.empty()) {
    return Status::InvalidArgument("field 'model_sha256': required with 'model_url'");
  }
  if (!order.key.empty() && order.key.size() < 32) {
    return Status::InvalidArgument("field 'key': expected at least 32 characters");
  }
  return order;
}

}  // namespace sskai::serving
