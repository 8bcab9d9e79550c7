// src/ml/cnn_kernels.cc — the fused evaluation-mode CNN forward (see cnn_kernels.h).
// ATen before ml/cnn_kernels.h, which takes at::Tensor from its includer.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "ml/cnn_kernels.h"

#include <algorithm>
#include <vector>

#include "ml/cnn_kernels_loops.h"
#include "ml/cpu_dispatch.h"

namespace sskai::ml::kernels {

namespace {

constexpr int64_t kWidth1 = 16, kWidth2 = 32;
constexpr int64_t kSmallBatch = 16;  // up to this many images: the linear layers' row loops

bool CpuFloat(const at::Tensor& t) { return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat; }

// Batch norm (running statistics) folded into a bias-free or biased conv: w' = w·s, b' = β − μ·s + b·s
// with s = γ / √(σ² + ε). Returns {weights as [3, 3, C, O] (taps, input channel, output channel), bias}.
std::pair<at::Tensor, at::Tensor> Fold(const at::Tensor& conv_w, const at::Tensor& conv_b, const at::Tensor& gamma,
                                       const at::Tensor& beta, const at::Tensor& mean, const at::Tensor& var,
                                       double eps) {
  auto d = [](const at::Tensor& t) { return t.detach().to(at::kDouble); };
  at::Tensor s = d(gamma) / (d(var) + eps).sqrt();
  at::Tensor bias = d(beta) - d(mean) * s;
  if (conv_b.defined()) bias = bias + d(conv_b) * s;
  at::Tensor w = d(conv_w) * s.view({-1, 1, 1, 1});
  return {w.permute({2, 3, 1, 0}).to(at::kFloat).contiguous(), bias.to(at::kFloat).contiguous()};
}

}  // namespace

std::unique_ptr<CnnInference> CnnInference::Prepare(const CnnWeights& w) {
  // The loops are written for 8-wide vectors: their baseline (SSE2) build is slower than libtorch.
  if (!HasAvx2Fma()) return nullptr;
  for (const at::Tensor* t : {&w.pixel_mean, &w.pixel_std, &w.conv1_weight, &w.bn1_weight, &w.bn1_bias, &w.bn1_mean,
                              &w.bn1_var, &w.conv2_weight, &w.bn2_weight, &w.bn2_bias, &w.bn2_mean, &w.bn2_var,
                              &w.fc1_weight, &w.fc1_bias, &w.fc2_weight, &w.fc2_bias}) {
    if (!CpuFloat(*t)) return nullptr;
  }
  const int64_t c = w.conv1_weight.size(1);
  if (w.conv1_weight.sizes() != at::IntArrayRef({kWidth1, c, 3, 3}) ||
      w.conv2_weight.sizes() != at::IntArrayRef({kWidth2, kWidth1, 3, 3}) || w.pooled_h < 1 || w.pooled_w < 1 ||
      w.fc1_weight.dim() != 2 || w.fc1_weight.size(1) != kWidth2 * w.pooled_h * w.pooled_w) {
    return nullptr;
  }
  std::unique_ptr<CnnInference> k(new CnnInference());
  k->channels_ = c;
  k->pooled_h_ = w.pooled_h;
  k->pooled_w_ = w.pooled_w;
  k->mean_ = w.pixel_mean.detach().reshape({c}).contiguous();
  k->std_ = w.pixel_std.detach().reshape({c}).contiguous();
  std::tie(k->conv1_, k->bias1_) =
      Fold(w.conv1_weight, w.conv1_bias, w.bn1_weight, w.bn1_bias, w.bn1_mean, w.bn1_var, w.bn1_eps);
  std::tie(k->conv2_, k->bias2_) =
      Fold(w.conv2_weight, w.conv2_bias, w.bn2_weight, w.bn2_bias, w.bn2_mean, w.bn2_var, w.bn2_eps);
  const int64_t hidden = w.fc1_weight.size(0);
  k->fc1_weight_ = w.fc1_weight.detach()
                       .view({hidden, kWidth2, w.pooled_h, w.pooled_w})
                       .permute({0, 2, 3, 1})
                       .reshape({hidden, -1})
                       .contiguous();
  k->fc1_bias_ = w.fc1_bias.detach().contiguous();
  k->fc2_weight_ = w.fc2_weight.detach().contiguous();
  k->fc2_bias_ = w.fc2_bias.detach().contiguous();
  return k;
}

at::Tensor CnnInference::Forward(const at::Tensor& input) const {
  TORCH_CHECK(input.dim() == 4 && input.size(1) == channels_, "CNN input: expected [N, ", channels_, ", H, W], got ",
              input.sizes());
  const at::Tensor x = input.to(at::kFloat).contiguous();
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3), c = channels_;
  const int64_t h1 = h / 2, w1 = w / 2, h2 = h1 / 2, w2 = w1 / 2;
  TORCH_CHECK(h2 >= 1 && w2 >= 1, "CNN input: images must be at least 4x4, got ", h, "x", w);
  const bool adaptive = h2 != pooled_h_ || w2 != pooled_w_;
  at::Tensor features = at::empty({n, pooled_h_ * pooled_w_ * kWidth2}, x.options());
  const float* src = x.data_ptr<float>();
  float* feat = features.data_ptr<float>();
  const float *mean = mean_.data_ptr<float>(), *stdev = std_.data_ptr<float>();
  const float *k1 = conv1_.data_ptr<float>(), *b1 = bias1_.data_ptr<float>();
  const float *k2 = conv2_.data_ptr<float>(), *b2 = bias2_.data_ptr<float>();
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    // Per thread: the padded inputs of both convolutions (borders stay zero) and the second
    // pool's output before adaptive pooling.
    std::vector<float> in1((h + 2) * (w + 2) * c, 0.0f), in2((h1 + 2) * (w1 + 2) * kWidth1, 0.0f);
    std::vector<float> pooled(adaptive ? h2 * w2 * kWidth2 : 0);
    for (int64_t img = begin; img < end; ++img) {
      const float* pixels = src + img * c * h * w;
      for (int64_t ch = 0; ch < c; ++ch) {
        for (int64_t y = 0; y < h; ++y) {
          const float* row = pixels + (ch * h + y) * w;
          float* dst = in1.data() + ((y + 1) * (w + 2) + 1) * c + ch;
          for (int64_t xx = 0; xx < w; ++xx) dst[xx * c] = (row[xx] / 255.0f - mean[ch]) / stdev[ch];
        }
      }
      loops::ConvBiasPoolRelu(in1.data(), h, w, c, k1, b1, kWidth1, in2.data() + (w1 + 2 + 1) * kWidth1,
                              (w1 + 2) * kWidth1);
      float* out = feat + img * pooled_h_ * pooled_w_ * kWidth2;
      if (!adaptive) {
        loops::ConvBiasPoolRelu(in2.data(), h1, w1, kWidth1, k2, b2, kWidth2, out, w2 * kWidth2);
      } else {
        loops::ConvBiasPoolRelu(in2.data(), h1, w1, kWidth1, k2, b2, kWidth2, pooled.data(), w2 * kWidth2);
        loops::AdaptiveAvgPool(pooled.data(), h2, w2, kWidth2, pooled_h_, pooled_w_, out);
      }
    }
  });
  // Dropout is the identity in evaluation mode. Small batches: the row loops (a BLAS GEMM would
  // spend most of its time packing fc1's weights); larger ones: the GEMM.
  if (n > kSmallBatch) {
    at::Tensor hidden = at::linear(features, fc1_weight_, fc1_bias_);
    hidden.relu_();
    return at::linear(hidden, fc2_weight_, fc2_bias_);
  }
  const int64_t hidden_size = fc1_weight_.size(0), outputs = fc2_weight_.size(0);
  at::Tensor hidden = at::empty({n, hidden_size}, x.options()), logits = at::empty({n, outputs}, x.options());
  loops::Linear(feat, n, features.size(1), fc1_weight_.data_ptr<float>(), fc1_bias_.data_ptr<float>(), hidden_size,
                /*relu=*/true, hidden.data_ptr<float>());
  loops::Linear(hidden.data_ptr<float>(), n, hidden_size, fc2_weight_.data_ptr<float>(), fc2_bias_.data_ptr<float>(),
                outputs, /*relu=*/false, logits.data_ptr<float>());
  return logits;
}

