// LM model versions' files: the manifest and each file's bytes (Range supported), so remote
// workers and replicas can fetch a file set over HTTP.
#include <fstream>

#include "api/internal.h"
#include "api/lm_internal.h"
#include "artifacts/artifacts.h"

namespace sskai::api {

namespace {

constexpr uint64_t kMaxRangeBytes = 64ull << 20;  // one ranged answer at most (client continues)

}  // namespace

Result<ByteRange> ParseByteRange(const std::string& header, uint64_t size) {
  const std::string prefix = "bytes=";
  if (header.compare(0, prefix.size(), prefix) != 0 || header.find(',') != std::string::npos) {
    return Status::InvalidArgument("Range: only a single 'bytes=first-[last]' range is supported");
  }
  const std::string spec = header.substr(prefix.size());
  const size_t dash = spec.find('-');
  if (dash == std::string::npos) return Status::InvalidArgument("Range: expected 'bytes=first-[last]'");
  auto parse = [](const std::string& s, uint64_t* out) {
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) return false;
    *out = std::stoull(s);
    return true;
  };
  ByteRange r;
  const std::string first = spec.substr(0, dash), last = spec.substr(dash + 1);
  if (first.empty()) {  // suffix range: the last N bytes
    uint64_t n = 0;
    if (!parse(last, &n) || n == 0) return Status::InvalidArgument("Range: bad suffix length");
    r.first = n >= size ? 0 : size - n;
    r.last = size == 0 ? 0 : size - 1;
  } else {
    if (!parse(first, &r.first)) return Status::InvalidArgument("Range: bad first byte");
    r.last = size == 0 ? 0 : size - 1;
    if (!last.empty()) {
      uint64_t l = 0;
      if (!parse(last, &l) || l < r.first) return Status::InvalidArgument("Range: bad last byte");
      r.last = std::min(l, r.last);
    }
  }
  if (size == 0 || r.first >= size) r.satisfiable = false;
  return r;
}

Result<LmVersionRef> FindLmVersion(ApiContext& ctx, const http::Request& req, const store::User& u) {
  LmVersionRef ref;
  SSKAI_ASSIGN_OR_RETURN(ref.model, ctx.store.GetVisibleModel(u.id, req.params.at("name")));
  SSKAI_ASSIGN_OR_RETURN(int64_t version, VersionParam(req));
  SSKAI_ASSIGN_OR_RETURN(ref.version, ctx.store.GetModelVersion(ref.model.id, version));
  ref.manifest = ParseStoredJson(ref.version.spec_json);
  if (ref.manifest.value("type", "") != "lm" || !ref.manifest.contains("files") ||
      !ref.manifest["files"].is_object()) {
    return Status::NotFound(ref.model.name + " v" + std::to_string(ref.version.version) +
                            " is not a language model (it has no file set)");
  }
  return ref;
}

void AddLmFileRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("GET", "/v1/models/{name}/versions/{version}/files", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto ref = FindLmVersion(ctx, req, u);
    if (!ref.ok()) return Error(ref.status());
    json out = ref->manifest;
    out["model"] = ref->model.name;
    out["version"] = ref->version.version;
    out["manifest_sha256"] = ref->version.blob_sha256;
    return JsonResponse(200, out);
  }), {.summary = "An LM version's manifest: files (name -> sha256), sizes, config, tokenizer"});

  router.AddSync("GET", "/v1/models/{name}/versions/{version}/files/{file}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto ref = FindLmVersion(ctx, req, u);
    if (!ref.ok()) return Error(ref.status());
    const std::string file = req.params.at("file");
    const json& files = ref->manifest["files"];
    auto it = files.find(file);
    if (it == files.end() || !it->is_string()) {
      return Error(Status::NotFound("file '" + file + "' is not part of " + ref->model.name + " v" +
                                    std::to_string(ref->version.version)));
    }
    const std::string sha = it->get<std::string>();
    auto path = ctx.blobs.LocalPath(sha);
    if (!path.ok()) return Error(path.status());
    auto size = ctx.blobs.Size(sha);
    if (!size.ok()) return Error(size.status());
    http::Response resp;
    resp.content_type = ContentTypeFor(file);
    resp.headers.push_back({"Accept-Ranges", "bytes"});
    resp.headers.push_back({"ETag", "\"" + sha + "\""});
    resp.headers.push_back({"X-Sskai-Sha256", sha});
    const std::string range_header = req.Header("range");
    if (range_header.empty()) {
      resp.file_path = *path;
      return resp;
    }
    auto range = ParseByteRange(range_header, *size);
    if (!range.ok()) return Error(range.status());
    if (!range->satisfiable) {
      http::Response bad = Error(Status::InvalidArgument("Range not satisfiable: the file has " +
                                                         std::to_string(*size) + " bytes"));
      bad.status = 416;
      bad.headers.push_back({"Content-Range", "bytes */" + std::to_string(*size)});
      return bad;
    }
    // Answered from memory, capped: a client asking for more gets the first kMaxRangeBytes and
    // continues from the Content-Range it got.
    const uint64_t last = std::min(range->last, range->first + kMaxRangeBytes - 1);
    std::ifstream in(*path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(range->first));
    std::string body(last - range->first + 1, '\0');
    in.read(body.data(), static_cast<std::streamsize>(body.size()));
    if (static_cast<uint64_t>(in.gcount()) != body.size()) {
      return Error(Status::Internal("reading blob " + sha));
    }
    resp.status = 206;
    resp.body = std::move(body);
    resp.headers.push_back({"Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                                 std::to_string(last) + "/" + std::to_string(*size)});
    return resp;
  }), {.summary = "One file of an LM version (Range: bytes=first-[last] supported)"});
}

}  // namespace sskai::api
