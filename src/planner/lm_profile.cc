// ProfileLm: parameters, FLOPs and memory of a Llama-family decoder from its config shape.
// Formulas (per token, d = hidden, a = heads x head_dim, k = kv_heads x head_dim, i = intermediate):
//   layer weights  d·a (q) + 2·d·k (k, v) + a·d (o) + 3·d·i (gate, up, down) [+ a + 2k biases]
//                  [+ 2·head_dim q/k norms] + 2·d (norms)
//   params         L·layer + V·d (embedding) + d (final norm) [+ V·d lm_head when untied]
//   forward FLOPs  2·(L·matmul weights + V·d) + 4·L·s·a   (the 6N + 12·L·d·s convention / 3)
//   activations    L·s·b·d·(34 + 5·heads·s/d) bytes at 16 bit (Korthikanti et al. 2022, no
//                  recomputation), scaled by bytes/2 for fp32.
#include <cmath>

#include "planner/planner.h"

namespace sskai::planner {

Result<LmProfile> ProfileLm(const LmShape& s, int seq_len, int micro_batch, Precision precision,
                            int lora_rank) {
  for (double v : {s.vocab, s.hidden, s.intermediate, s.layers, s.heads, s.kv_heads, s.head_dim}) {
    if (!(v >= 1) || !std::isfinite(v)) return Status::InvalidArgument("lm config: sizes must be positive");
  }
  if (std::fmod(s.heads, s.kv_heads) != 0) {
    return Status::InvalidArgument("lm config: num_attention_heads must be a multiple of num_key_value_heads");
  }
  if (seq_len < 1 || micro_batch < 1) return Status::InvalidArgument("seq_len and micro_batch must be >= 1");
  if (lora_rank < 0 || lora_rank > 4096) return Status::InvalidArgument("lora_rank must be in 0..4096");
  const double d = s.hidden, a = s.heads * s.head_dim, k = s.kv_heads * s.head_dim, i = s.intermediate;
  const double L = s.layers, V = s.vocab, seq = seq_len, b = micro_batch;
  const double matmul = d * a + 2 * d * k + a * d + 3 * d * i;
  double layer = matmul + 2 * d;
  if (s.qkv_bias) layer += a + 2 * k;
  if (s.qk_norm) layer += 2 * s.head_dim;
  LmProfile p;
  p.params = L * layer + V * d + d + (s.tied_embeddings ? 0 : V * d);
  const double bytes = precision == Precision::kFp32 ? 4 : 2;
  p.flops_forward_per_token = 2 * (L * matmul + V * d) + 4 * L * seq * a;
  if (lora_rank > 0) {
    const double r = lora_rank;
    p.trainable_params = L * r * ((d + a) + 2 * (d + k) + (a + d) + 3 * (d + i));
    // Backward through frozen weights still needs activation gradients (one more forward's worth).
    p.flops_train_per_token = 2 * p.flops_forward_per_token + 6 * p.trainable_params;
  } else {
    p.trainable_params = p.params;
    p.flops_train_per_token = 3 * p.flops_forward_per_token;
  }
  p.weights_bytes = p.params * bytes;
  p.gradient_bytes = p.trainable_params * bytes;
  // AdamW m and v in fp32; 16-bit training also keeps an fp32 master copy of what it trains.
  p.optimizer_bytes = p.trainable_params * (8 + (bytes < 4 ? 4 : 0));
  p.activation_bytes = L * seq * b * d * (34 + 5 * s.heads * seq / d) * (bytes / 2);
  p.kv_cache_bytes_per_token = 2 * L * k * bytes;
  p.inference_bytes = p.weights_bytes + p.kv_cache_bytes_per_token * seq * b + 4 * seq * b * d * bytes;
  p.training_bytes = p.weights_bytes + p.gradient_bytes + p.optimizer_bytes + p.activation_bytes;
  p.checkpoint_bytes = p.trainable_params * bytes + p.optimizer_bytes;
  return p;
}

}  // namespace sskai::planner