namespace reference {

at::Tensor CnnForward(const CnnWeights& w, const at::Tensor& input) {
  auto block = [](const at::Tensor& x, const at::Tensor& conv_w, const at::Tensor& conv_b, const at::Tensor& gamma,
                  const at::Tensor& beta, const at::Tensor& mean, const at::Tensor& var, double eps) {
    at::Tensor y = at::conv2d(x, conv_w, conv_b, /*stride=*/1, /*padding=*/1);
    y = at::batch_norm(y, gamma, beta, mean, var, /*training=*/false, /*momentum=*/0.1, eps, /*cudnn_enabled=*/false);
    return at::max_pool2d(at::relu(y), 2);
  };
  at::Tensor x = (input.to(at::kFloat) / 255.0 - w.pixel_mean) / w.pixel_std;
  x = block(x, w.conv1_weight, w.conv1_bias, w.bn1_weight, w.bn1_bias, w.bn1_mean, w.bn1_var, w.bn1_eps);
  x = block(x, w.conv2_weight, w.conv2_bias, w.bn2_weight, w.bn2_bias, w.bn2_mean, w.bn2_var, w.bn2_eps);
  if (x.size(2) != w.pooled_h || x.size(3) != w.pooled_w) x = at::adaptive_avg_pool2d(x, {w.pooled_h, w.pooled_w});
  x = at::relu(at::linear(x.flatten(1), w.fc1_weight, w.fc1_bias));
  return at::linear(x, w.fc2_weight, w.fc2_bias);
}

}  // namespace reference

}  // namespace sskai::ml::kernels
