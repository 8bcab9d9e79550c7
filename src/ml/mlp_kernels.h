// src/ml/mlp_kernels.h — evaluation-mode forward of the tabular MLP (MlpNet in nets.h) on plain fp32
// arrays (internal to libsskai_ml.so; no torch).
//
// For one request (a row or a few) the module's forward is a handful of ATen ops — linear, ReLU,
// dropout (a no-op in evaluation), linear — whose dispatch costs tens of microseconds, far more than
// the arithmetic of a few thousand weights; for a dynamic batch of wide layers, a BLAS GEMM packs
// the weights on every call. Here the weights are packed once, at Prepare, and each layer is one
// register-tiled pass over them (out = x · wᵀ + b, ReLU between layers, none after the last).
// A row's result is the same whatever rows are batched with it, and equals the module's forward
// up to float rounding (the predictor checks this at load).
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
  // Whether a batch of n rows should run here rather than through libtorch's GEMMs: up to
  // kMaxRows rows (a dynamic batch); larger requests keep libtorch, whose GEMMs can use several
  // threads. Measured with bench/mlp_bench.cc (1 thread, AVX2+FMA; see BENCHMARKS.md).
  static constexpr int64_t kMaxRows = 64;
  bool Takes(int64_t n) const { return n <= kMaxRows; }

  // Null when the fused path does not apply: a CPU without AVX2 and FMA (the loops are built for
  // those only), no layers, or layers whose sizes do not chain. Keeps a packed copy of the weights
  // (the same size as the weights, plus padding to 16 outputs per layer).
  static std::unique_ptr<MlpInference> Prepare(std::vector<MlpLayerWeights> layers);

  // x [n, inputs()] → out [n, outputs()] (the logits), row-major. REQUIRES: n ≥ 1.
  void Forward(const float* x, int64_t n, float* out) const;

  int64_t inputs() const { return layers_.front().inputs; }
  int64_t outputs() const { return layers_.back().outputs; }

 private:
  struct PackedLayer {
    std::vector<float> weight;  // panels of 16 outputs, each [inputs][16] (mlp_kernels.cc)
    std::vector<float> bias;
    int64_t inputs = 0, outputs = 0;
  };
  MlpInference() = default;
  std::vector<PackedLayer> layers_;
  int64_t widest_hidden_ = 0;
};

}  // namespace sskai::ml::kernels
