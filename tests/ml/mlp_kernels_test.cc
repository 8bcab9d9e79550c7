// tests/ml/mlp_kernels_test.cc — the fused evaluation-mode MLP forward (src/ml/mlp_kernels.h)
// against a double-precision reference of the same equations (x · wᵀ + b, ReLU between layers,
// none after the last) on random weights: depths 1–3, widths that are not multiples of the
// vector width or of a panel (16), inputs longer than one pass (256), batches of every tile shape
// 1–64. A row answers the same bits alone and in any batch. Layers that do not chain are refused,
// and so is every case on a CPU without AVX2+FMA (the ctest variant with SSKAI_CPU_BASELINE=1).
#include "ml/mlp_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "ml/cpu_dispatch.h"

namespace sskai::ml::kernels {
namespace {

std::vector<MlpLayerWeights> RandomLayers(const std::vector<int64_t>& widths, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<MlpLayerWeights> layers;
  for (size_t idx = 0; idx + 1 < widths.size(); ++idx) {
    MlpLayerWeights l;
    l.inputs = widths[idx];
    l.outputs = widths[idx + 1];
    const float scale = 1.0f / std::sqrt(static_cast<float>(l.inputs));
    for (int64_t e = 0; e < l.inputs * l.outputs; ++e) l.weight.push_back(normal(rng) * scale);
    for (int64_t e = 0; e < l.outputs; ++e) l.bias.push_back(normal(rng) * 0.1f);
    layers.push_back(std::move(l));
  }
  return layers;
}

std::vector<double> Reference(const std::vector<MlpLayerWeights>& layers, const std::vector<float>& x, int64_t n) {
  std::vector<double> in(x.begin(), x.end());
  for (size_t idx = 0; idx < layers.size(); ++idx) {
    const auto& l = layers[idx];
    std::vector<double> out(static_cast<size_t>(n * l.outputs));
    for (int64_t row = 0; row < n; ++row) {
      for (int64_t j = 0; j < l.outputs; ++j) {
        double sum = l.bias[j];
        for (int64_t i = 0; i < l.inputs; ++i) sum += in[row * l.inputs + i] * double(l.weight[j * l.inputs + i]);
        out[row * l.outputs + j] = idx + 1 < layers.size() ? std::max(sum, 0.0) : sum;
      }
    }
    in = std::move(out);
  }
  return in;
}

TEST(MlpKernelsTest, FusedForwardMatchesTheReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::vector<std::vector<int64_t>> shapes = {
      {4, 3}, {4, 64, 3}, {13, 37, 29, 5}, {8, 256, 256, 1}, {100, 17, 2}, {600, 300, 10}, {3, 40, 513, 7}};
  for (const auto& widths : shapes) {
    auto layers = RandomLayers(widths, rng);
    auto fused = MlpInference::Prepare(layers);
    if (!HasAvx2Fma()) {
      EXPECT_EQ(fused, nullptr);  // the loops are built for AVX2+FMA only
      continue;
    }
    ASSERT_NE(fused, nullptr);
    EXPECT_EQ(fused->inputs(), widths.front());
    EXPECT_EQ(fused->outputs(), widths.back());
    for (int64_t n : {1, 2, 3, 4, 5, 6, 7, 8, 13, 16, 35}) {
      std::vector<float> x;
      for (int64_t e = 0; e < n * widths.front(); ++e) x.push_back(normal(rng) * 3.0f);
      std::vector<float> got(static_cast<size_t>(n * widths.back()));
      fused->Forward(x.data(), n, got.data());
      auto want = Reference(layers, x, n);
      double scale = 1.0, worst = 0.0;
      for (double v : want) scale = std::max(scale, std::abs(v));
      for (size_t e = 0; e < want.size(); ++e) worst = std::max(worst, std::abs(got[e] - want[e]));
      EXPECT_LE(worst / scale, 1e-5) << "widths " << widths.size() << " layers, batch " << n;
    }
  }
}

TEST(MlpKernelsTest, ARowAnswersTheSameBitsAloneAndInAnyBatch) {
  // Each output sums its products in input order, pass by pass, whatever tile the row lands in
  // (6-row blocks, or the last rows' tiles over 1–6 panels).
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto layers = RandomLayers({300, 70, 41, 3}, rng);
  auto fused = MlpInference::Prepare(layers);
  if (!HasAvx2Fma()) {
    EXPECT_EQ(fused, nullptr);
    return;
  }
  ASSERT_NE(fused, nullptr);
  const int64_t rows = 64, in = 300, out = 3;
  std::vector<float> x;
  for (int64_t e = 0; e < rows * in; ++e) x.push_back(normal(rng));
  std::vector<float> alone(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r) fused->Forward(x.data() + r * in, 1, alone.data() + r * out);
  for (int64_t n : {2, 3, 4, 5, 6, 7, 11, 12, 17, 29, 64}) {
    std::vector<float> batch(static_cast<size_t>(n * out));
    fused->Forward(x.data(), n, batch.data());
    for (int64_t e = 0; e < n * out; ++e) ASSERT_EQ(batch[e], alone[e]) << "batch " << n << ", value " << e;
  }
}

TEST(MlpKernelsTest, TakesDynamicBatchesButNotLargeRequests) {
  std::mt19937 rng(5);
  auto small = MlpInference::Prepare(RandomLayers({4, 128, 64, 3}, rng));
  if (!HasAvx2Fma()) {
    EXPECT_EQ(small, nullptr);  // the fused path is off: every batch takes the module's forward
    return;
  }
  ASSERT_NE(small, nullptr);
  EXPECT_TRUE(small->Takes(1));
  EXPECT_TRUE(small->Takes(32));  // a dynamic batch (max_batch_size ≤ 64)
  EXPECT_TRUE(small->Takes(MlpInference::kMaxRows));
  EXPECT_FALSE(small->Takes(MlpInference::kMaxRows + 1));  // libtorch's GEMMs, on all its threads
}

TEST(MlpKernelsTest, RefusesLayersThatDoNotChain) {
  std::mt19937 rng(3);
  EXPECT_EQ(MlpInference::Prepare({}), nullptr);
  auto a = RandomLayers({4, 8}, rng), b = RandomLayers({9, 3}, rng);  // 8 outputs feed 9 inputs
  std::vector<MlpLayerWeights> broken = {a[0], b[0]};
  EXPECT_EQ(MlpInference::Prepare(broken), nullptr);
  auto short_bias = RandomLayers({4, 8, 3}, rng);
  short_bias[1].bias.pop_back();
  EXPECT_EQ(MlpInference::Prepare(short_bias), nullptr);
}

}  // namespace
}  // namespace sskai::ml::kernels
