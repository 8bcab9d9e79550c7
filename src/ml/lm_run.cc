// src/ml/lm_run.cc — LanguageModel over LmCore: loading, batched generation with a KV cache,
// sampling, evaluation, saving, PEFT adapters.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ml/lm_decode.h"
#include "ml/lm_model.h"

namespace sskai::ml {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status WriteText(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return Status::Internal("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return ec ? Status::Internal("rename " + path + ": " + ec.message()) : Status::Ok();
}

Result<safetensors::DType> SafeDtype(torch::ScalarType t) {
  if (t == torch::kFloat) return safetensors::DType::kF32;
  if (t == torch::kBFloat16) return safetensors::DType::kBF16;
  if (t == torch::kHalf) return safetensors::DType::kF16;
  return Status::InvalidArgument("unsupported dtype for saving");
}

Status WriteTensors(const std::string& dir, const std::string& base,
                    const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                    const std::map<std::string, std::string>& metadata, uint64_t max_shard_bytes) {
  std::vector<safetensors::TensorView> views;
  for (const auto& [name, t] : tensors) {
    SSKAI_ASSIGN_OR_RETURN(auto dt, SafeDtype(t.scalar_type()));
    views.push_back({name, dt, t.sizes().vec(), t.data_ptr(), static_cast<size_t>(t.numel() * t.element_size())});
  }
  auto written = safetensors::WriteCheckpoint(dir, base, views, metadata, max_shard_bytes);
  return written.status();
}

class LanguageModelImpl : public LanguageModel {
 public:
  explicit LanguageModelImpl(std::unique_ptr<LmCore> core) : core_(std::move(core)) {}

  const LmConfig& config() const override { return core_->config(); }

  int64_t NumParameters() const override {
    int64_t n = 0;
    for (const auto& [name, t] : core_->params()) n += t.numel();
    return n;
  }

  Result<std::vector<float>> Logits(const std::vector<int64_t>& ids) override {
    SSKAI_RETURN_IF_ERROR(CheckIds(config(), ids, "input"));
    if (static_cast<int64_t>(ids.size()) > ContextLength(config())) {
      return Status::InvalidArgument("input has " + std::to_string(ids.size()) + " tokens, more than the context (" +
                                     std::to_string(ContextLength(config())) + ")");
    }
    try {
      torch::NoGradGuard no_grad;
      core_->set_training(false);
      auto t = torch::tensor(ids, torch::kLong).view({1, -1}).to(core_->device());
      auto pos = torch::arange(static_cast<int64_t>(ids.size()), torch::TensorOptions().dtype(torch::kLong).device(core_->device()))
                     .view({1, -1});
      auto logits = core_->Forward(t, pos, torch::Tensor(), nullptr).to(torch::kCPU).contiguous();
      const float* p = logits.data_ptr<float>();
      return std::vector<float>(p, p + logits.numel());
    } catch (const std::exception& e) {
      return Status::Internal(std::string("forward failed: ") + e.what());
    }
  }

  // One batch through a decoder: batched prefill, then one forward per step for the sequences
  // still running (finished ones leave the batch).
  Result<std::vector<GenerateResult>> Generate(const std::vector<GenerateRequest>& requests,
                                               const TokenCallback& on_token) override {
    auto decoder = NewLmDecoder(core_.get(), static_cast<int>(std::max<size_t>(1, requests.size())));
    SSKAI_ASSIGN_OR_RETURN(std::vector<int64_t> ids, decoder->Add(requests));
    std::map<int64_t, size_t> index;
    for (size_t i = 0; i < ids.size(); ++i) index[ids[i]] = i;
    std::vector<GenerateResult> results(requests.size());
    while (decoder->active() > 0) {
      SSKAI_ASSIGN_OR_RETURN(auto finished, decoder->Step([&](int64_t sequence, int64_t token) {
        return on_token ? on_token(index.at(sequence), token) : true;
      }));
      for (auto& f : finished) results[index.at(f.sequence)] = std::move(f.result);
    }
    return results;
  }

  std::unique_ptr<LmDecoder> NewDecoder(int max_batch) override { return NewLmDecoder(core_.get(), max_batch); }

  Result<LmLoss> Evaluate(const std::vector<LmExample>& examples, int batch_size) override {
    if (examples.empty()) return Status::InvalidArgument("no examples to evaluate");
    if (batch_size < 1) batch_size = 1;
    try {
      torch::NoGradGuard no_grad;
      core_->set_training(false);
      double sum = 0;
      int64_t count = 0;
      for (size_t start = 0; start < examples.size(); start += batch_size) {
        std::vector<const LmExample*> part;
        for (size_t i = start; i < std::min(examples.size(), start + batch_size); ++i) part.push_back(&examples[i]);
        auto [loss, n] = SumLoss(core_.get(), MakeBatch(part, static_cast<int>(ContextLength(config())), core_->device()));
        sum += loss.item<double>();
        count += n;
      }
      if (count == 0) return Status::InvalidArgument("examples have no target tokens");
      LmLoss out;
      out.loss = sum / count;
      out.perplexity = std::exp(out.loss);
      out.tokens = count;
      return out;
    } catch (const std::exception& e) {
      return Status::Internal(std::string("evaluation failed: ") + e.what());
    }
  }

  Status AddLora(const LoraSpec& spec, uint64_t seed) override { return core_->AddLora(spec, seed); }

  Status MergeLora() override {
    if (!core_->has_lora()) return Status::FailedPrecondition("the model has no LoRA adapters");
    core_->MergeLora();
    return Status::Ok();
  }

  Status SaveAdapter(const std::string& dir) const override {
    if (!core_->has_lora()) return Status::FailedPrecondition("the model has no LoRA adapters");
    std::error_code ec;
    fs::create_directories(dir, ec);
    const LoraSpec& s = core_->lora_spec();
    SSKAI_RETURN_IF_ERROR(WriteTensors(dir, "adapter_model", core_->AdapterTensors(), {{"format", "pt"}}, 0));
    json cfg = {{"peft_type", "LORA"},          {"task_type", "CAUSAL_LM"},   {"r", s.rank},
                {"lora_alpha", s.alpha},        {"lora_dropout", s.dropout}, {"target_modules", s.target_modules},
                {"bias", "none"},               {"fan_in_fan_out", false},   {"inference_mode", true},
                {"base_model_name_or_path", ""}};
    return WriteText(dir + "/adapter_config.json", cfg.dump(2) + "\n");
  }

  Status LoadAdapter(const std::string& dir) override {
    if (core_->has_lora()) return Status::FailedPrecondition("the model already has LoRA adapters");
    SSKAI_ASSIGN_OR_RETURN(std::string text, ReadText(dir + "/adapter_config.json"));
    json cfg = json::parse(text, nullptr, false);
    if (cfg.is_discarded() || !cfg.is_object() || cfg.value("peft_type", "") != "LORA") {
      return Status::InvalidArgument(dir + "/adapter_config.json: not a LoRA adapter config");
    }
    LoraSpec spec;
    try {
      spec.rank = cfg.at("r").get<int>();
      spec.alpha = cfg.value("lora_alpha", 8.0);
      spec.dropout = cfg.value("lora_dropout", 0.0);
      spec.target_modules = cfg.at("target_modules").get<std::vector<std::string>>();
    } catch (const std::exception& e) {
      return Status::InvalidArgument(dir + "/adapter_config.json: " + e.what());
    }
    SSKAI_ASSIGN_OR_RETURN(auto file, safetensors::File::Open(dir + "/adapter_model.safetensors"));
    SSKAI_RETURN_IF_ERROR(core_->AddLora(spec, 0));
    torch::NoGradGuard no_grad;
    for (auto& [module, pair] : core_->lora()) {
      for (auto [suffix, target] : {std::pair<const char*, torch::Tensor*>{".lora_A.weight", &pair.a},
                                    std::pair<const char*, torch::Tensor*>{".lora_B.weight", &pair.b}}) {
        std::string name = "base_model.model." + module + suffix;
        const auto* info = file->Find(name);
        if (info == nullptr || info->dtype != safetensors::DType::kF32 || info->shape != target->sizes().vec()) {
          core_->lora().clear();
          return Status::InvalidArgument(file->path() + ": tensor '" + name + "' is missing, not F32 or misshaped");
        }
        torch::Tensor host = torch::empty(info->shape, torch::kFloat);
        std::memcpy(host.data_ptr(), file->Data(*info), info->end - info->begin);
        *target = host.to(core_->device());
      }
    }
    return Status::Ok();
  }

  Status Save(const std::string& dir, const LmSaveOptions& options) const override {
    SSKAI_ASSIGN_OR_RETURN(torch::ScalarType dtype, ParseTorchDtype(options.dtype));
    std::error_code ec;
    fs::create_directories(dir, ec);
    LmConfig cfg = config();
    cfg.torch_dtype = dtype == torch::kFloat ? "float32" : dtype == torch::kBFloat16 ? "bfloat16" : "float16";
    auto tensors = core_->BaseTensors(dtype);
    if (core_->has_lora()) {
      if (!options.merge_lora) return Status::FailedPrecondition("unmerged LoRA adapters: save them with SaveAdapter");
      // Merge into copies so this model keeps its adapters.
      double scale = core_->lora_spec().alpha / core_->lora_spec().rank;
      torch::NoGradGuard no_grad;
      for (auto& [name, t] : tensors) {
        if (name.size() < 7) continue;
        auto it = core_->lora().find(name.substr(0, name.size() - 7));  // strip ".weight"
        if (it == core_->lora().end()) continue;
        auto delta = torch::matmul(it->second.b, it->second.a).to(torch::kCPU) * scale;
        t = (core_->params().at(name).to(torch::kCPU, torch::kFloat) + delta).to(dtype).contiguous();
      }
    }
    SSKAI_RETURN_IF_ERROR(WriteTensors(dir, "model", tensors, {{"format", "pt"}}, options.max_shard_bytes));
    return WriteText(dir + "/config.json", LmConfigToJson(cfg) + "\n");
  }

  Result<LmTrainResult> Train(const std::vector<LmExample>& data, const LmTrainSpec& spec, const std::string& resume_dir,
                              const std::string& work_dir, const LmTrainCallbacks& callbacks) override {
    return TrainLm(core_.get(), data, spec, resume_dir, work_dir, callbacks);
  }

 private:
  std::unique_ptr<LmCore> core_;
};

Result<std::pair<torch::Device, torch::ScalarType>> Placement(const LmLoadOptions& options) {
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(options.device);
  } catch (const std::exception&) {
    return Status::InvalidArgument("device must be cpu or cuda[:N], not '" + options.device + "'");
  }
  if (device.is_cuda() && !torch::cuda::is_available()) return Status::Unavailable("CUDA is not available to this engine");
  torch::ScalarType dtype = device.is_cuda() ? torch::kBFloat16 : torch::kFloat;
  if (options.dtype != "auto") {
    SSKAI_ASSIGN_OR_RETURN(dtype, ParseTorchDtype(options.dtype));
  }
  if (options.threads > 0) torch::set_num_threads(options.threads);
  return std::make_pair(device, dtype);
}

}  // namespace

