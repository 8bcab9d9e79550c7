// The LM job specification: parsing with field-naming errors, canonical JSON, step resolution.
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "lmdata/lmdata.h"

namespace sskai::lmdata {
namespace {

using nlohmann::json;

Status Bad(const std::string& field, const std::string& msg) {
  return Status::InvalidArgument("field '" + field + "': " + msg);
}

Status CheckKeys(const json& obj, const std::string& prefix, const std::set<std::string>& allowed) {
  for (const auto& [k, v] : obj.items()) {
    if (!allowed.count(k)) return Bad(prefix + k, "unknown field");
  }
  return Status::Ok();
}

template <typename T>
Status Int(const json& obj, const char* key, const std::string& prefix, T lo, T hi, T* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_number_integer()) return Bad(prefix + key, "expected an integer");
  auto v = it->get<int64_t>();
  if (v < static_cast<int64_t>(lo) || v > static_cast<int64_t>(hi)) {
    return Bad(prefix + key, "expected " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
                                 std::to_string(v));
  }
  *out = static_cast<T>(v);
  return Status::Ok();
}

Status Num(const json& obj, const char* key, const std::string& prefix, double lo, double hi, bool lo_open,
           double* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_number()) return Bad(prefix + key, "expected a number");
  double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi || (lo_open && v == lo)) {
    return Bad(prefix + key, std::string("expected a number in ") + (lo_open ? "(" : "[") + json(lo).dump() +
                                 ", " + json(hi).dump() + "], got " + it->dump());
  }
  *out = v;
  return Status::Ok();
}

Status Str(const json& obj, const char* key, const std::string& prefix, const std::set<std::string>& allowed,
           std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return Bad(prefix + key, "expected a string");
  std::string v = it->get<std::string>();
  if (!allowed.empty() && !allowed.count(v)) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "'" : ", '") + a + "'";
    return Bad(prefix + key, "expected one of " + list + ", got '" + v + "'");
  }
  *out = v;
  return Status::Ok();
}

Status ParseLora(const json& lj, ml::LoraSpec* lora) {
  const std::string p = "hyperparameters.lora.";
  if (!lj.is_object()) return Bad("hyperparameters.lora", "expected an object");
  SSKAI_RETURN_IF_ERROR(CheckKeys(lj, p, {"rank", "alpha", "dropout", "target_modules"}));
  SSKAI_RETURN_IF_ERROR(Int(lj, "rank", p, 1, 1024, &lora->rank));
  lora->alpha = 2.0 * lora->rank;
  SSKAI_RETURN_IF_ERROR(Num(lj, "alpha", p, 0, 1e6, true, &lora->alpha));
  SSKAI_RETURN_IF_ERROR(Num(lj, "dropout", p, 0, 0.9, false, &lora->dropout));
  if (lj.contains("target_modules")) {
    const json& tm = lj["target_modules"];
    static const std::set<std::string> kModules = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                   "gate_proj", "up_proj", "down_proj"};
    if (!tm.is_array() || tm.empty()) return Bad(p + "target_modules", "expected a non-empty array of names");
    lora->target_modules.clear();
    for (size_t idx = 0; idx < tm.size(); ++idx) {
      std::string f = p + "target_modules[" + std::to_string(idx) + "]";
      if (!tm[idx].is_string()) return Bad(f, "expected a string");
      std::string m = tm[idx].get<std::string>();
      if (!kModules.count(m)) {
        return Bad(f, "expected one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, got '" + m + "'");
      }
      lora->target_modules.push_back(m);
    }
  }
  return Status::Ok();
}

