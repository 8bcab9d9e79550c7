// src/ml/profile.cc — measured profile of a built-in model artifact (Engine::ProfileJson).
//
// Analytic part (from the network config): parameters, FLOPs per sample (forward; training = 3x
// forward: backward costs two forwards), memory for inference and training at a batch size,
// checkpoint size (measured by serializing weights + optimizer state). Measured part: for each
// batch size, `warmup` untimed runs, then `repeats` timed runs of inference (eval, no grad) and of
// one training step (forward, backward, optimizer step) on random inputs of the model's declared
// input spec (float32, [features] or [channels, height, width]); median, p10/p90, spread.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <thread>

#include "ml/container.h"
#include "ml/torchscript.h"
#include "ml/train.h"

namespace sskai::ml {

using nlohmann::json;

namespace {

struct Analytic {
  double forward_flops = 0;             // per sample
  double activation_floats = 0;         // per sample, kept for backward
  double peak_floats = 0;               // per sample, the largest layer output (inference)
  std::vector<int64_t> input_shape;     // per sample
};

// FLOPs (multiply-add = 2) and stored activations of the built-in nets (nets.h).
Analytic AnalyzeNet(const NetConfig& c) {
  Analytic a;
  auto linear = [&a](double in, double out) {
    a.forward_flops += 2 * in * out + out;  // matmul + bias
    a.activation_floats += in;              // the input is saved for the weight gradient
    a.peak_floats = std::max(a.peak_floats, in + out);
  };
  if (c.kind == "mlp") {
    a.input_shape = {c.features};
    double in = static_cast<double>(c.features);
    for (int64_t h : c.hidden) {
      linear(in, static_cast<double>(h));
      a.forward_flops += 2.0 * static_cast<double>(h);  // relu + dropout
      a.activation_floats += 2.0 * static_cast<double>(h);  // relu output, dropout mask
      in = static_cast<double>(h);
    }
    linear(in, static_cast<double>(c.outputs));
    return a;
  }
  a.input_shape = {c.channels, c.height, c.width};
  double h = static_cast<double>(c.height), w = static_cast<double>(c.width);
  double ch = static_cast<double>(c.channels);
  a.forward_flops += 2 * ch * h * w;  // scale and normalize
  auto conv_block = [&](double cin, double cout) {
    double out = cout * h * w;
    a.peak_floats = std::max(a.peak_floats, cin * h * w + out);
    a.forward_flops += 2 * cin * 9 * out + out;  // 3x3 conv, padding 1
    a.forward_flops += 4 * out + out;            // batch norm, relu
    a.activation_floats += cin * h * w + 3 * out;  // conv input, bn input, relu input/output
    h = std::floor(h / 2);
    w = std::floor(w / 2);
    a.forward_flops += out;                      // max pool
    a.activation_floats += cout * h * w;
  };
  conv_block(ch, 16);
  conv_block(16, 32);
  double ph = std::min<double>(std::floor(static_cast<double>(c.height) / 4), 7);
  double pw = std::min<double>(std::floor(static_cast<double>(c.width) / 4), 7);
  linear(32 * ph * pw, 128);
  a.forward_flops += 2 * 128;
  a.activation_floats += 2 * 128;
  linear(128, static_cast<double>(c.outputs));
  return a;
}

struct Stats {
  double median = 0, p10 = 0, p90 = 0, min = 0, max = 0;
};

Stats Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&ms](double q) {
    double pos = q * static_cast<double>(ms.size() - 1);
    size_t lo = static_cast<size_t>(std::floor(pos));
    size_t hi = std::min(lo + 1, ms.size() - 1);
    return ms[lo] + (ms[hi] - ms[lo]) * (pos - static_cast<double>(lo));
  };
  return Stats{at(0.5), at(0.1), at(0.9), ms.front(), ms.back()};
}

