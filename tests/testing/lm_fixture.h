// tests/testing/lm_fixture.h — a tiny Llama-shaped checkpoint directory in Hugging Face layout
// (config.json, safetensors weights, a byte-level BPE tokenizer.json), written without libtorch,
// for tests of LM storage, import and pull. Weights are small deterministic values; only their
// headers and shapes matter to the registration checks.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "ml/safetensors.h"
#include "tokenizer/text_util.h"

namespace sskai::testing {

struct TinyLmOptions {
  int64_t vocab_size = 320, hidden = 16, intermediate = 32, layers = 2, heads = 4, kv_heads = 2;
  int shards = 1;            // 1: model.safetensors; n > 1: n shards + index
  bool tokenizer = true;     // write tokenizer.json
  bool extra_files = true;   // README.md and pytorch_model.bin, which must be ignored
};

inline void WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A byte-level BPE tokenizer.json: the 256 byte tokens, two merges, two special tokens (304 ids).
inline std::string TinyTokenizerJson() {
  nlohmann::json vocab = nlohmann::json::object();
  const auto& chars = tokenizer::internal::ByteToChar();
  for (int b = 0; b < 256; ++b) {
    std::string s;
    tokenizer::internal::AppendUtf8(chars[b], &s);
    vocab[s] = b;
  }
  vocab["he"] = 256;
  vocab["ll"] = 257;
  nlohmann::json added = nlohmann::json::array();
  added.push_back({{"id", 300}, {"content", "<|begin_of_text|>"}, {"special", true}});
  added.push_back({{"id", 301}, {"content", "<|end_of_text|>"}, {"special", true}});
  return nlohmann::json{
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"h e", "l l"}}}}}
      .dump();
}

inline nlohmann::json TinyLmConfig(const TinyLmOptions& o) {
  return {{"model_type", "llama"}, {"architectures", {"LlamaForCausalLM"}},
          {"vocab_size", o.vocab_size}, {"hidden_size", o.hidden},
          {"intermediate_size", o.intermediate}, {"num_hidden_layers", o.layers},
          {"num_attention_heads", o.heads}, {"num_key_value_heads", o.kv_heads},
          {"max_position_embeddings", 128}, {"rms_norm_eps", 1e-5}, {"tie_word_embeddings", true},
          {"bos_token_id", 300}, {"eos_token_id", 301}, {"torch_dtype", "float32"}};
}

// Writes the checkpoint into `dir` (which must exist). Returns the number of parameters.
inline int64_t WriteTinyLm(const std::string& dir, const TinyLmOptions& o = {}) {
  WriteTextFile(dir + "/config.json", TinyLmConfig(o).dump(2));
  WriteTextFile(dir + "/generation_config.json", R"({"bos_token_id": 300, "eos_token_id": 301})");
  if (o.tokenizer) {
    WriteTextFile(dir + "/tokenizer.json", TinyTokenizerJson());
    WriteTextFile(dir + "/tokenizer_config.json",
                  R"({"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"})");
  }
  if (o.extra_files) {
    WriteTextFile(dir + "/README.md", "# tiny\n");
    WriteTextFile(dir + "/pytorch_model.bin", "not a pickle, but never read");
  }
  struct Spec { std::string name; std::vector<int64_t> shape; };
  std::vector<Spec> specs = {{"model.embed_tokens.weight", {o.vocab_size, o.hidden}},
                             {"model.norm.weight", {o.hidden}}};
  const int64_t head_dim = o.hidden / o.heads;
  for (int64_t l = 0; l < o.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    specs.push_back({p + "self_attn.q_proj.weight", {o.heads * head_dim, o.hidden}});
    specs.push_back({p + "self_attn.k_proj.weight", {o.kv_heads * head_dim, o.hidden}});
    specs.push_back({p + "self_attn.v_proj.weight", {o.kv_heads * head_dim, o.hidden}});
    specs.push_back({p + "self_attn.o_proj.weight", {o.hidden, o.heads * head_dim}});
    specs.push_back({p + "mlp.gate_proj.weight", {o.intermediate, o.hidden}});
    specs.push_back({p + "mlp.up_proj.weight", {o.intermediate, o.hidden}});
    specs.push_back({p + "mlp.down_proj.weight", {o.hidden, o.intermediate}});
    specs.push_back({p + "input_layernorm.weight", {o.hidden}});
    specs.push_back({p + "post_attention_layernorm.weight", {o.hidden}});
  }
  std::vector<std::vector<float>> data;
  std::vector<ml::safetensors::TensorView> views;
  int64_t params = 0;
  for (const auto& s : specs) {
    int64_t n = 1;
    for (int64_t d : s.shape) n *= d;
    params += n;
    std::vector<float> values(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = static_cast<float>((i * 7919 % 1000) - 500) / 5000.0f;
    data.push_back(std::move(values));
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    views.push_back({specs[i].name, ml::safetensors::DType::kF32, specs[i].shape, data[i].data(),
                     data[i].size() * sizeof(float)});
  }
  uint64_t total = static_cast<uint64_t>(params) * sizeof(float);
  uint64_t shard_bytes = o.shards <= 1 ? 0 : total / static_cast<uint64_t>(o.shards) + 1;
  auto written = ml::safetensors::WriteCheckpoint(dir, "model", views, {{"format", "pt"}}, shard_bytes);
  EXPECT_TRUE(written.ok()) << written.status().ToString();
  return params;
}

}  // namespace sskai::testing