Status ParseConfig(const json& cj, PretrainConfig* c) {
  const std::string p = "config.";
  if (!cj.is_object()) return Bad("config", "expected an object");
  SSKAI_RETURN_IF_ERROR(CheckKeys(cj, p, {"hidden_size", "num_hidden_layers", "layers", "num_attention_heads",
                                          "heads", "num_key_value_heads", "kv_heads", "intermediate_size",
                                          "max_position_embeddings", "rope_theta", "tie_word_embeddings",
                                          "vocab_size", "tokenizer_type"}));
  SSKAI_RETURN_IF_ERROR(Int<int64_t>(cj, "hidden_size", p, 8, 16384, &c->hidden_size));
  SSKAI_RETURN_IF_ERROR(Int<int64_t>(cj, "layers", p, 1, 256, &c->num_hidden_layers));
  SSKAI_RETURN_IF_ERROR(Int<int64_t>(cj, "num_hidden_layers", p, 1, 256, &c->num_hidden_layers));
  SSKAI_RETURN_IF_ERROR(Int<int64_t>(cj, "heads", p, 1, 256, &c->num_attention_heads));
  SSKAI_RETURN_IF_ERROR(Int<int64_t>(cj, "num_attention_heads", p, 1, 256, &c->num_attention_heads));
  SSKAI_RETURN_IF_ERROR(Int<int64_t>(cj, "kv_heads", p, 0, 256, &c->num_key_value_heads));
  SSKAI_RETURN_IF_ERROR(Int<int64_t>(cj, "num_key_value_heads", p, 0, 256, &c->num_key_value_heads));
  SSKAI_RETURN_IF_ERROR(Int<int64_t>(cj, "intermediate_size", p, 0, 65536, &c->intermediate_size));
  SSKAI_RETURN_IF_ERROR(Int<int64_t>(cj, "max_position_embeddings", p, 8, 131072, &c->max_position_embeddings));
  SSKAI_RETURN_IF_ERROR(Num(cj, "rope_theta", p, 1, 1e9, false, &c->rope_theta));
  SSKAI_RETURN_IF_ERROR(Int<int64_t>(cj, "vocab_size", p, 64, 256000, &c->vocab_size));
  SSKAI_RETURN_IF_ERROR(Str(cj, "tokenizer_type", p, {"bpe", "unigram"}, &c->tokenizer_type));
  if (cj.contains("tie_word_embeddings")) {
    if (!cj["tie_word_embeddings"].is_boolean()) return Bad(p + "tie_word_embeddings", "expected a boolean");
    c->tie_word_embeddings = cj["tie_word_embeddings"].get<bool>();
  }
  if (c->hidden_size % c->num_attention_heads != 0) {
    return Bad(p + "hidden_size", "must be a multiple of num_attention_heads (" +
                                      std::to_string(c->num_attention_heads) + ")");
  }
  if ((c->hidden_size / c->num_attention_heads) % 2 != 0) {
    return Bad(p + "hidden_size", "hidden_size / num_attention_heads must be even (rotary embeddings)");
  }
  if (c->num_key_value_heads != 0 && c->num_attention_heads % c->num_key_value_heads != 0) {
    return Bad(p + "num_key_value_heads", "must divide num_attention_heads");
  }
  return Status::Ok();
}

}  // namespace

ml::LmConfig PretrainConfig::ToLmConfig(int64_t vocab, int64_t bos, int64_t eos) const {
  ml::LmConfig c;
  c.model_type = "llama";
  c.vocab_size = vocab;
  c.hidden_size = hidden_size;
  c.num_hidden_layers = num_hidden_layers;
  c.num_attention_heads = num_attention_heads;
  c.num_key_value_heads = num_key_value_heads > 0 ? num_key_value_heads : num_attention_heads;
  c.head_dim = hidden_size / num_attention_heads;
  c.intermediate_size = intermediate_size > 0 ? intermediate_size
                                              : std::max<int64_t>(32, (hidden_size * 8 / 3 + 31) / 32 * 32);
  c.max_position_embeddings = max_position_embeddings;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = rope_theta;
  c.tie_word_embeddings = tie_word_embeddings;
  c.bos_token_id = bos;
  if (eos >= 0) c.eos_token_ids = {eos};
  return c;
}

