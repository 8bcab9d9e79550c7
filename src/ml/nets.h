// src/ml/nets.h — the built-in networks (internal to libsskai_ml.so: torch comes from the
// library's precompiled header, so only its own .cc files can include this).
//
// MLP: Linear-ReLU-Dropout(0.1) per hidden size, then Linear to `outputs`.
// CNN: [conv3x3(16)-BN-ReLU-maxpool2] -> [conv3x3(32)-BN-ReLU-maxpool2] -> adaptive avg pool to at
// most 7x7 -> Linear(128)-ReLU-Dropout(0.25) -> Linear(outputs). Pixels arrive as 0..255 floats;
// the network scales them to [0, 1] and normalizes per channel with buffers fitted on the
// training split, so the buffers travel with the weights. The convolutions have no bias: BatchNorm
// subtracts the batch mean right after them, so a bias there has true gradient 0 and only
// collects rounding noise (which Adam turns into lr-sized steps, see docs/jobs.md). Model files
// written before carry conv1.bias / conv2.bias: FoldLegacyConvBias() moves them into the
// BatchNorm running means (the same function), or NetConfig::conv_bias keeps that layout.
#pragma once

// libtorch: from sskai_ml's precompiled header (src/ml/CMakeLists.txt).

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "ml/cnn_kernels.h"
#include "ml/mlp_kernels.h"
#include "ml/sync_batch_norm.h"

namespace sskai::ml {

struct NetConfig {
  std::string kind;              // "mlp" | "cnn"
  int64_t features = 0;          // mlp input width
  std::vector<int64_t> hidden;   // mlp hidden sizes
  int64_t outputs = 1;           // classes, or 1 for regression
  int64_t channels = 1, height = 0, width = 0;  // cnn input
  // cnn: the layout of model files written before the convolutions lost their bias (resuming
  // such a checkpoint keeps its optimizer state). Not part of the metadata JSON.
  bool conv_bias = false;
};

class Net : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // Data-parallel training: this rank holds rows [offset, offset + rows of x) of a global batch of
  // `global_rows`. Dropout then draws the whole global batch's mask (the same random numbers, in
  // the same order, as one worker would) and keeps this rank's rows. 0 = not sharded.
  void SetBatchShard(int64_t offset, int64_t global_rows) {
    shard_offset_ = offset;
    shard_rows_ = global_rows;
  }
  // Data-parallel training: BatchNorm layers use the global batch's statistics, summed over
  // `group` (borrowed; nullptr = per-batch statistics as usual). Only while training.
  void SetSyncGroup(GlooGroup* group) { sync_group_ = group; }

 protected:
  torch::Tensor ApplyDropout(torch::nn::Dropout& dropout, const torch::Tensor& x) {
    if (shard_rows_ <= 0 || !is_training()) return dropout->forward(x);
    const double keep = 1 - dropout->options.p();
    // As at::dropout does on CPU: empty_like(input).bernoulli_(1 - p), div_(1 - p), input * noise.
    auto noise = torch::empty({shard_rows_, x.size(1)}, x.options()).bernoulli_(keep);
    noise.div_(keep);
    return x * noise.narrow(0, shard_offset_, x.size(0));
  }
  torch::Tensor ApplyBatchNorm(torch::nn::BatchNorm2d& bn, const torch::Tensor& x) {
    if (sync_group_ == nullptr || !is_training()) return bn->forward(x);
    return SyncBatchNorm2d(*bn, x, *sync_group_);
  }

 private:
  int64_t shard_offset_ = 0, shard_rows_ = 0;
  GlooGroup* sync_group_ = nullptr;
};

class MlpNet : public Net {
 public:
  explicit MlpNet(const NetConfig& c) {
    int64_t in = c.features;
    for (size_t idx = 0; idx < c.hidden.size(); ++idx) {
      layers_.push_back(register_module("fc" + std::to_string(idx), torch::nn::Linear(in, c.hidden[idx])));
      in = c.hidden[idx];
    }
    out_ = register_module("out", torch::nn::Linear(in, c.outputs));
    dropout_ = register_module("dropout", torch::nn::Dropout(0.1));
  }
  torch::Tensor forward(torch::Tensor x) override {
    for (auto& layer : layers_) x = ApplyDropout(dropout_, torch::relu(layer->forward(x)));
    return out_->forward(x);
  }
  // The weights of the fused evaluation-mode forward (mlp_kernels.h): every layer, `out` last,
  // copied as contiguous fp32 (empty when a parameter is not an fp32 CPU tensor).
  std::vector<kernels::MlpLayerWeights> InferenceWeights() const {
    std::vector<kernels::MlpLayerWeights> out;
    std::vector<const torch::nn::Linear*> all;
    for (const auto& layer : layers_) all.push_back(&layer);
    all.push_back(&out_);
    for (const torch::nn::Linear* linear : all) {
      const torch::Tensor& w = (*linear)->weight;
      const torch::Tensor& b = (*linear)->bias;
      if (!w.defined() || !b.defined() || w.scalar_type() != torch::kFloat || b.scalar_type() != torch::kFloat ||
          !w.device().is_cpu() || !b.device().is_cpu() || w.dim() != 2) {
        return {};
      }
      kernels::MlpLayerWeights l;
      l.outputs = w.size(0);
      l.inputs = w.size(1);
      torch::Tensor wc = w.detach().contiguous(), bc = b.detach().contiguous();
      l.weight.assign(wc.data_ptr<float>(), wc.data_ptr<float>() + wc.numel());
      l.bias.assign(bc.data_ptr<float>(), bc.data_ptr<float>() + bc.numel());
      out.push_back(std::move(l));
    }
    return out;
  }

