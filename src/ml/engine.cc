// src/ml/engine.cc — Engine and Predictor implementations, and the exported entry point.
#include <mutex>
#include <sstream>

#include "data/data.h"
#include "ml/container.h"
#include "ml/lm_model.h"
#include "ml/number_rows.h"
#include "ml/torchscript.h"
#include "ml/train.h"

namespace sskai::ml {

using nlohmann::json;

json NetConfigToJson(const NetConfig& c) {
  json j = {{"kind", c.kind}, {"outputs", c.outputs}};
  if (c.kind == "mlp") {
    j["features"] = c.features;
    j["hidden"] = c.hidden;
  } else {
    j["channels"] = c.channels;
    j["height"] = c.height;
    j["width"] = c.width;
  }
  return j;
}

Result<NetConfig> NetConfigFromJson(const json& j) {
  NetConfig c;
  try {
    c.kind = j.at("kind").get<std::string>();
    c.outputs = j.at("outputs").get<int64_t>();
    if (c.kind == "mlp") {
      c.features = j.at("features").get<int64_t>();
      c.hidden = j.at("hidden").get<std::vector<int64_t>>();
      if (c.features < 1 || c.hidden.empty()) return Status::InvalidArgument("model metadata: bad mlp shape");
      for (int64_t h : c.hidden) {
        if (h < 1 || h > 65536) return Status::InvalidArgument("model metadata: bad mlp hidden size");
      }
    } else if (c.kind == "cnn") {
      c.channels = j.at("channels").get<int64_t>();
      c.height = j.at("height").get<int64_t>();
      c.width = j.at("width").get<int64_t>();
      if (c.channels < 1 || c.channels > 4 || c.height < 4 || c.width < 4 || c.height > 65536 || c.width > 65536) {
        return Status::InvalidArgument("model metadata: bad cnn input shape");
      }
    } else {
      return Status::InvalidArgument("model metadata: unknown network kind '" + c.kind + "'");
    }
    if (c.outputs < 1 || c.outputs > 1000000) return Status::InvalidArgument("model metadata: bad output size");
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("model metadata: ") + e.what());
  }
  return c;
}

Result<std::shared_ptr<Net>> LoadNet(const NetConfig& config, const std::string& archive_bytes) {
  try {
    std::shared_ptr<Net> net = BuildNet(config);
    torch::serialize::InputArchive archive;
    archive.load_from(archive_bytes.data(), archive_bytes.size());
    net->load(archive);
    if (config.kind == "cnn") static_cast<CnnNet&>(*net).FoldLegacyConvBias(archive);  // old model files
    net->eval();
    return net;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("model weights do not load: ") + e.what());
  }
}

Result<json> ParseMetadata(const std::string& metadata_json) {
  json meta = json::parse(metadata_json, nullptr, /*allow_exceptions=*/false);
  if (meta.is_discarded() || !meta.is_object() || meta.value("format", "") != "sskai-model") {
    return Status::InvalidArgument("model file metadata is not valid");
  }
  return meta;
}

