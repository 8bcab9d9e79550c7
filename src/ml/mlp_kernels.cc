// The fused tabular-MLP forward (mlp_kernels.h).
#include "ml/mlp_kernels.h"

#include <algorithm>

#include "ml/cnn_kernels_loops.h"
#include "ml/cpu_dispatch.h"

namespace sskai::ml::kernels {

std::unique_ptr<MlpInference> MlpInference::Prepare(std::vector<MlpLayerWeights> layers) {
  if (!HasAvx2Fma() || layers.empty()) return nullptr;
  int64_t width = layers.front().inputs, widest = 0;
  for (size_t idx = 0; idx < layers.size(); ++idx) {
    const MlpLayerWeights& l = layers[idx];
    if (l.inputs != width || l.inputs < 1 || l.outputs < 1 ||
        l.weight.size() != static_cast<size_t>(l.inputs * l.outputs) ||
        l.bias.size() != static_cast<size_t>(l.outputs)) {
      return nullptr;
    }
    if (idx + 1 < layers.size()) widest = std::max(widest, l.outputs);
    width = l.outputs;
  }
  std::unique_ptr<MlpInference> out(new MlpInference());
  out->layers_ = std::move(layers);
  out->widest_hidden_ = widest;
  for (const MlpLayerWeights& l : out->layers_) out->weight_bytes_ += l.inputs * l.outputs * int64_t{sizeof(float)};
  return out;
}

void MlpInference::Forward(const float* x, int64_t n, float* out) const {
  if (layers_.size() == 1) {
    const MlpLayerWeights& l = layers_.front();
    loops::Linear(x, n, l.inputs, l.weight.data(), l.bias.data(), l.outputs, /*relu=*/false, out);
    return;
  }
  // Two scratch buffers for the hidden activations, alternating layer by layer.
  std::unique_ptr<float[]> scratch(new float[static_cast<size_t>(2 * n * widest_hidden_)]);
  float* bufs[2] = {scratch.get(), scratch.get() + n * widest_hidden_};
  const float* in = x;
  for (size_t idx = 0; idx < layers_.size(); ++idx) {
    const MlpLayerWeights& l = layers_[idx];
    const bool last = idx + 1 == layers_.size();
    float* dst = last ? out : bufs[idx % 2];
    loops::Linear(in, n, l.inputs, l.weight.data(), l.bias.data(), l.outputs, /*relu=*/!last, dst);
    in = dst;
  }
}

}  // namespace sskai::ml::kernels
