// Cost planning: POST /v1/plans (train or serve) and GET /v1/catalog, over the planner module.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>

#include "api/internal.h"
#include "common/log.h"
#include "cost/cost.h"
#include "ml/ml.h"
#include "planner/planner.h"

namespace sskai::api {

namespace {

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

Result<bool> BoolField(const json& obj, const std::string& name, bool def) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return def;
  if (!it->is_boolean()) {
    return Status::InvalidArgument("field '" + name + "': expected true or false, got " + it->dump());
  }
  return it->get<bool>();
}

Result<std::vector<std::string>> StringList(const json& obj, const std::string& name) {
  std::vector<std::string> out;
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) return Status::InvalidArgument("field '" + name + "': expected an array of strings");
  for (const auto& v : *it) {
    if (!v.is_string() || v.get<std::string>().empty()) {
      return Status::InvalidArgument("field '" + name + "': expected non-empty strings, got " + v.dump());
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<json> SubObject(const json& body, const std::string& name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return Status::InvalidArgument("field '" + name + "' is required");
  if (!it->is_object()) return Status::InvalidArgument("field '" + name + "': expected an object");
  return *it;
}

Result<planner::TrainRequest> ParseTrain(const json& body) {
  planner::TrainRequest r;
  SSKAI_ASSIGN_OR_RETURN(json w, SubObject(body, "workload"));
  SSKAI_ASSIGN_OR_RETURN(r.workload.params, Positive(w, "workload", "params", true, 0));
  SSKAI_ASSIGN_OR_RETURN(r.workload.tokens, Positive(w, "workload", "tokens", true, 0));
  SSKAI_ASSIGN_OR_RETURN(r.workload.layers, WholeNumber(w, "workload", "layers", 0, 0, 100000));
  SSKAI_ASSIGN_OR_RETURN(r.workload.d_model, WholeNumber(w, "workload", "d_model", 0, 0, 1 << 20));
  SSKAI_ASSIGN_OR_RETURN(r.workload.seq_len, WholeNumber(w, "workload", "seq_len", 1024, 1, 1 << 24));
  SSKAI_ASSIGN_OR_RETURN(r.workload.micro_batch, WholeNumber(w, "workload", "micro_batch", 8, 1, 1 << 16));
  SSKAI_ASSIGN_OR_RETURN(std::optional<double> trainable,
                         NumberField(w, "workload", "trainable_params", false));
  if (trainable) {
    if (*trainable < 0 || *trainable > r.workload.params) {
      return Status::InvalidArgument("field 'workload.trainable_params': must be between 0 and params");
    }
    r.workload.trainable_params = *trainable;
  }
  SSKAI_ASSIGN_OR_RETURN(std::string precision, StringField(w, "precision", false, "bf16"));
  if (precision == "bf16") {
    r.workload.precision = planner::Precision::kBf16;
  } else if (precision == "fp16") {
    r.workload.precision = planner::Precision::kFp16;
  } else if (precision == "fp32") {
    r.workload.precision = planner::Precision::kFp32;
  } else {
    return Status::InvalidArgument("field 'workload.precision': expected 'bf16', 'fp16' or 'fp32', got '" +
                                   precision + "'");
  }
  SSKAI_ASSIGN_OR_RETURN(double hours, Positive(body, "", "deadline_hours", true, 0));
  r.deadline_seconds = hours * 3600;
  SSKAI_ASSIGN_OR_RETURN(std::optional<double> prob, NumberField(body, "", "deadline_probability", false));
  if (prob) {
    if (*prob <= 0 || *prob >= 1) {
      return Status::InvalidArgument("field 'deadline_probability': must be between 0 and 1 (exclusive)");
    }
    r.deadline_probability = *prob;
  }
  SSKAI_ASSIGN_OR_RETURN(std::optional<double> budget, NumberField(body, "", "budget_usd", false));
  if (budget) {
    if (*budget <= 0) return Status::InvalidArgument("field 'budget_usd': must be > 0");
    r.budget_usd = budget;
  }
  SSKAI_ASSIGN_OR_RETURN(std::optional<double> rate, NumberField(body, "", "max_usd_per_hour", false));
  if (rate) {
    if (*rate <= 0) return Status::InvalidArgument("field 'max_usd_per_hour': must be > 0");
    r.max_usd_per_hour = rate;
  }
  SSKAI_ASSIGN_OR_RETURN(r.regions, StringList(body, "regions"));
  SSKAI_ASSIGN_OR_RETURN(r.instance_types, StringList(body, "instance_types"));
  SSKAI_ASSIGN_OR_RETURN(r.allow_spot, BoolField(body, "allow_spot", true));
  SSKAI_ASSIGN_OR_RETURN(r.max_nodes, WholeNumber(body, "", "max_nodes", 8, 1, 64));
  return r;
}

Result<planner::ServeRequest> ParseServe(const json& body) {
  planner::ServeRequest r;
  SSKAI_ASSIGN_OR_RETURN(json t, SubObject(body, "traffic"));
  SSKAI_ASSIGN_OR_RETURN(r.traffic.mean_rps, Positive(t, "traffic", "mean_rps", true, 0));
  SSKAI_ASSIGN_OR_RETURN(r.traffic.peak_rps, Positive(t, "traffic", "peak_rps", false, r.traffic.mean_rps));
  if (r.traffic.peak_rps < r.traffic.mean_rps) {
    return Status::InvalidArgument("field 'traffic.peak_rps': must be >= traffic.mean_rps");
  }
  SSKAI_ASSIGN_OR_RETURN(r.traffic.active_hours_per_day,
                         Positive(t, "traffic", "active_hours_per_day", false, 24));
  if (r.traffic.active_hours_per_day > 24) {
    return Status::InvalidArgument("field 'traffic.active_hours_per_day': must be at most 24");
  }
  SSKAI_ASSIGN_OR_RETURN(double latency_ms, Positive(body, "", "latency_objective_ms", false, 1000));
  r.latency_objective_seconds = latency_ms / 1000;
  SSKAI_ASSIGN_OR_RETURN(r.request_gflops, Positive(body, "", "request_gflops", true, 0));
  SSKAI_ASSIGN_OR_RETURN(r.model_memory_gib, Positive(body, "", "model_memory_gib", true, 0));
  SSKAI_ASSIGN_OR_RETURN(r.needs_gpu, BoolField(body, "needs_gpu", false));
  SSKAI_ASSIGN_OR_RETURN(r.regions, StringList(body, "regions"));
  SSKAI_ASSIGN_OR_RETURN(r.instance_types, StringList(body, "instance_types"));
  SSKAI_ASSIGN_OR_RETURN(r.allow_spot, BoolField(body, "allow_spot", true));
  return r;
}

json CandidateJson(const planner::TrainCandidate& c) {
  return json{{"instance_type", c.instance_type},
              {"region", c.region},
              {"zone", c.zone},
              {"accelerator", c.accelerator},
              {"market", std::string(planner::ToString(c.market))},
              {"nodes", c.nodes},
              {"gpus", c.gpus},
              {"cluster_usd_per_hour", c.cluster_usd_per_hour},
              {"hazard_per_hour", c.hazard_per_hour},
              {"checkpoint_interval_seconds", c.checkpoint_interval_seconds},
              {"checkpoint_on_notice", c.checkpoint_on_notice},
              {"work_hours", c.work_seconds / 3600},
              {"expected_hours", c.expected_seconds / 3600},
              {"quantile_hours", c.quantile_seconds / 3600},
              {"expected_cost_usd", c.expected_cost_usd},
              {"quantile_cost_usd", c.quantile_cost_usd},
              {"expected_interruptions", c.expected_interruptions},
              {"meets_deadline", c.meets_deadline},
              {"note", c.note}};
}

json TrainPlanJson(const planner::TrainPlan& p) {
  json ranked = json::array();
  for (const auto& c : p.ranked) ranked.push_back(CandidateJson(c));
  json rejected = json::array();
  for (const auto& r : p.rejected) rejected.push_back(json{{"name", r.name}, {"reason", r.reason}});
  return json{{"kind", "train"},
              {"best", CandidateJson(p.best)},
              {"ranked", ranked},
              {"rejected", rejected},
              {"best_ondemand", p.best_ondemand ? CandidateJson(*p.best_ondemand) : json(nullptr)},
              {"fallback", p.fallback ? CandidateJson(*p.fallback) : json(nullptr)},
              {"savings_vs_ondemand", p.savings_vs_ondemand},
              {"reason", p.reason},
              {"catalog_date", p.catalog_date},
              {"prices_date", p.prices_date},
              {"candidates_evaluated", p.candidates_evaluated},
              {"table", planner::FormatTrainPlan(p)}};
}

json ServeOptionJson(const planner::ServeOption& o) {
  return json{{"kind", std::string(planner::ToString(o.kind))},
              {"feasible", o.feasible},
              {"instance_type", o.instance_type},
              {"region", o.region},
              {"replicas", o.replicas},
              {"usd_per_month", o.usd_per_month},
              {"usd_per_1k_requests", o.usd_per_1k_requests},
              {"service_seconds", o.service_seconds},
              {"p95_latency_seconds", o.p95_latency_seconds},
              {"cold_start_seconds", o.cold_start_seconds},
              {"cold_fraction", o.cold_fraction},
              {"reason", o.reason}};
}

json ServePlanJson(const planner::ServePlan& p, const planner::Catalog& catalog) {
  json options = json::array();
  json rejected = json::array();
  for (const auto& o : p.options) {
    options.push_back(ServeOptionJson(o));
    if (!o.feasible) {
      rejected.push_back(json{{"name", std::string(planner::ToString(o.kind))}, {"reason", o.reason}});
    }
  }
  return json{{"kind", "serve"},
              {"best", ServeOptionJson(p.best)},
              {"ranked", options},
              {"rejected", rejected},
              {"requests_per_month", p.requests_per_month},
              {"break_even_mean_rps", p.break_even_mean_rps ? json(*p.break_even_mean_rps) : json(nullptr)},
              {"reason", p.reason},
              {"catalog_date", catalog.catalog_date},
              {"prices_date", catalog.prices_date},
              {"table", planner::FormatServePlan(p)}};
}

// Optional {"calibration": {"cpu_efficiency": x}}: the achieved fraction of a vCPU's FP32 peak
// for this workload (from a measured profile), replacing the default for CPU offerings.
Result<std::optional<double>> CpuCalibration(const json& body) {
  auto it = body.find("calibration");
  if (it == body.end() || it->is_null()) return std::optional<double>();
  if (!it->is_object()) return Status::InvalidArgument("field 'calibration': expected an object");
  SSKAI_ASSIGN_OR_RETURN(std::optional<double> eff, NumberField(*it, "calibration", "cpu_efficiency", true));
  if (!(*eff > 0 && *eff <= 1)) {
    return Status::InvalidArgument("field 'calibration.cpu_efficiency': must be in (0, 1]");
  }
  return eff;
}

http::Response Plan(const planner::Catalog& catalog, const json& body) {
  auto kind = StringField(body, "kind", true);
  if (!kind.ok()) return Error(kind.status());
  auto calibration = CpuCalibration(body);
  if (!calibration.ok()) return Error(calibration.status());
  if (*kind == "train") {
    auto request = ParseTrain(body);
    if (!request.ok()) return Error(request.status());
    planner::PlanOptions options;
    if (*calibration) options.perf.cpu_efficiency = **calibration;
    auto plan = planner::PlanTraining(*request, catalog, options);
    if (!plan.ok()) return Error(plan.status());
    json out = TrainPlanJson(*plan);
    out["cpu_efficiency"] = options.perf.cpu_efficiency;
    return JsonResponse(200, out);
  }
  if (*kind == "serve") {
    auto request = ParseServe(body);
    if (!request.ok()) return Error(request.status());
    planner::ServeOptions options;
    if (*calibration) options.perf.cpu_efficiency = **calibration;
    auto plan = planner::PlanServing(*request, catalog, options);
    if (!plan.ok()) return Error(plan.status());
    json out = ServePlanJson(*plan, catalog);
    out["cpu_efficiency"] = options.perf.cpu_efficiency;
    return JsonResponse(200, out);
  }
  return Error(Status::InvalidArgument("field 'kind': expected 'train' or 'serve', got '" + *kind + "'"));
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
  auto model = ctx.store.GetModel(owner_id, name);
  if (!model.ok()) return Status::NotFound("field 'model.name': model '" + name + "' not found");
  auto mv = ctx.store.GetModelVersion(model->id, version);
  if (!mv.ok()) return Status::NotFound("field 'model.version': model '" + name + "' has no version " + std::to_string(version));
  auto stored = ctx.store.GetModelProfile(mv->id);
  if (!stored.ok()) {
    return Status::FailedPrecondition("field 'model': " + name + " v" + std::to_string(mv->version) +
                                      " has no profile yet; run `sskai models profile " + name + "` first");
  }
  json profile = ParseStoredJson(*stored);
  // This machine's measured throughput for this model calibrates CPU offerings: the achieved
  // GFLOP/s of a training step at the training batch (serving: batch-1 inference), over the FP32
  // peak of all of this machine's vCPUs — the planner scales it by each offering's vCPUs.
  const bool train = body.value("kind", "") == "train";
  const double peak_gflops_per_vcpu = planner::PerfOptions{}.cpu_peak_gflops_per_vcpu;
  double vcpus = std::max(1.0, profile.value("hardware_threads", 1.0));
  double want_batch = train ? profile.value("memory_bytes", json::object()).value("batch", 0.0) : 1.0;
  double used_batch = -1, achieved = 0;
  for (const auto& m : profile.value("measurements", json::array())) {
    if (m.value("phase", "") != (train ? "train_step" : "inference")) continue;
    double batch = m.value("batch", 0.0);
    // The wanted batch if measured, else the closest one.
    if (used_batch < 0 || std::abs(batch - want_batch) < std::abs(used_batch - want_batch)) {
      used_batch = batch;
      achieved = m.value("achieved_gflops", 0.0);
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

// {"config": <config.json object>, "seq_len", "micro_batch", "precision", "lora_rank"} -> the
// analytic LM profile. Errors name the field (config errors name the config.json field).
struct LmRequest {
  planner::LmShape shape;
  int seq_len = 2048, micro_batch = 1, lora_rank = 0;
  planner::Precision precision = planner::Precision::kBf16;
  std::string precision_name = "bf16";
};

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

}  // namespace

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

void AddPlanRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("POST", "/v1/plans", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto catalog = CurrentCatalog(ctx);
    if (catalog == nullptr) {
      return Error(Status::Unavailable("the planner catalog is not loaded: " + ctx.catalog_error));
    }
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto with_lm = ExpandLm(*body);
    if (!with_lm.ok()) return Error(with_lm.status());
    auto expanded = ExpandModelProfile(ctx, *with_lm, u.id);
    if (!expanded.ok()) return Error(expanded.status());
    http::Response resp = Plan(*catalog, *expanded);
    if (resp.status != 200) return resp;
    // Keep the plan so a job or endpoint can say which plan it was created from (plan_id).
    json result = json::parse(resp.body);
    store::StoredPlan plan;
    plan.owner_id = u.id;
    plan.kind = result.value("kind", "");
    plan.request_json = expanded->dump();
    plan.result_json = resp.body;
    plan.catalog_date = catalog->catalog_date + " (prices " + catalog->prices_date + ")";
    plan.created_at = ctx.clock.NowSeconds();
    auto stored = ctx.store.CreatePlan(plan);
    if (!stored.ok()) return Error(stored.status());
    result["id"] = stored->id;
    return JsonResponse(200, result);
  }), {.summary = "Plan the cheapest way to train {kind:train, workload, deadline_hours, ...} or serve "
                  "{kind:serve, traffic, request_gflops, model_memory_gib, ...}; the plan is kept (id)"});

  router.AddSync("POST", "/v1/profiles/lm", Authed(ctx, [](http::Request& req, const store::User&) {
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto r = ParseLmRequest(*body, "");
    if (!r.ok()) return Error(r.status());
    auto p = planner::ProfileLm(r->shape, r->seq_len, r->micro_batch, r->precision, r->lora_rank);
    if (!p.ok()) return Error(p.status());
    return JsonResponse(200, LmProfileJson(*p, *r));
  }), {.summary = "Analytic profile of a Llama-family LM from its config.json {config, seq_len?, "
                  "micro_batch?, precision?, lora_rank?}: parameters, FLOPs/token, memory"});

  router.AddSync("GET", "/v1/plans", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    page->descending = true;
    auto list = ctx.store.ListPlans(u.id, *page);
    if (!list.ok()) return Error(list.status());
    return JsonResponse(200, ListJson(list->items, list->next_after_id, [](const store::StoredPlan& p) {
      json result = ParseStoredJson(p.result_json);
      return json{{"id", p.id}, {"kind", p.kind}, {"created_at", p.created_at},
                  {"catalog", p.catalog_date}, {"reason", result.value("reason", "")}};
    }));
  }), {.summary = "My plans, newest first"});

