// src/ml/cnn_kernels.h — evaluation-mode forward of the image CNN (CnnNet in nets.h) fused on CPU
// (internal to libsskai_ml.so; the engine's predictor calls it instead of the module's forward).
//
// The module's forward in evaluation mode is a chain of ATen ops (normalize, conv, batch norm,
// ReLU, max-pool, twice, then two linear layers) that each make a pass over memory; libtorch's CPU
// convolution also unfolds every image (im2col) before its GEMM. Here batch norm is folded into the
// convolution weights once, images are channels-last, and each convolution + bias + 2×2 max-pool +
// ReLU is one pass per image (cnn_kernels_loops.h); the linear layers stay ATen GEMMs over the batch.
// The result equals reference::CnnForward (the module's eval-mode composition) up to float rounding.
// Thread-safety: Forward is const and reentrant; images run on torch's intra-op threads.
// Errors: inputs of the wrong rank or channel count throw c10::Error, as the module's forward does.
#pragma once

// at::Tensor comes from the includer (the engine's precompiled header, or the ATen includes that
// cnn_kernels*.cc make before this header), as for lm_kernels.h.

#include <cstdint>
#include <memory>

namespace sskai::ml::kernels {

// CnnNet's parameters and buffers (evaluation mode uses the batch norms' running statistics).
struct CnnWeights {
  at::Tensor pixel_mean, pixel_std;     // [1, C, 1, 1]: x' = (x / 255 − mean) / std
  at::Tensor conv1_weight, conv1_bias;  // [16, C, 3, 3]; the bias is undefined when the conv has none
  at::Tensor bn1_weight, bn1_bias, bn1_mean, bn1_var;
  double bn1_eps = 1e-5;
  at::Tensor conv2_weight, conv2_bias;  // [32, 16, 3, 3]
  at::Tensor bn2_weight, bn2_bias, bn2_mean, bn2_var;
  double bn2_eps = 1e-5;
  at::Tensor fc1_weight, fc1_bias;     // [hidden, 32 · pooled_h · pooled_w] (NCHW flatten order)
  at::Tensor fc2_weight, fc2_bias;     // [outputs, hidden]
  int64_t pooled_h = 7, pooled_w = 7;  // the second pool's output is average-pooled to this when it differs
};

class CnnInference {
 public:
  // Folds and lays out the weights. Null when the fused path does not apply: a CPU without AVX2
  // and FMA (the loops' baseline build is slower than libtorch), weights that are not fp32 on the
  // CPU, or convolution widths other than 16 and 32 (the caller keeps the module path).
  static std::unique_ptr<CnnInference> Prepare(const CnnWeights& w);

  // x [N, C, H, W] (pixel values 0..255, any float dtype; converted to fp32) → logits [N, outputs].
  at::Tensor Forward(const at::Tensor& x) const;

 private:
  CnnInference() = default;
  int64_t channels_ = 0, pooled_h_ = 0, pooled_w_ = 0;
  at::Tensor mean_, std_;             // [C] fp32
  at::Tensor conv1_, bias1_;          // [3, 3, C, 16] with bn1's scale folded in; [16]
  at::Tensor conv2_, bias2_;          // [3, 3, 16, 32]; [32]
  at::Tensor fc1_weight_, fc1_bias_;  // columns permuted to the channels-last flatten order
  at::Tensor fc2_weight_, fc2_bias_;
};

namespace reference {
// CnnNet::forward in evaluation mode as plain ATen ops (the check's reference).
at::Tensor CnnForward(const CnnWeights& w, const at::Tensor& x);
}  // namespace reference

}  // namespace sskai::ml::kernels