namespace {

// Returns the list of instances: a bare array, or the array under "instances" / "inputs" / "rows".
Result<json> Instances(const std::string& input_json) {
  json in = json::parse(input_json, nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded()) return Status::InvalidArgument("input: not valid JSON");
  if (in.is_object()) {
    for (const char* key : {"instances", "inputs", "rows"}) {
      if (in.contains(key)) {
        in = in[key];
        break;
      }
    }
  }
  if (!in.is_array()) {
    return Status::InvalidArgument("input: expected a JSON array or an object with \"instances\" (an array)");
  }
  if (in.empty()) return Status::InvalidArgument("input: no instances");
  return in;
}

// Appends the numbers of a (possibly nested) array; false on a non-number leaf.
bool Flatten(const json& v, std::vector<float>* out, size_t limit) {
  if (v.is_number()) {
    out->push_back(v.get<float>());
    return true;
  }
  if (!v.is_array()) return false;
  for (const auto& e : v) {
    if (out->size() > limit) return true;  // too many: the caller reports the size
    if (!Flatten(e, out, limit)) return false;
  }
  return true;
}

// The fused evaluation-mode forward of an image CNN (cnn_kernels.h), or null where it does not apply
// or (a guard: the module's forward is the contract) disagrees with the module on a random batch.
std::unique_ptr<kernels::CnnInference> FusedCnn(Net& net, const NetConfig& config) {
  auto* cnn = dynamic_cast<CnnNet*>(&net);
  if (cnn == nullptr || config.height < 4 || config.width < 4) return nullptr;
  auto fused = kernels::CnnInference::Prepare(cnn->InferenceWeights());
  if (!fused) return nullptr;
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(/*seed_in=*/1);  // not the global generator: no side effect
  auto x = torch::rand({2, config.channels, config.height, config.width}, gen, torch::kFloat) * 255;
  auto want = net.forward(x), got = fused->Forward(x);
  double scale = std::max(1.0, want.abs().max().item<double>());
  if (got.sizes() != want.sizes() || (got - want).abs().max().item<double>() > 1e-4 * scale) return nullptr;
  return fused;
}

// The fused evaluation-mode forward of a tabular MLP (mlp_kernels.h), or null where it does not
// apply or (a guard, as for the CNN) disagrees with the module on a random batch.
std::unique_ptr<kernels::MlpInference> FusedMlp(Net& net, const NetConfig& config) {
  auto* mlp = dynamic_cast<MlpNet*>(&net);
  if (mlp == nullptr || config.features < 1) return nullptr;
  auto fused = kernels::MlpInference::Prepare(mlp->InferenceWeights());
  if (!fused || fused->inputs() != config.features) return nullptr;
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(/*seed_in=*/1);
  auto x = torch::randn({2, config.features}, gen, torch::kFloat) * 2;
  auto want = net.forward(x).contiguous();
  std::vector<float> got(static_cast<size_t>(2 * fused->outputs()));
  fused->Forward(x.data_ptr<float>(), 2, got.data());
  if (want.dim() != 2 || want.size(1) != fused->outputs()) return nullptr;
  double scale = std::max(1.0, want.abs().max().item<double>());
  const float* w = want.data_ptr<float>();
  for (size_t idx = 0; idx < got.size(); ++idx) {
    if (std::abs(static_cast<double>(got[idx]) - w[idx]) > 1e-4 * scale) return nullptr;
  }
  return fused;
}

class PredictorImpl : public Predictor {
 public:
  PredictorImpl(json meta, NetConfig config, std::shared_ptr<Net> net,
                std::unique_ptr<data::TabularEncoder> encoder)
      : meta_(std::move(meta)), metadata_json_(meta_.dump()), config_(std::move(config)), net_(std::move(net)),
        cnn_(FusedCnn(*net_, config_)), mlp_(FusedMlp(*net_, config_)), encoder_(std::move(encoder)),
        classes_(meta_.value("classes", std::vector<std::string>{})),
        regression_(meta_.value("task", "") == "regression") {
    if (regression_ && meta_.contains("target")) {
      y_mean_ = meta_["target"].value("mean", 0.0);
      y_std_ = meta_["target"].value("std", 1.0);
    }
  }

  Result<PredictOutput> PredictJson(const std::string& input_json) override {
    try {
      int64_t n_rows = 0;
      SSKAI_ASSIGN_OR_RETURN(std::vector<float> values, EncodeValues(input_json, &n_rows));
      if (mlp_ && mlp_->Takes(n_rows)) {
        // A few rows: the fused loops, no ATen op (whose dispatch would cost more than the math).
        std::vector<float> logits(static_cast<size_t>(n_rows * mlp_->outputs()));
        mlp_->Forward(values.data(), n_rows, logits.data());
        return DecodeLogits(logits.data(), n_rows, mlp_->outputs());
      }
      // `values` outlives the forward pass, which reads it without keeping a reference.
      torch::Tensor x = torch::from_blob(values.data(), ShapeOf(n_rows), torch::kFloat);
      torch::NoGradGuard no_grad;
      if (cnn_) {
        torch::Tensor logits = cnn_->Forward(x).contiguous();
        return DecodeLogits(logits.data_ptr<float>(), logits.size(0), logits.size(1));
      }
      return Decode(net_->forward(x));
    } catch (const std::exception& e) {
      return Status::Internal(std::string("prediction failed: ") + e.what());
    }
  }

