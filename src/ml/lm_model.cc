// src/ml/lm_model.cc — LmCore: parameters, safetensors loading, forward with KV cache, LoRA.
#include "ml/lm_model.h"

#include <cmath>
#include <cstring>

#include "ml/lm_kernels.h"

namespace sskai::ml {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr float kMaskValue = -1e30f;

Result<torch::ScalarType> TorchDtypeOf(safetensors::DType dtype) {
  switch (dtype) {
    case safetensors::DType::kF32: return torch::kFloat;
    case safetensors::DType::kBF16: return torch::kBFloat16;
    case safetensors::DType::kF16: return torch::kHalf;
    case safetensors::DType::kF64: return torch::kDouble;
    default: return Status::InvalidArgument(std::string("tensor dtype ") + safetensors::DTypeName(dtype) + " is not a float type");
  }
}

const char* ModuleGroup(const std::string& target) {
  if (target == "q_proj" || target == "k_proj" || target == "v_proj" || target == "o_proj") return "self_attn.";
  if (target == "gate_proj" || target == "up_proj" || target == "down_proj") return "mlp.";
  return nullptr;
}

}  // namespace

Result<torch::ScalarType> ParseTorchDtype(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "f32") return torch::kFloat;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "fp16" || name == "f16") return torch::kHalf;
  return Status::InvalidArgument("dtype must be float32, bfloat16 or float16, not '" + name + "'");
}

std::vector<std::pair<std::string, std::vector<int64_t>>> LmCore::ExpectedParams() const {
  const LmConfig& c = config_;
  int64_t q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  bool o_bias = c.attention_bias && (c.model_type == "llama" || c.model_type == "mistral");
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}});
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    out.push_back({p + "input_layernorm.weight", {c.hidden_size}});
    out.push_back({p + "self_attn.q_proj.weight", {q, c.hidden_size}});
    out.push_back({p + "self_attn.k_proj.weight", {kv, c.hidden_size}});
    out.push_back({p + "self_attn.v_proj.weight", {kv, c.hidden_size}});
    out.push_back({p + "self_attn.o_proj.weight", {c.hidden_size, q}});
    if (c.attention_bias) {
      out.push_back({p + "self_attn.q_proj.bias", {q}});
      out.push_back({p + "self_attn.k_proj.bias", {kv}});
      out.push_back({p + "self_attn.v_proj.bias", {kv}});
    }
    if (o_bias) out.push_back({p + "self_attn.o_proj.bias", {c.hidden_size}});
    if (c.qk_norm) {
      out.push_back({p + "self_attn.q_norm.weight", {c.head_dim}});
      out.push_back({p + "self_attn.k_norm.weight", {c.head_dim}});
    }
    out.push_back({p + "post_attention_layernorm.weight", {c.hidden_size}});
    out.push_back({p + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}});
    out.push_back({p + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}});
    out.push_back({p + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}});
  }
  out.push_back({"model.norm.weight", {c.hidden_size}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}});
  return out;
}

void LmCore::InitRandom(uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(seed);
  params_.clear();
  for (const auto& [name, shape] : ExpectedParams()) {
    bool is_norm = name.find("norm.weight") != std::string::npos;
    bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    torch::Tensor t;
    if (is_norm) {
      t = torch::ones(shape);
    } else if (is_bias) {
      t = torch::zeros(shape);
    } else {
      t = torch::empty(shape).normal_(0.0, 0.02, gen);
    }
    params_[name] = t.to(device_, dtype_);
  }
}

Status LmCore::LoadFrom(const safetensors::Checkpoint& checkpoint) {
  torch::NoGradGuard no_grad;
  params_.clear();
  for (const auto& [name, shape] : ExpectedParams()) {
    auto entry = checkpoint.Find(name);
    if (entry.file == nullptr) return Status::InvalidArgument("checkpoint lacks tensor '" + name + "'");
    const auto& info = *entry.info;
    if (info.shape != shape) {
      std::string want, got;
      for (int64_t d : shape) want += (want.empty() ? "" : ",") + std::to_string(d);
      for (int64_t d : info.shape) got += (got.empty() ? "" : ",") + std::to_string(d);
      return Status::InvalidArgument(entry.file->path() + ": tensor '" + name + "' has shape [" + got +
                                     "], config.json needs [" + want + "]");
    }
    SSKAI_ASSIGN_OR_RETURN(torch::ScalarType disk, TorchDtypeOf(info.dtype));
    // Copy out of the mapping into an aligned tensor, then convert on the target device.
    torch::Tensor host = torch::empty(shape, torch::TensorOptions().dtype(disk));
    std::memcpy(host.data_ptr(), entry.file->Data(info), info.end - info.begin);
    params_[name] = host.to(device_, dtype_);
  }
  return Status::Ok();
}

