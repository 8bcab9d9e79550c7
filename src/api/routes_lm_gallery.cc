// GET /v1/gallery: the LM families sskai supports (data/gallery/lm_gallery.json, compiled in),
// with parameters and memory derived from each config by planner::ProfileLm, the pull command,
// and whether the caller already has it.
#include "api/internal.h"
#include "api/lm_internal.h"
#include "ml/ml.h"
#include "planner/planner.h"

namespace sskai::api {

std::string_view LmGalleryJson();  // gallery_data.cc (generated)

namespace {

// Context length the memory columns assume (the full context of 128k-token models would make
// the KV cache dominate; chat and fine-tuning usually run far below it).
constexpr int kGallerySeqLen = 2048;
constexpr int kGalleryLoraRank = 16;

}  // namespace

Result<json> GalleryEntryJson(const json& item) {
  const json& cfg = item.value("config", json::object());
  auto config = ml::LmConfigFromJson(cfg.dump());
  if (!config.ok()) return config.status().WithPrefix("gallery entry " + item.value("name", "?"));
  planner::LmShape shape;
  shape.vocab = static_cast<double>(config->vocab_size);
  shape.hidden = static_cast<double>(config->hidden_size);
  shape.intermediate = static_cast<double>(config->intermediate_size);
  shape.layers = static_cast<double>(config->num_hidden_layers);
  shape.heads = static_cast<double>(config->num_attention_heads);
  shape.kv_heads = static_cast<double>(config->num_key_value_heads);
  shape.head_dim = static_cast<double>(config->head_dim);
  shape.tied_embeddings = config->tie_word_embeddings;
  shape.qkv_bias = config->attention_bias || config->model_type == "qwen2";
  shape.qk_norm = config->qk_norm || config->model_type == "qwen3";
  const int seq = static_cast<int>(std::min<int64_t>(kGallerySeqLen, config->max_position_embeddings));
  SSKAI_ASSIGN_OR_RETURN(planner::LmProfile infer, planner::ProfileLm(shape, seq, 1, planner::Precision::kBf16, 0));
  SSKAI_ASSIGN_OR_RETURN(planner::LmProfile lora,
                         planner::ProfileLm(shape, seq, 1, planner::Precision::kBf16, kGalleryLoraRank));
  SSKAI_ASSIGN_OR_RETURN(planner::LmProfile full, planner::ProfileLm(shape, seq, 1, planner::Precision::kBf16, 0));
  json out = item;
  out.erase("config");
  out["model_type"] = config->model_type;
  out["parameters"] = infer.params;
  out["context"] = config->max_position_embeddings;
  out["memory"] = {{"assumes", "bf16, sequence " + std::to_string(seq) + ", batch 1, LoRA rank " +
                                   std::to_string(kGalleryLoraRank) + " on all linear layers"},
                   {"weights_bytes", infer.weights_bytes},
                   {"inference_bytes", infer.inference_bytes},
                   {"lora_bytes", lora.training_bytes},
                   {"lora_trainable_params", lora.trainable_params},
                   {"full_finetune_bytes", full.training_bytes}};
  const std::string repo = item.value("repo", json()).is_string() ? item["repo"].get<std::string>() : "";
  if (!out.contains("pull_command")) {
    out["pull_command"] = "sskai models pull " + repo + " --name " + item.value("name", "");
  }
  if (!repo.empty()) {
    out["pull"] = {{"repo", repo}, {"revision", "main"}};
  }
  return out;
}

void AddLmGalleryRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("GET", "/v1/gallery", Authed(ctx, [&ctx](http::Request&, const store::User& u) {
    json doc = json::parse(LmGalleryJson(), nullptr, false);
    if (doc.is_discarded() || !doc.contains("models")) return Error(Status::Internal("gallery data is not JSON"));
    // What the caller already has: LM versions by source repo and by model name.
    std::map<std::string, std::string> by_repo;
    std::set<std::string> names;
    auto models = ctx.store.ListModels(u.id, store::Page{.limit = 1000});
    if (models.ok()) {
      for (const auto& m : models->items) {
        auto latest = ctx.store.GetModelVersion(m.id, 0);
        if (!latest.ok() || latest->task != "lm") continue;
        names.insert(m.name);
        json manifest = ParseStoredJson(latest->spec_json);
        if (manifest.contains("source") && manifest["source"].is_object()) {
          std::string repo = manifest["source"].value("repo", "");
          if (!repo.empty()) by_repo[repo] = m.name;
        }
      }
    }
    json items = json::array();
    for (const auto& item : doc["models"]) {
      auto entry = GalleryEntryJson(item);
      if (!entry.ok()) return Error(Status::Internal(entry.status().message()));
      const std::string repo = item.value("repo", json()).is_string() ? item["repo"].get<std::string>() : "";
      const std::string name = item.value("name", "");
      std::string have = by_repo.count(repo) ? by_repo[repo] : (names.count(name) ? name : "");
      (*entry)["pulled"] = !have.empty();
      (*entry)["model"] = have.empty() ? json(nullptr) : json(have);
      items.push_back(*entry);
    }
    return JsonResponse(200, {{"items", items}});
  }), {.summary = "Foundation LMs sskai supports: size, memory need, license, pull command, pulled?"});
}

}  // namespace sskai::api