  std::string metadata_json() const override { return metadata_json_; }

 private:
  std::vector<int64_t> ShapeOf(int64_t n) const {
    return config_.kind == "cnn" ? std::vector<int64_t>{n, config_.channels, config_.height, config_.width}
                                 : std::vector<int64_t>{n, config_.features};
  }

  // The request body as row-major fp32 values of *n_rows inputs (shape ShapeOf(*n_rows)).
  Result<std::vector<float>> EncodeValues(const std::string& input_json, int64_t* n_rows) const {
    if (config_.kind == "mlp" && encoder_) {
      std::string rows = input_json;
      // Only an object (an envelope) needs unwrapping; arrays go to the encoder unparsed.
      const size_t first = input_json.find_first_not_of(" \t\r\n");
      json in = first != std::string::npos && input_json[first] == '{' ? json::parse(input_json, nullptr, false) : json();
      if (in.is_object()) {
        SSKAI_ASSIGN_OR_RETURN(json arr, Instances(input_json));
        rows = arr.dump();
      }
      SSKAI_ASSIGN_OR_RETURN(std::vector<float> feats, encoder_->EncodeRowsJson(rows, n_rows));
      if (*n_rows < 1) return Status::InvalidArgument("input: no rows");
      if (feats.size() != static_cast<size_t>(*n_rows * config_.features)) {
        return Status::InvalidArgument("input: encoder produced " + std::to_string(feats.size() / *n_rows) +
                                       " features per row, the model expects " + std::to_string(config_.features));
      }
      return feats;
    }
    const bool image = config_.kind == "cnn";
    const int64_t width = image ? config_.channels * config_.height * config_.width : config_.features;
    if (auto values = ParseNumberRows(input_json, static_cast<size_t>(width), n_rows)) return std::move(*values);
    // Anything else (other shapes, bad input): the general JSON path and its error messages.
    SSKAI_ASSIGN_OR_RETURN(json instances, Instances(input_json));
    // A bare flat array of exactly one instance's numbers is one instance.
    if (instances.size() == static_cast<size_t>(width) && instances[0].is_number()) instances = json::array({instances});
    std::vector<float> values;
    values.reserve(instances.size() * width);
    for (size_t idx = 0; idx < instances.size(); ++idx) {
      std::vector<float> one;
      if (!Flatten(instances[idx], &one, width)) {
        return Status::InvalidArgument("instance " + std::to_string(idx) + ": expected an array of numbers");
      }
      if (one.size() != static_cast<size_t>(width)) {
        std::string shape = image ? " (" + std::to_string(config_.channels) + "x" + std::to_string(config_.height) +
                                        "x" + std::to_string(config_.width) + ")"
                                  : "";
        return Status::InvalidArgument("instance " + std::to_string(idx) + ": expected " + std::to_string(width) +
                                       " values" + shape + ", got " +
                                       (one.size() > static_cast<size_t>(width) ? "more" : std::to_string(one.size())));
      }
      values.insert(values.end(), one.begin(), one.end());
    }
    *n_rows = static_cast<int64_t>(instances.size());
    return values;
  }