  router.AddSync("GET", "/v1/plans/{id}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto id = IdParam(req, "id");
    if (!id.ok()) return Error(id.status());
    auto plan = ctx.store.GetPlan(u.id, *id);
    if (!plan.ok()) return Error(plan.status());
    json result = ParseStoredJson(plan->result_json);
    result["id"] = plan->id;
    result["request"] = ParseStoredJson(plan->request_json);
    result["created_at"] = plan->created_at;
    return JsonResponse(200, result);
  }), {.summary = "One stored plan with its request"});

  router.AddSync("POST", "/v1/catalog/refresh", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    if (!u.is_admin) return Error(Status::PermissionDenied("only an admin can refresh the catalog"));
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto refreshed = RefreshCatalog(ctx, *body);
    if (!refreshed.ok()) return Error(refreshed.status());
    return JsonResponse(200, *refreshed);
  }), {.summary = "Apply newer price files {files:[{name, text}]} to the catalog (all or nothing; admin)"});

  router.AddSync("GET", "/v1/catalog", Authed(ctx, [&ctx](http::Request&, const store::User&) {
    auto catalog = CurrentCatalog(ctx);
    if (catalog == nullptr) {
      return Error(Status::Unavailable("the planner catalog is not loaded: " + ctx.catalog_error));
    }
    const planner::Catalog& c = *catalog;
    std::set<std::string> regions;
    for (const auto& o : c.offerings) regions.insert(o.region);
    json gpus = json::array();
    for (const auto& g : c.gpus) gpus.push_back(g.name);
    return JsonResponse(200, json{{"catalog_date", c.catalog_date},
                                  {"prices_date", c.prices_date},
                                  {"offerings", c.offerings.size()},
                                  {"regions", regions},
                                  {"gpus", gpus}});
  }), {.summary = "The planner catalog: dates, offering count, regions and GPUs"});
}

}  // namespace sskai::api
