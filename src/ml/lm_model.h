// src/ml/lm_model.h — the Llama-family transformer in libtorch (internal to libsskai_ml.so: torch comes from
// the library's precompiled header).
//
// Parameters live in a flat map keyed by Hugging Face names (model.embed_tokens.weight,
// model.layers.N.self_attn.q_proj.weight, …, lm_head.weight), so loading and saving are name
// lookups and the optimizer sees a plain list. Equations follow HF modeling_llama / qwen2 / qwen3:
//   h = x + o_proj(Attn(rope(q_norm?(q_proj(rms(x)))), rope(k_norm?(k_proj(..))), v_proj(..)))
//   y = h + down_proj(silu(gate_proj(rms(h))) * up_proj(rms(h)))
// RMSNorm in fp32, attention softmax in fp32, causal mask (optionally block-diagonal per packed
// document), GQA by grouping query heads per kv head (no repeated k/v copies), rotary tables cached
// per model. Mixed precision: with a compute dtype set (bf16 training), weights stay in their
// storage dtype (fp32 masters) and are cast at use, as torch autocast does.
// LoRA: y = W x + (alpha / r) · B(A(dropout(x))) on the target projections (PEFT semantics).
// Not thread-safe.
#pragma once

// libtorch: from sskai_ml's precompiled header (src/ml/CMakeLists.txt).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ml/ml.h"
#include "ml/safetensors.h"

namespace sskai::ml {

struct LoraPair {
  torch::Tensor a;  // [r, in]
  torch::Tensor b;  // [out, r]
};

// Per-layer keys/values for generation, preallocated to `capacity` slots.
struct KvCache {
  std::vector<torch::Tensor> k, v;  // [B, kv_heads, capacity, head_dim]
  int64_t len = 0;                  // slots filled
};

class LmCore {
 public:
  LmCore(LmConfig config, torch::Device device, torch::ScalarType dtype)
      : config_(std::move(config)), device_(device), dtype_(dtype) {}

  const LmConfig& config() const { return config_; }
  torch::Device device() const { return device_; }
  torch::ScalarType dtype() const { return dtype_; }
  std::map<std::string, torch::Tensor>& params() { return params_; }
  const std::map<std::string, torch::Tensor>& params() const { return params_; }
  std::map<std::string, LoraPair>& lora() { return lora_; }
  const std::map<std::string, LoraPair>& lora() const { return lora_; }
  const LoraSpec& lora_spec() const { return lora_spec_; }
  void set_training(bool training) { training_ = training; }
  // Dtype matmuls and attention run in (default: the storage dtype). Also converts trainable
  // storage: see TrainLm. Setting it back to dtype() restores plain execution.
  void set_compute_dtype(torch::ScalarType dtype) { compute_ = dtype; }
  torch::ScalarType compute_dtype() const { return compute_; }
  // Converts the base parameters to `dtype` storage (fp32 master weights for bf16 training).
  void ConvertParams(torch::ScalarType dtype);

  // The HF names and shapes this config needs.
  std::vector<std::pair<std::string, std::vector<int64_t>>> ExpectedParams() const;
  // normal(0, 0.02) weights, ones for norms, zeros for biases (seeded).
  void InitRandom(uint64_t seed);
  // Copies every expected tensor from the checkpoint (any float dtype → compute dtype).
  // Errors: kInvalidArgument naming the missing or misshaped tensor.
  Status LoadFrom(const safetensors::Checkpoint& checkpoint);

  // ids [B,T] int64 on device; positions [B,T] int64 (rope positions; undefined = 0..T-1 in every
  // row); key_valid [B, S] bool over cache slots (undefined = all valid); cache null = no cache
  // (plain causal over T); documents [B,T] int64 (undefined = one document per row): a token attends
  // only to earlier tokens of the same document id. Returns logits [B,T,V] in fp32.
  torch::Tensor Forward(const torch::Tensor& ids, const torch::Tensor& positions, const torch::Tensor& key_valid,
                        KvCache* cache, const torch::Tensor& documents = {});
  // Hidden states before lm_head [B,T,H] (for loss computations that slice positions).
  torch::Tensor Hidden(const torch::Tensor& ids, const torch::Tensor& positions, const torch::Tensor& key_valid,
                       KvCache* cache, const torch::Tensor& documents = {});
  // Logits in fp32, and in the compute dtype (bf16 under mixed precision: the training loss reads
  // them directly, saving a widened copy of [B,T,V] and its gradient's cast back).
  torch::Tensor Head(const torch::Tensor& hidden);
  torch::Tensor HeadInComputeDtype(const torch::Tensor& hidden);
  KvCache NewCache(int64_t batch, int64_t capacity) const;