KvCache LmCore::NewCache(int64_t batch, int64_t capacity) const {
  KvCache cache;
  auto opts = torch::TensorOptions().device(device_).dtype(dtype_);
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
    cache.k.push_back(torch::zeros({batch, config_.num_key_value_heads, capacity, config_.head_dim}, opts));
    cache.v.push_back(torch::zeros({batch, config_.num_key_value_heads, capacity, config_.head_dim}, opts));
  }
  return cache;
}

torch::Tensor LmCore::InvFreq(int64_t seq_len) const {
  const LmConfig& c = config_;
  int64_t dim = c.head_dim;
  double base = c.rope_theta;
  if (c.rope_type == "dynamic" && seq_len > c.max_position_embeddings) {
    double ratio = c.rope_factor * static_cast<double>(seq_len) / static_cast<double>(c.max_position_embeddings) -
                   (c.rope_factor - 1.0);
    base = base * std::pow(ratio, static_cast<double>(dim) / static_cast<double>(dim - 2));
  }
  std::vector<float> inv(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i) {
    float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv[i] = 1.0f / std::pow(static_cast<float>(base), exponent);
  }
  if (c.rope_type == "linear") {
    for (auto& f : inv) f = static_cast<float>(f / c.rope_factor);
  } else if (c.rope_type == "llama3") {
    double old_len = static_cast<double>(c.rope_original_max_position);
    double low_wavelen = old_len / c.rope_low_freq_factor, high_wavelen = old_len / c.rope_high_freq_factor;
    for (auto& f : inv) {
      double wavelen = 2 * kPi / f;
      double scaled = wavelen > low_wavelen ? f / c.rope_factor : f;
      bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
      if (medium) {
        double smooth = (old_len / wavelen - c.rope_low_freq_factor) / (c.rope_high_freq_factor - c.rope_low_freq_factor);
        scaled = (1 - smooth) * scaled / c.rope_factor + smooth * scaled;
      }
      f = static_cast<float>(scaled);
    }
  }
  return torch::tensor(inv).to(device_);
}

std::pair<torch::Tensor, torch::Tensor> LmCore::Rotary(const torch::Tensor& positions, int64_t len) {
  const LmConfig& c = config_;
  int64_t table_len = c.max_position_embeddings;
  int64_t seq_len = positions.defined() ? positions.max().item<int64_t>() + 1 : len;
  auto table = [&](const torch::Tensor& pos) {  // pos float [...] → cos, sin [..., hd]
    auto freqs = pos.unsqueeze(-1) * InvFreq(std::max(seq_len, table_len));
    auto emb = torch::cat({freqs, freqs}, -1);
    return std::make_pair(emb.cos(), emb.sin());
  };
  if (seq_len > table_len) {  // beyond the table (dynamic NTK scaling changes the frequencies)
    auto pos = positions.defined() ? positions.to(torch::kFloat)
                                   : torch::arange(len, torch::TensorOptions().device(device_).dtype(torch::kFloat)).view({1, len});
    auto [cos, sin] = table(pos);
    return {cos.unsqueeze(2), sin.unsqueeze(2)};
  }
  if (!rope_cos_.defined()) {
    std::tie(rope_cos_, rope_sin_) = table(torch::arange(table_len, torch::TensorOptions().device(device_).dtype(torch::kFloat)));
  }
  int64_t hd = c.head_dim;
  if (!positions.defined()) {
    return {rope_cos_.narrow(0, 0, len).view({1, len, 1, hd}), rope_sin_.narrow(0, 0, len).view({1, len, 1, hd})};
  }
  auto flat = positions.reshape({-1});
  int64_t batch = positions.size(0);
  return {rope_cos_.index_select(0, flat).view({batch, len, 1, hd}),
          rope_sin_.index_select(0, flat).view({batch, len, 1, hd})};
}

torch::Tensor LmCore::AttentionMask(int64_t len, int64_t past, const torch::Tensor& key_valid,
                                    const torch::Tensor& documents) const {
  int64_t total = past + len;
  auto opts_long = torch::TensorOptions().device(device_).dtype(torch::kLong);
  auto q_slot = torch::arange(past, total, opts_long).view({len, 1});
  auto k_slot = torch::arange(0, total, opts_long).view({1, total});
  auto allowed = (k_slot <= q_slot).unsqueeze(0);  // [1,T,S]
  if (key_valid.defined()) allowed = allowed.logical_and(key_valid.narrow(1, 0, total).unsqueeze(1));
  if (documents.defined()) {  // no cache here: S == T
    allowed = allowed.logical_and(documents.unsqueeze(2) == documents.unsqueeze(1));
  }
  return torch::zeros(allowed.sizes(), torch::TensorOptions().device(device_).dtype(torch::kFloat))
      .masked_fill_(allowed.logical_not(), kMaskValue)
      .view({allowed.size(0), 1, 1, len, total});
}

