// Runs an LM job in this process: data → examples → split → pack → Train → Evaluate → file set.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "lmdata/lmdata.h"

namespace sskai::lmdata {
namespace {

namespace fs = std::filesystem;

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Status CopyIfExists(const std::string& from_dir, const std::string& to_dir, const std::string& name) {
  std::error_code ec;
  if (!fs::exists(from_dir + "/" + name, ec)) return Status::Ok();
  fs::copy_file(from_dir + "/" + name, to_dir + "/" + name, fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::Internal("cannot copy " + name + ": " + ec.message());
  return Status::Ok();
}

std::string ChatName(const std::optional<tokenizer::ChatTemplate>& chat) {
  if (!chat) return "none";
  return chat->family == tokenizer::ChatFamily::kLlama3 ? "llama3" : "chatml";
}

// The chat template the job asked for, or the model's own ("auto"); nullopt = none.
std::optional<tokenizer::ChatTemplate> ChooseChat(const std::string& wanted, const std::string& model_dir) {
  if (wanted == "none") return std::nullopt;
  auto tc_text = ReadText(model_dir + "/tokenizer_config.json");
  auto cfg_text = ReadText(model_dir + "/config.json");
  std::string tc = tc_text.ok() ? *tc_text : "", cfg = cfg_text.ok() ? *cfg_text : "";
  auto detected = tokenizer::DetectChatTemplate(tc, cfg);
  if (wanted == "auto") return detected.ok() ? std::optional(*detected) : std::nullopt;
  tokenizer::ChatTemplate t = detected.ok() ? *detected : tokenizer::ChatTemplate{};
  t.family = wanted == "llama3" ? tokenizer::ChatFamily::kLlama3 : tokenizer::ChatFamily::kChatMl;
  return t;
}

}  // namespace

Result<LmRunResult> RunLmJob(ml::Engine& engine, const LmRunInput& in, const LmRunCallbacks& cb) {
  auto log = [&](const std::string& m) {
    if (cb.log) cb.log(m);
  };
  const LmJobSpec& spec = in.spec;
  std::error_code ec;
  fs::create_directories(in.work_dir, ec);
  const std::string tok_dir = in.work_dir + "/tokenizer";

  // 1. Documents (text corpora and pretraining need them before the tokenizer exists).
  std::vector<std::string> docs = in.documents;
  std::string jsonl;
  if (docs.empty()) {
    SSKAI_ASSIGN_OR_RETURN(std::string text, ReadText(in.data_path));
    if (in.data_format == "text") {
      CorpusKind kind = spec.corpus == "fortunes"     ? CorpusKind::kFortunes
                        : spec.corpus == "paragraphs" ? CorpusKind::kParagraphs
                                                      : CorpusKind::kAuto;
      docs = SplitCorpus(text, kind);
      if (docs.empty()) return Status::InvalidArgument("the corpus holds no documents");
    } else {
      jsonl = std::move(text);
    }
  }

  // 2. Tokenizer and model.
  std::unique_ptr<ml::LanguageModel> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::string model_dir = in.base_dir;
  ml::LmLoadOptions lo;
  lo.threads = spec.threads;
  if (spec.pretrain) {
    model_dir = tok_dir;
    if (!in.resume_dir.empty() && fs::exists(in.resume_dir + "/tokenizer.model")) {
      fs::create_directories(tok_dir, ec);
      fs::copy_file(in.resume_dir + "/tokenizer.model", tok_dir + "/tokenizer.model",
                    fs::copy_options::overwrite_existing, ec);
      if (ec) return Status::Internal("cannot restore the tokenizer: " + ec.message());
      log("tokenizer restored from the checkpoint");
    } else {
      std::vector<std::string> tok_docs = docs;
      if (tok_docs.empty()) tok_docs = JsonlTexts(jsonl);
      auto t0 = std::chrono::steady_clock::now();
      SSKAI_RETURN_IF_ERROR(TrainSentencePiece(tok_docs, spec.pretrain->vocab_size, spec.pretrain->tokenizer_type,
                                               spec.train.seed, tok_dir));
      log("tokenizer: sentencepiece " + spec.pretrain->tokenizer_type + ", " +
          std::to_string(spec.pretrain->vocab_size) + " pieces, trained in " +
          std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()) + " s");
    }
    SSKAI_ASSIGN_OR_RETURN(tok, tokenizer::LoadSentencePiece(tok_dir + "/tokenizer.model"));
    SSKAI_RETURN_IF_ERROR(WritePretrainedTokenizerFiles(*tok, tok_dir));
    const auto& sp = tok->Special();
    ml::LmConfig config = spec.pretrain->ToLmConfig(static_cast<int64_t>(tok->VocabSize()), sp.bos.value_or(-1),
                                                    sp.eos.value_or(-1));
    SSKAI_ASSIGN_OR_RETURN(model, engine.CreateLm(config, spec.train.seed, lo));
  } else {
    auto loaded = tokenizer::LoadTokenizer(in.base_dir);
    if (!loaded.ok()) return loaded.status().WithPrefix("base model tokenizer");
    tok = std::move(loaded).value();
    SSKAI_ASSIGN_OR_RETURN(model, engine.LoadLm(in.base_dir, lo));
  }
  std::optional<tokenizer::ChatTemplate> chat =
      ChooseChat(spec.pretrain ? "chatml" : spec.chat_template, model_dir);

