// src/ml/lm_kernels_rows.h — the loops behind lm_kernels.h: plain fp32 or bf16 arrays, no torch
// (internal to libsskai_ml.so). Each function handles the rows (or elements) [begin, end) of
// contiguous row-major buffers, so callers split the work across threads; outputs never alias
// inputs. On x86-64 with GCC every loop is also compiled for AVX2+FMA and picked at run time
// (cpu_dispatch.h).
//
// The Bf16 overloads read and write bfloat16 activations (bf16 mixed-precision training) and do
// all arithmetic in fp32, rounding once per stored value (to nearest even, as c10::BFloat16); RMSNorm
// statistics, rotary tables and the saved lse/rstd stay fp32.
#pragma once

#include <cstdint>

namespace sskai::ml::kernels::rows {

// bfloat16 storage: the upper 16 bits of an IEEE float (the layout of c10::BFloat16).
struct Bf16 {
  uint16_t bits;
};

// RMSNorm rows of n: y = w * (x * r), r = 1 / sqrt(mean(x²) + eps), saved per row in rstd.
void RmsForward(const float* x, const float* w, float* y, float* rstd, int64_t n, float eps, int64_t begin,
                int64_t end);
// dx = r·(dy·w) − x·r³·mean(dy·w·x); dw_acc (n floats, may be null) += dy·x·r summed over the rows.
void RmsBackward(const float* dy, const float* x, const float* w, const float* rstd, float* dx, float* dw_acc,
                 int64_t n, int64_t begin, int64_t end);

// Elements: y = silu(g)·u; dg = dy·u·σ(g)·(1 + g·(1 − σ(g))), du = dy·silu(g).
void SwiGluForward(const float* g, const float* u, float* y, int64_t begin, int64_t end);
void SwiGluBackward(const float* dy, const float* g, const float* u, float* dg, float* du, int64_t begin,
                    int64_t end);
void SwiGluForward(const Bf16* g, const Bf16* u, Bf16* y, int64_t begin, int64_t end);
void SwiGluBackward(const Bf16* dy, const Bf16* g, const Bf16* u, Bf16* dg, Bf16* du, int64_t begin, int64_t end);

// Rotary on rows r = b·T + t of x [B, T, H, D] into y [B, H, T, D]; cos/sin rows [T, D] (shared) or
// [B·T, D] (cos_per_batch). Backward maps dy [B, H, T, D] to dx [B, T, H, D].
struct RotaryShape {
  int64_t t, h, d;
  bool cos_per_batch;
};
void RotaryForward(const float* x, const float* cos, const float* sin, float* y, RotaryShape shape, int64_t begin,
                   int64_t end);
void RotaryBackward(const float* dy, const float* cos, const float* sin, float* dx, RotaryShape shape,
                    int64_t begin, int64_t end);
void RotaryForward(const Bf16* x, const float* cos, const float* sin, Bf16* y, RotaryShape shape, int64_t begin,
                   int64_t end);
void RotaryBackward(const Bf16* dy, const float* cos, const float* sin, Bf16* dx, RotaryShape shape, int64_t begin,
                    int64_t end);

// Causal softmax on rows of S; row r is query t = r mod T and sees slots 0 .. S − T + t.
void CausalSoftmaxForward(const float* s, float* p, int64_t t, int64_t len_s, int64_t begin, int64_t end);
void CausalSoftmaxBackward(const float* dp, const float* p, float* ds, int64_t t, int64_t len_s, int64_t begin,
                           int64_t end);
void CausalSoftmaxForward(const Bf16* s, Bf16* p, int64_t t, int64_t len_s, int64_t begin, int64_t end);
void CausalSoftmaxBackward(const Bf16* dp, const Bf16* p, Bf16* ds, int64_t t, int64_t len_s, int64_t begin,
                           int64_t end);

// Cross-entropy rows of V: loss[r] = lse[r] − x[r, target[r]] with lse = logsumexp(x[r]); rows whose
// target is `ignore` get loss 0 (lse 0). Backward: dx = scale·(softmax(x) − onehot), 0 for ignored rows.
void CrossEntropyForward(const float* x, const int64_t* target, float* lse, float* loss, int64_t v, int64_t ignore,
                         int64_t begin, int64_t end);
void CrossEntropyBackward(const float* x, const int64_t* target, const float* lse, float scale, float* dx, int64_t v,
                          int64_t ignore, int64_t begin, int64_t end);
void CrossEntropyForward(const Bf16* x, const int64_t* target, float* lse, float* loss, int64_t v, int64_t ignore,
                         int64_t begin, int64_t end);
void CrossEntropyBackward(const Bf16* x, const int64_t* target, const float* lse, float scale, Bf16* dx, int64_t v,
                          int64_t ignore, int64_t begin, int64_t end);

// One AdamW update with the clipping factor folded in (torch::optim::AdamW's equations) on elements
// [begin, end) of fp32 parameters p, gradients g and moments m, v:
//   p ← p·(1 − lr·wd); g' = g·coef; m ← β1·m + (1−β1)·g'; v ← β2·v + (1−β2)·g'²;
//   p ← p − lr/(1−β1^t) · m / (√v / √(1−β2^t) + eps)
struct AdamWScalars {
  float wd_factor, b1, c1, b2, c2, coef, eps, sqrt_bc2, neg_step;
  bool decay;
};
AdamWScalars MakeAdamWScalars(double lr, double weight_decay, double beta1, double beta2, double eps, double coef,
                              int64_t step);
void AdamWStep(const AdamWScalars& s, float* p, const float* g, float* m, float* v, int64_t begin, int64_t end);

}  // namespace sskai::ml::kernels::rows
