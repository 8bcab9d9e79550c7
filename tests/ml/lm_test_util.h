// tests/ml/lm_test_util.h — the engine (dlopen of the built libsskai_ml.so) and a tiny Llama config
// shared by the LM tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

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

// Largest |a[i] - b[i]| (sizes must match).
inline double MaxAbsDiff(const std::vector<float>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

}  // namespace sskai::ml::testing
