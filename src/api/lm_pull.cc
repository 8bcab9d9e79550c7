// Downloads a model repository from a Hugging Face hub (the real protocol, over HTTPS or HTTP):
//   GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true -> {"sha", "siblings":[{"rfilename",
//       "size", "lfs":{"sha256","size"}?}]}
//   GET {endpoint}/{repo}/resolve/{commit}/{file} -> 200, or 302 to a CDN; LFS files carry
//       X-Linked-Etag (sha256 of the content) and X-Linked-Size.
// Files arrive in Range chunks appended to <work>/<file>.incomplete, so a broken connection costs
// at most one chunk, and a later pull of the same commit continues where the last one stopped.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "api/lm_internal.h"
#include "common/sha256.h"

#include <openssl/evp.h>

namespace sskai::api {

namespace {

namespace fs = std::filesystem;

constexpr int kMaxRedirects = 5;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "http(s)://host:port/path?q" -> ("http(s)://host:port", "/path?q"). kInvalidArgument otherwise.
Result<std::pair<std::string, std::string>> SplitUrl(const std::string& url) {
  size_t authority = 0;
  if (url.rfind("https://", 0) == 0) authority = 8;
  if (url.rfind("http://", 0) == 0) authority = 7;
  if (authority == 0) return Status::InvalidArgument("'" + url.substr(0, 120) + "' is not an http(s) URL");
  const size_t slash = url.find('/', authority);
  if (slash == std::string::npos) return std::make_pair(url, std::string("/"));
  return std::make_pair(url.substr(0, slash), url.substr(slash));
}

// Percent-encodes each path segment of a repo id or file name (keeps '/').
std::string EncodePath(const std::string& path) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    out += http::UrlEncode(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

std::string Unquote(std::string etag) {
  if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

Status HubStatus(int status, const std::string& what, const std::string& repo, const std::string& body) {
  if (status == 401 || status == 403) {
    return Status::PermissionDenied("gated repo: " + repo + " answered " + std::to_string(status) + " for " + what +
                                    "; set HF_TOKEN (or --hf-token) to a token of an account that accepted "
                                    "the model's license on the hub");
  }
  if (status == 404) return Status::NotFound(what + ": not found on the hub (repository, revision or file)");
  return Status::Unavailable(what + ": the hub answered HTTP " + std::to_string(status) + " " + body.substr(0, 200));
}

class Hub {
 public:
  explicit Hub(const HubPullRequest& req) : req_(req) {}

  // GET with redirects; a 2xx body streams to `path` (chunk), headers of every hop are merged
  // (the first hop's X-Linked-* win). Non-2xx: returned with its body.
  Result<http::ClientResponse> Get(const std::string& url, const std::string& path,
                                   std::map<std::string, std::string> headers,
                                   std::map<std::string, std::string>* first_hop_headers) {
    std::string current = url;
    SSKAI_ASSIGN_OR_RETURN(auto origin, SplitUrl(req_.endpoint));
    for (int hop = 0; hop <= kMaxRedirects; ++hop) {
      SSKAI_ASSIGN_OR_RETURN(auto split, SplitUrl(current));
      auto h = headers;
      // The token goes to the hub only, never to the CDN it redirects to.
      if (!req_.token.empty() && split.first == origin.first) h["authorization"] = "Bearer " + req_.token;
      SSKAI_ASSIGN_OR_RETURN(http::Client * client, ClientFor(split.first));
      Result<http::ClientResponse> r = path.empty() ? client->Request("GET", split.second, "", h)
                                                    : client->DownloadToFile(split.second, path, h);
      if (!r.ok()) {
        clients_.erase(split.first);  // a broken connection: start the next request afresh
        return r.status();
      }
      if (hop == 0 && first_hop_headers != nullptr) *first_hop_headers = r->headers;
      if (r->status >= 300 && r->status < 400 && r->headers.count("location")) {
        std::string location = r->headers["location"];
        current = location.rfind("/", 0) == 0 ? split.first + location : location;
        continue;
      }
      return r;
    }
    return Status::Unavailable("too many redirects from " + url);
  }

 private:
  Result<http::Client*> ClientFor(const std::string& base) {
    auto it = clients_.find(base);
    if (it != clients_.end()) return it->second.get();
    http::ClientOptions o;
    o.timeout = std::chrono::milliseconds(req_.timeout_ms);
    o.ca_file = req_.ca_file;
    SSKAI_ASSIGN_OR_RETURN(auto client, http::Client::Create(base, o));
    http::Client* raw = client.get();
    clients_[base] = std::move(client);
    return raw;
  }

  const HubPullRequest& req_;
  std::map<std::string, std::unique_ptr<http::Client>> clients_;
};

Status AppendFile(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::app);
  if (!in || !out) return Status::Internal("cannot append " + from + " to " + to);
  out << in.rdbuf();
  out.flush();
  if (!out) return Status::Internal("writing " + to);
  return Status::Ok();
}

// Git's blob id of a file: sha1("blob <size>\0" + content) — the ETag the hub gives non-LFS files.
Result<std::string> GitBlobSha1(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Internal("cannot read " + path);
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha1(), nullptr);
  const std::string header = "blob " + std::to_string(size) + std::string(1, '\0');
  EVP_DigestUpdate(md, header.data(), header.size());
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(md, buf.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(md, digest, &len);
  EVP_MD_CTX_free(md);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

bool IsSha1Hex(const std::string& s) {
  return s.size() == 40 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

}  // namespace

std::vector<std::string> SelectHubFiles(const std::vector<std::string>& siblings) {
  std::vector<std::string> out;
  for (const auto& name : siblings) {
    if (name.find('/') == std::string::npos && IsLmFileName(name)) out.push_back(name);
  }
  return out;
}

Result<HubPullResult> PullFromHub(const HubPullRequest& req, const HubPullProgress& progress) {
  Hub hub(req);
  const std::string base = req.endpoint.back() == '/' ? req.endpoint.substr(0, req.endpoint.size() - 1) : req.endpoint;
  // 1. The revision: commit sha and file list.
  const std::string info_url = base + "/api/models/" + EncodePath(req.repo) + "/revision/" +
                               http::UrlEncode(req.revision) + "?blobs=true";
  SSKAI_ASSIGN_OR_RETURN(http::ClientResponse info_resp, hub.Get(info_url, "", {}, nullptr));
  if (info_resp.status != 200) return HubStatus(info_resp.status, "revision " + req.revision, req.repo, info_resp.body);
  json info = json::parse(info_resp.body, nullptr, false);
  if (info.is_discarded() || !info.is_object() || !info.contains("siblings") || !info["siblings"].is_array()) {
    return Status::Unavailable("the hub's revision answer has no 'siblings' list");
  }
  HubPullResult result;
  result.commit = info.value("sha", req.revision);
  if (result.commit.empty() || result.commit.find('/') != std::string::npos) result.commit = req.revision;
  std::vector<std::string> siblings;
  std::map<std::string, std::pair<std::string, uint64_t>> lfs;  // name -> (sha256, size)
  std::map<std::string, uint64_t> sizes;
  for (const auto& s : info["siblings"]) {
    if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string()) continue;
    const std::string name = s["rfilename"].get<std::string>();
    siblings.push_back(name);
    if (s.contains("size") && s["size"].is_number_unsigned()) sizes[name] = s["size"].get<uint64_t>();
    if (s.contains("lfs") && s["lfs"].is_object()) {
      const json& l = s["lfs"];
      lfs[name] = {l.value("sha256", ""), l.value("size", uint64_t{0})};
      if (l.contains("size")) sizes[name] = l.value("size", uint64_t{0});
    }
  }
  std::vector<std::string> wanted = SelectHubFiles(siblings);
  // With a shard index, only the shards it names (a repo may also hold consolidated weights).
  const bool has_index = std::find(wanted.begin(), wanted.end(), "model.safetensors.index.json") != wanted.end();
  if (std::none_of(wanted.begin(), wanted.end(), [](const std::string& n) { return EndsWith(n, ".safetensors"); })) {
    return Status::InvalidArgument(req.repo + "@" + req.revision + " has no .safetensors weights "
                                   "(pickle checkpoints such as pytorch_model.bin are not accepted)");
  }

  std::error_code ec;
  fs::create_directories(req.work_dir + "/files", ec);
  if (ec) return Status::Internal("creating " + req.work_dir + ": " + ec.message());

  // Downloads one file (chunked, resumable, verified) into work_dir/files/<name>.
  auto fetch = [&](const std::string& name) -> Status {
    const std::string final_path = req.work_dir + "/files/" + name;
    if (fs::exists(final_path, ec)) return Status::Ok();  // an earlier pull finished it
    const std::string incomplete = req.work_dir + "/" + name + ".incomplete";
    const std::string chunk = req.work_dir + "/" + name + ".chunk";
    const std::string url = base + "/" + EncodePath(req.repo) + "/resolve/" + http::UrlEncode(result.commit) + "/" +
                            EncodePath(name);
    std::string expected_sha = lfs.count(name) ? lfs[name].first : "";
    std::string expected_git_sha1;  // non-LFS files: the ETag
    uint64_t total = sizes.count(name) ? sizes[name] : 0;
    int failures = 0;
    while (true) {
      if (req.cancelled && req.cancelled()) return Status::Cancelled("pull cancelled");
      const uint64_t have = FileSize(incomplete);
      if (total > 0 && have >= total) break;
      const uint64_t last = have + req.chunk_bytes - 1;
      std::map<std::string, std::string> first_hop;
      auto r = hub.Get(url, chunk, {{"range", "bytes=" + std::to_string(have) + "-" + std::to_string(last)}}, &first_hop);
      if (!r.ok()) {
        const StatusCode code = r.status().code();
        const bool transient = code == StatusCode::kUnavailable || code == StatusCode::kDeadlineExceeded;
        if (!transient) return r.status().WithPrefix(name);  // e.g. an untrusted TLS certificate
        if (++failures > req.max_retries) return r.status().WithPrefix(name + ": download failed after " +
                                                                        std::to_string(req.max_retries) + " retries");
        continue;  // resume from what we have
      }
      if (r->status == 416 && total == 0) break;  // asked past the end: complete
      if (r->status < 200 || r->status >= 300) return HubStatus(r->status, name, req.repo, r->body);
      failures = 0;
      auto linked = first_hop.find("x-linked-etag");
      if (expected_sha.empty() && linked != first_hop.end() && IsSha256Hex(Unquote(linked->second))) {
        expected_sha = Unquote(linked->second);
      }
      auto etag = first_hop.find("etag");
      if (etag != first_hop.end() && IsSha1Hex(Unquote(etag->second))) expected_git_sha1 = Unquote(etag->second);
      if (r->status == 200) {
        // The server ignored Range: this is the whole file.
        fs::rename(chunk, incomplete, ec);
        if (ec) return Status::Internal("rename " + chunk + ": " + ec.message());
        total = FileSize(incomplete);
        if (progress) progress(name, total, total);
        break;
      }
      auto content_range = r->headers.find("content-range");
      if (content_range != r->headers.end()) {
        const size_t slash = content_range->second.find('/');
        if (slash != std::string::npos && content_range->second.substr(slash + 1) != "*") {
          total = std::strtoull(content_range->second.c_str() + slash + 1, nullptr, 10);
        }
      }
      SSKAI_RETURN_IF_ERROR(AppendFile(chunk, incomplete));
      fs::remove(chunk, ec);
      if (progress) progress(name, FileSize(incomplete), total);
      if (total == 0) break;  // no size known and a partial answer: take it as the file
    }
    if (!expected_sha.empty()) {
      SSKAI_ASSIGN_OR_RETURN(std::string got, Sha256File(incomplete));
      if (got != expected_sha) {
        fs::remove(incomplete, ec);  // start over next time: the bytes are wrong
        return Status::InvalidArgument(name + ": checksum mismatch (sha256 " + got + ", the hub says " +
                                       expected_sha + "); the partial download was discarded");
      }
      result.verified.push_back(name);
    } else if (!expected_git_sha1.empty()) {
      SSKAI_ASSIGN_OR_RETURN(std::string got, GitBlobSha1(incomplete));
      if (got != expected_git_sha1) {
        fs::remove(incomplete, ec);
        return Status::InvalidArgument(name + ": checksum mismatch (git blob sha1 " + got + ", the hub says " +
                                       expected_git_sha1 + "); the partial download was discarded");
      }
      result.verified.push_back(name);
    }
    fs::rename(incomplete, final_path, ec);
    if (ec) return Status::Internal("rename " + incomplete + ": " + ec.message());
    result.files.push_back(name);
    return Status::Ok();
  };

  // Small files first; then the weights the index (or the single file) names.
  std::vector<std::string> weights;
  for (const auto& name : wanted) {
    if (EndsWith(name, ".safetensors")) weights.push_back(name);
    else SSKAI_RETURN_IF_ERROR(fetch(name));
  }
  if (has_index) {
    std::ifstream in(req.work_dir + "/files/model.safetensors.index.json");
    json index = json::parse(in, nullptr, false);
    if (index.is_discarded() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      return Status::InvalidArgument("model.safetensors.index.json: needs a weight_map object");
    }
    std::set<std::string> shards;
    for (const auto& [tensor, file] : index["weight_map"].items()) {
      if (file.is_string()) shards.insert(file.get<std::string>());
    }
    weights.assign(shards.begin(), shards.end());
  } else if (std::find(weights.begin(), weights.end(), "model.safetensors") != weights.end()) {
    weights = {"model.safetensors"};
  }
  for (const auto& name : weights) {
    if (!IsLmFileName(name)) return Status::InvalidArgument("model.safetensors.index.json names a bad file '" + name + "'");
    SSKAI_RETURN_IF_ERROR(fetch(name));
  }
  result.files_dir = req.work_dir + "/files";
  return result;
}

}  // namespace sskai::api
