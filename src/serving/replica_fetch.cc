// `sskai replica --model-url`: a replica on another node (a Slurm job) fetches its model from the
// server over HTTP, like workers fetch datasets, and caches it by content hash on the node.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "common/log.h"
#include "common/sha256.h"
#include "http/http.h"
#include "serving/serving.h"

namespace sskai::serving {

Result<std::string> FetchReplicaModel(const ReplicaOptions& options, const std::string& token) {
  if (!IsSha256Hex(options.model_sha256)) {
    return Status::InvalidArgument("--model-sha256: expected 64 lower-case hex characters");
  }
  // "http://host:port/v1/models/..." -> base "http://host:port", target "/v1/models/...".
  const std::string& url = options.model_url;
  auto scheme = url.find("://");
  auto slash = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
  if (url.rfind("http://", 0) != 0 || slash == std::string::npos) {
    return Status::InvalidArgument("--model-url: expected http://host:port/path, got '" + url + "'");
  }
  std::string dir = options.cache_dir;
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sskai-models";
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Unavailable("cannot create '" + dir + "': " + ec.message());
  const std::string path = dir + "/" + options.model_sha256;
  if (std::filesystem::exists(path, ec)) {
    auto sum = Sha256File(path);
    if (sum.ok() && *sum == options.model_sha256) return path;  // cached and intact
    std::filesystem::remove(path, ec);
  }
  SSKAI_ASSIGN_OR_RETURN(auto client, http::Client::Create(url.substr(0, slash)));
  // A per-process download name: replicas on one node may fetch the same model at once.
  const std::string part = path + "." + std::to_string(getpid());
  std::map<std::string, std::string> headers;
  if (!token.empty()) headers["authorization"] = "Bearer " + token;
  SSKAI_ASSIGN_OR_RETURN(auto resp, client->DownloadToFile(url.substr(slash), part, headers));
  if (resp.status < 200 || resp.status >= 300) {
    return Status::Unavailable("GET " + url + " answered " + std::to_string(resp.status) + ": " +
                               resp.body.substr(0, 300));
  }
  auto sum = Sha256File(part);
  if (!sum.ok() || *sum != options.model_sha256) {
    std::filesystem::remove(part, ec);
    return Status::Internal("the model from " + url + " does not match its sha256 " +
                            options.model_sha256);
  }
  std::filesystem::rename(part, path, ec);
  if (ec) return Status::Unavailable("cannot rename '" + part + "': " + ec.message());
  return path;
}

}  // namespace sskai::serving
