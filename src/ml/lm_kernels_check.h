// src/ml/lm_kernels_check.h — compares each fused LM kernel (lm_kernels.h) with its reference ATen
// composition on random inputs; torch-free, for tests/ml/lm_kernels_test.cc (internal to the ml
// module: libsskai_ml.so does not export it, the test links the kernels' static library).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sskai::ml::kernels {

// Bounds on KernelCheck::forward/backward: fp32 rounding, and bf16 outputs (one rounding of 2^-9
// relative per stored value, a few where a backward reads a rounded saved output).
constexpr double kFp32Tolerance = 1e-5;
constexpr double kBf16Tolerance = 1e-2;

struct KernelCheck {
  std::string op;         // op, "(bf16)" for bf16 activations, and input shape, e.g. "rms_norm [3,5,37]"
  bool fused = false;     // the fused kernel ran (false: the input took the ATen fallback)
  double forward = 0;     // max |fused − reference| / max(1, max |reference|) over the output
  double backward = 0;    // the same over every input gradient (random upstream gradient)
  double tolerance = kFp32Tolerance;  // what forward and backward must stay within
};

// Runs every op on a fixed list of shapes (odd sizes, broadcast and per-batch rotary tables, KV-cache
// offsets, ignored targets, strided inputs), in fp32 and, for the ops that fuse it, with bf16
// activations against the fp32 composition on the same bf16 values; inputs drawn from `seed`. Thread-safety: uses
// torch's intra-op threads; safe to call from any one thread.
std::vector<KernelCheck> CheckLmKernels(uint64_t seed);

// The decode-step Linear (no autograd) against at::linear: 1–4 rows, odd widths, with and
// without bias, a strided input, and inputs it must leave to at::linear (5 rows; autograd on).
// `fused` says whether the row loops ran; `backward` is 0.
std::vector<KernelCheck> CheckDecodeLinear(uint64_t seed);

// The trainer's fused AdamW loop (lm_kernels_rows.h AdamWStep) against torch::optim::AdamW over
// 5 steps on random parameters and gradients, with and without weight decay and with a clipping
// factor; `forward` is the parameters' max relative difference, `backward` the moments'.
std::vector<KernelCheck> CheckAdamW(uint64_t seed);

}  // namespace sskai::ml::kernels
