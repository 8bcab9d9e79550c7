// Inputs of the planner routes: field parsing, plans from a profile or an LM config, catalog
// refresh, the plan a job/endpoint records (plan_inputs.h).
#include "api/plan_inputs.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "common/log.h"
#include "cost/cost.h"
#include "ml/ml.h"

namespace sskai::api {

// "workload.params" style names for nested fields.
std::string FieldName(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// A finite number; absent or null -> nullopt. Errors name the field.
Result<std::optional<double>> NumberField(const json& obj, const std::string& prefix,
                                          const std::string& name, bool required) {
  std::string field = FieldName(prefix, name);
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    if (required) return Status::InvalidArgument("field '" + field + "' is required");
    return std::optional<double>();
  }
  if (!it->is_number()) {
    return Status::InvalidArgument("field '" + field + "': expected a number, got " + it->dump());
  }
  double v = it->get<double>();
  if (!std::isfinite(v)) return Status::InvalidArgument("field '" + field + "': must be finite");
  return std::optional<double>(v);
}

Result<double> Positive(const json& obj, const std::string& prefix, const std::string& name,
                        bool required, double def) {
  SSKAI_ASSIGN_OR_RETURN(std::optional<double> v, NumberField(obj, prefix, name, required));
  if (!v) return def;
  if (*v <= 0) {
    return Status::InvalidArgument("field '" + FieldName(prefix, name) + "': must be > 0, got " +
                                   json(*v).dump());
  }
  return *v;
}

Result<int> WholeNumber(const json& obj, const std::string& prefix, const std::string& name,
                        int def, int min, int max) {
  SSKAI_ASSIGN_OR_RETURN(std::optional<double> v, NumberField(obj, prefix, name, false));
  if (!v) return def;
  if (*v != std::floor(*v) || *v < min || *v > max) {
    return Status::InvalidArgument("field '" + FieldName(prefix, name) + "': expected an integer from " +
                                   std::to_string(min) + " to " + std::to_string(max) + ", got " +
                                   json(*v).dump());
  }
  return static_cast<int>(*v);
}

std::shared_ptr<const planner::Catalog> CurrentCatalog(const ApiContext& ctx) {
  return ctx.catalogs == nullptr ? nullptr : ctx.catalogs->Get();
}


// A plan request may name a profiled model instead of giving numbers: {"model": {"name", "version",
// "samples", "epochs"}} fills workload.params/tokens (train: one sample = one "token" of
// 6 x params training FLOPs, micro_batch = the profiled batch, fp32) or request_gflops and
// model_memory_gib (serve) from the stored profile. Explicit fields win.
Result<json> ExpandModelProfile(ApiContext& ctx, json body, int64_t owner_id) {
  auto it = body.find("model");
  if (it == body.end() || it->is_null()) return body;
  if (!it->is_object()) return Status::InvalidArgument("field 'model': expected {name, version?, samples?, epochs?}");
  json m = *it;
  SSKAI_ASSIGN_OR_RETURN(std::string name, StringField(m, "name", true));
  SSKAI_ASSIGN_OR_RETURN(int64_t version, IntField(m, "version", 0, 0, 1'000'000'000));
  auto model = ctx.store.GetVisibleModel(owner_id, name);
  if (!model.ok()) return Status::NotFound("field 'model.name': model '" + name + "' not found");
  auto mv = ctx.store.GetModelVersion(model->id, version);
  if (!mv.ok()) return Status::NotFound("field 'model.version': model '" + name + "' has no version " + std::to_string(version));
  auto stored = ctx.store.GetModelProfile(mv->id);
  if (!stored.ok()) {
    return Status::FailedPrecondition("field 'model': " + name + " v" + std::to_string(mv->version) +
                                      " has no profile yet; run `sskai models profile " + name + "` first");
  }
  json profile = ParseStoredJson(*stored);
  // This machine's measured throughput for this model calibrates CPU offerings: the GFLOP/s of a
  // training step at the training batch (serving: batch-1 inference), over the FP32 peak of all
  // of this machine's vCPUs — the planner scales it by each offering's vCPUs.
  const bool train = body.value("kind", "") == "train";
  const double peak_gflops_per_vcpu = planner::PerfOptions{}.cpu_peak_gflops_per_vcpu;
  double vcpus = std::max(1.0, profile.value("hardware_threads", 1.0));
  double want_batch = train ? profile.value("memory_bytes", json::object()).value("batch", 0.0) : 1.0;
  const double params_for_flops = profile.value("parameters", 0.0);
  double used_batch = -1, achieved = 0;
  for (const auto& m : profile.value("measurements", json::array())) {
    if (m.value("phase", "") != (train ? "train_step" : "inference")) continue;
    double batch = m.value("batch", 0.0);
    // The wanted batch if measured, else the closest one.
    if (used_batch < 0 || std::abs(batch - want_batch) < std::abs(used_batch - want_batch)) {
      used_batch = batch;
      // Training: in the planner's own FLOP count (6 x params per sample), so the calibrated
      // speed is the measured samples/s whatever the layer types (a CNN's convolutions cost far
      // more than 6 FLOPs per parameter). Serving: real forward FLOPs, as request_gflops is.
      achieved = train ? m.value("samples_per_second", 0.0) * 6 * params_for_flops / 1e9
                       : m.value("achieved_gflops", 0.0);
    }
  }
  if (achieved > 0 && !body.contains("calibration")) {
    double efficiency = std::clamp(achieved / (vcpus * peak_gflops_per_vcpu), 1e-5, 1.0);
    body["calibration"] = {{"cpu_efficiency", efficiency},
                           {"source", name + " v" + std::to_string(mv->version) + " profiled at batch " +
                                          std::to_string(static_cast<int64_t>(used_batch)) + " on this machine"}};
  }
  double params = profile.value("parameters", 0.0);
  double forward_flops = profile.value("flops", json::object()).value("forward_per_sample", 0.0);
  const json& memory = profile.value("memory_bytes", json::object());
  if (train) {
    SSKAI_ASSIGN_OR_RETURN(std::optional<double> samples, NumberField(m, "model", "samples", true));
    SSKAI_ASSIGN_OR_RETURN(std::optional<double> epochs, NumberField(m, "model", "epochs", false));
    if (*samples <= 0) return Status::InvalidArgument("field 'model.samples': must be > 0");
    if (epochs && *epochs <= 0) return Status::InvalidArgument("field 'model.epochs': must be > 0");
    json w = body.value("workload", json::object());
    if (!w.contains("params")) w["params"] = params;
    if (!w.contains("tokens")) w["tokens"] = *samples * epochs.value_or(1);
    if (!w.contains("seq_len")) w["seq_len"] = 1;
    if (!w.contains("micro_batch")) w["micro_batch"] = memory.value("batch", 64);
    if (!w.contains("precision")) w["precision"] = "fp32";
    body["workload"] = w;
  } else {
    if (!body.contains("request_gflops")) body["request_gflops"] = std::max(forward_flops / 1e9, 1e-9);
    if (!body.contains("model_memory_gib")) {
      body["model_memory_gib"] = std::max(memory.value("inference", 0.0) / (1024.0 * 1024 * 1024), 1e-6);
    }
  }
  body.erase("model");
  return body;
}

Result<LmRequest> ParseLmRequest(const json& lm, const std::string& prefix) {
  if (!lm.is_object()) return Status::InvalidArgument("field '" + prefix + "': expected an object");
  auto config_it = lm.find("config");
  if (config_it == lm.end() || !config_it->is_object()) {
    return Status::InvalidArgument("field '" + prefix + ".config': expected the model's config.json object");
  }
  auto config = ml::LmConfigFromJson(config_it->dump());
  if (!config.ok()) return config.status().WithPrefix("field '" + prefix + ".config'");
  LmRequest r;
  r.shape.vocab = static_cast<double>(config->vocab_size);
  r.shape.hidden = static_cast<double>(config->hidden_size);
  r.shape.intermediate = static_cast<double>(config->intermediate_size);
  r.shape.layers = static_cast<double>(config->num_hidden_layers);
  r.shape.heads = static_cast<double>(config->num_attention_heads);
  r.shape.kv_heads = static_cast<double>(config->num_key_value_heads > 0 ? config->num_key_value_heads
                                                                        : config->num_attention_heads);
  r.shape.head_dim = static_cast<double>(config->head_dim > 0 ? config->head_dim
                                                              : config->hidden_size / config->num_attention_heads);
  r.shape.tied_embeddings = config->tie_word_embeddings;
  r.shape.qkv_bias = config->attention_bias || config->model_type == "qwen2";
  r.shape.qk_norm = config->qk_norm;
  SSKAI_ASSIGN_OR_RETURN(r.seq_len, WholeNumber(lm, prefix, "seq_len", 2048, 1, 1 << 20));
  SSKAI_ASSIGN_OR_RETURN(r.micro_batch, WholeNumber(lm, prefix, "micro_batch", 1, 1, 1 << 16));
  SSKAI_ASSIGN_OR_RETURN(r.lora_rank, WholeNumber(lm, prefix, "lora_rank", 0, 0, 4096));
  SSKAI_ASSIGN_OR_RETURN(r.precision_name, StringField(lm, "precision", false, "bf16"));
  if (r.precision_name == "bf16") {
    r.precision = planner::Precision::kBf16;
  } else if (r.precision_name == "fp16") {
    r.precision = planner::Precision::kFp16;
  } else if (r.precision_name == "fp32") {
    r.precision = planner::Precision::kFp32;
  } else {
    return Status::InvalidArgument("field '" + prefix + ".precision': expected bf16, fp16 or fp32");
  }
  return r;
}

json LmProfileJson(const planner::LmProfile& p, const LmRequest& r) {
  return json{{"format", "sskai-lm-profile"},
              {"analytic", true},
              {"seq_len", r.seq_len},
              {"micro_batch", r.micro_batch},
              {"precision", r.precision_name},
              {"lora_rank", r.lora_rank},
              {"parameters", p.params},
              {"trainable_parameters", p.trainable_params},
              {"flops", {{"forward_per_token", p.flops_forward_per_token},
                         {"train_per_token", p.flops_train_per_token}}},
              {"memory_bytes", {{"weights", p.weights_bytes},
                                {"gradients", p.gradient_bytes},
                                {"optimizer", p.optimizer_bytes},
                                {"activations", p.activation_bytes},
                                {"kv_cache_per_token", p.kv_cache_bytes_per_token},
                                {"inference", p.inference_bytes},
                                {"training", p.training_bytes}}},
              {"checkpoint_bytes", p.checkpoint_bytes}};
}

// A plan request for an LM: {"lm": {config, tokens, seq_len, micro_batch, precision, lora_rank}}
// fills the workload from the config's shape.
Result<json> ExpandLm(json body) {
  auto it = body.find("lm");
  if (it == body.end() || it->is_null()) return body;
  SSKAI_ASSIGN_OR_RETURN(LmRequest r, ParseLmRequest(*it, "lm"));
  SSKAI_ASSIGN_OR_RETURN(planner::LmProfile p,
                         planner::ProfileLm(r.shape, r.seq_len, r.micro_batch, r.precision, r.lora_rank));
  json w = body.value("workload", json::object());
  w["params"] = p.params;
  if (r.lora_rank > 0) w["trainable_params"] = p.trainable_params;
  w["layers"] = static_cast<int64_t>(r.shape.layers);
  w["d_model"] = static_cast<int64_t>(r.shape.hidden);
  w["seq_len"] = r.seq_len;
  w["micro_batch"] = r.micro_batch;
  w["precision"] = r.precision_name;
  if (body.value("kind", "") == "train") {
    if (!(*it).contains("tokens")) return Status::InvalidArgument("field 'lm.tokens' is required for a train plan");
    w["tokens"] = (*it)["tokens"];
    body["workload"] = w;
  } else {
    if (!body.contains("request_gflops")) {
      // One request = seq_len tokens of forward.
      body["request_gflops"] = p.flops_forward_per_token * r.seq_len / 1e9;
    }
    if (!body.contains("model_memory_gib")) body["model_memory_gib"] = p.inference_bytes / (1024.0 * 1024 * 1024);
    if (!body.contains("needs_gpu")) body["needs_gpu"] = p.params > 1e9;
  }
  body.erase("lm");
  return body;
}

// Applies every file of {files:[{name, text}]} in order to the current catalog; swaps the result
// in only when all apply, then keeps the files so a restart applies them again.
Result<json> RefreshCatalog(ApiContext& ctx, const json& body) {
  auto current = CurrentCatalog(ctx);
  if (current == nullptr) {
    return Status::Unavailable("the planner catalog is not loaded: " + ctx.catalog_error);
  }
  if (!body.contains("files") || !body["files"].is_array() || body["files"].empty()) {
    return Status::InvalidArgument("field 'files': expected a non-empty array of {name, text}");
  }
  static std::mutex refresh_mu;  // one refresh at a time: each builds on the one before
  std::lock_guard<std::mutex> lock(refresh_mu);
  planner::Catalog next = *CurrentCatalog(ctx);
  std::vector<std::pair<std::string, std::string>> files;
  for (size_t i = 0; i < body["files"].size(); ++i) {
    const json& f = body["files"][i];
    std::string where = "field 'files[" + std::to_string(i) + "]'";
    if (!f.is_object() || !f.contains("text") || !f["text"].is_string()) {
      return Status::InvalidArgument(where + ": expected {name, text} with the file's text");
    }
    std::string base = "prices-" + std::to_string(i) + ".csv";
    if (f.contains("name")) {
      if (!f["name"].is_string()) return Status::InvalidArgument(where + ".name: expected a string");
      std::string name = std::filesystem::path(f["name"].get<std::string>()).filename().string();
      if (store::ValidateName(name).ok()) base = name;  // only a safe file name is kept on disk
    }
    auto applied = planner::ApplyPriceText(next, f["text"].get<std::string>(), base);
    if (!applied.ok()) return applied.status();
    next = std::move(applied).value();
    files.emplace_back(base, f["text"].get<std::string>());
  }
  if (!ctx.catalog_prices_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(ctx.catalog_prices_dir, ec);
    for (const auto& [name, text] : files) {
      // Sortable by arrival so a restart applies them in the same order.
      char stamp[32];
      std::snprintf(stamp, sizeof stamp, "%017.6f-", ctx.clock.NowSeconds());
      auto path = std::filesystem::path(ctx.catalog_prices_dir) / (stamp + name);
      std::ofstream out(path.string() + ".tmp", std::ios::binary);
      out << text;
      out.close();
      if (!out) return Status::Internal("cannot keep price file " + path.string());
      std::filesystem::rename(path.string() + ".tmp", path, ec);
      if (ec) return Status::Internal("cannot keep price file " + path.string() + ": " + ec.message());
    }
  }
  ctx.catalogs->Set(std::make_shared<const planner::Catalog>(next));
  // The ledger prices usage at the new rates from now on.
  Status recorded = cost::RecordCatalogPrices(ctx.store, next, ctx.clock.NowSeconds());
  if (!recorded.ok()) SSKAI_LOG_WARN("cost: recording refreshed prices: {}", recorded.message());
  return json{{"catalog_date", next.catalog_date},
              {"prices_date", next.prices_date},
              {"files_applied", files.size()},
              {"offerings", next.offerings.size()}};
}

Result<json> PlanReference(ApiContext& ctx, const json& body, int64_t owner_id, const std::string& kind) {
  if (!body.contains("plan_id") || body["plan_id"].is_null()) return json(nullptr);
  if (!body["plan_id"].is_number_integer() || body["plan_id"].get<int64_t>() < 1) {
    return Status::InvalidArgument("field 'plan_id': expected the id of a plan from POST /v1/plans");
  }
  int64_t id = body["plan_id"].get<int64_t>();
  auto plan = ctx.store.GetPlan(owner_id, id);
  if (!plan.ok()) return Status::NotFound("field 'plan_id': plan " + std::to_string(id) + " not found");
  if (plan->kind != kind) {
    return Status::InvalidArgument("field 'plan_id': plan " + std::to_string(id) + " is a '" + plan->kind +
                                   "' plan; expected a '" + kind + "' plan");
  }
  json result = ParseStoredJson(plan->result_json);
  json best = result.value("best", json::object());
  return json{{"plan_id", id},
              {"catalog", plan->catalog_date},
              {"choice", best},
              {"reason", result.value("reason", "")}};
}

}  // namespace sskai::api
