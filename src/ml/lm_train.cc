// src/ml/lm_train.cc — causal-LM loss, LoRA / full fine-tuning with AdamW (warmup + cosine),
// gradient accumulation and clipping, exact checkpoint/resume.
//
// Determinism: the data order of epoch e is a shuffle seeded by (seed, e); step s uses micro-batches
// s·accum … s·accum + accum − 1 of that endless stream; dropout draws from torch's global generator
// re-seeded with (seed, s) at the start of each step. So a checkpoint needs only the trainable
// tensors, the optimizer state and the step to continue bit-identically.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <nlohmann/json.hpp>

#include "ml/cpu_dispatch.h"
#include "ml/distributed.h"
#include "ml/lm_kernels.h"
#include "ml/lm_model.h"

namespace sskai::ml {

using nlohmann::json;
namespace fs = std::filesystem;

LmBatch MakeBatch(const std::vector<const LmExample*>& examples, int max_len, torch::Device device) {
  int64_t len = 1;
  bool packed = false;
  for (const auto* e : examples) {
    len = std::max<int64_t>(len, std::min<int64_t>(e->ids.size(), max_len));
    packed = packed || (!e->document.empty() && e->document.front() != e->document.back());
  }
  int64_t batch = static_cast<int64_t>(examples.size());
  std::vector<int64_t> id(batch * len, 0), label(batch * len, -100), pos, doc;
  if (packed) {
    pos.assign(batch * len, 0);
    doc.assign(batch * len, -1);  // padding: its own document
  }
  for (int64_t b = 0; b < batch; ++b) {
    const auto& e = *examples[b];
    int64_t n = std::min<int64_t>(e.ids.size(), len), start = 0;
    bool has_doc = packed && e.document.size() == e.ids.size();
    for (int64_t t = 0; t < n; ++t) {
      id[b * len + t] = e.ids[t];
      bool target = e.target.empty() ? t > 0 : (t < static_cast<int64_t>(e.target.size()) && e.target[t] != 0);
      if (target) label[b * len + t] = e.ids[t];
      if (!packed) continue;
      int64_t d = has_doc ? e.document[t] : 0;
      if (t > 0 && has_doc && e.document[t] != e.document[t - 1]) start = t;
      pos[b * len + t] = t - start;
      doc[b * len + t] = d;
    }
  }
  auto tensor = [&](const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong).view({batch, len}).to(device); };
  LmBatch out;
  out.ids = tensor(id);
  out.labels = tensor(label);
  if (packed) {
    out.positions = tensor(pos);
    out.documents = tensor(doc);
  }
  return out;
}

std::pair<torch::Tensor, int64_t> SumLoss(LmCore* core, const LmBatch& batch) {
  int64_t len = batch.ids.size(1);
  if (len < 2) return {torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat).device(batch.ids.device())), 0};
  auto first = [&](const torch::Tensor& t) { return t.defined() ? t.narrow(1, 0, len - 1) : t; };
  // The fused cross-entropy widens bf16 logits itself (statistics and loss in fp32).
  auto logits = core->HeadInComputeDtype(
      core->Hidden(first(batch.ids), first(batch.positions), torch::Tensor(), nullptr, first(batch.documents)));
  auto pred = logits.reshape({-1, logits.size(-1)});
  auto gold = batch.labels.narrow(1, 1, len - 1).reshape({-1});
  int64_t count = gold.ne(-100).sum().item<int64_t>();
  auto loss = kernels::CrossEntropySum(pred, gold.contiguous(), -100);
  return {loss, count};
}

