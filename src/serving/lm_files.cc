// The model directory of an LM model version: its manifest's file set materialized as symlinks
// to the blobs (until artifacts::MaterializeFileSet is available to the serving module).
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "artifacts/artifacts.h"
#include "serving/internal.h"
#include "store/store.h"

namespace sskai::serving {

namespace fs = std::filesystem;
using nlohmann::json;

bool IsLmVersion(const store::ModelVersion& mv) {
  json spec = json::parse(mv.spec_json, nullptr, false);
  return spec.is_object() && spec.value("type", "") == "lm" && spec.contains("files") &&
         spec["files"].is_object();
}

Result<std::string> MaterializeLm(artifacts::BlobStore& blobs, const store::ModelVersion& mv,
                                  const std::string& root) {
  json spec = json::parse(mv.spec_json, nullptr, false);
  std::string dir = root + "/" + mv.blob_sha256;
  std::error_code ec;
  if (fs::exists(dir + "/config.json", ec)) return dir;
  std::string tmp = dir + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return Status::Internal("cannot create " + tmp + ": " + ec.message());
  for (const auto& [name, sha] : spec["files"].items()) {
    if (!sha.is_string() || name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
      fs::remove_all(tmp, ec);
      return Status::InvalidArgument("LM manifest: bad file entry '" + name + "'");
    }
    auto path = blobs.LocalPath(sha.get<std::string>());
    if (!path.ok()) {
      fs::remove_all(tmp, ec);
      return path.status().WithPrefix("LM file '" + name + "'");
    }
    fs::create_symlink(*path, tmp + "/" + name, ec);
    if (ec) {
      fs::remove_all(tmp, ec);
      return Status::Internal("cannot link " + name + ": " + ec.message());
    }
  }
  fs::rename(tmp, dir, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    if (fs::exists(dir + "/config.json")) return dir;  // another launch won the race
    return Status::Internal("cannot create " + dir);
  }
  return dir;
}

}  // namespace sskai::serving
