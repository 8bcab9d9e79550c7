// LmService: OpenAI-compatible generation over one loaded language model (see lm_service.h).
#include "serving/lm_service.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "common/log.h"
#include "serving/openai.h"

namespace sskai::serving {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string ReadFileOr(const fs::path& path, std::string def) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return def;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RandomId(const char* prefix) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = prefix;
  for (int i = 0; i < 24; ++i) out.push_back(kHex[rng() % 16]);
  return out;
}

void AddUnique(std::vector<int64_t>* ids, int64_t id) {
  if (id >= 0 && std::find(ids->begin(), ids->end(), id) == ids->end()) ids->push_back(id);
}

// eos_token_id of generation_config.json: an integer or an array of integers.
void AddEosIds(const std::string& text, std::vector<int64_t>* ids) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("eos_token_id")) return;
  const json& e = j["eos_token_id"];
  if (e.is_number_integer()) AddUnique(ids, e.get<int64_t>());
  if (e.is_array()) {
    for (const auto& x : e) {
      if (x.is_number_integer()) AddUnique(ids, x.get<int64_t>());
    }
  }
}

openai::ApiError ContextError(int64_t context, int64_t prompt, std::optional<int> max_tokens) {
  std::string msg = "This model's maximum context length is " + std::to_string(context) +
                    " tokens. However, ";
  if (max_tokens) {
    msg += "you requested " + std::to_string(prompt + *max_tokens) + " tokens (" +
           std::to_string(prompt) + " in the prompt, " + std::to_string(*max_tokens) +
           " in the completion). Please reduce the prompt or the completion length.";
  } else {
    msg += "your prompt resulted in " + std::to_string(prompt) +
           " tokens. Please reduce the length of the prompt.";
  }
  return openai::ApiError{400, msg, "messages", "context_length_exceeded"};
}

}  // namespace

// One request in flight: touched by the HTTP thread until submitted, then only by the batcher's
// thread (and the stream's cancel callback, which only sets client_gone).
struct LmService::Generation {
  // Generated ids continue the prompt: a leading word-start space is kept (" of", not "of").
  Generation(const tokenizer::Tokenizer& tok) : decoder(tok, /*skip_special=*/true, /*at_start=*/false) {}
  bool chat = false;
  std::string id, model;
  int64_t created = 0;
  bool stream = false, include_usage = false;
  std::vector<std::string> stops;
  std::vector<int64_t> stop_tokens;
  tokenizer::StreamDecoder decoder;
  std::string text;
  size_t emitted = 0;
  bool stopped_by_string = false;
  int64_t prompt_tokens = 0;
  std::shared_ptr<http::ResponseStream> out;
  http::Responder respond;
  std::atomic<bool> client_gone{false};

  // Writes what is final (or, mid-stream, what cannot become a stop string).
  void Emit(bool final) {
    auto scan = openai::ScanStops(text, stops);
    if (scan.matched) {
      text.resize(scan.end);
      stopped_by_string = true;
    }
    size_t end = (scan.matched || final) ? text.size() : scan.end;
    if (stream && end > emitted) {
      if (!out->Write(openai::ChunkEvent(chat, id, created, model, text.substr(emitted, end - emitted),
                                         false, ""))) {
        client_gone = true;
      }
    }
    emitted = std::max(emitted, end);
  }

  bool OnToken(int64_t token) {
    if (stopped_by_string || client_gone) return false;
    if (std::find(stop_tokens.begin(), stop_tokens.end(), token) != stop_tokens.end()) return true;
    // An id past the tokenizer (padded model vocabulary) has no text: it counts, prints nothing.
    auto piece = decoder.Push(static_cast<tokenizer::TokenId>(token));
    if (piece.ok()) text += *piece;
    Emit(false);
    return !(stopped_by_string || client_gone);
  }