void LmCore::ConvertParams(torch::ScalarType dtype) {
  if (dtype == dtype_) return;
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : params_) t = t.to(dtype);
  dtype_ = dtype;
}

torch::Tensor LmCore::RmsNorm(const torch::Tensor& x, const torch::Tensor& weight) const {
  return kernels::RmsNorm(x, weight, config_.rms_norm_eps);
}

torch::Tensor LmCore::Proj(const std::string& module, const torch::Tensor& x, bool bias) {
  torch::Tensor b = bias ? Cast(params_.at(module + ".bias")) : torch::Tensor();
  torch::Tensor y = kernels::Linear(Cast(x), Cast(params_.at(module + ".weight")), b);
  auto it = lora_.find(module);
  if (it != lora_.end()) {
    // Adapters compute in fp32 (their storage), or in the compute dtype under mixed precision.
    auto lora_dtype = compute_ != dtype_ ? compute_ : torch::kFloat;
    auto cast = [&](const torch::Tensor& t) { return t.scalar_type() == lora_dtype ? t : t.to(lora_dtype); };
    torch::Tensor in = cast(x);
    if (training_ && lora_spec_.dropout > 0) in = torch::dropout(in, lora_spec_.dropout, /*train=*/true);
    double scale = lora_spec_.alpha / lora_spec_.rank;
    y = y + (torch::linear(torch::linear(in, cast(it->second.a)), cast(it->second.b)) * scale).to(y.scalar_type());
  }
  return y;
}

torch::Tensor LmCore::Hidden(const torch::Tensor& ids, const torch::Tensor& positions, const torch::Tensor& key_valid,
                             KvCache* cache, const torch::Tensor& documents) {
  const LmConfig& c = config_;
  int64_t batch = ids.size(0), len = ids.size(1);
  int64_t heads = c.num_attention_heads, kv_heads = c.num_key_value_heads, hd = c.head_dim;
  int64_t group = heads / kv_heads;
  torch::Tensor x = torch::embedding(params_.at("model.embed_tokens.weight"), ids);

  // The attention scaling rides on q's rotary factors (saves a pass over the scores).
  double scaling = 1.0 / std::sqrt(static_cast<double>(hd));
  // fp32 tables in every compute dtype: the fused rotary reads them as they are, the fallback casts.
  auto [cos, sin] = Rotary(positions, len);  // [B|1,T,1,hd]
  auto cos_q = cos * scaling, sin_q = sin * scaling;
  int64_t past = cache != nullptr ? cache->len : 0, total = past + len;
  // Plain causal attention takes the fused masked softmax; padding or packed documents need the mask.
  bool causal_only = !key_valid.defined() && !documents.defined();
  auto mask = causal_only ? torch::Tensor() : AttentionMask(len, past, key_valid, documents);  // [B|1,1,1,T,S]
  bool o_bias = c.attention_bias && (c.model_type == "llama" || c.model_type == "mistral");

  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    auto h = RmsNorm(x, params_.at(p + "input_layernorm.weight"));
    auto q = Proj(p + "self_attn.q_proj", h, c.attention_bias).view({batch, len, heads, hd});
    auto k = Proj(p + "self_attn.k_proj", h, c.attention_bias).view({batch, len, kv_heads, hd});
    auto v = Proj(p + "self_attn.v_proj", h, c.attention_bias).view({batch, len, kv_heads, hd});
    if (c.qk_norm) {
      q = RmsNorm(q, params_.at(p + "self_attn.q_norm.weight"));
      k = RmsNorm(k, params_.at(p + "self_attn.k_norm.weight"));
    }
    // Heads first: q [B,H,T,hd] = [B,kv,group·T,hd] (query heads grouped by their kv head, so k/v
    // are used as they are), k [B,kv,T,hd].
    q = kernels::RotaryHeadsFirst(q, cos_q, sin_q).reshape({batch, kv_heads, group * len, hd});
    k = kernels::RotaryHeadsFirst(k, cos, sin);
    v = v.transpose(1, 2);
    if (cache != nullptr) {
      cache->k[l].narrow(2, past, len).copy_(k);
      cache->v[l].narrow(2, past, len).copy_(v);
      k = cache->k[l].narrow(2, 0, total);
      v = cache->v[l].narrow(2, 0, total);
    }
    // Softmax statistics in fp32 either way (the fused causal softmax widens bf16 scores itself).
    auto scores = torch::matmul(q, k.transpose(-1, -2)).view({batch, kv_heads, group, len, total});
    auto probs = (causal_only ? kernels::CausalSoftmax(scores) : torch::softmax(scores.to(torch::kFloat).add_(mask), -1))
                     .to(q.scalar_type())
                     .view({batch, kv_heads, group * len, total});
    auto attn = torch::matmul(probs, v)
                    .view({batch, kv_heads, group, len, hd})
                    .permute({0, 3, 1, 2, 4})
                    .reshape({batch, len, heads * hd});
    x = x + Proj(p + "self_attn.o_proj", attn, o_bias);
    h = RmsNorm(x, params_.at(p + "post_attention_layernorm.weight"));
    auto mlp = kernels::SwiGlu(Proj(p + "mlp.gate_proj", h, false), Proj(p + "mlp.up_proj", h, false));
    x = x + Proj(p + "mlp.down_proj", mlp, false);
  }
  if (cache != nullptr) cache->len = total;
  return RmsNorm(x, params_.at("model.norm.weight"));
}

