// The model directory of an LM model version: its manifest's file set materialized as symlinks
// to the blobs (artifacts::MaterializeFileSet).
#include <map>
#include <nlohmann/json.hpp>

#include "artifacts/artifacts.h"
#include "serving/internal.h"
#include "store/store.h"

namespace sskai::serving {

using nlohmann::json;

bool IsLmVersion(const store::ModelVersion& mv) {
  json spec = json::parse(mv.spec_json, nullptr, false);
  return spec.is_object() && spec.value("type", "") == "lm" && spec.contains("files") &&
         spec["files"].is_object();
}

Result<std::string> MaterializeLm(artifacts::BlobStore& blobs, const store::ModelVersion& mv,
                                  const std::string& root) {
  json spec = json::parse(mv.spec_json, nullptr, false);
  std::map<std::string, std::string> files;
  for (const auto& [name, sha] : spec["files"].items()) {
    if (!sha.is_string()) return Status::InvalidArgument("LM manifest: bad file entry '" + name + "'");
    files[name] = sha.get<std::string>();
  }
  return artifacts::MaterializeFileSet(blobs, files, root + "/" + mv.blob_sha256);
}

}  // namespace sskai::serving