  // 3. Examples → split → pack.
  EncodeOptions eo;
  eo.chat = chat;
  eo.label = in.data_path.empty() ? "corpus" : fs::path(in.data_path).filename().string();
  std::vector<ml::LmExample> examples;
  bool split_long = true;
  if (!docs.empty()) {
    SSKAI_ASSIGN_OR_RETURN(examples, EncodeDocuments(docs, *tok, eo));
  } else {
    SSKAI_ASSIGN_OR_RETURN(EncodedDataset ds, EncodeJsonl(jsonl, *tok, eo));
    split_long = ds.shape == JsonlShape::kText;
    examples = std::move(ds.examples);
  }
  const int64_t vocab = model->config().vocab_size;
  for (const auto& ex : examples) {
    for (int64_t id : ex.ids) {
      if (id < 0 || id >= vocab) {
        return Status::InvalidArgument("the tokenizer produced id " + std::to_string(id) +
                                       " outside the model's vocabulary (" + std::to_string(vocab) + ")");
      }
    }
  }
  SplitResult split = SplitTrainEval(std::move(examples), spec.eval_split, spec.train.seed);
  const int max_len = static_cast<int>(std::min<int64_t>(spec.train.max_seq_len, model->config().max_position_embeddings));
  PackStats ts, es;
  std::vector<ml::LmExample> train = Pack(split.train, max_len, spec.pack, split_long, &ts, spec.block_diagonal);
  std::vector<ml::LmExample> eval = Pack(split.eval, max_len, spec.pack, split_long, &es, spec.block_diagonal);
  if (train.empty()) return Status::InvalidArgument("no training tokens after truncation to max_seq_len");
  log("data: " + std::to_string(ts.examples) + " train / " + std::to_string(es.examples) + " eval examples -> " +
      std::to_string(ts.sequences) + " / " + std::to_string(es.sequences) + " sequences of <= " +
      std::to_string(max_len) + " tokens (" + std::to_string(ts.target_tokens) + " train target tokens, " +
      std::to_string(ts.truncated) + " truncated, " + std::to_string(ts.dropped) + " dropped)");

