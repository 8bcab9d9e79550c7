// `sskai lm ...`: local language-model commands that run the engine in this process — pretraining
// (including the reproducible offline demo model) and generation from a model directory.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/sskai/commands.h"
#include "common/log.h"
#include "lmdata/lmdata.h"
#include "ml/ml.h"
#include "tokenizer/tokenizer.h"

namespace sskai::app {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The demo corpus: Debian's fortunes-min files (public domain / freely redistributable quotes);
// the same files ship in the full `fortunes` package.
constexpr const char* kDemoCorpusFiles[] = {"fortunes", "literature", "riddles"};

// A few chat-shaped copies teach the model ChatML turns, so chat demos answer with a fortune and
// stop at <|im_end|>.
constexpr const char* kDemoPrompts[] = {"Tell me a fortune.", "Say something wise.", "Another one, please.",
                                        "Give me a riddle.", "What do you know?"};

Result<std::vector<std::string>> DemoDocuments(const std::string& corpus_dir) {
  std::vector<std::string> docs;
  for (const char* name : kDemoCorpusFiles) {
    std::ifstream in(corpus_dir + "/" + name, std::ios::binary);
    if (!in) {
      return Status::NotFound("no " + corpus_dir + "/" + name +
                              " (install the Debian package fortunes-min or fortunes)");
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (auto& d : lmdata::SplitCorpus(text, lmdata::CorpusKind::kFortunes)) docs.push_back(std::move(d));
  }
  const size_t plain = docs.size();
  for (size_t idx = 0; idx < plain; idx += 2) {
    docs.push_back(std::string("<|im_start|>user\n") + kDemoPrompts[(idx / 2) % std::size(kDemoPrompts)] +
                   "<|im_end|>\n<|im_start|>assistant\n" + docs[idx] + "<|im_end|>\n");
  }
  return docs;
}

int Fail(const Status& st) {
  std::cerr << "error: " << st.ToString() << "\n";
  return st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kNotFound ? 3 : 2;
}

}  // namespace

// The demo recipe (docs/llm.md records its loss and samples): ~1.1M parameters, 1024 pieces.
std::string DemoJobSpecJson() {
  return json{{"config", {{"hidden_size", 128}, {"num_hidden_layers", 4}, {"num_attention_heads", 4},
                          {"num_key_value_heads", 2}, {"max_position_embeddings", 256}, {"vocab_size", 1024}}},
              {"hyperparameters", {{"max_steps", 300}, {"batch_size", 16}, {"max_seq_len", 128},
                                   {"learning_rate", 4e-3}, {"warmup_steps", 16}, {"min_lr_ratio", 0.1},
                                   {"weight_decay", 0.01}, {"eval_split", 0.05}, {"seed", 1}, {"threads", 2}}}}
      .dump();
}

int RunLmPretrain(const LmPretrainFlags& f) {
  ConfigureLogging("info");
  auto engine = ml::LoadEngine();
  if (!engine.ok()) return Fail(engine.status());
  std::string spec_json = f.demo ? DemoJobSpecJson() : f.spec_json;
  json spec_doc = json::parse(spec_json, nullptr, false);
  if (spec_doc.is_discarded()) return Fail(Status::InvalidArgument("--spec: not JSON"));
  if (f.steps > 0) spec_doc["hyperparameters"]["max_steps"] = f.steps;
  auto spec = lmdata::ParseLmJobSpec(spec_doc.dump());
  if (!spec.ok()) return Fail(spec.status());
  lmdata::LmRunInput in;
  in.spec = *spec;
  if (f.demo) {
    auto docs = DemoDocuments(f.corpus.empty() ? "/usr/share/games/fortunes" : f.corpus);
    if (!docs.ok()) return Fail(docs.status());
    in.documents = std::move(*docs);
  } else {
    in.data_path = f.corpus;
    in.data_format = f.corpus.ends_with(".jsonl") ? "jsonl" : "text";
  }
  fs::path out(f.out);
  in.output_dir = out.string() + ".tmp";
  in.work_dir = f.work_dir.empty() ? out.string() + ".work" : f.work_dir;
  lmdata::LmRunCallbacks cb;
  cb.log = [](const std::string& m) { SSKAI_LOG_INFO("{}", m); };
  cb.on_step = [](const ml::LmStepMetrics& m, double tps) {
    if (m.step == 1 || m.step % 25 == 0 || m.step == m.steps) {
      SSKAI_LOG_INFO("step {}/{} loss={:.4f} lr={:.2e} tokens/s={:.0f}", m.step, m.steps, m.loss, m.learning_rate, tps);
    }
  };
  auto t0 = std::chrono::steady_clock::now();
  auto result = lmdata::RunLmJob(**engine, in, cb);
  if (!result.ok()) return Fail(result.status());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  json metrics = json::object();
  for (const auto& [k, v] : result->metrics) metrics[k] = v;
  json info = {{"parameters", result->parameters}, {"steps", result->steps}, {"seconds", secs},
               {"chat_template", result->chat_template}, {"tokenizer", result->tokenizer_file},
               {"metrics", metrics}, {"recipe", spec_doc}, {"source", f.demo ? "demo" : "pretrain"}};
  std::ofstream(in.output_dir + "/sskai_training.json") << info.dump(2) << "\n";
  std::error_code ec;
  fs::remove_all(out, ec);
  fs::rename(in.output_dir, out, ec);
  if (ec) return Fail(Status::Internal("cannot move the model to " + out.string() + ": " + ec.message()));
  fs::remove_all(in.work_dir, ec);
  std::cout << info.dump(2) << "\n";
  return 0;
}

int RunLmGenerate(const LmGenerateFlags& f) {
  auto engine = ml::LoadEngine();
  if (!engine.ok()) return Fail(engine.status());
  auto tok = tokenizer::LoadTokenizer(f.model_dir);
  if (!tok.ok()) return Fail(tok.status());
  ml::LmLoadOptions lo;
  lo.threads = 2;
  auto model = (*engine)->LoadLm(f.model_dir, lo);
  if (!model.ok()) return Fail(model.status());
  std::string prompt = f.prompt;
  if (f.chat) {
    std::ifstream tc(f.model_dir + "/tokenizer_config.json");
    std::string tc_text((std::istreambuf_iterator<char>(tc)), std::istreambuf_iterator<char>());
    auto tmpl = tokenizer::DetectChatTemplate(tc_text, "");
    if (!tmpl.ok()) return Fail(tmpl.status());
    std::vector<tokenizer::ChatMessage> msgs = {{"user", f.prompt}};
    prompt = tokenizer::RenderChat(*tmpl, msgs, true);
  }
  auto ids = (*tok)->Encode(prompt, true);
  if (!ids.ok()) return Fail(ids.status());
  ml::GenerateRequest req;
  req.prompt.assign(ids->begin(), ids->end());
  req.sampling.max_tokens = f.max_tokens;
  req.sampling.temperature = f.temperature;
  req.sampling.top_k = f.top_k;
  req.sampling.seed = f.seed;
  const auto& sp = (*tok)->Special();
  if (sp.eos) req.sampling.stop_tokens.push_back(*sp.eos);
  if (auto im_end = (*tok)->TokenToId("<|im_end|>")) req.sampling.stop_tokens.push_back(*im_end);
  auto out = (*model)->Generate({req}, nullptr);
  if (!out.ok()) return Fail(out.status());
  std::vector<tokenizer::TokenId> gen((*out)[0].tokens.begin(), (*out)[0].tokens.end());
  if ((*out)[0].finish_reason == "stop" && !gen.empty()) gen.pop_back();  // the stop token itself
  // The ids continue the prompt: keep a leading word-start space ("A penny" + " of ...").
  tokenizer::StreamDecoder decoder(**tok, /*skip_special=*/true, /*at_start=*/false);
  std::string text;
  for (auto id : gen) {
    auto piece = decoder.Push(id);
    if (!piece.ok()) return Fail(piece.status());
    text += *piece;
  }
  text += decoder.Flush();
  std::cout << (f.chat ? "" : f.prompt) << text << "\n";
  return 0;
}

}  // namespace sskai::app
