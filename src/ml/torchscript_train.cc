// src/ml/torchscript_train.cc — training a stored TorchScript model further on a numeric CSV.
//
// The module's own parameters are trained from C++ (module.parameters(), train mode). Data order
// is a function of seed and epoch; a checkpoint (sskai container, kind "checkpoint") holds the
// module archive, the optimizer state, torch's RNG states (CPU, and CUDA when present: dropout
// draws from them) and the position, so a preempted run resumes at its step bit-identically.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/csrc/jit/serialization/import.h>

#include "ml/container.h"
#include "ml/torchscript.h"

namespace sskai::ml {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  for (char ch : line) {
    if (ch == '"') {
      quoted = !quoted;
    } else if (ch == ',' && !quoted) {
      cells.push_back(cell);
      cell.clear();
    } else if (ch != '\r') {
      cell += ch;
    }
  }
  cells.push_back(cell);
  return cells;
}

struct Table {
  int64_t rows = 0, features = 0;
  std::vector<float> x;
  std::vector<float> y;  // class index or value
};

// Reads the CSV raw (no scaling): features in file order, the target column by name or last.
Result<Table> ReadCsv(const std::string& path, const std::string& target, const TorchScriptSpec& spec,
                      int64_t outputs) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("dataset file '" + path + "' not found");
  std::string line;
  if (!std::getline(in, line)) return Status::InvalidArgument("the dataset is empty");
  std::vector<std::string> header = SplitCsvLine(line);
  size_t target_idx = header.size() - 1;
  if (!target.empty()) {
    auto it = std::find(header.begin(), header.end(), target);
    if (it == header.end()) return Status::InvalidArgument("target column '" + target + "' is not in the header");
    target_idx = static_cast<size_t>(it - header.begin());
  }
  Table t;
  t.features = static_cast<int64_t>(header.size()) - 1;
  if (t.features != spec.inputs[0].shape[1]) {
    return Status::InvalidArgument("the dataset has " + std::to_string(t.features) + " feature columns, the model's input " +
                                   ShapeToString(spec.inputs[0].shape) + " takes " +
                                   std::to_string(spec.inputs[0].shape[1]));
  }
  const bool classification = spec.task == "classification";
  for (int64_t line_no = 2; std::getline(in, line); ++line_no) {
    if (line.empty() || line == "\r") continue;
    std::vector<std::string> cells = SplitCsvLine(line);
    if (cells.size() != header.size()) {
      return Status::InvalidArgument("line " + std::to_string(line_no) + ": expected " + std::to_string(header.size()) +
                                     " values, got " + std::to_string(cells.size()));
    }
    for (size_t col = 0; col < cells.size(); ++col) {
      const std::string& cell = cells[col];
      if (col == target_idx && classification) {
        int64_t cls = -1;
        auto it = std::find(spec.classes.begin(), spec.classes.end(), cell);
        if (it != spec.classes.end()) {
          cls = it - spec.classes.begin();
        } else if (spec.classes.empty()) {
          char* end = nullptr;
          long v = std::strtol(cell.c_str(), &end, 10);
          if (end != cell.c_str() && *end == '\0' && v >= 0 && v < outputs) cls = v;
        }
        if (cls < 0) {
          return Status::InvalidArgument("line " + std::to_string(line_no) + ", column '" + header[col] + "': '" + cell +
                                         "' is not a class of the model" +
                                         (spec.classes.empty() ? " (an index below " + std::to_string(outputs) + ")" : ""));
        }
        t.y.push_back(static_cast<float>(cls));
        continue;
      }
      char* end = nullptr;
      double v = std::strtod(cell.c_str(), &end);
      if (cell.empty() || *end != '\0' || !std::isfinite(v)) {
        return Status::InvalidArgument("line " + std::to_string(line_no) + ", column '" + header[col] +
                                       "': expected a number, got '" + cell + "'");
      }
      (col == target_idx ? t.y : t.x).push_back(static_cast<float>(v));
    }
    ++t.rows;
  }
  if (t.rows < 2) return Status::InvalidArgument("the dataset needs at least 2 rows");
  return t;
}

std::string ModuleBytes(const torch::jit::Module& module) {
  std::ostringstream out;
  module.save(out);
  return out.str();
}