  void OnDone(Result<ml::GenerateResult> result) {
    if (!result.ok()) {
      openai::ApiError err{result.status().code() == StatusCode::kUnavailable ? 503 : 500,
                           "generation failed: " + result.status().message(), "", ""};
      if (!stream) return respond(openai::ErrorResponse(err));
      out->Write("data: " + openai::ErrorResponse(err).body + "\n\n");
      out->Close();
      return;
    }
    if (!stopped_by_string) {
      text += decoder.Flush();
      Emit(true);
    }
    std::string finish = stopped_by_string ? "stop"
                         : result->finish_reason == "cancelled" ? "stop"
                                                                : result->finish_reason;
    openai::Usage usage{prompt_tokens, static_cast<int64_t>(result->tokens.size())};
    if (!stream) {
      return respond(http::Response::Json(
          200, openai::CompletionJson(chat, id, created, model, text, finish, usage)));
    }
    if (!client_gone) {
      out->Write(openai::ChunkEvent(chat, id, created, model, "", false, finish));
      if (include_usage) out->Write(openai::UsageEvent(chat, id, created, model, usage));
      out->Write(std::string(openai::kDoneEvent));
    }
    out->Close();
  }
};

Result<std::unique_ptr<LmService>> LmService::Load(ml::Engine& engine, const std::string& dir,
                                                   Options options) {
  std::unique_ptr<LmService> svc(new LmService());
  if (options.served_name.empty()) options.served_name = fs::path(dir).filename().string();
  svc->options_ = std::move(options);
  SSKAI_ASSIGN_OR_RETURN(svc->tokenizer_, tokenizer::LoadTokenizer(dir));
  SSKAI_ASSIGN_OR_RETURN(svc->model_, engine.LoadLm(dir, svc->options_.load));
  // A fine-tuned LoRA adapter version is served on its base (its file set holds both), merged so
  // decoding costs what the base costs.
  std::error_code ec;
  if (fs::exists(fs::path(dir) / "adapter_config.json", ec)) {
    SSKAI_RETURN_IF_ERROR(svc->model_->LoadAdapter(dir));
    SSKAI_RETURN_IF_ERROR(svc->model_->MergeLora());
  }
  const ml::LmConfig& config = svc->model_->config();
  svc->context_ = config.max_position_embeddings;
  std::string config_json = ReadFileOr(fs::path(dir) / "config.json", "");
  std::string tok_config = ReadFileOr(fs::path(dir) / "tokenizer_config.json", "");
  auto tmpl = tokenizer::DetectChatTemplate(tok_config, config_json);
  if (tmpl.ok()) {
    svc->template_ = *tmpl;
  } else {
    svc->template_error_ = tmpl.status().message();
  }
  for (int64_t id : config.eos_token_ids) AddUnique(&svc->stop_tokens_, id);
  AddEosIds(ReadFileOr(fs::path(dir) / "generation_config.json", "{}"), &svc->stop_tokens_);
  if (auto eos = svc->tokenizer_->Special().eos) AddUnique(&svc->stop_tokens_, *eos);
  if (svc->template_) {
    std::string eot = svc->template_->family == tokenizer::ChatFamily::kLlama3 ? "<|eot_id|>"
                                                                               : "<|im_end|>";
    for (const auto& added : svc->tokenizer_->AddedTokens()) {
      if (added.content == eot) AddUnique(&svc->stop_tokens_, added.id);
    }
  }
  if (static_cast<int64_t>(svc->tokenizer_->VocabSize()) > config.vocab_size) {
    SSKAI_LOG_WARN("replica: the tokenizer has {} ids, the model {}: larger ids are rejected",
                   svc->tokenizer_->VocabSize(), config.vocab_size);
  }
  svc->batcher_ = std::make_unique<LmBatcher>(*svc->model_, svc->options_.batching);
  SSKAI_LOG_INFO("replica: language model '{}' ({} parameters, context {}, chat template {})",
                 svc->options_.served_name, svc->model_->NumParameters(), svc->context_,
                 svc->template_ ? "yes" : "none");
  return svc;
}

LmService::~LmService() { batcher_.reset(); }

void LmService::Chat(http::Request& req, http::Responder respond) {
  Serve(true, req, std::move(respond));
}
void LmService::Complete(http::Request& req, http::Responder respond) {
  Serve(false, req, std::move(respond));
}

http::Response LmService::Models() const {
  return http::Response::Json(
      200, openai::ModelsJson(options_.served_name,
                              static_cast<int64_t>(options_.clock->NowSeconds())));
}

