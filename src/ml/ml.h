// src/ml/ml.h — the libtorch engine behind a torch-free interface.
//
// The engine lives in a shared library (libsskai_ml.so) that only worker and replica processes
// load (LoadEngine), so the API server never maps libtorch (~150 MB RSS). Built-in models: an MLP
// for tabular classification/regression and a small CNN for image classification.
//
// Model artifact: one file = magic "SSKAIMDL" + u32 version + u64 metadata length + metadata JSON
// (model type, task, hyperparameters, encoder JSON, classes, input shape) + torch::save bytes.
// Checkpoint: the same container holding model + optimizer state + RNG state + position (epoch,
// step within the epoch, global step; the data order is a function of seed and epoch).
// Thread-safety: Engine is thread-safe; a Predictor may be used from several threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "data/data.h"

namespace sskai::ml {

struct TrainSpec {
  std::string model = "auto";     // "mlp", "cnn", "auto" (cnn for images, mlp for tabular)
  std::string task;               // "classification" | "regression" ("" = from the data)
  // 0 = auto: cnn 5 epochs; mlp enough passes for ~600 optimizer steps (10..200 epochs), since
  // small tables need many passes. The resolved value is in the artifact's metadata "spec".
  int epochs = 0;
  int batch_size = 64;
  double learning_rate = 1e-3;
  std::string optimizer = "adam";  // "adam", "adamw", "sgd"
  double weight_decay = 0.0;
  double validation_split = 0.2;   // held-out share for evaluation (0 < v < 1)
  uint64_t seed = 42;
  std::vector<int64_t> hidden = {128, 64};  // MLP hidden sizes
  int threads = 0;                 // intra-op threads; 0 = 1. Fixed per run for determinism.
};

// Parses and validates hyperparameters from a JSON object (unknown keys and out-of-range
// values are kInvalidArgument naming the field). Torch-free; usable by the API server.
Result<TrainSpec> TrainSpecFromJson(const std::string& json);
std::string TrainSpecToJson(const TrainSpec& spec);

struct EpochMetrics {
  int epoch = 0;                   // 1-based, completed epochs
  int epochs = 0;
  double train_loss = 0;
  double val_loss = 0;
  std::map<std::string, double> metrics;  // "val_accuracy" or "val_rmse", "val_r2"
  double seconds = 0;              // wall time of this epoch
};

struct TrainCallbacks {
  // Called after every epoch, before the checkpoint of that epoch.
  std::function<void(const EpochMetrics&)> on_epoch;
  // Called with the path of a freshly written checkpoint file after each epoch — or, when
  // epochs >= 40, after every (epochs / 20)-th epoch and the last one — and at the step-level
  // checkpoints below; `epoch` = completed epochs (a mid-epoch checkpoint of epoch 3 says 2).
  // Files are work_dir/checkpoint-<global step>.sskai, written atomically (temp + rename) with a
  // trailing sha256; only the last two are kept. The callee may copy/upload the file. A non-OK
  // status fails training.
  std::function<Status(const std::string& checkpoint_path, int epoch)> on_checkpoint;
  // Polled between batches; true stops training with kCancelled after the current batch.
  std::function<bool()> should_stop;
  // Polled at every step boundary (before the next batch): true writes a checkpoint of exactly
  // this step (on_checkpoint), then stops with kCancelled ("preempted at step N"). This is how a
  // preemption notice loses at most the step in flight.
  std::function<bool()> checkpoint_and_stop;
  // Called after every optimizer step with the global step (1-based, counted over all epochs).
  std::function<void(int64_t global_step, double loss)> on_step;
  // Step-level checkpoint cadence, whichever comes first (0 = off): every N optimizer steps and
  // every S seconds of wall time. Bounds the work lost to a kill without notice. Not part of the
  // spec: changing it does not change the resulting weights.
  int64_t checkpoint_every_steps = 0;
  double checkpoint_every_seconds = 0;
  // Hook for variants (LM fine-tune) that keep extra state in their checkpoints: unused by the
  // built-in models.
  std::function<std::string()> extra_checkpoint_state;
};

// Where a checkpoint stands: completed epochs, optimizer steps done in the next epoch, and the
// global step. Read by Engine::CheckpointPosition.
struct CheckpointPosition {
  int epoch = 0;
  int64_t step_in_epoch = 0;
  int64_t global_step = 0;
};

struct TrainResult {
  std::string model_path;                 // artifact written into work_dir
  std::map<std::string, double> metrics;  // on the held-out split: accuracy / loss / rmse / r2
  int epochs_run = 0;                     // epochs executed in this call (after resume)
  int resumed_from_epoch = 0;             // 0 when started fresh
  std::string metadata_json;              // the artifact's metadata
};

struct PredictOutput {
  std::vector<std::string> labels;        // classification: predicted class per row
  std::vector<std::vector<double>> probabilities;  // classification: per class per row
  std::vector<double> values;             // regression: value per row
  std::vector<std::string> classes;
};

class Predictor {
 public:
  virtual ~Predictor() = default;
  // Tabular models: rows as in data::TabularEncoder::EncodeRowsJson.
  // Image models: {"instances": [[...pixels...]]} or a JSON array of flat/nested pixel arrays.
  // Errors: kInvalidArgument naming the row/field or shape problem.
  virtual Result<PredictOutput> PredictJson(const std::string& input_json) = 0;
  virtual std::string metadata_json() const = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Trains on tabular data (model "mlp") with a fixed, seeded train/validation split.
  // `resume_checkpoint`: path of a checkpoint from an earlier run of the same spec and data, or ""
  // — resuming gives the same final weights as an uninterrupted run. Writes work_dir/model.sskai.
  // Training calls are serialized (seed and thread count are process-global); blocks until done.
  // Errors: kInvalidArgument (bad data shape, model/task mismatch, torn checkpoint or one from
  // other hyperparameters/data), kCancelled (should_stop), on_checkpoint's status, kInternal.
  virtual Result<TrainResult> TrainTabular(const data::TabularData& data, const TrainSpec& spec,
                                           const std::string& resume_checkpoint,
                                           const std::string& work_dir,
                                           const TrainCallbacks& callbacks) = 0;
  virtual Result<TrainResult> TrainImages(const data::ImageData& data, const TrainSpec& spec,
                                          const std::string& resume_checkpoint,
                                          const std::string& work_dir,
                                          const TrainCallbacks& callbacks) = 0;
  // Loads a model artifact. Errors: kInvalidArgument (not an sskai model / corrupt).
  virtual Result<std::unique_ptr<Predictor>> LoadPredictor(const std::string& model_path) = 0;
  // Reads a checkpoint's epoch without loading it (for verification). kInvalidArgument if torn.
  virtual Result<int> CheckpointEpoch(const std::string& checkpoint_path) = 0;
  // Verifies a checkpoint (magic, sha256 digest, kind) and reads its position. kInvalidArgument
  // if torn or not a checkpoint; kNotFound if missing.
  virtual Result<CheckpointPosition> ReadCheckpointPosition(const std::string& checkpoint_path) = 0;
};

// dlopen()s libsskai_ml.so (env SSKAI_ML_LIBRARY, else next to the running executable) once
// and returns its engine; the pointer lives until process exit. The outcome, failure included,
// is cached for the life of the process. Errors: kUnavailable with dlerror() text.
Result<Engine*> LoadEngine();

}  // namespace sskai::ml

// Exported by libsskai_ml.so.
extern "C" sskai::ml::Engine* sskai_ml_engine();