// torch's default generators (the ones dropout and other random ops in the module draw from):
// "cpu" and "cuda<N>" per visible GPU, as one archive.
std::string RngStateBytes() {
  torch::serialize::OutputArchive archive;
  archive.write("cpu", at::detail::getDefaultCPUGenerator().get_state());
  const auto& cuda = at::detail::getCUDAHooks();
  if (cuda.hasCUDA()) {
    for (int idx = 0; idx < cuda.getNumGPUs(); ++idx) {
      archive.write("cuda" + std::to_string(idx),
                    cuda.getDefaultCUDAGenerator(static_cast<c10::DeviceIndex>(idx)).get_state());
    }
  }
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

// Restores what RngStateBytes saved; a GPU that was not there at save time keeps its seed.
void RestoreRngState(const std::string& bytes) {
  torch::serialize::InputArchive archive;
  archive.load_from(bytes.data(), bytes.size());
  torch::Tensor state;
  if (archive.try_read("cpu", state)) {
    at::Generator cpu = at::detail::getDefaultCPUGenerator();  // a handle to the same generator
    cpu.set_state(state);
  }
  const auto& cuda = at::detail::getCUDAHooks();
  if (!cuda.hasCUDA()) return;
  for (int idx = 0; idx < cuda.getNumGPUs(); ++idx) {
    torch::Tensor cuda_state;
    if (archive.try_read("cuda" + std::to_string(idx), cuda_state)) {
      auto gen = cuda.getDefaultCUDAGenerator(static_cast<c10::DeviceIndex>(idx));
      gen.set_state(cuda_state);
    }
  }
}

Status WriteCheckpoint(const std::string& path, const torch::jit::Module& module, torch::optim::Optimizer& optimizer,
                       int epoch, int64_t step_in_epoch, int64_t global_step) {
  std::string module_bytes = ModuleBytes(module);
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ostringstream optim;
  archive.save_to(optim);
  const std::string optim_bytes = optim.str();
  const std::string rng_bytes = RngStateBytes();
  json meta = {{"format", "sskai-model"}, {"kind", "checkpoint"}, {"model", "torchscript"},
               {"epoch", epoch}, {"step_in_epoch", step_in_epoch}, {"global_step", global_step},
               {"module_bytes", module_bytes.size()}, {"optimizer_bytes", optim_bytes.size()},
               {"rng_bytes", rng_bytes.size()}};
  return WriteContainerFile(path, Container{meta.dump(), module_bytes + optim_bytes + rng_bytes});
}

}  // namespace

