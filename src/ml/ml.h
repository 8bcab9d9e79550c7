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

// Data-parallel training over c10d Gloo (CPU tensors; world_size ranks in separate processes).
// Rendezvous: a c10d TCPStore served by rank 0 at master_addr:master_port when master_port > 0
// (no shared filesystem needed), else a c10d FileStore at store_path that every rank opens (a
// shared filesystem; a fresh path per run). The notice is agreed at each step boundary so all
// ranks stop at the same step; only rank 0 writes checkpoints and calls on_checkpoint; every rank
// resumes from the same checkpoint.
struct DataParallelOptions {
  int rank = 0;
  int world_size = 1;                // 1 = not data-parallel
  std::string master_addr;           // TCPStore: rank 0's host (MASTER_ADDR)
  int master_port = 0;               // TCPStore port (MASTER_PORT); 0 = use the FileStore
  std::string store_path;            // FileStore path (fallback without master_port)
  std::string host = "127.0.0.1";    // this rank's address for Gloo ("" = resolve hostname)
  int timeout_seconds = 300;         // a peer that does not answer fails training (kUnavailable)
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
  // Data-parallel training (DataParallelOptions): the built-in tabular/CNN models split every
  // global batch (batch_size rows) into contiguous per-rank shards and sum the gradients across
  // ranks before every optimizer step. The MLP/CNN draw the global batch's dropout mask and keep
  // their rows, and CNN BatchNorm normalizes with the global batch's statistics (synchronized
  // across ranks, running statistics updated from the global batch), so the result matches
  // world_size 1 to floating-point tolerance. Not part of the spec: a checkpoint resumes under
  // any world size. Only rank 0 evaluates on the held-out split: the other ranks' on_epoch and
  // TrainResult::metrics carry train_loss alone (their weights are rank 0's).
  using DataParallel = DataParallelOptions;
  DataParallelOptions data_parallel;
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

// A raw output tensor (TorchScript models): row-major values converted to double.
struct OutputTensor {
  std::string name;                       // from the spec's outputs, else "output-<i>"
  std::string dtype;                      // "float32", "int64", ...
  std::vector<int64_t> shape;
  std::vector<double> data;
};

struct PredictOutput {
  std::vector<std::string> labels;        // classification: predicted class per row
  std::vector<std::vector<double>> probabilities;  // classification: per class per row
  std::vector<double> values;             // regression: value per row
  std::vector<std::string> classes;
  std::vector<OutputTensor> tensors;      // TorchScript models: every output, unchanged
};

class Predictor {
 public:
  virtual ~Predictor() = default;
  // Tabular models: rows as in data::TabularEncoder::EncodeRowsJson.
  // Image models: {"instances": [[...pixels...]]} or a JSON array of flat/nested pixel arrays.
  // TorchScript models: {"instances": [...]} (one nested array per row for a one-input model,
  // or an object {input name: nested array} per row), or OIP tensors {"inputs": [{"name",
  // "shape", "datatype", "data"}]} with the batch as the first dimension.
  // Errors: kInvalidArgument naming the row/field or shape problem.
  virtual Result<PredictOutput> PredictJson(const std::string& input_json) = 0;
  virtual std::string metadata_json() const = 0;
};

// ---- Language models (Llama family) -------------------------------------------------------
//
// A decoder-only transformer configured from a Hugging Face config.json: Llama (1/2/3, with
// rope_scaling linear / dynamic / llama3), Mistral-shaped (no sliding window), Qwen2 (q/k/v bias)
// and Qwen3 (per-head q/k RMSNorm). Weights load by Hugging Face tensor names from
// model.safetensors or a sharded index (see ml/safetensors.h). Models work on token ids; text
// goes through the tokenizer module.

struct LmConfig {
  std::string model_type = "llama";   // "llama" | "mistral" | "qwen2" | "qwen3"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;    // = num_attention_heads when absent
  int64_t head_dim = 0;               // = hidden_size / num_attention_heads when absent
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::string rope_type = "default";  // "default" | "linear" | "dynamic" | "llama3"
  double rope_factor = 1.0;
  double rope_low_freq_factor = 1.0, rope_high_freq_factor = 4.0;  // llama3
  int64_t rope_original_max_position = 0;                          // llama3 (0 = max_position)
  bool tie_word_embeddings = false;
  bool attention_bias = false;        // q/k/v (and o for llama's attention_bias) biases
  bool qk_norm = false;               // qwen3
  std::string torch_dtype = "float32";  // as on disk; informational
  std::vector<int64_t> eos_token_ids;
  int64_t bos_token_id = -1;
  int64_t NumParameters() const;
};

// Parses config.json text. Errors: kInvalidArgument naming the missing/bad field or an
// unsupported model_type / rope_scaling type. Torch-free.
Result<LmConfig> LmConfigFromJson(const std::string& json);
std::string LmConfigToJson(const LmConfig& config);  // Hugging Face layout

struct SamplingParams {
  int max_tokens = 128;               // new tokens at most
  double temperature = 1.0;           // 0 = greedy
  int top_k = 0;                      // 0 = off
  double top_p = 1.0;                 // 1 = off
  double repetition_penalty = 1.0;    // 1 = off (CTRL-style, over prompt + generated ids)
  uint64_t seed = 0;                  // same seed + same input = same output
  std::vector<int64_t> stop_tokens;   // generation ends after emitting one (it is included)
};

struct GenerateRequest {
  std::vector<int64_t> prompt;        // non-empty
  SamplingParams sampling;
};

struct GenerateResult {
  std::vector<int64_t> tokens;        // generated ids (without the prompt)
  std::string finish_reason;          // "stop" | "length" | "cancelled"
  int64_t prompt_tokens = 0;
};

// Called once per generated token: (index of the request in the batch, token id). Returning
// false stops that request ("cancelled").
using TokenCallback = std::function<bool(size_t request, int64_t token)>;

struct LmLoss {
  double loss = 0;                    // mean negative log-likelihood per target token (nats)
  double perplexity = 0;
  int64_t tokens = 0;                 // target tokens counted
};

// One training/evaluation sequence: ids, and per id whether it is a target (predicted) token.
// An empty `target` means every position after the first is a target.
struct LmExample {
  std::vector<int64_t> ids;
  std::vector<uint8_t> target;
  // Several documents packed into one sequence: per id, the index of its document (non-decreasing,
  // same length as ids). Tokens then attend only within their own document and rotary positions
  // restart at each document's first id (block-diagonal attention), so the loss equals the sum of
  // the documents' losses run separately. Empty = one document.
  std::vector<int32_t> document;
};

struct LoraSpec {
  int rank = 8;
  double alpha = 16;
  double dropout = 0.0;
  std::vector<std::string> target_modules = {"q_proj", "k_proj", "v_proj", "o_proj"};
};

struct LmTrainSpec {
  bool lora = true;                   // false = full fine-tuning
  LoraSpec lora_spec;
  int steps = 100;                    // optimizer steps
  int batch_size = 4;                 // sequences per micro-batch
  int grad_accum = 1;                 // micro-batches per optimizer step
  int max_seq_len = 512;              // longer examples are truncated
  double learning_rate = 2e-4;
  double min_lr_ratio = 0.1;          // cosine decays to learning_rate × this
  int warmup_steps = 0;               // linear warmup from 0
  double weight_decay = 0.0;          // AdamW, on 2-D weights only
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double grad_clip = 1.0;             // max global L2 norm; 0 = off
  uint64_t seed = 42;                 // data order, LoRA init, dropout
  int checkpoint_every = 0;           // steps; 0 = only at the end
  // "fp32" | "bf16" | "auto". bf16 = mixed precision: fp32 master weights and optimizer state,
  // matmuls/attention in bfloat16 (autocast-style; norms, softmax and the loss in fp32). "auto" =
  // bf16 where bf16 matmuls are native (a CUDA device whose bf16 matmul works; a CPU with
  // AVX512-BF16 and a libtorch with oneDNN), fp32 otherwise; a resumed "auto" run keeps the
  // precision its checkpoint was written in. Explicit "bf16" runs on any CPU (correct, but slower
  // than fp32 where bf16 is emulated).
  std::string precision = "fp32";
};

struct LmStepMetrics {
  int step = 0;                       // completed optimizer steps
  int steps = 0;
  double loss = 0;                    // mean target-token loss of this step
  double learning_rate = 0;
  double grad_norm = 0;               // before clipping
  int64_t tokens = 0;                 // target tokens in this step
};

struct LmTrainCallbacks {
  std::function<void(const LmStepMetrics&)> on_step;
  // After each checkpoint directory is complete (work_dir/checkpoint, replaced atomically).
  std::function<Status(const std::string& checkpoint_dir, int step)> on_checkpoint;
  std::function<bool()> should_stop;  // polled per step; true → kCancelled after a checkpoint
  // world_size > 1: every micro-batch's rows are split into contiguous per-rank shards, the
  // loss is normalized by the global step's target tokens and gradients are summed across ranks
  // before clipping and the optimizer step (= one worker with the same global batch, to
  // floating-point tolerance when LoRA dropout is 0; with dropout > 0 the masks differ). The
  // stop decision is agreed across ranks; only rank 0 writes work_dir/checkpoint and calls
  // on_checkpoint; every rank resumes from the same checkpoint.
  DataParallelOptions data_parallel;
};

struct LmTrainResult {
  int steps_run = 0;
  int resumed_from_step = 0;
  double final_loss = 0;
  int64_t trainable_parameters = 0;
  std::string precision;  // what the run computed in: "fp32" | "bf16" ("auto" resolved)
};

struct LmSaveOptions {
  std::string dtype = "float32";      // "float32" | "bfloat16" | "float16"
  uint64_t max_shard_bytes = 0;       // 0 = one file
  bool merge_lora = true;             // fold adapters into the saved weights
};

// Called once per generated token of a running decode batch: (sequence id, token id).
// Returning false stops that sequence ("cancelled").
using SequenceCallback = std::function<bool(int64_t sequence, int64_t token)>;

// A sequence that left a decode batch, with its result.
struct FinishedSequence {
  int64_t sequence = 0;
  GenerateResult result;
};

// A running decode batch for continuous batching: sequences join it between steps (the prompts
// of one Add are prefilled together in one forward and copied into free KV-cache rows; the
// running rows are not copied except when the batch must grow or be compacted, which is
// amortized) and leave it as soon as they finish, freeing their slot. Each sequence keeps its own sampling params and
// RNG (seeded from its request), so a seeded request produces the same tokens whether it runs
// alone or joins a batch (up to float rounding of batched kernels, which does not change tokens
// in practice). Made by LanguageModel::NewDecoder; must not outlive its model, and shares its
// thread-safety: not thread-safe, calls are serialized with the model's other calls.
class LmDecoder {
 public:
  virtual ~LmDecoder() = default;
  // Prefills `requests` together and adds them to the batch; returns their sequence ids (in
  // request order, never reused). Nothing is added on error. Errors: kInvalidArgument as for
  // Generate (naming the request index), kResourceExhausted (more than the free slots),
  // kInternal (the prefill failed; if active() is then 0, the running batch was lost too).
  virtual Result<std::vector<int64_t>> Add(const std::vector<GenerateRequest>& requests) = 0;
  // One decode step: samples the next token of every sequence in the batch, calls on_token (may
  // be empty), and runs one batched forward for the sequences that continue. Returns those that
  // finished in this step ("stop": a stop token, "length": max_tokens, "cancelled": on_token
  // returned false). A request with max_tokens 0 finishes in its first step without a token.
  // Errors: kInternal (forward failed): the batch is then empty and its sequences are lost.
  virtual Result<std::vector<FinishedSequence>> Step(const SequenceCallback& on_token) = 0;
  // Removes a sequence between steps (client gone); its result says "cancelled". kNotFound if it
  // is not in the batch.
  virtual Result<GenerateResult> Cancel(int64_t sequence) = 0;
  // Sequences in the batch.
  virtual int active() const = 0;
};

// A loaded model. Not thread-safe: callers serialize calls (a serving batcher owns one).
class LanguageModel {
 public:
  virtual ~LanguageModel() = default;
  virtual const LmConfig& config() const = 0;
  // Logits for every position: ids.size() × vocab_size floats, row-major. kInvalidArgument for
  // empty input, ids outside the vocabulary, or more ids than max_position_embeddings.
  virtual Result<std::vector<float>> Logits(const std::vector<int64_t>& ids) = 0;
  // Generates for several requests at once (batched decode with a KV cache); on_token may be
  // empty. Results are in request order. kInvalidArgument as for Logits (prompt + max_tokens
  // must fit max_position_embeddings).
  virtual Result<std::vector<GenerateResult>> Generate(const std::vector<GenerateRequest>& requests,
                                                       const TokenCallback& on_token) = 0;
  // Mean loss over target tokens of the examples (no gradients).
  virtual Result<LmLoss> Evaluate(const std::vector<LmExample>& examples, int batch_size) = 0;
  // Adds fresh LoRA adapters (B = 0, so outputs are unchanged). kFailedPrecondition if present.
  virtual Status AddLora(const LoraSpec& spec, uint64_t seed) = 0;
  // PEFT layout: dir/adapter_model.safetensors + dir/adapter_config.json.
  virtual Status SaveAdapter(const std::string& dir) const = 0;
  virtual Status LoadAdapter(const std::string& dir) = 0;
  // Folds adapters into the base weights and drops them.
  virtual Status MergeLora() = 0;
  // Writes dir/config.json and the weights (model.safetensors or shards + index).
  virtual Status Save(const std::string& dir, const LmSaveOptions& options) const = 0;
  // Fine-tunes in place (LoRA adapters are added when spec.lora and none exist). `resume_dir`:
  // a checkpoint directory from an earlier run with the same spec and data, or "": the
  // continuation is bit-identical to an uninterrupted run. Errors: kInvalidArgument (empty data,
  // bad spec, mismatched checkpoint), kCancelled, on_checkpoint's status.
  virtual Result<LmTrainResult> Train(const std::vector<LmExample>& data, const LmTrainSpec& spec,
                                      const std::string& resume_dir, const std::string& work_dir,
                                      const LmTrainCallbacks& callbacks) = 0;
  // Base parameters (adapters excluded).
  virtual int64_t NumParameters() const = 0;
  // An empty decode batch of at most `max_batch` (>= 1) sequences over this model.
  virtual std::unique_ptr<LmDecoder> NewDecoder(int max_batch) = 0;
};

struct LmLoadOptions {
  std::string device = "cpu";         // "cpu" | "cuda" | "cuda:N"
  std::string dtype = "auto";         // compute dtype: "auto" (fp32 on CPU, bf16 on CUDA),
                                      // "float32" | "bfloat16" | "float16"
  int threads = 0;                    // intra-op threads; 0 = leave as is
};

// ---- User TorchScript models (torch.jit.script / torch.jit.trace archives) -----------------
//
// An uploaded TorchScript archive is described by its spec; sskai stores the module re-saved
// with the spec as the extra file "sskai/spec.json" (still a plain TorchScript archive that
// torch.jit.load reads). Only TorchScript archives are accepted (zip with code/); pickled eager
// models (torch.save) are refused. Torch-free parsing; the engine does the running.

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;             // -1 = any size (the first dimension is the batch)
  std::string dtype = "float32";          // float32|float64|float16|bfloat16|int64|int32|int16|int8|uint8|bool
  bool has_range = false;
  double range_lo = 0, range_hi = 1;      // random validation inputs are drawn from [lo, hi]
};

