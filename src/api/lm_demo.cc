// The offline demo model: a model directory built by `sskai lm pretrain-demo` (make demo-model)
// registered at server start as the foundation model "sskai-demo" (owned by the admin user,
// public: every user may fine-tune and deploy it).
#include <filesystem>
#include <fstream>
#include <iterator>

#include "api/api.h"
#include "api/internal.h"
#include "artifacts/artifacts.h"
#include "common/sha256.h"

namespace sskai::api {

namespace fs = std::filesystem;

Result<int64_t> RegisterDemoModel(ApiContext& ctx, const std::string& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(dir) / "config.json", ec)) return int64_t{0};
  SSKAI_ASSIGN_OR_RETURN(store::User admin, ctx.store.GetUserByName("admin"));
  // Idempotent: the same weights are registered once; a rebuilt model becomes a new version.
  SSKAI_ASSIGN_OR_RETURN(std::string weights_sha, Sha256File((fs::path(dir) / "model.safetensors").string()));
  if (auto model = ctx.store.GetModel(admin.id, "sskai-demo"); model.ok()) {
    auto latest = ctx.store.GetModelVersion(model->id, 0);
    if (latest.ok()) {
      json spec = ParseStoredJson(latest->spec_json);
      if (spec.is_object() && spec.value("source", json::object()).value("revision", "") == weights_sha) {
        if (model->visibility != "public") SSKAI_RETURN_IF_ERROR(ctx.store.SetModelVisibility(model->id, "public"));
        return latest->version;
      }
    }
  }
  json training = json::object();
  if (std::ifstream in(fs::path(dir) / "sskai_training.json"); in) {
    training = ParseStoredJson(std::string(std::istreambuf_iterator<char>(in), {}));
  }
  LmRegistration reg;
  reg.dir = dir;
  reg.kind = "foundation";
  reg.source_json = json{{"kind", "demo"}, {"repo", "sskai lm pretrain-demo"}, {"revision", weights_sha}}.dump();
  reg.metrics_json = training.value("metrics", json::object()).dump();
  reg.visibility = "public";
  SSKAI_ASSIGN_OR_RETURN(LmRegistered added, RegisterLmVersion(ctx, admin.id, "sskai-demo", reg));
  return added.version;
}

}  // namespace sskai::api