namespace {

constexpr char kStateFile[] = "trainer_state.json";
constexpr char kTrainableFile[] = "trainable.safetensors";
constexpr char kOptimizerFile[] = "optimizer.pt";

Status ValidateSpec(const LmTrainSpec& s) {
  if (s.steps < 1) return Status::InvalidArgument("steps must be >= 1");
  if (s.batch_size < 1 || s.grad_accum < 1) return Status::InvalidArgument("batch_size and grad_accum must be >= 1");
  if (s.max_seq_len < 2) return Status::InvalidArgument("max_seq_len must be >= 2");
  if (!(s.learning_rate > 0)) return Status::InvalidArgument("learning_rate must be > 0");
  if (s.warmup_steps < 0 || s.min_lr_ratio < 0 || s.min_lr_ratio > 1) return Status::InvalidArgument("bad warmup_steps/min_lr_ratio");
  if (s.grad_clip < 0 || s.weight_decay < 0) return Status::InvalidArgument("grad_clip and weight_decay must be >= 0");
  if (s.precision != "fp32" && s.precision != "bf16" && s.precision != "auto") {
    return Status::InvalidArgument("precision must be fp32, bf16 or auto, not '" + s.precision + "'");
  }
  return Status::Ok();
}

double LearningRate(const LmTrainSpec& s, int step) {
  if (step < s.warmup_steps) return s.learning_rate * (step + 1) / s.warmup_steps;
  double span = std::max(1, s.steps - s.warmup_steps);
  double progress = std::min(1.0, (step - s.warmup_steps) / span);
  double floor = s.learning_rate * s.min_lr_ratio;
  return floor + (s.learning_rate - floor) * 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
}

// Identifies spec + data so a checkpoint from another run is refused.
std::string Fingerprint(const LmTrainSpec& s, const std::vector<LmExample>& data) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  for (const auto& e : data) {
    mix(e.ids.size());
    for (int64_t id : e.ids) mix(static_cast<uint64_t>(id));
    for (uint8_t t : e.target) mix(t);
    if (!e.document.empty()) mix(0xd0c5ull);
    for (int32_t d : e.document) mix(static_cast<uint64_t>(d));
  }
  json j = {{"lora", s.lora}, {"r", s.lora_spec.rank}, {"alpha", s.lora_spec.alpha}, {"dropout", s.lora_spec.dropout},
            {"targets", s.lora_spec.target_modules}, {"steps", s.steps}, {"batch", s.batch_size},
            {"accum", s.grad_accum}, {"max_seq_len", s.max_seq_len}, {"lr", s.learning_rate},
            {"min_lr_ratio", s.min_lr_ratio}, {"warmup", s.warmup_steps}, {"wd", s.weight_decay},
            {"betas", {s.beta1, s.beta2}}, {"eps", s.eps}, {"clip", s.grad_clip}, {"seed", s.seed},
            {"data", std::to_string(h)}};
  if (s.precision != "fp32") j["precision"] = s.precision;  // fp32 runs keep their old fingerprint
  return j.dump();
}

// "bf16" → bfloat16 compute; "auto" → bfloat16 where bf16 matmuls are native: a CUDA device whose
// bf16 matmul works (probed: libtorch has no device-capability query without CUDA headers), or a
// CPU with AVX512-BF16 when libtorch has oneDNN (its CPU bf16 matmul path; ~4× an fp32 OpenBLAS
// GEMM on a Zen 5 core, BENCHMARKS.md); else fp32. Elsewhere a CPU bf16 matmul is emulated and
// slower than fp32, so "auto" keeps fp32 there.
torch::ScalarType ResolvePrecision(const std::string& precision, torch::Device device) {
  if (precision == "bf16") return torch::kBFloat16;
  if (precision != "auto") return torch::kFloat;
  if (!device.is_cuda()) return at::hasMKLDNN() && kernels::HasNativeBf16() ? torch::kBFloat16 : torch::kFloat;
  try {
    auto a = torch::ones({8, 8}, torch::TensorOptions().device(device).dtype(torch::kBFloat16));
    return torch::matmul(a, a).sum().item<float>() == 512.0f ? torch::kBFloat16 : torch::kFloat;
  } catch (const std::exception&) {
    return torch::kFloat;
  }
}

// The fingerprint stored in a checkpoint's state file ("" when there is none or it is unreadable;
// LoadCheckpoint reports those).
std::string CheckpointFingerprint(const std::string& dir) {
  std::ifstream in(dir + "/" + kStateFile);
  json state = json::parse(in, nullptr, false);
  if (state.is_discarded() || !state.contains("fingerprint") || !state["fingerprint"].is_string()) return "";
  return state["fingerprint"].get<std::string>();
}