json MeasurementJson(const std::string& phase, int64_t batch, int warmup, const std::vector<double>& ms,
                     double flops_per_sample) {
  Stats s = Summarize(ms);
  double seconds = s.median / 1000.0;
  return json{{"phase", phase},
              {"batch", batch},
              {"warmup", warmup},
              {"repeats", ms.size()},
              {"median_ms", s.median},
              {"p10_ms", s.p10},
              {"p90_ms", s.p90},
              {"min_ms", s.min},
              {"max_ms", s.max},
              {"spread", s.median > 0 ? (s.p90 - s.p10) / s.median : 0.0},
              {"samples_per_second", seconds > 0 ? static_cast<double>(batch) / seconds : 0.0},
              {"achieved_gflops",
               seconds > 0 ? flops_per_sample * static_cast<double>(batch) / seconds / 1e9 : 0.0}};
}

template <typename Fn>
std::vector<double> Time(int warmup, int repeats, Fn&& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(repeats));
  for (int i = 0; i < repeats; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return ms;
}

struct ProfileOptions {
  std::vector<int64_t> batch_sizes;  // empty = {1, training batch size}
  int warmup = 3;
  int repeats = 20;
  int threads = 1;
};

Result<ProfileOptions> ParseOptions(const std::string& options_json) {
  ProfileOptions o;
  if (options_json.empty()) return o;
  json j = json::parse(options_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("profile options: not a JSON object");
  for (auto& [key, value] : j.items()) {
    if (key == "batch_sizes") {
      if (!value.is_array() || value.empty() || value.size() > 8) {
        return Status::InvalidArgument("field 'batch_sizes': expected 1 to 8 integers");
      }
      for (const auto& b : value) {
        if (!b.is_number_integer() || b.get<int64_t>() < 1 || b.get<int64_t>() > 65536) {
          return Status::InvalidArgument("field 'batch_sizes': each must be an integer in 1..65536");
        }
        o.batch_sizes.push_back(b.get<int64_t>());
      }
    } else if (key == "warmup" || key == "repeats" || key == "threads") {
      int lo = key == "warmup" ? 0 : 1, hi = key == "repeats" ? 1000 : (key == "threads" ? 256 : 100);
      if (!value.is_number_integer() || value.get<int>() < lo || value.get<int>() > hi) {
        return Status::InvalidArgument("field '" + key + "': expected an integer in " + std::to_string(lo) +
                                       ".." + std::to_string(hi));
      }
      (key == "warmup" ? o.warmup : key == "repeats" ? o.repeats : o.threads) = value.get<int>();
    } else {
      return Status::InvalidArgument("profile options: unknown field '" + key + "'");
    }
  }
  return o;
}

}  // namespace