  Status AddLora(const LoraSpec& spec, uint64_t seed);
  void MergeLora();
  bool has_lora() const { return !lora_.empty(); }
  // Tensors for saving (CPU, contiguous, `dtype`): base under HF names; adapters under PEFT names
  // ("base_model.model.<module>.lora_A.weight").
  std::vector<std::pair<std::string, torch::Tensor>> BaseTensors(torch::ScalarType dtype) const;
  std::vector<std::pair<std::string, torch::Tensor>> AdapterTensors() const;
  Status SetLoraSpec(const LoraSpec& spec);

 private:
  torch::Tensor Proj(const std::string& module, const torch::Tensor& x, bool bias);
  torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight) const;
  torch::Tensor InvFreq(int64_t seq_len) const;
  // cos and sin [B|1, T, 1, head_dim] (fp32) for the positions (undefined = 0..len-1).
  std::pair<torch::Tensor, torch::Tensor> Rotary(const torch::Tensor& positions, int64_t len);
  // Additive fp32 mask [B|1, 1, 1, T, S] (0 = attend, very negative = masked).
  torch::Tensor AttentionMask(int64_t len, int64_t past, const torch::Tensor& key_valid,
                              const torch::Tensor& documents) const;
  torch::Tensor Cast(const torch::Tensor& t) const {
    return t.scalar_type() == compute_ ? t : t.to(compute_);
  }

  LmConfig config_;
  torch::Device device_;
  torch::ScalarType dtype_;
  torch::ScalarType compute_ = dtype_;
  torch::Tensor rope_cos_, rope_sin_;  // [max_position_embeddings, head_dim] fp32, built on first use
  std::map<std::string, torch::Tensor> params_;
  std::map<std::string, LoraPair> lora_;  // key: module name, e.g. model.layers.0.self_attn.q_proj
  LoraSpec lora_spec_;
  bool training_ = false;
};

// torch dtype name parsing: "float32" | "bfloat16" | "float16" (also "fp32", "bf16", "fp16").
Result<torch::ScalarType> ParseTorchDtype(const std::string& name);

// Builds the LanguageModel implementation (lm_run.cc).
Result<std::unique_ptr<LanguageModel>> OpenLanguageModel(const std::string& dir, const LmLoadOptions& options);
Result<std::unique_ptr<LanguageModel>> NewLanguageModel(const LmConfig& config, uint64_t seed,
                                                        const LmLoadOptions& options);

// Training loop (lm_train.cc) on a core; see LanguageModel::Train.
Result<LmTrainResult> TrainLm(LmCore* core, const std::vector<LmExample>& data, const LmTrainSpec& spec,
                              const std::string& resume_dir, const std::string& work_dir,
                              const LmTrainCallbacks& callbacks);
// A right-padded batch of examples.
struct LmBatch {
  torch::Tensor ids;        // [B,T] int64
  torch::Tensor labels;     // [B,T] int64, -100 where not a target
  torch::Tensor positions;  // [B,T] rope positions restarting per document; undefined = 0..T-1
  torch::Tensor documents;  // [B,T] document ids (block-diagonal attention); undefined = none packed
};
LmBatch MakeBatch(const std::vector<const LmExample*>& examples, int max_len, torch::Device device);
// Sum of next-token NLL over target labels, and the count. Gradients flow when enabled. The last
// position predicts nothing, so the model runs on T-1 positions.
std::pair<torch::Tensor, int64_t> SumLoss(LmCore* core, const LmBatch& batch);

// One AdamW step (same update as torch::optim::AdamW, whose state and serialization `opt` keeps)
// over every parameter with a gradient, gradients first scaled so their global L2 norm is at most
// `max_norm` (infinity = no clipping). fp32 CPU tensors take one fused pass per tensor (weight
// decay, clipping, both moments, update); others take the libtorch op sequence. Returns the
// gradient norm before clipping. Gradients are left as they were (unscaled).
double ClipAndStepAdamW(torch::optim::AdamW& opt, double max_norm);
// Drops the gradients (the next backward writes fresh ones instead of accumulating into zeros).
void ClearGrads(torch::optim::Optimizer& opt);

}  // namespace sskai::ml
