// tests/ml/tiny_lm_config.h — the tiny Llama config of the engine-level LM tests (no engine needed).
#pragma once

#include <cstdint>

#include "ml/ml.h"

namespace sskai::ml::testing {

inline LmConfig TinyLmConfig(int64_t vocab_size = 61, int64_t max_positions = 128) {
  LmConfig c;
  c.model_type = "llama";
  c.vocab_size = vocab_size;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = max_positions;
  c.rms_norm_eps = 1e-5;
  return c;
}

}  // namespace sskai::ml::testing