  // Decode for the fused MLP's logits [n, k]: the same answer as Decode (softmax in fp32, then
  // probabilities as doubles; the first most likely class).
  PredictOutput DecodeLogits(const float* out, int64_t n, int64_t k) const {
    PredictOutput result;
    result.classes = classes_;
    if (regression_) {
      for (int64_t row = 0; row < n; ++row) result.values.push_back(double(out[row * k]) * y_std_ + y_mean_);
      return result;
    }
    std::vector<float> e(static_cast<size_t>(k));
    for (int64_t row = 0; row < n; ++row) {
      const float* logits = out + row * k;
      const float top = *std::max_element(logits, logits + k);
      float sum = 0;
      for (int64_t j = 0; j < k; ++j) sum += e[j] = std::exp(logits[j] - top);
      std::vector<double> probs(static_cast<size_t>(k));
      for (int64_t j = 0; j < k; ++j) probs[j] = e[j] / sum;
      const int64_t cls = std::max_element(probs.begin(), probs.end()) - probs.begin();
      result.probabilities.push_back(std::move(probs));
      result.labels.push_back(cls < static_cast<int64_t>(classes_.size()) ? classes_[cls] : std::to_string(cls));
    }
    return result;
  }

  PredictOutput Decode(const torch::Tensor& out) const {
    PredictOutput result;
    result.classes = classes_;
    const int64_t n = out.size(0);
    if (regression_) {
      auto v = out.squeeze(1).to(torch::kDouble).contiguous();
      for (int64_t row = 0; row < n; ++row) result.values.push_back(v[row].item<double>() * y_std_ + y_mean_);
      return result;
    }
    auto probs = torch::softmax(out, 1).to(torch::kDouble).contiguous();
    auto best = probs.argmax(1);
    const double* p = probs.data_ptr<double>();
    const int64_t k = probs.size(1);
    for (int64_t row = 0; row < n; ++row) {
      result.probabilities.emplace_back(p + row * k, p + (row + 1) * k);
      int64_t cls = best[row].item<int64_t>();
      result.labels.push_back(cls < static_cast<int64_t>(classes_.size()) ? classes_[cls] : std::to_string(cls));
    }
    return result;
  }

  const json meta_;
  const std::string metadata_json_;
  const NetConfig config_;
  const std::shared_ptr<Net> net_;  // eval mode; forward under NoGradGuard mutates nothing
  const std::unique_ptr<kernels::CnnInference> cnn_;  // image CNNs: the fused forward (null: net_'s)
  const std::unique_ptr<kernels::MlpInference> mlp_;  // tabular MLPs: the fused forward (null: net_'s)
  const std::unique_ptr<data::TabularEncoder> encoder_;
  const std::vector<std::string> classes_;
  const bool regression_;
  double y_mean_ = 0, y_std_ = 1;
};

class EngineImpl : public Engine {
 public:
  Result<TrainResult> TrainTabular(const data::TabularData& data, const TrainSpec& spec,
                                   const std::string& resume_checkpoint, const std::string& work_dir,
                                   const TrainCallbacks& callbacks) override {
    std::lock_guard<std::mutex> lock(train_mu_);  // seeding and thread count are process-global
    return RunTabularTraining(data, spec, resume_checkpoint, work_dir, callbacks);
  }

  Result<TrainResult> TrainImages(const data::ImageData& data, const TrainSpec& spec,
                                  const std::string& resume_checkpoint, const std::string& work_dir,
                                  const TrainCallbacks& callbacks) override {
    std::lock_guard<std::mutex> lock(train_mu_);
    return RunImageTraining(data, spec, resume_checkpoint, work_dir, callbacks);
  }