Result<TrainResult> RunTorchScriptTraining(const std::string& model_path, const std::string& csv_path,
                                           const std::string& target, const TrainSpec& spec,
                                           const std::string& resume_checkpoint, const std::string& work_dir,
                                           const TrainCallbacks& callbacks) {
  SSKAI_ASSIGN_OR_RETURN(LoadedScript loaded, LoadStoredScript(model_path));
  const TorchScriptSpec& ts = loaded.spec;
  if (ts.task != "classification" && ts.task != "regression") {
    return Status::InvalidArgument("the model's task is '" + ts.task + "'; training needs classification or regression");
  }
  if (ts.inputs.size() != 1 || ts.inputs[0].shape.size() != 2 || !c10::isFloatingType(DtypeOf(ts.inputs[0].dtype))) {
    return Status::InvalidArgument("training from a CSV needs one floating-point input of shape [-1, features]; the "
                                   "model takes " + std::to_string(ts.inputs.size()) + " input(s), the first " +
                                   ShapeToString(ts.inputs[0].shape));
  }
  json report = json::parse(loaded.report_json);
  int64_t outputs = 1;
  for (const auto& o : report.value("observed_outputs", json::array())) {
    auto shape = o.value("shape", std::vector<int64_t>{});
    if (shape.size() == 2) outputs = shape[1];
    break;
  }
  SSKAI_ASSIGN_OR_RETURN(Table table, ReadCsv(csv_path, target, ts, outputs));
  try {
    torch::set_num_threads(std::max(1, spec.threads));
    torch::manual_seed(static_cast<uint64_t>(spec.seed));
    torch::jit::Module module = loaded.module;
    const torch::ScalarType in_type = DtypeOf(ts.inputs[0].dtype);
    torch::Tensor x = torch::from_blob(table.x.data(), {table.rows, table.features}, torch::kFloat).to(in_type);
    torch::Tensor y = torch::from_blob(table.y.data(), {table.rows}, torch::kFloat).clone();
    if (ts.task == "classification") y = y.to(torch::kLong);
    // Seeded split: the first share of a permutation is held out.
    auto gen = at::detail::createCPUGenerator(spec.seed);
    torch::Tensor perm = torch::randperm(table.rows, gen);
    int64_t n_val = std::clamp<int64_t>(static_cast<int64_t>(static_cast<double>(table.rows) * spec.validation_split), 1,
                                        table.rows - 1);
    torch::Tensor val_idx = perm.slice(0, 0, n_val), train_idx = perm.slice(0, n_val);
    torch::Tensor x_train = x.index_select(0, train_idx), y_train = y.index_select(0, train_idx);
    torch::Tensor x_val = x.index_select(0, val_idx), y_val = y.index_select(0, val_idx);
    const int64_t n_train = x_train.size(0);
    const int64_t batch = std::max<int64_t>(1, std::min<int64_t>(spec.batch_size, n_train));
    const int64_t steps_per_epoch = (n_train + batch - 1) / batch;
    const int epochs = spec.epochs > 0 ? spec.epochs : 20;

    int start_epoch = 0;
    int64_t skip_steps = 0, global_step = 0;
    std::string optim_bytes, rng_bytes;
    if (!resume_checkpoint.empty()) {
      SSKAI_ASSIGN_OR_RETURN(Container c, ReadContainerFile(resume_checkpoint));
      json meta = json::parse(c.metadata_json, nullptr, false);
      if (meta.is_discarded() || meta.value("kind", "") != "checkpoint" || meta.value("model", "") != "torchscript") {
        return Status::InvalidArgument(resume_checkpoint + ": not a TorchScript training checkpoint");
      }
      size_t module_size = meta.value("module_bytes", size_t{0});
      if (module_size > c.payload.size()) return Status::InvalidArgument(resume_checkpoint + ": torn checkpoint");
      std::istringstream module_in(c.payload.substr(0, module_size));
      module = torch::jit::load(module_in, c10::Device(c10::kCPU));
      // Older checkpoints end with the optimizer; newer ones add the RNG states after it.
      size_t optim_size = meta.value("optimizer_bytes", c.payload.size() - module_size);
      size_t rng_size = meta.value("rng_bytes", size_t{0});
      if (module_size + optim_size + rng_size > c.payload.size()) {
        return Status::InvalidArgument(resume_checkpoint + ": torn checkpoint");
      }
      optim_bytes = c.payload.substr(module_size, optim_size);
      rng_bytes = c.payload.substr(module_size + optim_size, rng_size);
      start_epoch = meta.value("epoch", 0);
      skip_steps = meta.value("step_in_epoch", int64_t{0});
      global_step = meta.value("global_step", int64_t{0});
    }
    std::vector<torch::Tensor> params;
    for (const auto& p : module.parameters()) {
      p.requires_grad_(true);
      params.push_back(p);
    }
    if (params.empty()) return Status::InvalidArgument("the module has no parameters to train");
    std::unique_ptr<torch::optim::Optimizer> optimizer;
    if (spec.optimizer == "sgd") {
      optimizer = std::make_unique<torch::optim::SGD>(
          params, torch::optim::SGDOptions(spec.learning_rate).momentum(0.9).weight_decay(spec.weight_decay));
    } else if (spec.optimizer == "adamw") {
      optimizer = std::make_unique<torch::optim::AdamW>(
          params, torch::optim::AdamWOptions(spec.learning_rate).weight_decay(spec.weight_decay));
    } else {
      optimizer = std::make_unique<torch::optim::Adam>(
          params, torch::optim::AdamOptions(spec.learning_rate).weight_decay(spec.weight_decay));
    }
    if (!optim_bytes.empty()) {
      torch::serialize::InputArchive archive;
      archive.load_from(optim_bytes.data(), optim_bytes.size());
      optimizer->load(archive);
    }
    if (!rng_bytes.empty()) RestoreRngState(rng_bytes);  // after manual_seed: dropout continues
    auto loss_of = [&](const torch::Tensor& out, const torch::Tensor& target_y) {
      if (ts.task == "classification") return torch::nn::functional::cross_entropy(out.to(torch::kFloat), target_y);
      return torch::mse_loss(out.reshape({-1}).to(torch::kFloat), target_y);
    };
    auto forward = [&](const torch::Tensor& in) { return module.forward({in}).toTensor(); };
    std::vector<std::string> kept;
    auto checkpoint = [&](int epoch, int64_t step_in_epoch) -> Status {
      std::string path = work_dir + "/checkpoint-" + std::to_string(global_step) + ".sskai";
      SSKAI_RETURN_IF_ERROR(WriteCheckpoint(path, module, *optimizer, epoch, step_in_epoch, global_step));
      if (callbacks.on_checkpoint) SSKAI_RETURN_IF_ERROR(callbacks.on_checkpoint(path, epoch));
      kept.push_back(path);
      while (kept.size() > 2) {
        std::error_code ec;
        fs::remove(kept.front(), ec);
        kept.erase(kept.begin());
      }
      return Status::Ok();
    };
    TrainResult result;
    result.resumed_from_epoch = start_epoch;
    std::map<std::string, double> metrics;
    auto last_checkpoint = std::chrono::steady_clock::now();
    for (int epoch = start_epoch; epoch < epochs; ++epoch) {
      auto t0 = std::chrono::steady_clock::now();
      module.train();
      auto epoch_gen = at::detail::createCPUGenerator(spec.seed * 1000003 + static_cast<uint64_t>(epoch));
      torch::Tensor order = torch::randperm(n_train, epoch_gen);
      double loss_sum = 0;
      int64_t loss_n = 0;
      for (int64_t step = (epoch == start_epoch ? skip_steps : 0); step < steps_per_epoch; ++step) {
        if (callbacks.checkpoint_and_stop && callbacks.checkpoint_and_stop()) {
          SSKAI_RETURN_IF_ERROR(checkpoint(epoch, step));
          return Status::Cancelled("preempted at step " + std::to_string(global_step));
        }
        if (callbacks.should_stop && callbacks.should_stop()) return Status::Cancelled("stopped");
        torch::Tensor idx = order.slice(0, step * batch, std::min(n_train, (step + 1) * batch));
        optimizer->zero_grad();
        torch::Tensor loss = loss_of(forward(x_train.index_select(0, idx)), y_train.index_select(0, idx));
        loss.backward();
        optimizer->step();
        ++global_step;
        double l = loss.item<double>();
        loss_sum += l;
        ++loss_n;
        if (callbacks.on_step) callbacks.on_step(global_step, l);
        double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_checkpoint).count();
        bool by_steps = callbacks.checkpoint_every_steps > 0 && global_step % callbacks.checkpoint_every_steps == 0;
        bool by_time = callbacks.checkpoint_every_seconds > 0 && since >= callbacks.checkpoint_every_seconds;
        if ((by_steps || by_time) && step + 1 < steps_per_epoch) {
          SSKAI_RETURN_IF_ERROR(checkpoint(epoch, step + 1));
          last_checkpoint = std::chrono::steady_clock::now();
        }
      }
      module.eval();
      EpochMetrics m;
      m.epoch = epoch + 1;
      m.epochs = epochs;
      m.train_loss = loss_n > 0 ? loss_sum / static_cast<double>(loss_n) : 0;
      {
        torch::NoGradGuard no_grad;
        torch::Tensor out = forward(x_val);
        m.val_loss = loss_of(out, y_val).item<double>();
        if (ts.task == "classification") {
          m.metrics["val_accuracy"] = out.argmax(1).eq(y_val).to(torch::kDouble).mean().item<double>();
        } else {
          m.metrics["val_rmse"] = std::sqrt(m.val_loss);
        }
      }
      m.metrics["val_loss"] = m.val_loss;
      m.metrics["train_loss"] = m.train_loss;
      m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      metrics = m.metrics;
      if (callbacks.on_epoch) callbacks.on_epoch(m);
      ++result.epochs_run;
      bool sparse = epochs >= 40 && (epoch + 1) % std::max(1, epochs / 20) != 0 && epoch + 1 != epochs;
      if (!sparse) {
        SSKAI_RETURN_IF_ERROR(checkpoint(epoch + 1, 0));
        last_checkpoint = std::chrono::steady_clock::now();
      }
    }
    module.eval();
    report["trained"] = {{"epochs", epochs}, {"metrics", metrics}, {"rows", table.rows}};
    result.model_path = work_dir + "/model.pt";
    module.save(result.model_path, {{kSpecExtraFile, report.dump()}});
    result.metrics = metrics;
    json meta = report;
    meta["format"] = "torchscript";
    meta["input"] = {{"kind", "torchscript"}};
    meta["task"] = ts.task;
    if (!ts.classes.empty()) meta["classes"] = ts.classes;
    meta["spec_train"] = json::parse(TrainSpecToJson(spec));
    result.metadata_json = meta.dump();
    return result;
  } catch (const c10::Error& e) {
    return Status::InvalidArgument(std::string("training failed: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Status::Internal(std::string("training failed: ") + e.what());
  }
}

}  // namespace sskai::ml
