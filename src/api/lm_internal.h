// src/api/lm_internal.h — private to the api module: LM file sets (routes_lm_*.cc, lm_*.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "api/internal.h"

namespace sskai::api {

// An inclusive byte range of a file of `size` bytes; satisfiable=false when it starts past the end.
struct ByteRange {
  uint64_t first = 0, last = 0;
  bool satisfiable = true;
};
// Parses an HTTP Range header ("bytes=first-", "bytes=first-last", "bytes=-suffix"). Pure.
// Errors: kInvalidArgument (syntax, several ranges).
Result<ByteRange> ParseByteRange(const std::string& header, uint64_t size);

struct LmVersionRef {
  store::Model model;
  store::ModelVersion version;
  json manifest;  // spec_json parsed; has an object "files"
};
// The caller's model {name}, version {version}, which must be an LM version (kNotFound otherwise).
Result<LmVersionRef> FindLmVersion(ApiContext& ctx, const http::Request& req, const store::User& u);

// The answer for a registered LM version: its manifest plus model, version, manifest_sha256.
json LmVersionJson(ApiContext& ctx, const std::string& model_name, const LmRegistered& reg);

void AddLmFileRoutes(ApiContext& ctx, http::Router& router);    // .../files, .../files/{file}
void AddLmImportRoutes(ApiContext& ctx, http::Router& router);  // /v1/uploads, .../import
// One gallery item with parameters, memory (planner::ProfileLm) and pull command. Errors:
// kInvalidArgument (a config the engine cannot load).
Result<json> GalleryEntryJson(const json& item);
void AddLmGalleryRoutes(ApiContext& ctx, http::Router& router);  // /v1/gallery
void AddLmPullRoutes(ApiContext& ctx, http::Router& router);     // .../pull, /v1/pulls/{id}

// ---- hub pulls (lm_pull.cc)
struct HubPullRequest {
  std::string endpoint = "https://huggingface.co";  // http:// or https://
  std::string ca_file;                              // https: CA bundle ("" = SSKAI_CA_BUNDLE / system)
  std::string repo, revision = "main", token;       // token "" = anonymous
  std::string work_dir;                             // partial + finished files (kept for resume)
  uint64_t chunk_bytes = 64ull << 20;               // bytes per Range request
  int max_retries = 5;                              // per chunk, after a broken connection
  int64_t timeout_ms = 60000;                       // per network read
  std::function<bool()> cancelled;                  // polled between chunks; may be empty
};
struct HubPullResult {
  std::string commit;                 // the revision's commit sha
  std::string files_dir;              // work_dir/files: the downloaded file set
  std::vector<std::string> files;     // downloaded by this call (earlier ones are skipped)
  std::vector<std::string> verified;  // of those, checked against the hub's sha256
};
// progress(file, bytes_done, bytes_total) after each chunk (total 0 = unknown).
using HubPullProgress = std::function<void(const std::string&, uint64_t, uint64_t)>;
// The files an LM needs among a repo's siblings (root files with IsLmFileName). Pure.
std::vector<std::string> SelectHubFiles(const std::vector<std::string>& siblings);
// Downloads config, tokenizer files and safetensors (only the index's shards when there is an
// index) of repo@revision into work_dir/files. Blocking. Errors: kPermissionDenied (401/403:
// "gated repo: set HF_TOKEN"), kNotFound (repo/revision/file), kInvalidArgument (no safetensors,
// checksum mismatch, not an http(s) URL), kFailedPrecondition (a TLS certificate that is not trusted
// or not for the host), kUnavailable (network, hub errors), kCancelled.
Result<HubPullResult> PullFromHub(const HubPullRequest& req, const HubPullProgress& progress);

}  // namespace sskai::api
