// tests/ml/lm_test_util.h — the engine (dlopen of the built libsskai_ml.so) and a tiny Llama config
// shared by the LM tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <memory>

#include "ml/ml.h"

namespace sskai::ml::testing {

inline Engine* LmTestEngine() {
  setenv("SSKAI_ML_LIBRARY", SSKAI_ML_LIBRARY_PATH, 1);
  auto engine = LoadEngine();
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? *engine : nullptr;
}

inline LmConfig TinyLmConfig() {
  LmConfig c;
  c.model_type = "llama";
  c.vocab_size = 61;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 128;
  c.rms_norm_eps = 1e-5;
  return c;
}

// A random tiny model (seeded weights).
inline std::unique_ptr<LanguageModel> TinyLm(uint64_t seed = 1) {
  auto lm = LmTestEngine()->CreateLm(TinyLmConfig(), seed, {});
  EXPECT_TRUE(lm.ok()) << lm.status().ToString();
  return lm.ok() ? std::move(*lm) : nullptr;
}

}  // namespace sskai::ml::testing
