// src/ml/lm_config.cc — Hugging Face config.json ⇄ LmConfig (torch-free).
#include <nlohmann/json.hpp>

#include "ml/ml.h"

namespace sskai::ml {

using nlohmann::json;

namespace {

Status Field(const json& j, const char* name, int64_t* out, bool required, int64_t min_value) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) return Status::InvalidArgument(std::string("config.json: missing field '") + name + "'");
    return Status::Ok();
  }
  if (!it->is_number_integer()) return Status::InvalidArgument(std::string("config.json: '") + name + "' must be an integer");
  *out = it->get<int64_t>();
  if (*out < min_value) return Status::InvalidArgument(std::string("config.json: '") + name + "' must be >= " + std::to_string(min_value));
  return Status::Ok();
}

Status Number(const json& j, const char* name, double* out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_number()) return Status::InvalidArgument(std::string("config.json: '") + name + "' must be a number");
  *out = it->get<double>();
  return Status::Ok();
}

}  // namespace

int64_t LmConfig::NumParameters() const {
  int64_t q = num_attention_heads * head_dim, kv = num_key_value_heads * head_dim;
  int64_t attn = hidden_size * q + 2 * hidden_size * kv + q * hidden_size;
  if (attention_bias) attn += q + 2 * kv;
  if (qk_norm) attn += 2 * head_dim;
  int64_t layer = attn + 3 * hidden_size * intermediate_size + 2 * hidden_size;
  return vocab_size * hidden_size * (tie_word_embeddings ? 1 : 2) + num_hidden_layers * layer + hidden_size;
}

Result<LmConfig> LmConfigFromJson(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("config.json: not a JSON object");
  LmConfig c;
  if (j.contains("model_type") && j["model_type"].is_string()) c.model_type = j["model_type"].get<std::string>();
  if (c.model_type != "llama" && c.model_type != "mistral" && c.model_type != "qwen2" && c.model_type != "qwen3") {
    return Status::InvalidArgument("config.json: unsupported model_type '" + c.model_type +
                                   "' (supported: llama, mistral, qwen2, qwen3)");
  }
  SSKAI_RETURN_IF_ERROR(Field(j, "vocab_size", &c.vocab_size, true, 1));
  SSKAI_RETURN_IF_ERROR(Field(j, "hidden_size", &c.hidden_size, true, 1));
  SSKAI_RETURN_IF_ERROR(Field(j, "intermediate_size", &c.intermediate_size, true, 1));
  SSKAI_RETURN_IF_ERROR(Field(j, "num_hidden_layers", &c.num_hidden_layers, true, 1));
  SSKAI_RETURN_IF_ERROR(Field(j, "num_attention_heads", &c.num_attention_heads, true, 1));
  c.num_key_value_heads = c.num_attention_heads;
  SSKAI_RETURN_IF_ERROR(Field(j, "num_key_value_heads", &c.num_key_value_heads, false, 1));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return Status::InvalidArgument("config.json: num_attention_heads must be a multiple of num_key_value_heads");
  }
  if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    SSKAI_RETURN_IF_ERROR(Field(j, "head_dim", &c.head_dim, true, 2));
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      return Status::InvalidArgument("config.json: hidden_size must be a multiple of num_attention_heads");
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) return Status::InvalidArgument("config.json: head_dim must be even (rotary embeddings)");
  SSKAI_RETURN_IF_ERROR(Field(j, "max_position_embeddings", &c.max_position_embeddings, false, 1));
  SSKAI_RETURN_IF_ERROR(Number(j, "rms_norm_eps", &c.rms_norm_eps));
  SSKAI_RETURN_IF_ERROR(Number(j, "rope_theta", &c.rope_theta));
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const json& rs = j["rope_scaling"];
    std::string type = rs.value("rope_type", rs.value("type", std::string("default")));
    if (type != "default" && type != "linear" && type != "dynamic" && type != "llama3") {
      return Status::InvalidArgument("config.json: unsupported rope_scaling type '" + type +
                                     "' (supported: linear, dynamic, llama3)");
    }
    c.rope_type = type;
    SSKAI_RETURN_IF_ERROR(Number(rs, "factor", &c.rope_factor));
    if (type != "default" && c.rope_factor < 1.0) return Status::InvalidArgument("config.json: rope_scaling.factor must be >= 1");
    if (type == "llama3") {
      SSKAI_RETURN_IF_ERROR(Number(rs, "low_freq_factor", &c.rope_low_freq_factor));
      SSKAI_RETURN_IF_ERROR(Number(rs, "high_freq_factor", &c.rope_high_freq_factor));
      SSKAI_RETURN_IF_ERROR(Field(rs, "original_max_position_embeddings", &c.rope_original_max_position, true, 1));
      if (c.rope_high_freq_factor <= c.rope_low_freq_factor) {
        return Status::InvalidArgument("config.json: rope_scaling.high_freq_factor must exceed low_freq_factor");
      }
    }
  } else if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    return Status::InvalidArgument("config.json: rope_scaling must be an object or null");
  }
  c.tie_word_embeddings = j.value("tie_word_embeddings", false);
  c.attention_bias = c.model_type == "qwen2" || j.value("attention_bias", false);
  c.qk_norm = c.model_type == "qwen3";
  if (j.contains("torch_dtype") && j["torch_dtype"].is_string()) c.torch_dtype = j["torch_dtype"].get<std::string>();
  if (j.contains("eos_token_id")) {
    const json& e = j["eos_token_id"];
    if (e.is_number_integer()) c.eos_token_ids.push_back(e.get<int64_t>());
    if (e.is_array()) {
      for (const json& v : e) {
        if (v.is_number_integer()) c.eos_token_ids.push_back(v.get<int64_t>());
      }
    }
  }
  if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer()) c.bos_token_id = j["bos_token_id"].get<int64_t>();
  return c;
}

std::string LmConfigToJson(const LmConfig& c) {
  std::string arch = c.model_type == "qwen2" ? "Qwen2ForCausalLM"
                     : c.model_type == "qwen3" ? "Qwen3ForCausalLM"
                     : c.model_type == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM";
  json j = {{"architectures", {arch}},
            {"model_type", c.model_type},
            {"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size},
            {"intermediate_size", c.intermediate_size},
            {"num_hidden_layers", c.num_hidden_layers},
            {"num_attention_heads", c.num_attention_heads},
            {"num_key_value_heads", c.num_key_value_heads},
            {"head_dim", c.head_dim},
            {"max_position_embeddings", c.max_position_embeddings},
            {"rms_norm_eps", c.rms_norm_eps},
            {"rope_theta", c.rope_theta},
            {"tie_word_embeddings", c.tie_word_embeddings},
            {"hidden_act", "silu"},
            {"torch_dtype", c.torch_dtype}};
  if (c.model_type == "llama") j["attention_bias"] = c.attention_bias;
  if (c.rope_type != "default") {
    json rs = {{"rope_type", c.rope_type}, {"factor", c.rope_factor}};
    if (c.rope_type == "llama3") {
      rs["low_freq_factor"] = c.rope_low_freq_factor;
      rs["high_freq_factor"] = c.rope_high_freq_factor;
      rs["original_max_position_embeddings"] = c.rope_original_max_position;
    }
    j["rope_scaling"] = rs;
  } else {
    j["rope_scaling"] = nullptr;
  }
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  if (c.eos_token_ids.size() > 1) j["eos_token_id"] = c.eos_token_ids;
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  return j.dump(2);
}

}  // namespace sskai::ml