Result<std::string> ProfileModelJson(const std::string& model_path, const std::string& options_json) {
  SSKAI_ASSIGN_OR_RETURN(ProfileOptions options, ParseOptions(options_json));
  SSKAI_ASSIGN_OR_RETURN(Container c, ReadContainerFile(model_path));
  SSKAI_ASSIGN_OR_RETURN(json meta, ParseMetadata(c.metadata_json));
  if (meta.value("kind", "") != "model" || !meta.contains("net")) {
    return Status::InvalidArgument(model_path + ": not a model artifact");
  }
  SSKAI_ASSIGN_OR_RETURN(NetConfig config, NetConfigFromJson(meta["net"]));
  SSKAI_ASSIGN_OR_RETURN(std::shared_ptr<Net> net, LoadNet(config, c.payload));
  TrainSpec spec;
  if (meta.contains("spec")) {
    auto parsed = TrainSpecFromJson(meta["spec"].dump());
    if (parsed.ok()) spec = *parsed;
  }
  if (options.batch_sizes.empty()) {
    options.batch_sizes = {1};
    if (spec.batch_size > 1) options.batch_sizes.push_back(spec.batch_size);
  }
  Analytic analytic = AnalyzeNet(config);
  double params = 0;
  for (const auto& p : net->parameters()) params += static_cast<double>(p.numel());
  const double kFloat = 4;
  double optimizer_floats = spec.optimizer == "sgd" ? 0 : 2 * params;  // Adam/AdamW: m and v
  int64_t train_batch = std::max<int64_t>(1, spec.batch_size);

  json result = {
      {"format", "sskai-profile"},
      {"model_kind", config.kind},
      {"task", meta.value("task", "")},
      {"input", {{"dtype", "float32"}, {"shape", analytic.input_shape}}},
      {"parameters", params},
      {"trainable_parameters", params},
      {"flops", {{"forward_per_sample", analytic.forward_flops},
                 {"train_per_sample", 3 * analytic.forward_flops}}},
      {"threads", options.threads},
      {"hardware_threads", std::thread::hardware_concurrency()},
  };
  try {
    torch::set_num_threads(options.threads);
    torch::manual_seed(0);
    // Checkpoint size: what a checkpoint writes (weights + optimizer state), serialized for real.
    auto optimizer = spec.optimizer == "sgd"
                         ? std::unique_ptr<torch::optim::Optimizer>(std::make_unique<torch::optim::SGD>(
                               net->parameters(), torch::optim::SGDOptions(spec.learning_rate)))
                         : std::unique_ptr<torch::optim::Optimizer>(std::make_unique<torch::optim::Adam>(
                               net->parameters(), torch::optim::AdamOptions(spec.learning_rate)));
    const bool classification = config.outputs > 1;
    auto input = [&](int64_t batch) {
      std::vector<int64_t> shape = {batch};
      shape.insert(shape.end(), analytic.input_shape.begin(), analytic.input_shape.end());
      return config.kind == "cnn" ? torch::rand(shape) * 255.0 : torch::randn(shape);
    };
    auto train_step = [&](const torch::Tensor& x, const torch::Tensor& y) {
      net->train();
      optimizer->zero_grad();
      torch::Tensor out = net->forward(x);
      torch::Tensor loss = classification ? torch::nn::functional::cross_entropy(out, y)
                                          : torch::mse_loss(out.squeeze(1), y);
      loss.backward();
      optimizer->step();
    };
    json measurements = json::array();
    for (int64_t batch : options.batch_sizes) {
      torch::Tensor x = input(batch);
      torch::Tensor y = classification ? torch::randint(config.outputs, {batch}, torch::kLong) : torch::randn({batch});
      net->eval();
      auto infer_ms = Time(options.warmup, options.repeats, [&] {
        torch::NoGradGuard no_grad;
        torch::Tensor out = net->forward(x);
        (void)out.sum().item<float>();
      });
      measurements.push_back(MeasurementJson("inference", batch, options.warmup, infer_ms, analytic.forward_flops));
      auto train_ms = Time(options.warmup, options.repeats, [&] { train_step(x, y); });
      measurements.push_back(MeasurementJson("train_step", batch, options.warmup, train_ms, 3 * analytic.forward_flops));
    }
    result["measurements"] = measurements;
    std::ostringstream weights_bytes, optimizer_bytes;
    torch::serialize::OutputArchive weights_archive, optimizer_archive;
    net->save(weights_archive);
    optimizer->save(optimizer_archive);
    weights_archive.save_to(weights_bytes);
    optimizer_archive.save_to(optimizer_bytes);
    result["checkpoint_bytes"] = weights_bytes.str().size() + optimizer_bytes.str().size();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("profiling failed: ") + e.what());
  }
  double batch = static_cast<double>(train_batch);
  double activations = analytic.activation_floats * batch * kFloat;
  double input_bytes = 1;
  for (int64_t d : analytic.input_shape) input_bytes *= static_cast<double>(d);
  input_bytes *= batch * kFloat;
  result["memory_bytes"] = {
      {"batch", train_batch},
      {"weights", params * kFloat},
      {"gradients", params * kFloat},
      {"optimizer", optimizer_floats * kFloat},
      {"activations", activations},
      // Inference holds the weights and, at any time, one layer's input and output.
      {"inference", params * kFloat + input_bytes + analytic.peak_floats * batch * kFloat},
      {"training", params * kFloat * 2 + optimizer_floats * kFloat + activations + input_bytes},
  };
  return result.dump();
}