torch::Tensor LmCore::HeadInComputeDtype(const torch::Tensor& hidden) {
  const auto& w = config_.tie_word_embeddings ? params_.at("model.embed_tokens.weight") : params_.at("lm_head.weight");
  return kernels::Linear(Cast(hidden), Cast(w), torch::Tensor());
}

torch::Tensor LmCore::Head(const torch::Tensor& hidden) { return HeadInComputeDtype(hidden).to(torch::kFloat); }

torch::Tensor LmCore::Forward(const torch::Tensor& ids, const torch::Tensor& positions, const torch::Tensor& key_valid,
                              KvCache* cache, const torch::Tensor& documents) {
  return Head(Hidden(ids, positions, key_valid, cache, documents));
}

Status LmCore::SetLoraSpec(const LoraSpec& spec) {
  if (spec.rank < 1 || spec.rank > 4096) return Status::InvalidArgument("lora rank must be in 1..4096");
  if (spec.alpha <= 0) return Status::InvalidArgument("lora alpha must be > 0");
  if (spec.dropout < 0 || spec.dropout >= 1) return Status::InvalidArgument("lora dropout must be in [0, 1)");
  if (spec.target_modules.empty()) return Status::InvalidArgument("lora target_modules is empty");
  for (const auto& t : spec.target_modules) {
    if (ModuleGroup(t) == nullptr) {
      return Status::InvalidArgument("lora target module '" + t +
                                     "' is not one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj");
    }
  }
  lora_spec_ = spec;
  return Status::Ok();
}

Status LmCore::AddLora(const LoraSpec& spec, uint64_t seed) {
  if (!lora_.empty()) return Status::FailedPrecondition("the model already has LoRA adapters");
  SSKAI_RETURN_IF_ERROR(SetLoraSpec(spec));
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(seed);
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
    for (const auto& t : spec.target_modules) {
      std::string module = "model.layers." + std::to_string(l) + "." + ModuleGroup(t) + t;
      const auto& w = params_.at(module + ".weight");
      int64_t out = w.size(0), in = w.size(1);
      double bound = 1.0 / std::sqrt(static_cast<double>(in));  // kaiming_uniform(a=sqrt(5)), as PEFT
      LoraPair pair;
      pair.a = torch::empty({spec.rank, in}).uniform_(-bound, bound, gen).to(device_);
      pair.b = torch::zeros({out, spec.rank}).to(device_);
      lora_[module] = pair;
    }
  }
  return Status::Ok();
}

void LmCore::MergeLora() {
  torch::NoGradGuard no_grad;
  double scale = lora_spec_.alpha / lora_spec_.rank;
  for (auto& [module, pair] : lora_) {
    auto& w = params_.at(module + ".weight");
    w = (w.to(torch::kFloat) + torch::matmul(pair.b, pair.a) * scale).to(dtype_);
  }
  lora_.clear();
}

std::vector<std::pair<std::string, torch::Tensor>> LmCore::BaseTensors(torch::ScalarType dtype) const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& [name, t] : params_) out.push_back({name, t.detach().to(torch::kCPU, dtype).contiguous()});
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> LmCore::AdapterTensors() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& [module, pair] : lora_) {
    out.push_back({"base_model.model." + module + ".lora_A.weight", pair.a.detach().to(torch::kCPU, torch::kFloat).contiguous()});
    out.push_back({"base_model.model." + module + ".lora_B.weight", pair.b.detach().to(torch::kCPU, torch::kFloat).contiguous()});
  }
  return out;
}

}  // namespace sskai::ml