// Every training step frees and reallocates the same activation and gradient buffers (many above
// glibc's mmap threshold): by default each comes back as fresh mmapped pages the kernel must fault
// in and zero. Keeping freed memory in the heap makes steady-state steps allocation-free (the
// process keeps its peak footprint, which the next step needs anyway). Process-wide, once.
void KeepFreedMemoryForReuse() {
#if defined(__GLIBC__)
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
  }();
  (void)done;
#endif
}

class DataOrder {
 public:
  DataOrder(size_t n, uint64_t seed) : n_(n), seed_(seed) {}
  size_t At(uint64_t k) {
    uint64_t epoch = k / n_;
    if (epoch != epoch_ || perm_.empty()) {
      perm_.resize(n_);
      for (size_t i = 0; i < n_; ++i) perm_[i] = i;
      std::mt19937_64 rng(seed_ * 7919 + epoch);
      std::shuffle(perm_.begin(), perm_.end(), rng);
      epoch_ = epoch;
    }
    return perm_[k % n_];
  }

 private:
  size_t n_;
  uint64_t seed_;
  uint64_t epoch_ = 0;
  std::vector<size_t> perm_;
};

struct Trainable {
  std::vector<std::string> names;
  std::vector<torch::Tensor> tensors;
};

Trainable CollectTrainable(LmCore* core, bool lora) {
  Trainable t;
  if (lora) {
    for (auto& [module, pair] : core->lora()) {
      t.names.push_back("base_model.model." + module + ".lora_A.weight");
      t.tensors.push_back(pair.a);
      t.names.push_back("base_model.model." + module + ".lora_B.weight");
      t.tensors.push_back(pair.b);
    }
  } else {
    for (auto& [name, p] : core->params()) {
      t.names.push_back(name);
      t.tensors.push_back(p);
    }
  }
  return t;
}

Status SaveCheckpoint(const std::string& work_dir, const Trainable& trainable, torch::optim::Optimizer& opt, int step,
                      const std::string& fingerprint, double loss) {
  std::string dir = work_dir + "/checkpoint", tmp = work_dir + "/checkpoint.tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  std::vector<torch::Tensor> host;
  std::vector<safetensors::TensorView> views;
  for (size_t i = 0; i < trainable.names.size(); ++i) {
    host.push_back(trainable.tensors[i].detach().to(torch::kCPU, torch::kFloat).contiguous());
    views.push_back({trainable.names[i], safetensors::DType::kF32, host.back().sizes().vec(), host.back().data_ptr(),
                     static_cast<size_t>(host.back().numel() * 4)});
  }
  SSKAI_RETURN_IF_ERROR(safetensors::Write(tmp + "/" + kTrainableFile, views, {{"step", std::to_string(step)}}));
  try {
    torch::serialize::OutputArchive archive;
    opt.save(archive);
    archive.save_to(tmp + "/" + kOptimizerFile);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("saving optimizer state: ") + e.what());
  }
  {
    std::ofstream out(tmp + "/" + kStateFile);
    out << json{{"step", step}, {"fingerprint", fingerprint}, {"loss", loss}}.dump(2) << "\n";
    if (!out) return Status::Internal("cannot write " + tmp + "/" + kStateFile);
  }
  fs::remove_all(dir, ec);
  fs::rename(tmp, dir, ec);
  if (ec) return Status::Internal("renaming checkpoint: " + ec.message());
  return Status::Ok();
}

Result<int> LoadCheckpoint(const std::string& dir, const Trainable& trainable, torch::optim::Optimizer& opt,
                           const std::string& fingerprint) {
  std::ifstream in(dir + "/" + kStateFile);
  json state = json::parse(in, nullptr, false);
  if (state.is_discarded() || !state.contains("step") || !state.contains("fingerprint")) {
    return Status::InvalidArgument(dir + ": not a fine-tuning checkpoint (bad " + kStateFile + ")");
  }
  if (state["fingerprint"].get<std::string>() != fingerprint) {
    return Status::InvalidArgument(dir + ": checkpoint is from a run with other hyperparameters or data");
  }
  SSKAI_ASSIGN_OR_RETURN(auto file, safetensors::File::Open(dir + "/" + kTrainableFile));
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < trainable.names.size(); ++i) {
    const auto* info = file->Find(trainable.names[i]);
    if (info == nullptr || info->dtype != safetensors::DType::kF32 || info->shape != trainable.tensors[i].sizes().vec()) {
      return Status::InvalidArgument(file->path() + ": tensor '" + trainable.names[i] + "' is missing or misshaped");
    }
    torch::Tensor host = torch::empty(info->shape, torch::kFloat);
    std::memcpy(host.data_ptr(), file->Data(*info), info->end - info->begin);
    trainable.tensors[i].copy_(host);
  }
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(dir + "/" + kOptimizerFile);
    opt.load(archive);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(dir + ": optimizer state does not load: " + e.what());
  }
  return state["step"].get<int>();
}

}  // namespace

