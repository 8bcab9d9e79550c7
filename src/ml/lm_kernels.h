// src/ml/lm_kernels.h — the LM's elementwise and row-wise ops, fused on CPU (internal to
// libsskai_ml.so; lm_model.cc and lm_train.cc call these instead of composing ATen ops).
//
// Each function computes exactly the equation of its reference composition (namespace reference,
// the plain ATen ops the model used before) up to float rounding. On CPU with contiguous inputs it
// runs one hand-written pass per row for the forward and one for the backward (a custom autograd
// function: fewer passes over memory and fewer saved tensors than the composition); anything else
// (another device, strided inputs) takes the reference composition. RMSNorm fuses fp32 only; the
// other ops also fuse bf16 activations (bf16 mixed-precision training): they read and write bf16
// and compute in fp32, rounding once per stored value where the composition rounds after each op.
// Rows run in parallel over at::parallel_for (torch's intra-op threads).
// Thread-safety: the functions are reentrant (no shared state).
// Errors: shape mismatches throw c10::Error, as the ATen ops they replace do.
#pragma once

// at::Tensor comes from the includer: the engine's precompiled header (src/ml/CMakeLists.txt) or,
// in sskai_ml_kernels, the ATen includes that lm_kernels*.cc make before this header, so no
// public or private header of the module pulls libtorch in by itself.

#include <cstdint>

namespace sskai::ml::kernels {

// RMSNorm over the last dimension: w * (x * rsqrt(mean(x², -1) + eps)), statistics in fp32, the
// result in x's dtype. x [..., n], w [n].
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& w, double eps);

// SwiGLU gating: silu(gate) * up (same shapes).
at::Tensor SwiGlu(const at::Tensor& gate, const at::Tensor& up);

// Rotary embedding, heads first: x [B, T, H, D] → (x * cos + rotate_half(x) * sin) as [B, H, T, D]
// in x's dtype (contiguous on the fused path; a transposed view otherwise). cos, sin [B or 1, T, 1,
// D] carry no gradient; the fused path reads them in fp32, the composition in x's dtype;
// rotate_half(x) = cat(-x[..., D/2:], x[..., :D/2]).
at::Tensor RotaryHeadsFirst(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// Causal softmax over the last dimension of scores [..., T, S] (S >= T): query row t sees key
// slots 0 .. S − T + t (the earlier S − T slots are a KV cache); masked slots get probability 0.
// Computed in fp32; the result in scores' dtype.
at::Tensor CausalSoftmax(const at::Tensor& scores);

// Sum over rows whose target is not `ignore_index` of −log_softmax(logits)[row, target]
// (cross-entropy with reduction sum). logits [N, V] fp32 or bf16 (widened: the loss is fp32),
// targets [N] int64. Targets outside [0, V) other than ignore_index throw.
at::Tensor CrossEntropySum(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index);

// y = x · wᵀ (+ b), as at::linear: x [..., k], w [m, k], b [m] or undefined. Without autograd
// (GradMode off, or nothing requiring a gradient) on CPU fp32 with at most kDecodeRows rows — a
// decode step of up to 4 requests — it runs the row loops of cnn_kernels_loops.h over the
// weights as they are (no packing), output columns split over torch's intra-op threads: ATen's
// matrix-vector product reads the weights at a fraction of memory speed. From 5–8 rows on the
// loops only match ATen's GEMM (bench/mlp_bench.cc, the row loops' earlier table in
// BENCHMARKS.md), so anything else is at::linear.
constexpr int64_t kDecodeRows = 4;
at::Tensor Linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b);
// Whether Linear runs the row loops for these inputs (else at::linear).
bool LinearTakes(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b);

// The plain ATen compositions (also the fallback of the functions above).
namespace reference {
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& w, double eps);
at::Tensor SwiGlu(const at::Tensor& gate, const at::Tensor& up);
at::Tensor RotaryHeadsFirst(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);
at::Tensor CausalSoftmax(const at::Tensor& scores);
at::Tensor CrossEntropySum(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index);
}  // namespace reference

}  // namespace sskai::ml::kernels
