// `sskai models import`: a multi-file upload session, then validation + registration.
//   POST /v1/uploads                         -> {"id"}
//   PUT (or POST) /v1/uploads/{id}/files/{file}  (streamed to disk, never held in memory)
//   POST /v1/models/{name}/import {"upload"} -> the new LM version (the upload is consumed)
//   DELETE /v1/uploads/{id}
// Upload directories live beside the blobs (<artifacts>/tmp/lm-uploads/<owner>-<id>), so
// registering moves files into the blob store by rename.
#include <filesystem>
#include <random>

#include "api/internal.h"
#include "api/lm_internal.h"
#include "artifacts/artifacts.h"

namespace sskai::api {

namespace {

namespace fs = std::filesystem;

constexpr double kStaleUploadSeconds = 24 * 3600;

std::string UploadsRoot(ApiContext& ctx) { return ctx.blobs.temp_dir() + "/lm-uploads"; }

std::string NewUploadId() {
  std::random_device rd;
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

// The caller's upload directory for {id}. kNotFound when absent (or another user's).
Result<std::string> UploadDir(ApiContext& ctx, const store::User& u, const std::string& id) {
  if (id.size() != 32 || id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::NotFound("upload '" + id.substr(0, 40) + "' not found");
  }
  std::string dir = UploadsRoot(ctx) + "/" + std::to_string(u.id) + "-" + id;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound("upload '" + id + "' not found");
  return dir;
}

// Best effort: drops upload sessions nobody finished within a day.
void RemoveStaleUploads(ApiContext& ctx) {
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& entry : fs::directory_iterator(UploadsRoot(ctx), ec)) {
    auto mtime = entry.last_write_time(ec);
    if (ec) continue;
    if (std::chrono::duration<double>(now - mtime).count() > kStaleUploadSeconds) {
      fs::remove_all(entry.path(), ec);
    }
  }
}

}  // namespace

json LmVersionJson(ApiContext& ctx, const std::string& model_name, const LmRegistered& reg) {
  json out = json::parse(reg.manifest_json, nullptr, false);
  if (out.is_discarded()) out = json::object();
  out["model"] = model_name;
  out["version"] = reg.version;
  out["manifest_sha256"] = reg.manifest_sha256;
  (void)ctx;
  return out;
}

void AddLmImportRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("POST", "/v1/uploads", Authed(ctx, [&ctx](http::Request&, const store::User& u) {
    RemoveStaleUploads(ctx);
    const std::string id = NewUploadId();
    std::error_code ec;
    fs::create_directories(UploadsRoot(ctx) + "/" + std::to_string(u.id) + "-" + id, ec);
    if (ec) return Error(Status::Internal("creating upload: " + ec.message()));
    return JsonResponse(201, {{"id", id}});
  }), {.summary = "Start a multi-file upload (for models import)"});

  auto put_file = Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto dir = UploadDir(ctx, u, req.params.at("id"));
    if (!dir.ok()) return Error(dir.status());
    const std::string file = req.params.at("file");
    Status name_ok = store::ValidateName(file);
    if (!name_ok.ok()) return Error(Status::InvalidArgument("file: " + name_ok.message()));
    if (req.body_file.empty()) return Error(Status::InvalidArgument("empty upload"));
    const std::string dest = *dir + "/" + file;
    std::error_code ec;
    fs::rename(req.body_file, dest, ec);
    if (ec) {
      fs::copy_file(req.body_file, dest, fs::copy_options::overwrite_existing, ec);
      if (ec) return Error(Status::Internal("storing upload " + file + ": " + ec.message()));
    }
    fs::last_write_time(*dir, fs::file_time_type::clock::now(), ec);
    return JsonResponse(201, {{"file", file}, {"size", req.body_size}, {"sha256", req.body_sha256}});
  });
  for (const char* method : {"PUT", "POST"}) {
    router.AddSync(method, "/v1/uploads/{id}/files/{file}", put_file,
                   {.stream_body = true, .summary = "Upload one file of a multi-file upload (streamed)"});
  }

  router.AddSync("DELETE", "/v1/uploads/{id}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto dir = UploadDir(ctx, u, req.params.at("id"));
    if (!dir.ok()) return Error(dir.status());
    std::error_code ec;
    fs::remove_all(*dir, ec);
    return JsonResponse(200, {{"deleted", req.params.at("id")}});
  }), {.summary = "Drop an unfinished upload"});

  router.Add("POST", "/v1/models/{name}/import",
             AuthedAsyncHandler(ctx, [&ctx](http::Request& req, const store::User& u, http::Responder respond) {
    auto body = ParseObject(req.body);
    if (!body.ok()) return respond(Error(body.status()));
    auto upload = StringField(*body, "upload", true);
    if (!upload.ok()) return respond(Error(upload.status()));
    auto visibility = VisibilityField(*body, "");
    if (!visibility.ok()) return respond(Error(visibility.status()));
    auto dir = UploadDir(ctx, u, *upload);
    if (!dir.ok()) return respond(Error(dir.status()));
    const std::string name = req.params.at("name");
    Status name_ok = store::ValidateName(name);
    if (!name_ok.ok()) return respond(Error(name_ok));
    const int64_t owner = u.id;
    RunBlocking(ctx, std::move(respond), [&ctx, owner, name, dir = *dir, visibility = *visibility] {
      LmRegistration reg;
      reg.dir = dir;
      reg.visibility = visibility;
      reg.move_files = true;
      reg.source_json = json{{"kind", "import"}}.dump();
      auto registered = RegisterLmVersion(ctx, owner, name, reg);
      std::error_code ec;
      fs::remove_all(dir, ec);  // consumed either way: a failed import is uploaded again
      if (!registered.ok()) return Error(registered.status().WithPrefix("import " + name));
      return JsonResponse(201, LmVersionJson(ctx, name, *registered));
    });
  }), {.summary = "Register an uploaded Hugging Face checkpoint directory as an LM version"});
}

}  // namespace sskai::api
