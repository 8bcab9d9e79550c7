// tests/ml/cnn_kernels_test.cc — the fused evaluation-mode CNN forward (src/ml/cnn_kernels.h)
// against the module's ATen composition: batch-norm folding, channels-last convolutions, fused
// bias + pool + ReLU and the adaptive pool agree to float rounding on random weights and images,
// odd sizes included; weights the fused path does not take are refused, and so is every case on
// a CPU without AVX2+FMA (the ctest variant with SSKAI_CPU_BASELINE=1).
#include "ml/cnn_kernels_check.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "ml/cpu_dispatch.h"

namespace sskai::ml::kernels {
namespace {

constexpr double kTolerance = 1e-5;  // relative to max(1, max |reference logit|)

TEST(CnnKernelsTest, FusedForwardMatchesTheReference) {
  for (uint64_t seed : {1u, 2u}) {
    auto checks = CheckCnnKernels(seed);
    ASSERT_GE(checks.size(), 9u);
    for (const auto& c : checks) {
      SCOPED_TRACE(c.op + " seed " + std::to_string(seed));
      if (seed == 1) std::printf("%-40s fused %d  forward %.2e\n", c.op.c_str(), c.fused, c.forward);
      // Without AVX2+FMA (or with SSKAI_CPU_BASELINE=1) the fused path declines every case.
      const bool refused = c.op.find("refused") != std::string::npos || !HasAvx2Fma();
      EXPECT_EQ(c.fused, !refused);
      EXPECT_LE(c.forward, kTolerance);
    }
  }
}

}  // namespace
}  // namespace sskai::ml::kernels