struct TorchScriptSpec {
  std::vector<TensorSpec> inputs;         // 1..16, forward(*inputs) in this order
  std::vector<TensorSpec> outputs;        // optional: checked against the observed outputs
  std::string task = "tensor";            // "classification" | "regression" | "tensor"
  std::vector<std::string> classes;       // classification: one per logit column (optional)
};

// Parses a spec {"inputs":[{"name","shape","dtype","range":[lo,hi]}], "outputs":[...],
// "task", "classes"}. Errors: kInvalidArgument naming the field ("inputs[0].shape: ...").
Result<TorchScriptSpec> TorchScriptSpecFromJson(const std::string& json);
std::string TorchScriptSpecToJson(const TorchScriptSpec& spec);
// "[-1,10]" style text of a shape.
std::string ShapeToString(const std::vector<int64_t>& shape);

class Engine {
 public:
  virtual ~Engine() = default;
  // Validates a TorchScript archive by running it: loads it (kInvalidArgument: not a zip, no
  // code/, a pickled eager model, truncated, does not load), runs forward on seeded random
  // inputs drawn from the spec at batch 1 and 4 (kInvalidArgument: forward fails, an output's
  // shape contradicts the spec — "output 0 has shape [4,3], spec says [-1,10]" — or the task
  // does not fit the outputs), then writes the module with the spec embedded to `out_path`.
  // Returns a report JSON {"spec": <spec>, "observed_outputs": [{"shape","dtype"}], "parameters"}.
  virtual Result<std::string> ValidateTorchScript(const std::string& file_path, const std::string& spec_json,
                                                  const std::string& out_path) {
    (void)file_path; (void)spec_json; (void)out_path;
    return Status::Unavailable("this engine has no TorchScript support");
  }
  // Trains a stored TorchScript model (as written by ValidateTorchScript) further on a numeric
  // CSV: header row, the feature columns in the order of its single input [-1, F], the target
  // column `target` ("" = the last). Features are used raw (as the model will see them when
  // served). Loss: cross-entropy for classification (target values are the spec's class names,
  // or class indices when it has none), MSE for regression. spec.epochs/batch_size/
  // learning_rate/optimizer/weight_decay/validation_split/seed apply; checkpoints, resume and
  // callbacks as TrainTabular. Writes work_dir/model.pt: TorchScript with the spec embedded.
  // Errors: kInvalidArgument (data does not fit the spec, task "tensor", non-numeric cell).
  virtual Result<TrainResult> TrainTorchScript(const std::string& model_path, const std::string& csv_path,
                                               const std::string& target, const TrainSpec& spec,
                                               const std::string& resume_checkpoint, const std::string& work_dir,
                                               const TrainCallbacks& callbacks) {
    (void)model_path; (void)csv_path; (void)target; (void)spec; (void)resume_checkpoint; (void)work_dir;
    (void)callbacks;
    return Status::Unavailable("this engine has no TorchScript support");
  }
  virtual Result<TrainResult> TrainTabular(const data::TabularData& data, const TrainSpec& spec,
                                           const std::string& resume_checkpoint,
                                           const std::string& work_dir,
                                           const TrainCallbacks& callbacks) = 0;
  virtual Result<TrainResult> TrainImages(const data::ImageData& data, const TrainSpec& spec,
                                          const std::string& resume_checkpoint,
                                          const std::string& work_dir,
                                          const TrainCallbacks& callbacks) = 0;
  // Loads a model artifact, or a TorchScript archive with an embedded spec (ValidateTorchScript).
  // Errors: kInvalidArgument (not an sskai model / corrupt).
  virtual Result<std::unique_ptr<Predictor>> LoadPredictor(const std::string& model_path) = 0;
  // Reads a checkpoint's epoch without loading it (for verification). kInvalidArgument if torn.
  virtual Result<int> CheckpointEpoch(const std::string& checkpoint_path) = 0;
  // Profiles a model artifact on this machine and returns the profile as JSON: parameters,
  // FLOPs per sample (forward and training), memory (weights, gradients, optimizer state,
  // activations at the training batch), checkpoint bytes, and per batch size the median,
  // p10/p90 and spread of inference and training-step time after warm-up, on random inputs of
  // the model's declared input spec. `options_json`: {"batch_sizes":[..], "warmup", "repeats",
  // "threads"} (all optional; "" = defaults). Errors: kInvalidArgument (bad options, not a
  // model artifact), kInternal (the model failed to run: reported, never a partial profile).
  virtual Result<std::string> ProfileJson(const std::string& model_path, const std::string& options_json) = 0;
  // Loads config.json + safetensors from `dir`. Errors: kNotFound, kInvalidArgument naming the
  // file/field/tensor (missing or misshaped tensor, bad config), kUnavailable (device).
  virtual Result<std::unique_ptr<LanguageModel>> LoadLm(const std::string& dir, const LmLoadOptions& options) {
    (void)dir; (void)options;
    return Status::Unavailable("this engine has no language models");
  }
  // A randomly initialised model (normal(0, 0.02) weights, unit norms), for tests and benchmarks.
  virtual Result<std::unique_ptr<LanguageModel>> CreateLm(const LmConfig& config, uint64_t seed,
                                                          const LmLoadOptions& options) {
    (void)config; (void)seed; (void)options;
    return Status::Unavailable("this engine has no language models");
  }
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
