// bench/cnn_bench.cc — the image CNN's evaluation-mode forward (issue: serving): the fused path the
// predictor runs (src/ml/cnn_kernels.h) vs the module's ATen composition (reference::CnnForward,
// what libtorch runs for CnnNet::forward), per image at batch 1, 8 and 32, on the Fashion-MNIST
// shape (1×28×28, 10 classes) with random weights.
//   OMP_NUM_THREADS=1 build/bench/cnn_bench [iterations of batch 1, default 4000]
// (One thread: a replica's forward passes each get one core; OMP_NUM_THREADS also sizes OpenBLAS.)
// SSKAI_CPU_BASELINE=1 measures the baseline (non-AVX2) build of the loops.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "ml/cnn_kernels.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ml/cpu_dispatch.h"

namespace {

using sskai::ml::kernels::CnnInference;
using sskai::ml::kernels::CnnWeights;

CnnWeights RandomWeights() {
  CnnWeights w;
  w.pixel_mean = at::full({1, 1, 1, 1}, 0.29);
  w.pixel_std = at::full({1, 1, 1, 1}, 0.35);
  w.conv1_weight = at::randn({16, 1, 3, 3}) * 0.3;
  w.conv2_weight = at::randn({32, 16, 3, 3}) * 0.1;
  w.bn1_weight = at::rand({16}) + 0.5, w.bn1_bias = at::randn({16}) * 0.1;
  w.bn1_mean = at::randn({16}) * 0.1, w.bn1_var = at::rand({16}) + 0.5;
  w.bn2_weight = at::rand({32}) + 0.5, w.bn2_bias = at::randn({32}) * 0.1;
  w.bn2_mean = at::randn({32}) * 0.1, w.bn2_var = at::rand({32}) + 0.5;
  w.fc1_weight = at::randn({128, 32 * 7 * 7}) * 0.02, w.fc1_bias = at::zeros({128});
  w.fc2_weight = at::randn({10, 128}) * 0.1, w.fc2_bias = at::zeros({10});
  return w;
}

template <typename F>
double MicrosPerImage(int iterations, int batch, const F& f) {
  for (int i = 0; i < 10; ++i) f();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) f();
  std::chrono::duration<double, std::micro> dt = std::chrono::steady_clock::now() - t0;
  return dt.count() / iterations / batch;
}

}  // namespace

int main(int argc, char** argv) {
  const int base_iterations = argc > 1 ? std::atoi(argv[1]) : 4000;
  at::manual_seed(1);
  at::NoGradGuard no_grad;
  CnnWeights w = RandomWeights();
  auto fused = CnnInference::Prepare(w);
  if (!fused) {
    std::fprintf(stderr, "the fused path refused the weights\n");
    return 1;
  }
  std::printf("# cnn_bench: %d intra-op thread(s), loops: %s\n", at::get_num_threads(),
              sskai::ml::kernels::HasAvx2Fma() ? "AVX2+FMA" : "baseline");
  std::printf("%-6s %-16s %-16s %s\n", "batch", "fused us/image", "aten us/image", "speedup");
  for (int batch : {1, 8, 32}) {
    at::Tensor x = at::rand({batch, 1, 28, 28}) * 255;
    const double diff = (fused->Forward(x) - sskai::ml::kernels::reference::CnnForward(w, x)).abs().max().item<double>();
    const int iterations = std::max(20, base_iterations / batch);
    double f = MicrosPerImage(iterations, batch, [&] { fused->Forward(x); });
    double r = MicrosPerImage(std::max(10, iterations / 4), batch,
                              [&] { sskai::ml::kernels::reference::CnnForward(w, x); });
    std::printf("%-6d %-16.1f %-16.1f %.2fx   (max |diff| %.1e)\n", batch, f, r, r / f, diff);
  }
  return 0;
}