Result<LmJobSpec> ParseLmJobSpec(const std::string& body_json) {
  json body = json::parse(body_json, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return Status::InvalidArgument("expected a JSON object");
  LmJobSpec spec;
  const bool has_base = body.contains("base_model") && !body["base_model"].is_null();
  const bool has_config = body.contains("config") && !body["config"].is_null();
  if (has_base == has_config) {
    return Bad("base_model", "give exactly one of 'base_model' (fine-tuning) and 'config' (pretraining from scratch)");
  }
  if (has_base) {
    if (!body["base_model"].is_string() || body["base_model"].get<std::string>().empty()) {
      return Bad("base_model", "expected a model name[:version] or a model directory");
    }
    spec.base_model = body["base_model"].get<std::string>();
  } else {
    PretrainConfig c;
    SSKAI_RETURN_IF_ERROR(ParseConfig(body["config"], &c));
    spec.pretrain = c;
  }
  json h = body.value("hyperparameters", json::object());
  if (!h.is_object()) return Bad("hyperparameters", "expected an object");
  const std::string p = "hyperparameters.";
  SSKAI_RETURN_IF_ERROR(CheckKeys(h, p, {"learning_rate", "epochs", "max_steps", "batch_size", "grad_accum",
                                         "max_seq_len", "warmup_steps", "min_lr_ratio", "weight_decay",
                                         "grad_clip", "seed", "checkpoint_every", "eval_split", "pack", "block_diagonal",
                                         "precision", "output",
                                         "chat_template", "corpus", "threads", "method", "lora"}));
  ml::LmTrainSpec& t = spec.train;
  if (spec.pretrain) {
    t.lora = false;
    t.learning_rate = 1e-3;
  }
  std::string method = t.lora ? "lora" : "full";
  SSKAI_RETURN_IF_ERROR(Str(h, "method", p, {"lora", "full"}, &method));
  if (spec.pretrain && method == "lora") return Bad(p + "method", "pretraining from scratch trains all weights ('full')");
  t.lora = method == "lora";
  if (h.contains("lora")) {
    if (!t.lora) return Bad(p + "lora", "given with method 'full'");
    SSKAI_RETURN_IF_ERROR(ParseLora(h["lora"], &t.lora_spec));
  }
  SSKAI_RETURN_IF_ERROR(Num(h, "learning_rate", p, 0, 10, true, &t.learning_rate));
  SSKAI_RETURN_IF_ERROR(Num(h, "epochs", p, 0, 10000, true, &spec.epochs));
  SSKAI_RETURN_IF_ERROR(Int<int64_t>(h, "max_steps", p, 1, 10'000'000, &spec.max_steps));
  SSKAI_RETURN_IF_ERROR(Int(h, "batch_size", p, 1, 4096, &t.batch_size));
  SSKAI_RETURN_IF_ERROR(Int(h, "grad_accum", p, 1, 4096, &t.grad_accum));
  t.max_seq_len = spec.pretrain ? static_cast<int>(spec.pretrain->max_position_embeddings) : 512;
  SSKAI_RETURN_IF_ERROR(Int(h, "max_seq_len", p, 2, 131072, &t.max_seq_len));
  if (spec.pretrain && t.max_seq_len > spec.pretrain->max_position_embeddings) {
    return Bad(p + "max_seq_len", "exceeds config.max_position_embeddings (" +
                                      std::to_string(spec.pretrain->max_position_embeddings) + ")");
  }
  SSKAI_RETURN_IF_ERROR(Int(h, "warmup_steps", p, 0, 10'000'000, &t.warmup_steps));
  SSKAI_RETURN_IF_ERROR(Num(h, "min_lr_ratio", p, 0, 1, false, &t.min_lr_ratio));
  SSKAI_RETURN_IF_ERROR(Num(h, "weight_decay", p, 0, 10, false, &t.weight_decay));
  SSKAI_RETURN_IF_ERROR(Num(h, "grad_clip", p, 0, 1e6, false, &t.grad_clip));
  SSKAI_RETURN_IF_ERROR(Int<uint64_t>(h, "seed", p, 0, uint64_t{1} << 62, &t.seed));
  SSKAI_RETURN_IF_ERROR(Int(h, "checkpoint_every", p, 0, 10'000'000, &t.checkpoint_every));
  SSKAI_RETURN_IF_ERROR(Num(h, "eval_split", p, 0, 0.5, false, &spec.eval_split));
  SSKAI_RETURN_IF_ERROR(Int(h, "threads", p, 0, 256, &spec.threads));
  for (auto [key, flag] : {std::pair<const char*, bool*>{"pack", &spec.pack}, {"block_diagonal", &spec.block_diagonal}}) {
    if (!h.contains(key)) continue;
    if (!h[key].is_boolean()) return Bad(p + key, "expected a boolean");
    *flag = h[key].get<bool>();
  }
  t.precision = "auto";
  SSKAI_RETURN_IF_ERROR(Str(h, "precision", p, {"fp32", "bf16", "auto"}, &t.precision));
  spec.output = t.lora ? "adapter" : "merged";
  SSKAI_RETURN_IF_ERROR(Str(h, "output", p, {"adapter", "merged"}, &spec.output));
  if (!t.lora && spec.output == "adapter") return Bad(p + "output", "full fine-tuning has no adapter; use 'merged'");
  SSKAI_RETURN_IF_ERROR(Str(h, "chat_template", p, {"auto", "llama3", "chatml", "none"}, &spec.chat_template));
  SSKAI_RETURN_IF_ERROR(Str(h, "corpus", p, {"auto", "paragraphs", "fortunes"}, &spec.corpus));
  return spec;
}

std::string LmJobSpecToJson(const LmJobSpec& spec) {
  const ml::LmTrainSpec& t = spec.train;
  json h = {{"learning_rate", t.learning_rate}, {"epochs", spec.epochs}, {"batch_size", t.batch_size},
            {"grad_accum", t.grad_accum}, {"max_seq_len", t.max_seq_len}, {"warmup_steps", t.warmup_steps},
            {"min_lr_ratio", t.min_lr_ratio}, {"weight_decay", t.weight_decay}, {"grad_clip", t.grad_clip},
            {"seed", t.seed}, {"checkpoint_every", t.checkpoint_every}, {"eval_split", spec.eval_split},
            {"pack", spec.pack}, {"block_diagonal", spec.block_diagonal}, {"precision", t.precision},
            {"output", spec.output}, {"chat_template", spec.chat_template},
            {"corpus", spec.corpus}, {"threads", spec.threads}, {"method", t.lora ? "lora" : "full"}};
  if (spec.max_steps > 0) h["max_steps"] = spec.max_steps;
  if (t.lora) {
    h["lora"] = {{"rank", t.lora_spec.rank}, {"alpha", t.lora_spec.alpha}, {"dropout", t.lora_spec.dropout},
                 {"target_modules", t.lora_spec.target_modules}};
  }
  json out = {{"hyperparameters", h}};
  if (spec.pretrain) {
    const PretrainConfig& c = *spec.pretrain;
    out["config"] = {{"hidden_size", c.hidden_size}, {"num_hidden_layers", c.num_hidden_layers},
                     {"num_attention_heads", c.num_attention_heads},
                     {"num_key_value_heads", c.num_key_value_heads}, {"intermediate_size", c.intermediate_size},
                     {"max_position_embeddings", c.max_position_embeddings}, {"rope_theta", c.rope_theta},
                     {"tie_word_embeddings", c.tie_word_embeddings}, {"vocab_size", c.vocab_size},
                     {"tokenizer_type", c.tokenizer_type}};
  } else {
    out["base_model"] = spec.base_model;
  }
  return out.dump();
}

int ResolveSteps(const LmJobSpec& spec, int64_t train_sequences) {
  if (spec.max_steps > 0) return static_cast<int>(spec.max_steps);
  double per_step = static_cast<double>(spec.train.batch_size) * spec.train.grad_accum;
  double steps = std::ceil(spec.epochs * static_cast<double>(std::max<int64_t>(1, train_sequences)) / per_step);
  return static_cast<int>(std::clamp(steps, 1.0, 1e7));
}

}  // namespace sskai::lmdata
