// POST /v1/models/{name}/versions: upload a TorchScript model with its spec, validated by running
// it in a child process (the server never maps libtorch) before anything is registered.
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "api/internal.h"
#include "artifacts/artifacts.h"
#include "ml/ml.h"

namespace sskai::api {
namespace {

// The file the validator writes; removed on every path that does not adopt it.
class TempOutput {
 public:
  explicit TempOutput(const std::string& dir) {
    static std::atomic<uint64_t> counter{0};
    path_ = dir + "/torchscript-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".pt";
  }
  ~TempOutput() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

http::Response Upload(ApiContext& ctx, http::Request& req, const store::User& u) {
  const std::string& name = req.params.at("name");
  Status valid = store::ValidateName(name);
  if (!valid.ok()) return Error(valid.WithPrefix("model name"));
  std::string spec_text = req.Query("spec");
  if (spec_text.empty()) {
    return Error(Status::InvalidArgument(
        "query parameter 'spec' is required: the input spec as JSON, e.g. "
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[-1,4],\"dtype\":\"float32\"}],\"task\":\"tensor\"}"));
  }
  auto spec = ml::TorchScriptSpecFromJson(spec_text);
  if (!spec.ok()) return Error(spec.status());
  if (req.body_file.empty() || req.body_size == 0) {
    return Error(Status::InvalidArgument("the upload is empty; send the TorchScript file as the request body"));
  }
  if (!ctx.validate_torchscript) {
    return Error(Status::Unavailable("TorchScript uploads are not available on this server"));
  }
  TempOutput out(ctx.blobs.temp_dir());
  auto report_text = ctx.validate_torchscript(req.body_file, ml::TorchScriptSpecToJson(*spec), out.path());
  std::string filename = req.Query("filename");
  if (!report_text.ok()) {
    return Error(report_text.status().WithPrefix(filename.empty() ? "model" : "'" + filename + "'"));
  }
  json report = json::parse(*report_text, nullptr, /*allow_exceptions=*/false);
  if (report.is_discarded() || !report.is_object()) {
    return Error(Status::Internal("the validator printed no JSON report"));
  }
  auto sha = ctx.blobs.Adopt(out.path(), "");
  if (!sha.ok()) return Error(sha.status());
  auto size = ctx.blobs.Size(*sha);
  store::ModelVersion mv;
  mv.kind = "torchscript";
  mv.task = spec->task;
  mv.blob_sha256 = *sha;
  mv.size_bytes = size.ok() ? static_cast<int64_t>(*size) : 0;
  json meta = report;
  meta["format"] = "torchscript";
  meta["input"] = {{"kind", "torchscript"}};
  if (!spec->classes.empty()) meta["classes"] = spec->classes;
  if (!filename.empty()) meta["original_filename"] = filename;
  meta["uploaded_bytes"] = req.body_size;
  mv.spec_json = meta.dump();
  mv.metrics_json = "{}";
  mv.created_at = ctx.clock.NowSeconds();
  auto added = ctx.store.AddModelVersion(u.id, name, mv);
  if (!added.ok()) return Error(added.status());  // the blob stays unreferenced: GC removes it
  auto model = ctx.store.GetModel(u.id, name);
  AddEvent(ctx, u.id, "model", model.ok() ? model->id : 0, "uploaded",
           "model '" + name + "' v" + std::to_string(added->version) + " uploaded (TorchScript, " + spec->task + ")");
  return JsonResponse(201, ModelVersionJson(ctx, *added, name));
}

}  // namespace

void AddModelUploadRoutes(ApiContext& ctx, http::Router& router) {
  router.Add("POST", "/v1/models/{name}/versions",
             AuthedAsyncHandler(ctx, [&ctx](http::Request& req, const store::User& u, http::Responder respond) {
               auto request = std::make_shared<http::Request>(req);  // outlives the handler call
               RunBlocking(ctx, std::move(respond), [&ctx, request, u] { return Upload(ctx, *request, u); });
             }),
             {.stream_body = true,
              .max_body_bytes = ctx.max_model_upload_bytes,
              .summary = "Upload a TorchScript model version (body = the torch.jit.save file; ?spec=<input spec "
                         "JSON>&filename=name); validated by running it"});
}

}  // namespace sskai::api
