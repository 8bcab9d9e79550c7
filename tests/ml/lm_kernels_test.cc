// tests/ml/lm_kernels_test.cc — the fused LM kernels (src/ml/lm_kernels.h) against the ATen
// compositions they replace: forward outputs and input gradients on random inputs, odd sizes
// included, agree to float rounding; inputs the kernels do not take fall back to the composition.
#include "ml/lm_kernels_check.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "ml/cpu_dispatch.h"

namespace sskai::ml::kernels {
namespace {

TEST(LmKernelsTest, FusedOpsMatchTheReferenceForwardAndBackward) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    auto checks = CheckLmKernels(seed);
    ASSERT_GE(checks.size(), 27u);
    for (const auto& c : checks) {
      SCOPED_TRACE(c.op + " seed " + std::to_string(seed));
      if (seed == 1) std::printf("%-40s fused %d  forward %.2e  backward %.2e\n", c.op.c_str(), c.fused, c.forward, c.backward);
      bool fallback_expected = c.op.find("strided") != std::string::npos || c.op.find("unfused") != std::string::npos;
      EXPECT_EQ(c.fused, !fallback_expected);
      EXPECT_LE(c.forward, c.tolerance);
      EXPECT_LE(c.backward, c.tolerance);
    }
  }
}

TEST(LmKernelsTest, DecodeLinearMatchesATenAndLeavesOtherInputsToIt) {
  for (uint64_t seed : {1u, 2u}) {
    auto checks = CheckDecodeLinear(seed);
    ASSERT_EQ(checks.size(), 7u);
    for (const auto& c : checks) {
      SCOPED_TRACE(c.op + " seed " + std::to_string(seed));
      bool fallback_expected = c.op.find("5 rows") != std::string::npos || c.op.find("autograd") != std::string::npos;
      // The row loops exist only in an AVX2+FMA build (the baseline-CPU ctest variant: all fall back).
      EXPECT_EQ(c.fused, !fallback_expected && HasAvx2Fma());
      EXPECT_LE(c.forward, kFp32Tolerance);
    }
  }
}

TEST(LmKernelsTest, FusedAdamWMatchesTorchAdamW) {
  auto checks = CheckAdamW(5);
  ASSERT_EQ(checks.size(), 3u);
  for (const auto& c : checks) {
    SCOPED_TRACE(c.op);
    std::printf("%-40s params %.2e  moments %.2e\n", c.op.c_str(), c.forward, c.backward);
    EXPECT_LE(c.forward, kFp32Tolerance);
    EXPECT_LE(c.backward, kFp32Tolerance);
  }
}

TEST(LmKernelsTest, EveryOpIsChecked) {
  auto checks = CheckLmKernels(7);
  for (const char* op : {"rms_norm", "swiglu", "rotary", "causal_softmax", "cross_entropy_sum"}) {
    int fused = 0;
    for (const auto& c : checks) fused += c.fused && c.op.rfind(std::string(op) + " ", 0) == 0;
    EXPECT_GE(fused, 2) << op;
  }
  for (const char* op : {"swiglu", "rotary", "causal_softmax", "cross_entropy_sum"}) {
    int fused = 0;
    for (const auto& c : checks) fused += c.fused && c.op.rfind(std::string(op) + "(bf16) ", 0) == 0;
    EXPECT_GE(fused, 2) << op << " (bf16)";
  }
}

}  // namespace
}  // namespace sskai::ml::kernels
