// src/lmdata/lmdata.h — language-model training data and job specs, torch-free.
//
// Turns text datasets into ml::LmExample sequences (token ids + per-token target mask) for
// LanguageModel::Train/Evaluate:
//  * JSONL, one example per line, in one of three shapes (the first line decides; every line must
//    match): {"text"} (every token is a target), {"prompt","completion"} (loss only on the
//    completion and the end-of-sequence token), {"messages":[{"role","content"},...]} rendered with
//    the model's chat template (loss only on the assistant turns, their end-of-turn token included);
//  * plain-text corpora: one document per paragraph (blank-line separated) or per fortune
//    (a line holding only '%' separates them, as in /usr/share/games/fortunes).
// Examples are split into train/eval deterministically (seeded), then packed greedily into
// sequences of at most max_seq_len tokens; the first token of every packed piece is never a target
// (it cannot be predicted from the previous, unrelated example). By default each piece is marked as
// its own document (ml::LmExample::document): attention is block-diagonal and rotary positions
// restart per piece, so a packed row trains exactly like its pieces run separately; with
// block_diagonal = false attention spans the whole packed sequence ("concatenate and chunk").
//
// Also: the LM job specification (hyperparameters of POST /v1/jobs {"kind":"lm"}) with validation
// naming the field, and a single-file container for checkpoint directories.
//
// Thread-safety: all functions are pure or touch only the paths they are given; safe to call
// concurrently on different inputs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "ml/ml.h"
#include "tokenizer/tokenizer.h"

