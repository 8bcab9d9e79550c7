// The offline demo model: a model directory built by `sskai lm pretrain-demo` (make demo-model)
// registered at server start as the foundation model "sskai-demo" (owned by the admin user).
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "api/api.h"
#include "api/internal.h"
#include "artifacts/artifacts.h"
#include "ml/ml.h"

namespace sskai::api {

namespace fs = std::filesystem;

Result<int64_t> RegisterDemoModel(ApiContext& ctx, const std::string& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(dir) / "config.json", ec)) return int64_t{0};
  SSKAI_ASSIGN_OR_RETURN(store::User admin, ctx.store.GetUserByName("admin"));
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  json files = json::object(), sizes = json::object(), training = json::object();
  int64_t total = 0;
  std::string config_text;
  for (const auto& name : names) {
    std::ifstream in(fs::path(dir) / name, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return Status::Internal("cannot read " + dir + "/" + name);
    if (name == "config.json") config_text = data;
    if (name == "sskai_training.json") training = ParseStoredJson(data);
    SSKAI_ASSIGN_OR_RETURN(std::string sha, ctx.blobs.PutString(data));
    files[name] = sha;
    sizes[name] = data.size();
    total += static_cast<int64_t>(data.size());
  }
  SSKAI_ASSIGN_OR_RETURN(ml::LmConfig c, ml::LmConfigFromJson(config_text));
  json manifest = {
      {"type", "lm"}, {"files", files}, {"sizes", sizes},
      {"config", {{"model_type", c.model_type}, {"hidden_size", c.hidden_size},
                  {"num_hidden_layers", c.num_hidden_layers}, {"num_attention_heads", c.num_attention_heads},
                  {"num_key_value_heads", c.num_key_value_heads}, {"vocab_size", c.vocab_size},
                  {"max_position_embeddings", c.max_position_embeddings}, {"intermediate_size", c.intermediate_size}}},
      {"parameters", c.NumParameters()},
      {"tokenizer", files.contains("tokenizer.json") ? "tokenizer.json" : "tokenizer.model"},
      {"chat_template", "chatml"}, {"adapter", false},
      {"source", {{"kind", "demo"}, {"repo", "sskai lm pretrain-demo"}, {"revision", files["model.safetensors"]}}}};
  SSKAI_ASSIGN_OR_RETURN(std::string manifest_sha, ctx.blobs.PutString(manifest.dump()));
  // Idempotent: the same build is registered once; a rebuilt model becomes a new version.
  if (auto model = ctx.store.GetModel(admin.id, "sskai-demo"); model.ok()) {
    auto latest = ctx.store.GetModelVersion(model->id, 0);
    if (latest.ok() && latest->blob_sha256 == manifest_sha) return latest->version;
  }
  store::ModelVersion mv;
  mv.kind = "foundation";
  mv.task = "text-generation";
  mv.blob_sha256 = manifest_sha;
  mv.spec_json = manifest.dump();
  mv.metrics_json = training.value("metrics", json::object()).dump();
  mv.size_bytes = total;
  mv.created_at = ctx.clock.NowSeconds();
  SSKAI_ASSIGN_OR_RETURN(store::ModelVersion added, ctx.store.AddModelVersion(admin.id, "sskai-demo", mv));
  return added.version;
}

}  // namespace sskai::api
