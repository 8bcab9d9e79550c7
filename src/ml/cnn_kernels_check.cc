// src/ml/cnn_kernels_check.cc — fused CNN forward vs the reference composition (cnn_kernels_check.h).
#include "ml/cnn_kernels_check.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>

#include "ml/cnn_kernels.h"

namespace sskai::ml::kernels {

namespace {

struct Case {
  int64_t n, c, h, w;
  bool conv_bias;
  int64_t pooled;  // CnnNet: min(side / 4, 7)
};

CnnWeights RandomWeights(const Case& k, int64_t outputs, at::Generator& gen) {
  auto randn = [&](at::IntArrayRef shape, double scale) { return at::randn(shape, gen, at::kFloat) * scale; };
  auto uniform = [&](at::IntArrayRef shape, double lo, double hi) {
    return at::rand(shape, gen, at::kFloat) * (hi - lo) + lo;
  };
  CnnWeights w;
  w.pixel_mean = uniform({1, k.c, 1, 1}, 0.2, 0.6);
  w.pixel_std = uniform({1, k.c, 1, 1}, 0.2, 0.4);
  w.conv1_weight = randn({16, k.c, 3, 3}, 0.3);
  w.conv2_weight = randn({32, 16, 3, 3}, 0.1);
  if (k.conv_bias) {
    w.conv1_bias = randn({16}, 0.2);
    w.conv2_bias = randn({32}, 0.2);
  }
  w.bn1_weight = uniform({16}, 0.5, 1.5);
  w.bn1_bias = randn({16}, 0.2);
  w.bn1_mean = randn({16}, 0.3);
  w.bn1_var = uniform({16}, 0.3, 2.0);
  w.bn2_weight = uniform({32}, 0.5, 1.5);
  w.bn2_bias = randn({32}, 0.2);
  w.bn2_mean = randn({32}, 0.3);
  w.bn2_var = uniform({32}, 0.3, 2.0);
  w.bn2_eps = 1e-3;
  w.pooled_h = std::min<int64_t>(k.h / 4, k.pooled);
  w.pooled_w = std::min<int64_t>(k.w / 4, k.pooled);
  w.fc1_weight = randn({64, 32 * w.pooled_h * w.pooled_w}, 0.05);
  w.fc1_bias = randn({64}, 0.1);
  w.fc2_weight = randn({outputs, 64}, 0.2);
  w.fc2_bias = randn({outputs}, 0.1);
  return w;
}

}  // namespace

std::vector<KernelCheck> CheckCnnKernels(uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const Case cases[] = {
      {1, 1, 28, 28, false, 7}, {5, 1, 28, 28, false, 7}, {3, 3, 32, 32, false, 7}, {2, 3, 29, 23, true, 7},
      {2, 1, 9, 11, false, 7},  {4, 1, 28, 40, true, 7},  {1, 3, 64, 48, false, 7}, {20, 1, 28, 28, false, 7},
  };
  std::vector<KernelCheck> checks;
  for (const Case& k : cases) {
    CnnWeights w = RandomWeights(k, 10, gen);
    at::Tensor x = at::rand({k.n, k.c, k.h, k.w}, gen, at::kFloat) * 255.0;
    KernelCheck check;
    check.op = "cnn_forward [" + std::to_string(k.n) + "," + std::to_string(k.c) + "," + std::to_string(k.h) + "," +
               std::to_string(k.w) + "]" + (k.conv_bias ? " conv_bias" : "");
    at::NoGradGuard no_grad;
    at::Tensor want = reference::CnnForward(w, x);
    auto fused = CnnInference::Prepare(w);
    check.fused = fused != nullptr;
    if (fused) {
      at::Tensor got = fused->Forward(x);
      double scale = std::max(1.0, want.abs().max().item<double>());
      check.forward = got.sizes() == want.sizes() ? (got - want).abs().max().item<double>() / scale : 1e30;
    }
    checks.push_back(check);
  }
  // Weights the fused path does not take (fp64) must be refused, not mis-computed.
  {
    Case k{1, 1, 28, 28, false, 7};
    CnnWeights w = RandomWeights(k, 10, gen);
    w.fc2_weight = w.fc2_weight.to(at::kDouble);
    KernelCheck check;
    check.op = "cnn_forward fp64 weights (refused)";
    check.fused = CnnInference::Prepare(w) != nullptr;
    checks.push_back(check);
  }
  return checks;
}

}  // namespace sskai::ml::kernels