Result<LmTrainResult> TrainLm(LmCore* core, const std::vector<LmExample>& data, const LmTrainSpec& spec,
                              const std::string& resume_dir, const std::string& work_dir,
                              const LmTrainCallbacks& callbacks) {
  SSKAI_RETURN_IF_ERROR(ValidateSpec(spec));
  if (data.empty()) return Status::InvalidArgument("no training examples");
  for (size_t i = 0; i < data.size(); ++i) {
    for (int64_t id : data[i].ids) {
      if (id < 0 || id >= core->config().vocab_size) {
        return Status::InvalidArgument("example " + std::to_string(i) + " has a token id outside the vocabulary");
      }
    }
  }
  int max_len = std::min<int>(spec.max_seq_len, static_cast<int>(core->config().max_position_embeddings));
  try {
    KeepFreedMemoryForReuse();
    torch::ScalarType compute = ResolvePrecision(spec.precision, core->device());
    LmTrainSpec resolved = spec;
    resolved.precision = compute == torch::kBFloat16 ? "bf16" : "fp32";
    if (spec.precision == "auto" && !resume_dir.empty()) {
      // A run resumed elsewhere (after a preemption, on another kind of machine) keeps the
      // precision it started with, whatever "auto" picks here: bf16 and fp32 both run everywhere.
      LmTrainSpec other = resolved;
      other.precision = resolved.precision == "bf16" ? "fp32" : "bf16";
      if (CheckpointFingerprint(resume_dir) == Fingerprint(other, data)) {
        resolved = other;
        compute = other.precision == "bf16" ? torch::kBFloat16 : torch::kFloat;
      }
    }
    // Trainable weights are fp32 masters (full fine-tuning converts a bf16/fp16 base; LoRA adapters
    // are fp32 already and the frozen base keeps its dtype); matmuls run in `compute`.
    if (!spec.lora) core->ConvertParams(torch::kFloat);
    if (spec.lora && !core->has_lora()) SSKAI_RETURN_IF_ERROR(core->AddLora(spec.lora_spec, spec.seed));
    if (!spec.lora && core->has_lora()) return Status::FailedPrecondition("full fine-tuning of a model with LoRA adapters");
    for (auto& [name, p] : core->params()) p.set_requires_grad(!spec.lora);
    Trainable trainable = CollectTrainable(core, spec.lora);
    for (auto& t : trainable.tensors) t.set_requires_grad(true);
    std::vector<torch::Tensor> decay, no_decay;
    for (auto& t : trainable.tensors) (t.dim() >= 2 ? decay : no_decay).push_back(t);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    auto options = [&](double wd) {
      return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(spec.learning_rate)
                                                              .betas({spec.beta1, spec.beta2})
                                                              .eps(spec.eps)
                                                              .weight_decay(wd));
    };
    groups.emplace_back(decay, options(spec.weight_decay));
    if (!no_decay.empty()) groups.emplace_back(no_decay, options(0.0));
    torch::optim::AdamW opt(groups, torch::optim::AdamWOptions(spec.learning_rate));
    std::string fingerprint = Fingerprint(resolved, data);

    LmTrainResult result;
    for (const auto& t : trainable.tensors) result.trainable_parameters += t.numel();
    result.precision = resolved.precision;
    int step = 0;
    if (!resume_dir.empty()) {
      SSKAI_ASSIGN_OR_RETURN(step, LoadCheckpoint(resume_dir, trainable, opt, fingerprint));
      result.resumed_from_step = step;
    }
    // Data parallel: each rank trains its contiguous shard of every micro-batch (distributed.h).
    SSKAI_ASSIGN_OR_RETURN(std::unique_ptr<GlooGroup> group, MaybeCreateGlooGroup(callbacks.data_parallel));
    const bool leader = group == nullptr || group->rank() == 0;  // writes the checkpoints
    DataOrder order(data.size(), spec.seed);
    core->set_training(true);
    core->set_compute_dtype(compute);
    auto finish = [&]() {
      core->set_training(false);
      core->set_compute_dtype(core->dtype());
      for (auto& t : trainable.tensors) t.set_requires_grad(false);
    };
    double last_loss = 0;
    while (step < spec.steps) {
      torch::manual_seed(spec.seed * 1000003ull + static_cast<uint64_t>(step));
      double lr = LearningRate(spec, step);
      for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      ClearGrads(opt);
      std::vector<LmBatch> micro;
      int64_t targets = 0;
      for (int m = 0; m < spec.grad_accum; ++m) {
        std::vector<const LmExample*> part;
        for (int b = 0; b < spec.batch_size; ++b) {
          uint64_t k = (static_cast<uint64_t>(step) * spec.grad_accum + m) * spec.batch_size + b;
          part.push_back(&data[order.At(k)]);
        }
        micro.push_back(MakeBatch(part, max_len, core->device()));
        const auto& labels = micro.back().labels;
        targets += labels.narrow(1, 1, labels.size(1) - 1).ne(-100).sum().item<int64_t>();
        if (group != nullptr) {  // the loss is over the global step's targets; train this rank's rows
          const size_t world = group->world_size(), rank = group->rank(), rows = part.size();
          std::vector<const LmExample*> shard(part.begin() + rows * rank / world, part.begin() + rows * (rank + 1) / world);
          if (shard.empty()) {
            micro.pop_back();
            continue;
          }
          micro.back() = MakeBatch(shard, max_len, core->device());
        }
      }
      double loss_sum = 0;
      for (const auto& batch : micro) {
        auto [loss, n] = SumLoss(core, batch);
        if (n == 0) continue;
        (loss / static_cast<double>(std::max<int64_t>(targets, 1))).backward();
        loss_sum += loss.item<double>();
      }
      if (group != nullptr) {  // sum gradients and loss over ranks: every rank takes the same step
        std::vector<double> sums{loss_sum};
        Status st = AllReduceGradients(*group, trainable.tensors, sums);
        if (!st.ok()) {
          finish();
          return st;
        }
        loss_sum = sums[0];
      }
      double clip = spec.grad_clip > 0 ? spec.grad_clip : std::numeric_limits<double>::infinity();
      double norm = ClipAndStepAdamW(opt, clip);
      ++step;
      last_loss = targets > 0 ? loss_sum / targets : 0;
      ++result.steps_run;
      if (callbacks.on_step) callbacks.on_step({step, spec.steps, last_loss, lr, norm, targets});
      bool stop = callbacks.should_stop && callbacks.should_stop();
      if (group != nullptr) {  // every rank stops at the same step when any got a notice
        auto any = AnyRank(*group, stop);
        if (!any.ok()) {
          finish();
          return any.status();
        }
        stop = *any;
      }
      bool due = step == spec.steps || stop || (spec.checkpoint_every > 0 && step % spec.checkpoint_every == 0);
      if (due && !work_dir.empty() && leader) {
        Status s = SaveCheckpoint(work_dir, trainable, opt, step, fingerprint, last_loss);
        if (s.ok() && callbacks.on_checkpoint) s = callbacks.on_checkpoint(work_dir + "/checkpoint", step);
        if (!s.ok()) {
          finish();
          return s;
        }
      }
      if (stop && step < spec.steps) {
        finish();
        return Status::Cancelled("fine-tuning stopped at step " + std::to_string(step));
      }
    }
    finish();
    result.final_loss = last_loss;
    return result;
  } catch (const std::exception& e) {
    core->set_training(false);
    core->set_compute_dtype(core->dtype());
    return Status::Internal(std::string("fine-tuning failed: ") + e.what());
  }
}

}  // namespace sskai::ml
