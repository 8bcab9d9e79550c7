// bench/mlp_bench.cc — the tabular MLP's evaluation-mode forward (issue: serving): the fused row
// loops the predictor runs (src/ml/mlp_kernels.h) vs the module's ATen ops (linear, ReLU, linear:
// what libtorch runs for MlpNet::forward), µs per row at batches 1–32, for the built-in shape
// (4 → 128 → 64 → 3) and wide ones (4 → W → W → 3) with random weights. The predictor's rule for
// when a batch takes the fused path (MlpInference::Takes) comes from this table.
//   OMP_NUM_THREADS=1 build/bench/mlp_bench [milliseconds per cell, default 300]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "ml/mlp_kernels.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "ml/cpu_dispatch.h"

namespace {

using sskai::ml::kernels::MlpInference;
using sskai::ml::kernels::MlpLayerWeights;

template <typename F>
double MicrosPerRow(double budget_ms, int batch, const F& f) {
  for (int i = 0; i < 3; ++i) f();
  int iterations = 0;
  auto t0 = std::chrono::steady_clock::now();
  std::chrono::duration<double, std::micro> dt{};
  do {
    f();
    ++iterations;
    dt = std::chrono::steady_clock::now() - t0;
  } while (dt.count() < budget_ms * 1000);
  return dt.count() / iterations / batch;
}

}  // namespace

int main(int argc, char** argv) {
  const double budget_ms = argc > 1 ? std::atof(argv[1]) : 300;
  at::manual_seed(1);
  at::NoGradGuard no_grad;
  std::printf("# mlp_bench: %d intra-op thread(s), loops: %s\n", at::get_num_threads(),
              sskai::ml::kernels::HasAvx2Fma() ? "AVX2+FMA" : "baseline");
  std::printf("%-22s %-6s %-14s %-14s %s\n", "shape", "batch", "fused us/row", "aten us/row", "speedup");
  for (int64_t width : {0, 512, 1024, 2048, 4096}) {  // 0: the built-in 128 → 64
    std::vector<int64_t> widths = width == 0 ? std::vector<int64_t>{4, 128, 64, 3}
                                             : std::vector<int64_t>{4, width, width, 3};
    std::vector<at::Tensor> ws, bs;
    std::vector<MlpLayerWeights> layers;
    for (size_t idx = 0; idx + 1 < widths.size(); ++idx) {
      ws.push_back(at::randn({widths[idx + 1], widths[idx]}) / std::sqrt(double(widths[idx])));
      bs.push_back(at::randn({widths[idx + 1]}) * 0.1);
      MlpLayerWeights l;
      l.inputs = widths[idx], l.outputs = widths[idx + 1];
      l.weight.assign(ws.back().data_ptr<float>(), ws.back().data_ptr<float>() + ws.back().numel());
      l.bias.assign(bs.back().data_ptr<float>(), bs.back().data_ptr<float>() + bs.back().numel());
      layers.push_back(std::move(l));
    }
    auto fused = MlpInference::Prepare(layers);
    if (!fused) {
      std::fprintf(stderr, "the fused path refused the weights\n");
      return 1;
    }
    auto aten = [&](const at::Tensor& x) {
      at::Tensor h = x;
      for (size_t idx = 0; idx < ws.size(); ++idx) {
        h = at::linear(h, ws[idx], bs[idx]);
        if (idx + 1 < ws.size()) h = at::relu(h);
      }
      return h;
    };
    char shape[64];
    std::snprintf(shape, sizeof(shape), "4-%lld-%lld-3", (long long)widths[1], (long long)widths[2]);
    for (int batch : {1, 2, 4, 8, 16, 32, 64}) {
      at::Tensor x = at::randn({batch, 4});
      std::vector<float> out(static_cast<size_t>(batch * 3));
      fused->Forward(x.data_ptr<float>(), batch, out.data());
      const double diff =
          (at::from_blob(out.data(), {batch, 3}) - aten(x)).abs().max().item<double>();
      double f = MicrosPerRow(budget_ms, batch, [&] { fused->Forward(x.data_ptr<float>(), batch, out.data()); });
      double r = MicrosPerRow(budget_ms, batch, [&] { aten(x); });
      std::printf("%-22s %-6d %-14.2f %-14.2f %.2fx   (max |diff| %.1e)\n", shape, batch, f, r, r / f, diff);
    }
  }
  return 0;
}