namespace sskai::lmdata {

enum class JsonlShape : uint8_t { kText, kPromptCompletion, kMessages };
std::string_view ToString(JsonlShape shape);

struct EncodeOptions {
  // Chat template for the messages shape; nullopt = messages are an error naming the line.
  std::optional<tokenizer::ChatTemplate> chat;
  bool add_bos = true;   // prepend the tokenizer's bos (when it has one) to text and prompts
  bool add_eos = true;   // append eos (when it has one) to text and completions
  // Label used in error messages, e.g. "data.jsonl" → "data.jsonl line 7: field 'messages[1].role': ...".
  std::string label = "data.jsonl";
};

struct EncodedDataset {
  JsonlShape shape = JsonlShape::kText;
  std::vector<ml::LmExample> examples;  // one per non-blank line, target mask always explicit
  int64_t lines = 0;                    // non-blank lines read
};

// Parses and tokenizes a JSONL document. Errors (kInvalidArgument) name the line and field:
// invalid JSON, not an object, a shape different from the first line's, missing/non-string fields,
// empty messages, a role other than system/user/assistant, a messages example without an
// assistant turn, no chat template for messages, text that is not UTF-8, an empty file.
Result<EncodedDataset> EncodeJsonl(std::string_view jsonl, const tokenizer::Tokenizer& tok,
                                   const EncodeOptions& options);

// The shape of one parsed line (exposed for the API's up-front dataset check).
// kInvalidArgument naming the line when it matches none.
Result<JsonlShape> DetectShape(std::string_view jsonl_line, int64_t line_number, const std::string& label);

// Every string of a JSONL document's text/prompt/completion/messages[].content fields (lines that
// do not parse are skipped): what a from-scratch tokenizer learns from.
std::vector<std::string> JsonlTexts(std::string_view jsonl);

enum class CorpusKind : uint8_t { kAuto, kParagraphs, kFortunes };
// Splits a plain-text corpus into documents (trimmed, empties dropped). kAuto = fortunes when some
// line is exactly "%", else paragraphs.
std::vector<std::string> SplitCorpus(std::string_view text, CorpusKind kind);

// Documents → examples: bos + ids + eos, every token a target.
Result<std::vector<ml::LmExample>> EncodeDocuments(const std::vector<std::string>& docs,
                                                   const tokenizer::Tokenizer& tok,
                                                   const EncodeOptions& options);

struct SplitResult {
  std::vector<ml::LmExample> train, eval;
};
// Deterministic split by `seed`: round(n × eval_fraction) examples go to eval (at least 1 when
// eval_fraction > 0 and n >= 2, never all of them). Order within each part follows the input.
SplitResult SplitTrainEval(std::vector<ml::LmExample> examples, double eval_fraction, uint64_t seed);

struct PackStats {
  int64_t examples = 0, sequences = 0, tokens = 0, target_tokens = 0;
  int64_t truncated = 0;  // prompt/chat examples cut at max_seq_len
  int64_t dropped = 0;    // examples left with no target token after truncation
};
// Packs examples in order into sequences of at most max_seq_len ids. Examples longer than
// max_seq_len are split into max_seq_len chunks when `split_long` (text corpora), else truncated.
// With pack = false, one example per sequence (still split/truncated). block_diagonal: number the
// pieces of each packed sequence in `document` (0, 1, …; see above). REQUIRES: max_seq_len >= 2.
std::vector<ml::LmExample> Pack(const std::vector<ml::LmExample>& examples, int max_seq_len, bool pack,
                                bool split_long, PackStats* stats, bool block_diagonal = true);

// ---- LM job spec ------------------------------------------------------------------------------

// From-scratch architecture (pretraining): a Llama-shaped model; vocab_size comes from the tokenizer.
struct PretrainConfig {
  int64_t hidden_size = 256;
  int64_t num_hidden_layers = 4;
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 0;        // 0 = num_attention_heads
  int64_t intermediate_size = 0;          // 0 = the Llama rule: multiple of 32 near 8/3 × hidden
  int64_t max_position_embeddings = 256;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = true;
  // Tokenizer trained on the corpus with spm_train.
  int64_t vocab_size = 2000;
  std::string tokenizer_type = "bpe";     // "bpe" | "unigram"
  // Builds the ml::LmConfig for a tokenizer of `vocab` ids (bos/eos from it).
  ml::LmConfig ToLmConfig(int64_t vocab, int64_t bos, int64_t eos) const;
};

struct LmJobSpec {
  // Exactly one of base_model (fine-tuning) and pretrain (from scratch) is set.
  std::string base_model;                 // as given: a model directory path or "name[:version]"
  std::optional<PretrainConfig> pretrain;
  ml::LmTrainSpec train;                  // steps resolved from epochs by ResolveSteps when max_steps = 0
  int64_t max_steps = 0;                  // 0 = from epochs
  double epochs = 1;
  double eval_split = 0.1;                // share of examples held out for eval loss/perplexity
  bool pack = true;
  bool block_diagonal = true;             // packed pieces attend only within themselves
  std::string output = "adapter";         // "adapter" | "merged" (full fine-tuning: always merged)
  std::string chat_template = "auto";     // "auto" | "llama3" | "chatml" | "none"
  std::string corpus = "auto";            // text datasets: "auto" | "paragraphs" | "fortunes"
  int threads = 0;                        // intra-op threads (0 = engine default)
};

// Parses the LM job fields of a POST /v1/jobs body given as JSON text: base_model | config, and
// hyperparameters {learning_rate, epochs | max_steps, batch_size, grad_accum, max_seq_len,
// warmup_steps, min_lr_ratio, weight_decay, grad_clip, seed, checkpoint_every, eval_split, pack,
// block_diagonal, precision: "fp32"|"bf16"|"auto" (default auto: bf16 on CUDA, fp32 on CPU),
// output, chat_template, corpus, threads, method: "lora"|"full", lora: {rank, alpha, dropout,
// target_modules}}. Unknown keys and out-of-range values: kInvalidArgument naming the field
// ("field 'hyperparameters.lora.rank': ...").
Result<LmJobSpec> ParseLmJobSpec(const std::string& body_json);
// The canonical JSON of a spec (what the job row stores; ParseLmJobSpec reads it back).
std::string LmJobSpecToJson(const LmJobSpec& spec);
// Optimizer steps for `epochs` passes over `train_sequences` at batch × grad_accum (at least 1).
int ResolveSteps(const LmJobSpec& spec, int64_t train_sequences);

// ---- checkpoint container ---------------------------------------------------------------------

// Packs the regular files directly inside `dir` into one file: "SSKAILMC" + u32 count + per file
// (u32 name length, name, u64 size, bytes) + the hex sha256 of everything before it. Written
// to `out_path` atomically (temp + rename). Errors: kNotFound, kInternal (I/O).
Status PackDirectory(const std::string& dir, const std::string& out_path);
// Verifies the digest and unpacks into `dir` (created; existing files of the same names are
// replaced). kInvalidArgument for a torn/corrupt container or an unsafe file name.
Status UnpackDirectory(const std::string& in_path, const std::string& dir);

// ---- running an LM job (the worker's "lm" kind and `sskai lm` commands) -----------------------

struct LmRunInput {
  LmJobSpec spec;
  std::string data_path;               // the dataset file
  std::string data_format = "jsonl";   // "jsonl" | "text" (plain corpus, split by spec.corpus)
  std::vector<std::string> documents;  // used instead of data_path when non-empty
  std::string base_dir;                // fine-tuning: a local model directory (HF layout)
  std::string work_dir;                // scratch (created)
  std::string resume_dir;              // an unpacked checkpoint container, or "" (fresh start)
  std::string output_dir;              // the result's file set (created; replaced)
  // Data-parallel fine-tuning (ml::LmTrainCallbacks::data_parallel): world_size > 1 ranks each
  // run this job on the same input; only rank 0 checkpoints (on_checkpoint).
  ml::DataParallelOptions data_parallel;
};

struct LmRunCallbacks {
  // After every optimizer step; tokens_per_second counts all (packed) tokens of the step.
  std::function<void(const ml::LmStepMetrics&, double tokens_per_second)> on_step;
  // A packed checkpoint (see PackDirectory) of exactly `step`; also holds the trained tokenizer
  // of a from-scratch run, so a resume uses the same vocabulary. May upload it.
  std::function<Status(const std::string& packed_path, int step)> on_checkpoint;
  std::function<bool()> should_stop;   // true → checkpoint at the step boundary, kCancelled
  std::function<void(const std::string&)> log;
};

struct LmRunResult {
  std::string output_dir;
  bool adapter = false;                 // adapter_config.json + adapter_model.safetensors
  ml::LmConfig config;                  // the (base) model's architecture
  int64_t parameters = 0;               // base parameters
  int64_t trainable_parameters = 0;
  std::string tokenizer_file;           // "tokenizer.json" | "tokenizer.model" (merged output)
  std::string chat_template = "none";   // "llama3" | "chatml" | "none"
  int steps = 0, resumed_from_step = 0;
  std::string precision;                // what training computed in: "fp32" | "bf16"
  // eval_loss, perplexity (held-out split; absent without one), eval_loss_before, train_loss,
  // train_sequences, eval_sequences, train_tokens, tokens_per_second.
  std::map<std::string, double> metrics;
};

// Runs an LM job end to end in this process: (pretraining: trains a sentencepiece tokenizer with
// spm_train and creates the model) loads data, splits, packs, trains with checkpoints, evaluates,
// writes the output file set. Blocks. Errors: kInvalidArgument (data, spec, base model),
// kCancelled (should_stop; a checkpoint of the stop step was handed to on_checkpoint first),
// kUnavailable (no engine / no spm_train), on_checkpoint's status.
Result<LmRunResult> RunLmJob(ml::Engine& engine, const LmRunInput& input, const LmRunCallbacks& callbacks);

// Trains a sentencepiece model on documents (one sentence per line; newlines inside documents
// become byte-fallback tokens) by running spm_train; writes <dir>/tokenizer.model.
// <|im_start|>/<|im_end|> are reserved as user-defined pieces so ChatML renders to single tokens.
Status TrainSentencePiece(const std::vector<std::string>& documents, int64_t vocab_size,
                          const std::string& model_type, uint64_t seed, const std::string& dir);

// Writes tokenizer_config.json (ChatML chat template, bos/eos names) and generation_config.json
// for a model sskai pretrained with a TrainSentencePiece tokenizer.
Status WritePretrainedTokenizerFiles(const tokenizer::Tokenizer& tok, const std::string& dir);

}  // namespace sskai::lmdata
