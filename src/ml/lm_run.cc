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

Status CheckIds(const LmConfig& c, const std::vector<int64_t>& ids, const char* what) {
  if (ids.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  for (int64_t id : ids) {
    if (id < 0 || id >= c.vocab_size) {
      return Status::InvalidArgument(std::string(what) + " has token id " + std::to_string(id) + " outside the vocabulary (" +
                                     std::to_string(c.vocab_size) + ")");
    }
  }
  return Status::Ok();
}

// Picks the next token from one row of logits (pure; the RNG carries the request's seed).
int64_t Sample(std::vector<float> logits, const SamplingParams& s, const std::vector<int64_t>& history,
               std::mt19937_64* rng) {
  if (s.repetition_penalty != 1.0) {
    std::set<int64_t> seen(history.begin(), history.end());
    for (int64_t id : seen) {
      float& l = logits[id];
      l = l > 0 ? static_cast<float>(l / s.repetition_penalty) : static_cast<float>(l * s.repetition_penalty);
    }
  }
  if (s.temperature <= 0) return std::max_element(logits.begin(), logits.end()) - logits.begin();
  std::vector<int64_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  size_t keep = order.size();
  if (s.top_k > 0) keep = std::min(keep, static_cast<size_t>(s.top_k));
  std::vector<double> probs(keep);
  double max_logit = logits[order[0]] / s.temperature, total = 0;
  for (size_t i = 0; i < keep; ++i) {
    probs[i] = std::exp(logits[order[i]] / s.temperature - max_logit);
    total += probs[i];
  }
  if (s.top_p < 1.0) {
    double cumulative = 0;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probs[i] / total;
      if (cumulative >= s.top_p) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    total = std::accumulate(probs.begin(), probs.begin() + static_cast<std::ptrdiff_t>(keep), 0.0);
  }
  double u = std::uniform_real_distribution<double>(0.0, total)(*rng);
  for (size_t i = 0; i < keep; ++i) {
    u -= probs[i];
    if (u <= 0) return order[i];
  }
  return order[keep - 1];
}

// Longest sequence a request may use: dynamic NTK scaling extends max_position_embeddings.
int64_t ContextLength(const LmConfig& c) {
  double factor = c.rope_type == "dynamic" ? c.rope_factor : 1.0;
  return static_cast<int64_t>(static_cast<double>(c.max_position_embeddings) * factor);
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

  Result<std::vector<GenerateResult>> Generate(const std::vector<GenerateRequest>& requests,
                                               const TokenCallback& on_token) override {
    if (requests.empty()) return std::vector<GenerateResult>{};
    int64_t batch = static_cast<int64_t>(requests.size()), longest = 0, most_new = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
      const auto& r = requests[i];
      SSKAI_RETURN_IF_ERROR(CheckIds(config(), r.prompt, ("request " + std::to_string(i) + " prompt").c_str()));
      if (r.sampling.max_tokens < 0) return Status::InvalidArgument("max_tokens must be >= 0");
      if (r.sampling.top_p <= 0 || r.sampling.top_p > 1) return Status::InvalidArgument("top_p must be in (0, 1]");
      if (r.sampling.repetition_penalty <= 0) return Status::InvalidArgument("repetition_penalty must be > 0");
      int64_t need = static_cast<int64_t>(r.prompt.size()) + r.sampling.max_tokens;
      if (need > ContextLength(config())) {
        return Status::InvalidArgument("request " + std::to_string(i) + ": prompt (" + std::to_string(r.prompt.size()) +
                                       " tokens) + max_tokens exceeds the context (" +
                                       std::to_string(ContextLength(config())) + ")");
      }
      longest = std::max<int64_t>(longest, static_cast<int64_t>(r.prompt.size()));
      most_new = std::max<int64_t>(most_new, r.sampling.max_tokens);
    }
    try {
      return GenerateBatch(requests, on_token, batch, longest, most_new);
    } catch (const std::exception& e) {
      return Status::Internal(std::string("generation failed: ") + e.what());
    }
  }

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
  Result<std::vector<GenerateResult>> GenerateBatch(const std::vector<GenerateRequest>& requests,
                                                    const TokenCallback& on_token, int64_t batch, int64_t longest,
                                                    int64_t most_new) {
    torch::NoGradGuard no_grad;
    core_->set_training(false);
    torch::Device dev = core_->device();
    int64_t capacity = longest + most_new;
    // Left-pad prompts so every sequence ends at slot `longest - 1`.
    std::vector<int64_t> ids(batch * longest, 0), pos(batch * longest, 0);
    auto valid = torch::zeros({batch, capacity}, torch::kBool);
    std::vector<GenerateResult> results(batch);
    std::vector<std::vector<int64_t>> history(batch);
    std::vector<std::mt19937_64> rngs;
    std::vector<bool> done(batch, false);
    std::vector<int64_t> next_pos(batch);
    for (int64_t b = 0; b < batch; ++b) {
      const auto& prompt = requests[b].prompt;
      int64_t pad = longest - static_cast<int64_t>(prompt.size());
      for (size_t t = 0; t < prompt.size(); ++t) {
        ids[b * longest + pad + t] = prompt[t];
        pos[b * longest + pad + t] = static_cast<int64_t>(t);
      }
      valid.select(0, b).narrow(0, pad, static_cast<int64_t>(prompt.size())).fill_(true);
      results[b].prompt_tokens = static_cast<int64_t>(prompt.size());
      history[b] = prompt;
      rngs.emplace_back(requests[b].sampling.seed);
      next_pos[b] = static_cast<int64_t>(prompt.size());
      if (requests[b].sampling.max_tokens == 0) {
        done[b] = true;
        results[b].finish_reason = "length";
      }
    }
    valid = valid.to(dev);
    KvCache cache = core_->NewCache(batch, capacity);
    auto logits = core_->Forward(torch::tensor(ids, torch::kLong).view({batch, longest}).to(dev),
                                 torch::tensor(pos, torch::kLong).view({batch, longest}).to(dev), valid, &cache)
                      .select(1, longest - 1);  // [B,V]
    int64_t vocab = config().vocab_size;
    for (int64_t step = 0; step < most_new; ++step) {
      auto host = logits.to(torch::kCPU).contiguous();
      const float* row0 = host.data_ptr<float>();
      std::vector<int64_t> feed(batch, 0);
      bool any = false;
      for (int64_t b = 0; b < batch; ++b) {
        if (done[b]) continue;
        const auto& s = requests[b].sampling;
        std::vector<float> row(row0 + b * vocab, row0 + (b + 1) * vocab);
        int64_t token = Sample(std::move(row), s, history[b], &rngs[b]);
        history[b].push_back(token);
        results[b].tokens.push_back(token);
        feed[b] = token;
        bool keep = on_token ? on_token(static_cast<size_t>(b), token) : true;
        if (std::find(s.stop_tokens.begin(), s.stop_tokens.end(), token) != s.stop_tokens.end()) {
          done[b] = true;
          results[b].finish_reason = "stop";
        } else if (!keep) {
          done[b] = true;
          results[b].finish_reason = "cancelled";
        } else if (static_cast<int64_t>(results[b].tokens.size()) >= s.max_tokens) {
          done[b] = true;
          results[b].finish_reason = "length";
        }
        any = any || !done[b];
      }
      if (!any) break;
      std::vector<int64_t> step_pos(batch);
      for (int64_t b = 0; b < batch; ++b) step_pos[b] = next_pos[b]++;
      valid.select(1, cache.len).fill_(true);
      logits = core_->Forward(torch::tensor(feed, torch::kLong).view({batch, 1}).to(dev),
                              torch::tensor(step_pos, torch::kLong).view({batch, 1}).to(dev), valid, &cache)
                   .select(1, 0);
    }
    return results;
  }

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
