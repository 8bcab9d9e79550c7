// tests/ml/lm_test_util.h — the engine (dlopen of the built libsskai_ml.so) and a tiny Llama config
// shared by the LM tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <memory>

#include "ml/ml.h"
#include "ml/tiny_lm_config.h"

namespace sskai::ml::testing {

inline Engine* LmTestEngine() {
  setenv("SSKAI_ML_LIBRARY", SSKAI_ML_LIBRARY_PATH, 1);
  auto engine = LoadEngine();
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? *engine : nullptr;
}

// A random tiny model (seeded weights).
inline std::unique_ptr<LanguageModel> TinyLm(uint64_t seed = 1) {
  auto lm = LmTestEngine()->CreateLm(TinyLmConfig(), seed, {});
  EXPECT_TRUE(lm.ok()) << lm.status().ToString();
  return lm.ok() ? std::move(*lm) : nullptr;
}

}  // namespace sskai::ml::testing