// TorchScript models: the graph is the user's, so FLOPs are estimated as 2 per parameter per sample
// (exact for dense layers, low for convolutions: "flops_estimated"); parameters, measured
// inference and (for classification/regression) training-step time on random inputs of the spec.
Result<std::string> ProfileTorchScriptJson(const std::string& model_path, const std::string& options_json) {
  SSKAI_ASSIGN_OR_RETURN(ProfileOptions options, ParseOptions(options_json));
  SSKAI_ASSIGN_OR_RETURN(LoadedScript loaded, LoadStoredScript(model_path));
  if (options.batch_sizes.empty()) options.batch_sizes = {1, 32};
  const TorchScriptSpec& spec = loaded.spec;
  double params = 0;
  for (const auto& p : loaded.module.parameters()) params += static_cast<double>(p.numel());
  json inputs = json::array();
  for (const auto& t : spec.inputs) inputs.push_back({{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}});
  json result = {{"format", "sskai-profile"},
                 {"model_kind", "torchscript"},
                 {"task", spec.task},
                 {"input", inputs.size() == 1 ? inputs[0] : json{{"tensors", inputs}}},
                 {"parameters", params},
                 {"trainable_parameters", params},
                 {"flops", {{"forward_per_sample", 2 * params}, {"train_per_sample", 6 * params}}},
                 {"flops_estimated", true},
                 {"threads", options.threads},
                 {"hardware_threads", std::thread::hardware_concurrency()}};
  std::error_code ec;
  auto size = std::filesystem::file_size(model_path, ec);
  result["checkpoint_bytes"] = ec ? 0.0 : static_cast<double>(size) * (spec.task == "tensor" ? 1 : 3);
  try {
    torch::set_num_threads(options.threads);
    torch::manual_seed(0);
    torch::jit::Module module = loaded.module;  // fresh from disk: training it in place is harmless
    for (const auto& p : module.parameters()) p.requires_grad_(true);
    std::vector<torch::Tensor> train_params;
    for (const auto& p : module.parameters()) train_params.push_back(p);
    torch::optim::Adam optimizer(train_params, torch::optim::AdamOptions(1e-4));
    const bool trainable = spec.task != "tensor" && !train_params.empty();
    json measurements = json::array();
    for (int64_t batch : options.batch_sizes) {
      auto inputs_b = RandomInputs(spec, batch);
      module.eval();
      std::string failure;
      auto infer_ms = Time(options.warmup, options.repeats, [&] {
        torch::NoGradGuard no_grad;
        auto outs = RunForward(module, inputs_b);
        if (!outs.ok()) failure = outs.status().message();
      });
      if (!failure.empty()) return Status::Internal("profiling: " + failure);
      measurements.push_back(MeasurementJson("inference", batch, options.warmup, infer_ms, 2 * params));
      if (!trainable) continue;
      module.train();
      auto train_ms = Time(options.warmup, options.repeats, [&] {
        optimizer.zero_grad();
        torch::Tensor out = module.forward(inputs_b).toTensor().to(torch::kFloat);
        torch::Tensor loss = spec.task == "classification"
                                 ? torch::nn::functional::cross_entropy(out, torch::randint(out.size(1), {batch}, torch::kLong))
                                 : torch::mse_loss(out.reshape({-1}), torch::randn({out.numel()}));
        loss.backward();
        optimizer.step();
      });
      measurements.push_back(MeasurementJson("train_step", batch, options.warmup, train_ms, 6 * params));
    }
    result["measurements"] = measurements;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("profiling failed: ") + e.what());
  }
  result["memory_bytes"] = {{"weights", params * 4}, {"gradients", params * 4}, {"optimizer", params * 8},
                            {"inference", params * 4}, {"training", params * 16}};
  return result.dump();
}

}  // namespace sskai::ml