 private:
  std::vector<torch::nn::Linear> layers_;
  torch::nn::Linear out_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};

class CnnNet : public Net {
 public:
  explicit CnnNet(const NetConfig& c)
      : pooled_h_(std::min<int64_t>(c.height / 4, 7)), pooled_w_(std::min<int64_t>(c.width / 4, 7)) {
    mean_ = register_buffer("pixel_mean", torch::zeros({1, c.channels, 1, 1}));
    std_ = register_buffer("pixel_std", torch::ones({1, c.channels, 1, 1}));
    conv1_ = register_module(
        "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.channels, 16, 3).padding(1).bias(c.conv_bias)));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(16));
    conv2_ = register_module(
        "conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 3).padding(1).bias(c.conv_bias)));
    bn2_ = register_module("bn2", torch::nn::BatchNorm2d(32));
    fc1_ = register_module("fc1", torch::nn::Linear(32 * pooled_h_ * pooled_w_, 128));
    fc2_ = register_module("fc2", torch::nn::Linear(128, c.outputs));
    dropout_ = register_module("dropout", torch::nn::Dropout(0.25));
  }
  // Sets the per-channel normalization (of pixels scaled to [0, 1]).
  void SetNormalization(const torch::Tensor& mean, const torch::Tensor& std) {
    torch::NoGradGuard no_grad;
    mean_.copy_(mean.reshape(mean_.sizes()));
    std_.copy_(std.reshape(std_.sizes()));
  }
  // After load() of `archive` into this bias-free network: a conv1.bias / conv2.bias in the
  // archive (the old layout; load() ignores it) is folded into bn1 / bn2's running mean, since
  // BN(conv(x) + b) with running mean m is BN(conv(x)) with running mean m - b in evaluation,
  // and training-mode batch statistics absorb b exactly. Returns whether the archive had one.
  bool FoldLegacyConvBias(torch::serialize::InputArchive& archive) {
    bool folded = false;
    if (conv1_->bias.defined()) return false;  // built with the old layout: nothing to fold
    for (auto [conv, bn] : {std::pair{"conv1", &bn1_}, std::pair{"conv2", &bn2_}}) {
      torch::serialize::InputArchive conv_archive;
      torch::Tensor bias;
      if (!archive.try_read(conv, conv_archive) || !conv_archive.try_read("bias", bias)) continue;
      torch::NoGradGuard no_grad;
      (*bn)->running_mean.sub_(bias.reshape((*bn)->running_mean.sizes()));
      folded = true;
    }
    return folded;
  }
  // The tensors of the fused evaluation-mode forward (cnn_kernels.h); shared, not copied.
  kernels::CnnWeights InferenceWeights() const {
    kernels::CnnWeights w;
    w.pixel_mean = mean_;
    w.pixel_std = std_;
    w.conv1_weight = conv1_->weight;
    w.conv1_bias = conv1_->bias;
    w.conv2_weight = conv2_->weight;
    w.conv2_bias = conv2_->bias;
    w.bn1_weight = bn1_->weight, w.bn1_bias = bn1_->bias, w.bn1_mean = bn1_->running_mean;
    w.bn1_var = bn1_->running_var, w.bn1_eps = bn1_->options.eps();
    w.bn2_weight = bn2_->weight, w.bn2_bias = bn2_->bias, w.bn2_mean = bn2_->running_mean;
    w.bn2_var = bn2_->running_var, w.bn2_eps = bn2_->options.eps();
    w.fc1_weight = fc1_->weight, w.fc1_bias = fc1_->bias;
    w.fc2_weight = fc2_->weight, w.fc2_bias = fc2_->bias;
    w.pooled_h = pooled_h_, w.pooled_w = pooled_w_;
    return w;
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = (x / 255.0 - mean_) / std_;
    x = torch::max_pool2d(torch::relu(ApplyBatchNorm(bn1_, conv1_->forward(x))), 2);
    x = torch::max_pool2d(torch::relu(ApplyBatchNorm(bn2_, conv2_->forward(x))), 2);
    if (x.size(2) != pooled_h_ || x.size(3) != pooled_w_) {
      x = torch::adaptive_avg_pool2d(x, {pooled_h_, pooled_w_});
    }
    x = ApplyDropout(dropout_, torch::relu(fc1_->forward(x.flatten(1))));
    return fc2_->forward(x);
  }

 private:
  int64_t pooled_h_, pooled_w_;
  torch::Tensor mean_, std_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};

// REQUIRES: a valid config (mlp: features > 0; cnn: height, width >= 4, channels 1..4).
inline std::shared_ptr<Net> BuildNet(const NetConfig& c) {
  if (c.kind == "cnn") return std::make_shared<CnnNet>(c);
  return std::make_shared<MlpNet>(c);
}

// True when `model_archive` (a CNN's saved weights) has the old layout with conv biases.
inline bool HasLegacyConvBias(torch::serialize::InputArchive& model_archive) {
  torch::serialize::InputArchive conv_archive;
  torch::Tensor bias;
  return model_archive.try_read("conv1", conv_archive) && conv_archive.try_read("bias", bias);
}

}  // namespace sskai::ml
