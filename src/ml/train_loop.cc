// src/ml/train_loop.cc — the training loop, resumable checkpoints and artifact writing.
//
// Determinism: the train/validation split is a Fisher-Yates shuffle seeded with spec.seed; each
// epoch's batch order is seeded from (seed, epoch); torch's generator is seeded once before the
// weights are initialized and its state is saved in every checkpoint; the intra-op thread count is
// fixed. A checkpoint records its position (completed epochs, steps into the next epoch, global
// step, the epoch's running loss), so a run resumed from any step boundary — mid-epoch included —
// ends with the same weights, bit for bit, as an uninterrupted run.
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>

#include "ml/container.h"
#include "ml/distributed.h"
#include "ml/train_loop.h"

namespace sskai::ml {
namespace {

using nlohmann::json;

struct Eval {
  double loss = 0, accuracy = 0, rmse = 0, r2 = 0;
};

uint64_t MixSeed(uint64_t seed, uint64_t salt) {  // splitmix64 finalizer
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (salt + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::vector<int64_t> Permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(n);
  for (int64_t idx = 0; idx < n; ++idx) order[idx] = idx;
  std::mt19937_64 rng(seed);
  for (int64_t idx = n - 1; idx > 0; --idx) std::swap(order[idx], order[rng() % (idx + 1)]);
  return order;
}

torch::Tensor IndexTensor(const int64_t* begin, int64_t count) {
  return torch::from_blob(const_cast<int64_t*>(begin), {count}, torch::kInt64).clone();
}

std::string ArchiveBytes(torch::serialize::OutputArchive& archive) {
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

TrainSpec Resolve(TrainSpec spec, const Problem& p, int64_t n_train) {
  spec.model = p.net.kind;
  spec.task = p.task;
  if (spec.threads <= 0) spec.threads = 1;
  if (spec.epochs <= 0) {
    if (p.net.kind == "cnn") {
      spec.epochs = 5;
    } else {  // tiny tables need many passes: aim for ~600 optimizer steps
      int64_t steps = std::max<int64_t>(1, (n_train + spec.batch_size - 1) / spec.batch_size);
      spec.epochs = static_cast<int>(std::clamp<int64_t>((600 + steps - 1) / steps, 10, 200));
    }
  }
  return spec;
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const TrainSpec& spec, Net& net) {
  if (spec.optimizer == "sgd") {
    return std::make_unique<torch::optim::SGD>(
        net.parameters(), torch::optim::SGDOptions(spec.learning_rate).momentum(0.9).weight_decay(spec.weight_decay));
  }
  if (spec.optimizer == "adamw") {
    return std::make_unique<torch::optim::AdamW>(
        net.parameters(), torch::optim::AdamWOptions(spec.learning_rate).weight_decay(spec.weight_decay));
  }
  return std::make_unique<torch::optim::Adam>(
      net.parameters(), torch::optim::AdamOptions(spec.learning_rate).weight_decay(spec.weight_decay));
}

torch::Tensor Loss(const Problem& p, const torch::Tensor& out, const torch::Tensor& y, bool sum) {
  auto reduction = sum ? at::Reduction::Sum : at::Reduction::Mean;
  if (p.task == "classification") return torch::nll_loss(torch::log_softmax(out, 1), y, {}, reduction);
  return torch::mse_loss(out.squeeze(1), y, reduction);
}

// Evaluates on the held-out split. Regression: y is standardized; rmse/r2 in original units.
Eval Evaluate(const Problem& p, Net& net, const torch::Tensor& x, const torch::Tensor& y, double y_mean,
              double y_std) {
  torch::NoGradGuard no_grad;
  net.eval();
  Eval e;
  const int64_t n = x.size(0);
  double loss_sum = 0, correct = 0, sse = 0;
  for (int64_t start = 0; start < n; start += 1024) {
    int64_t len = std::min<int64_t>(1024, n - start);
    auto xb = x.narrow(0, start, len).to(torch::kFloat);
    auto yb = y.narrow(0, start, len);
    auto out = net.forward(xb);
    loss_sum += Loss(p, out, yb, true).item<double>();
    if (p.task == "classification") {
      correct += out.argmax(1).eq(yb).sum().item<double>();
    } else {
      sse += (out.squeeze(1) - yb).mul(y_std).pow(2).sum().item<double>();
    }
  }
  e.loss = loss_sum / n;
  e.accuracy = correct / n;
  if (p.task == "regression") {
    auto y_orig = y.to(torch::kDouble) * y_std + y_mean;
    double sst = (y_orig - y_orig.mean()).pow(2).sum().item<double>();
    e.rmse = std::sqrt(sse / n);
    e.r2 = sst > 0 ? 1.0 - sse / sst : 0.0;
  }
  return e;
}

std::map<std::string, double> MetricMap(const Problem& p, const Eval& e) {
  if (p.task == "classification") return {{"val_accuracy", e.accuracy}, {"val_loss", e.loss}};
  return {{"val_rmse", e.rmse}, {"val_r2", e.r2}, {"val_loss", e.loss}};
}

// Removes all but the `keep` newest work_dir/checkpoint-<step>.sskai files (best effort).
void PruneCheckpoints(const std::string& work_dir, size_t keep) {
  std::vector<std::pair<int64_t, std::filesystem::path>> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(work_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint-", 0) != 0 || name.size() < 18 || name.substr(name.size() - 6) != ".sskai") continue;
    char* end = nullptr;
    long long step = std::strtoll(name.c_str() + 11, &end, 10);
    if (end == nullptr || std::string(end) != ".sskai") continue;
    files.emplace_back(step, entry.path());
  }
  std::sort(files.begin(), files.end());
  for (size_t idx = 0; idx + keep < files.size(); ++idx) std::filesystem::remove(files[idx].second, ec);
}

// One data-parallel optimizer step: this rank's contiguous shard of the global batch `rows`
// (len rows), loss summed over the shard / len, gradients and loss summed over all ranks (= the
// global batch's mean), then the same optimizer step on every rank. Dropout draws the global
// batch's mask and BatchNorm the global batch's statistics (Net::SetBatchShard, SetSyncGroup).
// Returns the batch's mean loss.
Result<double> ShardStep(const Problem& p, Net& net, torch::optim::Optimizer& optimizer, GlooGroup& group,
                         const torch::Tensor& x_train, const torch::Tensor& y_train, const int64_t* rows,
                         int64_t len) {
  const int64_t world = group.world_size(), rank = group.rank();
  const int64_t begin = len * rank / world, end = len * (rank + 1) / world;
  net.SetBatchShard(begin, len);
  auto idx = IndexTensor(rows + begin, end - begin);
  auto xb = x_train.index_select(0, idx).to(torch::kFloat);
  auto yb = y_train.index_select(0, idx);
  optimizer.zero_grad();
  std::vector<double> loss{0.0};
  try {  // synchronized BatchNorm all-reduces inside forward and backward
    auto shard_loss = Loss(p, net.forward(xb), yb, true) / static_cast<double>(len);
    shard_loss.backward();
    loss[0] = shard_loss.item<double>();
  } catch (const std::exception& e) {
    net.SetBatchShard(0, 0);
    return Status::Unavailable(std::string("data parallel: ") + e.what());
  }
  net.SetBatchShard(0, 0);
  SSKAI_RETURN_IF_ERROR(AllReduceGradients(group, net.parameters(), loss));
  optimizer.step();
  return loss[0];
}

Status CheckResumable(const json& meta, const json& base) {
  if (meta.value("kind", "") != "checkpoint") return Status::InvalidArgument("resume: not a checkpoint file");
  if (meta.value("spec", json()) != base["spec"]) {
    return Status::InvalidArgument("resume: checkpoint was written with different hyperparameters: " +
                                   meta.value("spec", json()).dump());
  }
  if (meta.value("data_fingerprint", "") != base["data_fingerprint"]) {
    return Status::InvalidArgument("resume: checkpoint was written for different training data");
  }
  if (meta.value("net", json()) != base["net"]) return Status::InvalidArgument("resume: different network");
  return Status::Ok();
}

Result<TrainResult> Train(Problem& p, const TrainSpec& user_spec, const std::string& resume_checkpoint,
                          const std::string& work_dir, const TrainCallbacks& callbacks) {
  const int64_t n = p.x.size(0);
  if (n < 2) return Status::InvalidArgument("training data: need at least 2 rows, got " + std::to_string(n));
  int64_t n_val = std::clamp<int64_t>(std::llround(n * user_spec.validation_split), 1, n - 1);
  int64_t n_train = n - n_val;
  const TrainSpec spec = Resolve(user_spec, p, n_train);
  torch::set_num_threads(spec.threads);

  std::vector<int64_t> split = Permutation(n, MixSeed(spec.seed, 0x5eed));
  auto train_idx = IndexTensor(split.data(), n_train);
  auto val_idx = IndexTensor(split.data() + n_train, n_val);
  torch::Tensor x_train = p.x.index_select(0, train_idx), y_train = p.y.index_select(0, train_idx);
  torch::Tensor x_val = p.x.index_select(0, val_idx), y_val = p.y.index_select(0, val_idx);

  double y_mean = 0, y_std = 1;
  if (p.task == "regression") {
    y_mean = y_train.to(torch::kDouble).mean().item<double>();
    y_std = n_train > 1 ? y_train.to(torch::kDouble).std().item<double>() : 1.0;
    if (!(y_std > 1e-12)) y_std = 1.0;
    y_train = ((y_train.to(torch::kDouble) - y_mean) / y_std).to(torch::kFloat);
    y_val = ((y_val.to(torch::kDouble) - y_mean) / y_std).to(torch::kFloat);
  }

  torch::manual_seed(spec.seed);
  std::shared_ptr<Net> net = BuildNet(p.net);
  if (p.net.kind == "cnn") {
    auto flat = x_train.transpose(0, 1).reshape({p.net.channels, -1}).to(torch::kFloat).div_(255.0);
    auto mean = flat.mean(1), std = flat.std(1).clamp_min(1e-3);
    static_cast<CnnNet&>(*net).SetNormalization(mean, std);
  }
  auto optimizer = MakeOptimizer(spec, *net);
  // Data parallel (world_size > 1): a Gloo group; only rank 0 writes checkpoints.
  const TrainCallbacks::DataParallel& dp = callbacks.data_parallel;
  SSKAI_ASSIGN_OR_RETURN(std::unique_ptr<GlooGroup> group, MaybeCreateGlooGroup(dp));
  net->SetSyncGroup(group.get());
  // Rank 0 alone checkpoints and evaluates on the held-out split (its weights are every rank's,
  // and evaluation needs no collective: BatchNorm uses its running statistics there).
  const bool writes_checkpoints = group == nullptr || group->rank() == 0;
  const bool reports_metrics = writes_checkpoints;

  json base = {{"format", "sskai-model"},
               {"model", p.net.kind},
               {"task", p.task},
               {"classes", p.classes},
               {"input", p.input},
               {"net", NetConfigToJson(p.net)},
               {"spec", json::parse(TrainSpecToJson(spec))},
               {"data_fingerprint", p.fingerprint},
               {"split", {{"train_rows", n_train}, {"validation_rows", n_val}}}};
  if (!p.encoder_json.empty()) base["encoder_json"] = p.encoder_json;
  if (p.task == "regression") base["target"] = {{"mean", y_mean}, {"std", y_std}};

  at::Generator gen = at::detail::getDefaultCPUGenerator();
  const int64_t steps_per_epoch = (n_train + spec.batch_size - 1) / spec.batch_size;
  int start_epoch = 1;
  int64_t resume_batch = 0, global_step = 0;
  double resume_loss_sum = 0;
  TrainResult result;
  if (!resume_checkpoint.empty()) {
    auto c = ReadContainerFile(resume_checkpoint);
    if (!c.ok()) {
      return c.status().code() == StatusCode::kNotFound ? Status::InvalidArgument(c.status().message())
                                                          : c.status();
    }
    SSKAI_ASSIGN_OR_RETURN(json meta, ParseMetadata(c->metadata_json));
    SSKAI_RETURN_IF_ERROR(CheckResumable(meta, base));
    int epoch = meta.value("epoch", -1);
    resume_batch = meta.value("step_in_epoch", int64_t{0});
    resume_loss_sum = meta.value("epoch_loss_sum", 0.0);
    global_step = meta.value("global_step", static_cast<int64_t>(std::max(epoch, 0)) * steps_per_epoch);
    bool valid = epoch >= 0 && epoch <= spec.epochs && resume_batch >= 0 && resume_batch < steps_per_epoch &&
                 !(epoch == spec.epochs && resume_batch > 0) &&
                 global_step == epoch * steps_per_epoch + resume_batch;
    if (!valid) return Status::InvalidArgument("resume: bad checkpoint position");
    try {
      torch::serialize::InputArchive root, model_archive, optim_archive;
      root.load_from(c->payload.data(), c->payload.size());
      root.read("model", model_archive);
      root.read("optimizer", optim_archive);
      if (p.net.kind == "cnn" && HasLegacyConvBias(model_archive)) {
        // Written before the convolutions lost their bias: resume in that layout, so the
        // optimizer state (one entry per parameter) loads and the run continues exactly.
        p.net.conv_bias = true;
        net = BuildNet(p.net);  // its initial weights (and RNG draws) are replaced below
        net->SetSyncGroup(group.get());
        optimizer = MakeOptimizer(spec, *net);
      }
      net->load(model_archive);
      optimizer->load(optim_archive);
      torch::Tensor rng_state;
      root.read("rng", rng_state);
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(rng_state);
    } catch (const std::exception& e) {
      return Status::InvalidArgument(std::string("resume: checkpoint does not load: ") + e.what());
    }
    start_epoch = epoch + 1;
    result.resumed_from_epoch = epoch;
  }

  std::error_code ec;
  std::filesystem::create_directories(work_dir, ec);
  // Writes the checkpoint of position (completed epochs, steps into the next epoch), keeps the
  // last two files and hands the new one to on_checkpoint.
  int64_t last_checkpoint_step = global_step;
  auto last_checkpoint_time = std::chrono::steady_clock::now();
  auto write_checkpoint = [&](int completed, int64_t step_in_epoch, double loss_sum,
                              const std::map<std::string, double>& metrics) -> Status {
    if (!writes_checkpoints) {  // rank 0 writes the (identical) state of every rank
      last_checkpoint_step = global_step;
      last_checkpoint_time = std::chrono::steady_clock::now();
      return Status::Ok();
    }
    torch::serialize::OutputArchive root, model_archive, optim_archive;
    net->save(model_archive);
    optimizer->save(optim_archive);
    root.write("model", model_archive);
    root.write("optimizer", optim_archive);
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      root.write("rng", gen.get_state());
    }
    json meta = base;
    meta["kind"] = "checkpoint";
    meta["epoch"] = completed;
    meta["step_in_epoch"] = step_in_epoch;
    meta["global_step"] = global_step;
    meta["epoch_loss_sum"] = loss_sum;
    // Data order is Permutation(seed, epoch): the position above is the whole data-order state.
    meta["data_order"] = {{"kind", "permutation"}, {"seed", spec.seed}, {"epoch", completed + 1},
                          {"position", step_in_epoch * spec.batch_size}};
    meta["lr_schedule"] = {{"kind", "constant"}, {"lr", spec.learning_rate}, {"step", global_step}};
    if (callbacks.extra_checkpoint_state) meta["extra"] = callbacks.extra_checkpoint_state();
    meta["metrics"] = metrics;
    const std::string path =
        (std::filesystem::path(work_dir) / ("checkpoint-" + std::to_string(global_step) + ".sskai")).string();
    SSKAI_RETURN_IF_ERROR(WriteContainerFile(path, {meta.dump(), ArchiveBytes(root)}));
    PruneCheckpoints(work_dir, 2);
    last_checkpoint_step = global_step;
    last_checkpoint_time = std::chrono::steady_clock::now();
    if (callbacks.on_checkpoint) SSKAI_RETURN_IF_ERROR(callbacks.on_checkpoint(path, completed));
    return Status::Ok();
  };

  // Long runs of tiny epochs (small tables) checkpoint about 20 times, not every epoch.
  const int checkpoint_every = std::max(1, spec.epochs / 20);
  Eval eval;
  double train_loss = 0;
  bool evaluated = false;
  for (int epoch = start_epoch; epoch <= spec.epochs; ++epoch) {
    auto started = std::chrono::steady_clock::now();
    net->train();
    std::vector<int64_t> order = Permutation(n_train, MixSeed(spec.seed, static_cast<uint64_t>(epoch)));
    const int64_t first_batch = epoch == start_epoch ? resume_batch : 0;
    double loss_sum = epoch == start_epoch ? resume_loss_sum : 0;
    for (int64_t batch = first_batch; batch < steps_per_epoch; ++batch) {
      // Step boundary: notice, cancellation and the step-level cadence are checked here.
      bool stop = callbacks.checkpoint_and_stop && callbacks.checkpoint_and_stop();
      if (group != nullptr) {  // every rank stops at the same step when any got a notice
        SSKAI_ASSIGN_OR_RETURN(stop, AnyRank(*group, stop));
      }
      if (stop) {
        if (global_step != last_checkpoint_step || batch == first_batch) {
          SSKAI_RETURN_IF_ERROR(write_checkpoint(epoch - 1, batch, loss_sum, {}));
        }
        return Status::Cancelled("preempted at step " + std::to_string(global_step) + " (epoch " +
                                 std::to_string(epoch) + ", checkpoint written)");
      }
      if (callbacks.should_stop && callbacks.should_stop()) {
        return Status::Cancelled("training stopped during epoch " + std::to_string(epoch));
      }
      if (batch > 0 && global_step != last_checkpoint_step &&
          ((callbacks.checkpoint_every_steps > 0 &&
            global_step - last_checkpoint_step >= callbacks.checkpoint_every_steps) ||
           (callbacks.checkpoint_every_seconds > 0 &&
            std::chrono::duration<double>(std::chrono::steady_clock::now() - last_checkpoint_time).count() >=
                callbacks.checkpoint_every_seconds))) {
        SSKAI_RETURN_IF_ERROR(write_checkpoint(epoch - 1, batch, loss_sum, {}));
      }
      const int64_t start = batch * spec.batch_size;
      int64_t len = std::min<int64_t>(spec.batch_size, n_train - start);
      double loss_value = 0;
      if (group == nullptr) {
        auto idx = IndexTensor(order.data() + start, len);
        auto xb = x_train.index_select(0, idx).to(torch::kFloat);
        auto yb = y_train.index_select(0, idx);
        optimizer->zero_grad();
        auto loss = Loss(p, net->forward(xb), yb, false);
        loss.backward();
        optimizer->step();
        loss_value = loss.item<double>();
      } else {
        SSKAI_ASSIGN_OR_RETURN(loss_value, ShardStep(p, *net, *optimizer, *group, x_train, y_train,
                                                     order.data() + start, len));
      }
      loss_sum += loss_value * len;
      ++global_step;
      if (callbacks.on_step) callbacks.on_step(global_step, loss_value);
    }
    train_loss = loss_sum / n_train;
    evaluated = true;
    EpochMetrics m;
    m.epoch = epoch;
    m.epochs = spec.epochs;
    m.train_loss = train_loss;
    if (reports_metrics) {
      eval = Evaluate(p, *net, x_val, y_val, y_mean, y_std);
      m.val_loss = eval.loss;
      m.metrics = MetricMap(p, eval);
    }
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (callbacks.on_epoch) callbacks.on_epoch(m);
    ++result.epochs_run;
    if (epoch % checkpoint_every != 0 && epoch != spec.epochs) continue;
    SSKAI_RETURN_IF_ERROR(write_checkpoint(epoch, 0, 0, m.metrics));
  }
  if (!evaluated && reports_metrics) eval = Evaluate(p, *net, x_val, y_val, y_mean, y_std);

  if (reports_metrics) result.metrics = MetricMap(p, eval);
  if (evaluated) result.metrics["train_loss"] = train_loss;
  json meta = base;
  meta["kind"] = "model";
  meta["epochs"] = spec.epochs;
  meta["metrics"] = result.metrics;
  torch::serialize::OutputArchive model_archive;
  net->save(model_archive);
  result.model_path = (std::filesystem::path(work_dir) / kModelFileName).string();
  result.metadata_json = meta.dump();
  SSKAI_RETURN_IF_ERROR(WriteContainerFile(result.model_path, {result.metadata_json, ArchiveBytes(model_archive)}));
  return result;
}

}  // namespace

Result<TrainResult> TrainProblem(Problem& p, const TrainSpec& spec, const std::string& resume,
                                 const std::string& work_dir, const TrainCallbacks& callbacks) {
  try {
    return Train(p, spec, resume, work_dir, callbacks);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("training failed: ") + e.what());
  }
}

}  // namespace sskai::ml
