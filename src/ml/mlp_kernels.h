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
  // Whether a batch of n rows should run here: one row always (a single pass over the weights);
  // up to 16 rows while the weights are small enough to stay in cache (≤ 1 MiB), since the row
  // loops read the weights once per 4 rows. Other batches take the caller's GEMM path, where a BLAS
  // GEMM packs the weights once for all rows.
  bool Takes(int64_t n) const { return n == 1 || (n <= 16 && weight_bytes_ <= (int64_t{1} << 20)); }

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
