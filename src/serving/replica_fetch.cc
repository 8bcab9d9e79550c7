// `sskai replica --model-url`: a replica on another node (a Slurm job) fetches its model from the
// server over HTTP, like workers fetch datasets, and caches it by content hash on the node.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/log.h"
#include "common/sha256.h"
#include "http/http.h"
#include "serving/serving.h"

namespace sskai::serving {

namespace {

namespace fs = std::filesystem;

// "http://host:port/v1/models/..." -> {"http://host:port", "/v1/models/..."}.
Result<std::pair<std::string, std::string>> SplitUrl(const std::string& url) {
  auto scheme = url.find("://");
  auto slash = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
  if (url.rfind("http://", 0) != 0 || slash == std::string::npos) {
    return Status::InvalidArgument("--model-url: expected http://host:port/path, got '" + url + "'");
  }
  return std::make_pair(url.substr(0, slash), url.substr(slash));
}

Result<std::string> CacheDir(const ReplicaOptions& options) {
  std::string dir = options.cache_dir;
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sskai-models";
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Unavailable("cannot create '" + dir + "': " + ec.message());
  return dir;
}

// GET base+target into `path` (a fresh file), verified against `sha256`.
Status FetchVerified(http::Client& client, const std::string& base, const std::string& target,
                     const std::map<std::string, std::string>& headers, const std::string& path,
                     const std::string& sha256) {
  SSKAI_ASSIGN_OR_RETURN(auto resp, client.DownloadToFile(target, path, headers));
  std::error_code ec;
  if (resp.status < 200 || resp.status >= 300) {
    fs::remove(path, ec);
    return Status::Unavailable("GET " + base + target + " answered " + std::to_string(resp.status) +
                               ": " + resp.body.substr(0, 300));
  }
  auto sum = Sha256File(path);
  if (!sum.ok() || *sum != sha256) {
    fs::remove(path, ec);
    return Status::Internal("the file from " + base + target + " does not match its sha256 " + sha256);
  }
  return Status::Ok();
}

// A language model's file set: GET the version's file list, then every file into
// cache/<manifest sha256>/ (built under a per-process name, renamed when complete).
Result<std::string> FetchLmFiles(const ReplicaOptions& options, http::Client& client,
                                 const std::string& base, const std::string& target,
                                 const std::map<std::string, std::string>& headers,
                                 const std::string& path) {
  std::error_code ec;
  if (fs::exists(path + "/config.json", ec)) return path;  // complete: renamed into place last
  SSKAI_ASSIGN_OR_RETURN(auto listed, client.Request("GET", target, "", headers));
  if (listed.status != 200) {
    return Status::Unavailable("GET " + base + target + " answered " + std::to_string(listed.status) +
                               ": " + listed.body.substr(0, 300));
  }
  auto manifest = nlohmann::json::parse(listed.body, nullptr, false);
  if (!manifest.is_object() || !manifest.contains("files") || !manifest["files"].is_object()) {
    return Status::Internal("GET " + base + target + " did not answer an LM file list");
  }
  if (manifest.value("manifest_sha256", "") != options.model_sha256) {
    return Status::Internal("the LM version at " + base + target + " is not " + options.model_sha256);
  }
  const std::string part = path + ".part-" + std::to_string(getpid());
  fs::remove_all(part, ec);
  fs::create_directories(part, ec);
  if (ec) return Status::Unavailable("cannot create '" + part + "': " + ec.message());
  for (const auto& [name, sha] : manifest["files"].items()) {
    if (!sha.is_string() || name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
      fs::remove_all(part, ec);
      return Status::Internal("the LM file list at " + base + target + " has a bad entry '" + name + "'");
    }
    Status st = FetchVerified(client, base, target + "/" + name, headers, part + "/" + name,
                              sha.get<std::string>());
    if (!st.ok()) {
      fs::remove_all(part, ec);
      return st;
    }
  }
  fs::rename(part, path, ec);
  if (ec && !fs::exists(path + "/config.json")) {  // another replica on this node won the race
    fs::remove_all(part, ec);
    return Status::Unavailable("cannot rename '" + part + "': " + ec.message());
  }
  fs::remove_all(part, ec);
  return path;
}

}  // namespace

Result<std::string> FetchReplicaModel(const ReplicaOptions& options, const std::string& token) {
  if (!IsSha256Hex(options.model_sha256)) {
    return Status::InvalidArgument("--model-sha256: expected 64 lower-case hex characters");
  }
  SSKAI_ASSIGN_OR_RETURN(auto url, SplitUrl(options.model_url));
  SSKAI_ASSIGN_OR_RETURN(std::string dir, CacheDir(options));
  const std::string path = dir + "/" + options.model_sha256;
  SSKAI_ASSIGN_OR_RETURN(auto client, http::Client::Create(url.first));
  std::map<std::string, std::string> headers;
  if (!token.empty()) headers["authorization"] = "Bearer " + token;
  if (options.model_files) return FetchLmFiles(options, *client, url.first, url.second, headers, path);
  std::error_code ec;
  if (fs::exists(path, ec)) {
    auto sum = Sha256File(path);
    if (sum.ok() && *sum == options.model_sha256) return path;  // cached and intact
    fs::remove(path, ec);
  }
  // A per-process download name: replicas on one node may fetch the same model at once.
  const std::string part = path + "." + std::to_string(getpid());
  SSKAI_RETURN_IF_ERROR(FetchVerified(*client, url.first, url.second, headers, part, options.model_sha256));
  fs::rename(part, path, ec);
  if (ec) return Status::Unavailable("cannot rename '" + part + "': " + ec.message());
  return path;
}

}  // namespace sskai::serving