  // 4. Train.
  ml::LmTrainSpec ts_spec = spec.train;
  ts_spec.max_seq_len = max_len;
  ts_spec.steps = ResolveSteps(spec, ts.sequences);
  LmRunResult result;
  const int eval_batch = std::max(1, ts_spec.batch_size);
  if (!eval.empty() && in.resume_dir.empty()) {
    auto before = model->Evaluate(eval, eval_batch);
    if (before.ok()) result.metrics["eval_loss_before"] = before->loss;
  }
  const std::string train_dir = in.work_dir + "/train";
  fs::create_directories(train_dir, ec);
  ml::LmTrainCallbacks tcb;
  auto last = std::chrono::steady_clock::now();
  double tokens_per_step = static_cast<double>(ts_spec.batch_size) * ts_spec.grad_accum;
  double avg_len = static_cast<double>(ts.tokens) / static_cast<double>(std::max<int64_t>(1, ts.sequences));
  double tps_sum = 0;
  int tps_n = 0;
  tcb.on_step = [&](const ml::LmStepMetrics& m) {
    auto now = std::chrono::steady_clock::now();
    double secs = std::chrono::duration<double>(now - last).count();
    last = now;
    double tps = secs > 0 ? tokens_per_step * avg_len / secs : 0;
    tps_sum += tps;
    ++tps_n;
    if (cb.on_step) cb.on_step(m, tps);
  };
  tcb.should_stop = cb.should_stop;
  tcb.data_parallel = in.data_parallel;
  tcb.on_checkpoint = [&](const std::string& dir, int step) -> Status {
    if (!cb.on_checkpoint) return Status::Ok();
    if (spec.pretrain) {  // the vocabulary travels with the weights
      fs::copy_file(tok_dir + "/tokenizer.model", dir + "/tokenizer.model", fs::copy_options::overwrite_existing, ec);
      if (ec) return Status::Internal("cannot add the tokenizer to the checkpoint: " + ec.message());
    }
    std::string packed = in.work_dir + "/checkpoint-" + std::to_string(step) + ".lmc";
    SSKAI_RETURN_IF_ERROR(PackDirectory(dir, packed));
    Status st = cb.on_checkpoint(packed, step);
    fs::remove(packed, ec);
    last = std::chrono::steady_clock::now();  // checkpoint time is not step time
    return st;
  };
  log("training: " + std::to_string(ts_spec.steps) + " steps, " + (ts_spec.lora ? "LoRA" : "full") +
      (in.resume_dir.empty() ? "" : ", resuming"));
  SSKAI_ASSIGN_OR_RETURN(ml::LmTrainResult tr, model->Train(train, ts_spec, in.resume_dir, train_dir, tcb));
  result.steps = ts_spec.steps;
  result.resumed_from_step = tr.resumed_from_step;
  result.trainable_parameters = tr.trainable_parameters;
  result.precision = tr.precision;
  log("training: done in " + tr.precision + (ts_spec.precision == "auto" ? " (precision auto)" : ""));
  result.metrics["train_loss"] = tr.final_loss;
  result.metrics["steps"] = ts_spec.steps;
  result.metrics["train_sequences"] = static_cast<double>(ts.sequences);
  result.metrics["eval_sequences"] = static_cast<double>(es.sequences);
  result.metrics["train_tokens"] = static_cast<double>(ts.tokens);
  if (tps_n > 0) result.metrics["tokens_per_second"] = tps_sum / tps_n;
  if (!eval.empty()) {
    SSKAI_ASSIGN_OR_RETURN(ml::LmLoss el, model->Evaluate(eval, eval_batch));
    result.metrics["eval_loss"] = el.loss;
    result.metrics["perplexity"] = el.perplexity;
    result.metrics["eval_tokens"] = static_cast<double>(el.tokens);
  }

  // 5. Output file set.
  fs::remove_all(in.output_dir, ec);
  fs::create_directories(in.output_dir, ec);
  if (ec) return Status::Internal("cannot create " + in.output_dir + ": " + ec.message());
  result.output_dir = in.output_dir;
  result.config = model->config();
  result.parameters = model->NumParameters();
  result.chat_template = ChatName(chat);
  result.adapter = ts_spec.lora && spec.output == "adapter";
  if (result.adapter) {
    SSKAI_RETURN_IF_ERROR(model->SaveAdapter(in.output_dir));
  } else {
    ml::LmSaveOptions so;
    so.merge_lora = true;
    SSKAI_RETURN_IF_ERROR(model->Save(in.output_dir, so));
    for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                             "generation_config.json", "special_tokens_map.json"}) {
      SSKAI_RETURN_IF_ERROR(CopyIfExists(model_dir, in.output_dir, name));
    }
    result.tokenizer_file = fs::exists(in.output_dir + "/tokenizer.json") ? "tokenizer.json" : "tokenizer.model";
  }
  return result;
}

}  // namespace sskai::lmdata