  Result<std::unique_ptr<Predictor>> LoadPredictor(const std::string& model_path) override {
    if (LooksLikeZip(model_path)) return LoadTorchScriptPredictor(model_path);
    auto c = ReadContainerFile(model_path);
    if (!c.ok()) return c.status();
    SSKAI_ASSIGN_OR_RETURN(json meta, ParseMetadata(c->metadata_json));
    if (meta.value("kind", "") != "model") return Status::InvalidArgument(model_path + ": not a model artifact");
    if (!meta.contains("net")) return Status::InvalidArgument(model_path + ": metadata has no network");
    SSKAI_ASSIGN_OR_RETURN(NetConfig config, NetConfigFromJson(meta["net"]));
    SSKAI_ASSIGN_OR_RETURN(std::shared_ptr<Net> net, LoadNet(config, c->payload));
    std::unique_ptr<data::TabularEncoder> encoder;
    if (meta.contains("encoder_json") && meta["encoder_json"].is_string() &&
        !meta["encoder_json"].get<std::string>().empty()) {
      auto enc = data::TabularEncoder::FromJson(meta["encoder_json"].get<std::string>());
      if (!enc.ok()) return enc.status().WithPrefix(model_path + ": encoder");
      encoder = std::make_unique<data::TabularEncoder>(std::move(enc).value());
    }
    return std::unique_ptr<Predictor>(
        std::make_unique<PredictorImpl>(std::move(meta), std::move(config), std::move(net), std::move(encoder)));
  }

  Result<std::unique_ptr<LanguageModel>> LoadLm(const std::string& dir, const LmLoadOptions& options) override {
    return OpenLanguageModel(dir, options);
  }
  Result<std::unique_ptr<LanguageModel>> CreateLm(const LmConfig& config, uint64_t seed,
                                                  const LmLoadOptions& options) override {
    return NewLanguageModel(config, seed, options);
  }

  Result<int> CheckpointEpoch(const std::string& checkpoint_path) override {
    auto c = ReadContainerFile(checkpoint_path);
    if (!c.ok()) return c.status();
    SSKAI_ASSIGN_OR_RETURN(json meta, ParseMetadata(c->metadata_json));
    if (meta.value("kind", "") != "checkpoint" || !meta.contains("epoch") || !meta["epoch"].is_number_integer()) {
      return Status::InvalidArgument(checkpoint_path + ": not a checkpoint");
    }
    return meta["epoch"].get<int>();
  }

  Result<std::string> ProfileJson(const std::string& model_path, const std::string& options_json) override {
    std::lock_guard<std::mutex> lock(train_mu_);  // thread count and seed are process-global
    if (LooksLikeZip(model_path)) return ProfileTorchScriptJson(model_path, options_json);
    return ProfileModelJson(model_path, options_json);
  }

  Result<std::string> ValidateTorchScript(const std::string& file_path, const std::string& spec_json,
                                          const std::string& out_path) override {
    std::lock_guard<std::mutex> lock(train_mu_);  // seeds the global generator
    return ValidateTorchScriptFile(file_path, spec_json, out_path);
  }

  Result<TrainResult> TrainTorchScript(const std::string& model_path, const std::string& csv_path,
                                       const std::string& target, const TrainSpec& spec,
                                       const std::string& resume_checkpoint, const std::string& work_dir,
                                       const TrainCallbacks& callbacks) override {
    std::lock_guard<std::mutex> lock(train_mu_);
    return RunTorchScriptTraining(model_path, csv_path, target, spec, resume_checkpoint, work_dir, callbacks);
  }

  Result<CheckpointPosition> ReadCheckpointPosition(const std::string& checkpoint_path) override {
    SSKAI_ASSIGN_OR_RETURN(int epoch, CheckpointEpoch(checkpoint_path));
    auto c = ReadContainerFile(checkpoint_path);
    if (!c.ok()) return c.status();
    SSKAI_ASSIGN_OR_RETURN(json meta, ParseMetadata(c->metadata_json));
    CheckpointPosition pos;
    pos.epoch = epoch;
    pos.step_in_epoch = meta.value("step_in_epoch", int64_t{0});
    pos.global_step = meta.value("global_step", int64_t{0});
    return pos;
  }

 private:
  std::mutex train_mu_;
};

}  // namespace
}  // namespace sskai::ml

extern "C" sskai::ml::Engine* sskai_ml_engine() {
  static sskai::ml::EngineImpl engine;
  return &engine;
}
