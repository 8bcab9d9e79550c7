// src/ml/mlp_kernels.h — evaluation-mode forward of the tabular MLP (MlpNet in nets.h) on plain fp32
// arrays (internal to libsskai_ml.so; no torch).
//
// For one request (a row or a few) the module's forward is a handful of ATen ops — linear, ReLU,
// dropout (a no-op in evaluation), linear — whose dispatch costs tens of microseconds, far more than
// the arithmetic of a few thousand weights. Here each layer is one pass of the row loops
// (cnn_kernels_loops.h: out = x · wᵀ + b, ReLU between layers, none after the last).
// The result equals the module's forward up to float rounding (the predictor checks this at load).
// Thread-safety: Forward is const and reentrant.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace sskai::ml::kernels {

struct MlpLayerWeights {
  std::vector<float> weight;  // [outputs, inputs] row-major, as torch::nn::Linear's weight
  std::vector<float> bias;    // [outputs]
  int64_t inputs = 0, outputs = 0;
};

class MlpInference {
 public:
  // Whether a batch of n rows should run here rather than through libtorch's GEMMs: up to 4 rows
  // for any width, up to 8 for small models (≤ 256 KiB of weights). Measured with
  // bench/mlp_bench.cc (1 thread, AVX2+FMA): the loops are 4–8× faster than libtorch at 1 row,
  // 1.4–2.5× at 4 rows, 0.9–1.5× at 8 and 0.4–1.0× at 16, where a BLAS GEMM's packing of the
  // weights pays off.
  bool Takes(int64_t n) const { return n <= 4 || (n <= 8 && weight_bytes_ <= (int64_t{256} << 10)); }

  // Null when the fused path does not apply: a CPU without AVX2 and FMA (the loops are built for
  // those only), no layers, or layers whose sizes do not chain.
  static std::unique_ptr<MlpInference> Prepare(std::vector<MlpLayerWeights> layers);

  // x [n, inputs()] → out [n, outputs()] (the logits), row-major. REQUIRES: n ≥ 1.
  void Forward(const float* x, int64_t n, float* out) const;

  int64_t inputs() const { return layers_.front().inputs; }
  int64_t outputs() const { return layers_.back().outputs; }

 private:
  MlpInference() = default;
  std::vector<MlpLayerWeights> layers_;
  int64_t widest_hidden_ = 0;
  int64_t weight_bytes_ = 0;
};

}  // namespace sskai::ml::kernels
