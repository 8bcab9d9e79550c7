// tests/testing/tiny_lm.h — writes a tiny random Llama-shaped model directory in Hugging Face
// layout (config.json, tokenizer.json, tokenizer_config.json, generation_config.json,
// model.safetensors) without libtorch, for serving tests. The tokenizer is byte-level BPE over
// the 256 bytes, a few merges and the Llama-3 special tokens (ids 300..304), so the model's
// chat template is Llama-3's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "ml/safetensors.h"

namespace sskai::testing {

inline constexpr int64_t kTinyLmVocab = 320;
inline constexpr int64_t kTinyLmContext = 512;
inline constexpr int64_t kTinyLmEot = 302;  // <|eot_id|>

// GPT-2's byte -> printable character mapping, as UTF-8.
inline std::vector<std::string> TinyLmByteChars() {
  std::vector<std::string> out(256);
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + extra++);
    std::string s;
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    out[b] = s;
  }
  return out;
}

inline std::string TinyLmTokenizerJson() {
  nlohmann::json vocab = nlohmann::json::object();
  auto chars = TinyLmByteChars();
  for (int b = 0; b < 256; ++b) vocab[chars[b]] = b;
  const char* merged[][3] = {{"h", "e", "he"},   {"l", "l", "ll"},   {"he", "ll", "hell"},
                             {"hell", "o", "hello"}, {"Ġ", "w", "Ġw"}, {"Ġw", "o", "Ġwo"},
                             {"Ġ", "t", "Ġt"},   {"Ġt", "h", "Ġth"}, {"Ġth", "e", "Ġthe"}};
  nlohmann::json merges = nlohmann::json::array();
  int next = 256;
  for (auto& m : merged) {
    vocab[m[2]] = next++;
    merges.push_back(std::string(m[0]) + " " + m[1]);
  }
  nlohmann::json added = nlohmann::json::array();
  const char* specials[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>",
                            "<|start_header_id|>", "<|end_header_id|>"};
  for (int i = 0; i < 5; ++i) {
    added.push_back({{"id", 300 + i}, {"content", specials[i]}, {"single_word", false},
                     {"lstrip", false}, {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  std::string pattern =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  return nlohmann::json{
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                    {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens",
         {{"<|begin_of_text|>", {{"id", "<|begin_of_text|>"}, {"ids", {300}}, {"tokens", {"<|begin_of_text|>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"ignore_merges", true}, {"vocab", vocab}, {"merges", merges}}}}
      .dump();
}

inline void TinyLmWrite(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Writes the model into `dir` (created). Weights ~ normal(0, 0.3), norms 1. Returns "" or an
// error message.
inline std::string WriteTinyLm(const std::filesystem::path& dir, uint64_t seed = 7) {
  std::filesystem::create_directories(dir);
  const int64_t vocab = kTinyLmVocab, hidden = 32, inter = 64, layers = 2, heads = 4, kv = 2;
  nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}},
                           {"model_type", "llama"},
                           {"vocab_size", vocab},
                           {"hidden_size", hidden},
                           {"intermediate_size", inter},
                           {"num_hidden_layers", layers},
                           {"num_attention_heads", heads},
                           {"num_key_value_heads", kv},
                           {"max_position_embeddings", kTinyLmContext},
                           {"rms_norm_eps", 1e-5},
                           {"rope_theta", 10000.0},
                           {"tie_word_embeddings", false},
                           {"bos_token_id", 300},
                           {"eos_token_id", 301},
                           {"torch_dtype", "float32"}};
  TinyLmWrite(dir / "config.json", config.dump(2));
  TinyLmWrite(dir / "generation_config.json", R"({"bos_token_id": 300, "eos_token_id": [301, 302]})");
  TinyLmWrite(dir / "tokenizer.json", TinyLmTokenizerJson());
  TinyLmWrite(dir / "tokenizer_config.json",
              R"({"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>",
                  "chat_template": "{{ '<|start_header_id|>' }}"})");
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  shapes.push_back({"model.embed_tokens.weight", {vocab, hidden}});
  int64_t head_dim = hidden / heads;
  for (int64_t l = 0; l < layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    shapes.push_back({p + "input_layernorm.weight", {hidden}});
    shapes.push_back({p + "self_attn.q_proj.weight", {heads * head_dim, hidden}});
    shapes.push_back({p + "self_attn.k_proj.weight", {kv * head_dim, hidden}});
    shapes.push_back({p + "self_attn.v_proj.weight", {kv * head_dim, hidden}});
    shapes.push_back({p + "self_attn.o_proj.weight", {hidden, heads * head_dim}});
    shapes.push_back({p + "post_attention_layernorm.weight", {hidden}});
    shapes.push_back({p + "mlp.gate_proj.weight", {inter, hidden}});
    shapes.push_back({p + "mlp.up_proj.weight", {inter, hidden}});
    shapes.push_back({p + "mlp.down_proj.weight", {hidden, inter}});
  }
  shapes.push_back({"model.norm.weight", {hidden}});
  shapes.push_back({"lm_head.weight", {vocab, hidden}});
  std::vector<std::vector<float>> data;
  std::vector<ml::safetensors::TensorView> views;
  data.reserve(shapes.size());
  for (auto& [name, shape] : shapes) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> values(static_cast<size_t>(n));
    bool norm = name.find("norm") != std::string::npos;
    for (auto& v : values) v = norm ? 1.0f : normal(rng);
    data.push_back(std::move(values));
    views.push_back({name, ml::safetensors::DType::kF32, shape, data.back().data(),
                     data.back().size() * sizeof(float)});
  }
  auto written = ml::safetensors::WriteCheckpoint(dir.string(), "model", views, {{"format", "pt"}}, 0);
  return written.ok() ? std::string() : written.status().ToString();
}

}  // namespace sskai::testing