std::string LmService::StatsJson() {
  auto s = batcher_->stats();
  return json{{"model", options_.served_name},
              {"context", context_},
              {"batching", options_.batching.mode == LmBatcher::Mode::kStatic ? "static" : "continuous"},
              {"batches", s.batches},
              {"steps", s.steps},
              {"requests", s.requests},
              {"joined_running", s.joined_running},
              {"tokens", s.tokens},
              {"largest_batch", s.largest_batch},
              {"stopped_early", s.stopped_early}}
      .dump();
}

void LmService::Serve(bool chat, http::Request& req, http::Responder respond) {
  openai::LmRequest r;
  auto err = chat ? openai::ParseChatRequest(req.body, &r) : openai::ParseCompletionRequest(req.body, &r);
  if (err) return respond(openai::ErrorResponse(*err));
  std::string prompt_text;
  if (chat) {
    if (!template_) {
      return respond(openai::ErrorResponse(
          {400, "this model has no chat template (" + template_error_ + "); use /v1/completions",
           "messages", ""}));
    }
    prompt_text = tokenizer::RenderChat(*template_, r.messages, /*add_generation_prompt=*/true);
  } else {
    prompt_text = r.prompt;
  }
  // The chat template spells out its own special tokens (e.g. <|begin_of_text|>).
  auto ids = tokenizer_->Encode(prompt_text, /*add_special=*/!chat);
  if (!ids.ok()) {
    return respond(openai::ErrorResponse({400, ids.status().message(), chat ? "messages" : "prompt", ""}));
  }
  if (ids->empty()) {
    return respond(openai::ErrorResponse({400, "the prompt is empty", chat ? "messages" : "prompt", ""}));
  }
  int64_t prompt_len = static_cast<int64_t>(ids->size());
  if (prompt_len >= context_ || (r.max_tokens && prompt_len + *r.max_tokens > context_)) {
    auto e = ContextError(context_, prompt_len, r.max_tokens);
    if (!chat) e.param = "prompt";
    return respond(openai::ErrorResponse(e));
  }
  ml::GenerateRequest g;
  g.prompt.assign(ids->begin(), ids->end());
  for (int64_t id : g.prompt) {
    if (id >= model_->config().vocab_size) {
      return respond(openai::ErrorResponse(
          {500, "the tokenizer produced id " + std::to_string(id) + ", outside the model's vocabulary",
           "", ""}));
    }
  }
  g.sampling.max_tokens = r.max_tokens ? *r.max_tokens : static_cast<int>(context_ - prompt_len);
  g.sampling.temperature = r.temperature;
  g.sampling.top_p = r.top_p;
  g.sampling.top_k = r.top_k;
  g.sampling.repetition_penalty = r.repetition_penalty;
  g.sampling.seed = r.seed ? *r.seed : std::random_device{}();
  g.sampling.stop_tokens = stop_tokens_;

  auto gen = std::make_shared<Generation>(*tokenizer_);
  gen->chat = chat;
  gen->id = RandomId(chat ? "chatcmpl-" : "cmpl-");
  gen->model = options_.served_name;
  gen->created = static_cast<int64_t>(options_.clock->NowSeconds());
  gen->stream = r.stream;
  gen->include_usage = r.include_usage;
  gen->stops = r.stop;
  gen->stop_tokens = stop_tokens_;
  gen->prompt_tokens = prompt_len;
  if (r.stream) {
    gen->out = http::ResponseStream::Create();
    std::weak_ptr<Generation> weak = gen;
    gen->out->OnCancel([weak] {
      if (auto g2 = weak.lock()) g2->client_gone = true;
    });
    http::Response head;
    head.status = 200;
    head.content_type = "text/event-stream";
    head.headers.push_back({"Cache-Control", "no-cache"});
    head.stream = gen->out;
    respond(std::move(head));
    if (chat) gen->out->Write(openai::ChunkEvent(true, gen->id, gen->created, gen->model, "", true, ""));
  } else {
    gen->respond = std::move(respond);
  }
  LmBatcher::Job job;
  job.request = std::move(g);
  job.on_token = [gen](int64_t token) { return gen->OnToken(token); };
  job.on_done = [gen](Result<ml::GenerateResult> res) { gen->OnDone(std::move(res)); };
  job.cancelled = [gen] { return gen->client_gone.load(); };
  batcher_->Submit(std::move(job));
}

}  // namespace sskai::serving