Result<std::unique_ptr<LanguageModel>> OpenLanguageModel(const std::string& dir, const LmLoadOptions& options) {
  SSKAI_ASSIGN_OR_RETURN(std::string text, ReadText(dir + "/config.json"));
  auto config = LmConfigFromJson(text);
  if (!config.ok()) return config.status().WithPrefix(dir);
  SSKAI_ASSIGN_OR_RETURN(auto placement, Placement(options));
  SSKAI_ASSIGN_OR_RETURN(auto checkpoint, safetensors::Checkpoint::Open(dir));
  auto core = std::make_unique<LmCore>(*config, placement.first, placement.second);
  try {
    SSKAI_RETURN_IF_ERROR(core->LoadFrom(*checkpoint));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("loading weights: ") + e.what());
  }
  return std::unique_ptr<LanguageModel>(new LanguageModelImpl(std::move(core)));
}

Result<std::unique_ptr<LanguageModel>> NewLanguageModel(const LmConfig& config, uint64_t seed,
                                                        const LmLoadOptions& options) {
  SSKAI_ASSIGN_OR_RETURN(auto placement, Placement(options));
  auto core = std::make_unique<LmCore>(config, placement.first, placement.second);
  try {
    core->InitRandom(seed);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("initialising weights: ") + e.what());
  }
  return std::unique_ptr<LanguageModel>(new LanguageModelImpl(std::move(core)));
}

}  // namespace sskai::ml
