// src/serving/lm_service.h — a language model served OpenAI-style by a replica (private to
// serving): POST /v1/chat/completions, POST /v1/completions (both with stream: true as
// server-sent events) and GET /v1/models.
//
// Load() reads a Hugging Face-layout directory once: config.json + safetensors through the
// engine, the tokenizer (tokenizer.json or tokenizer.model, tokenizer_config.json), the chat
// template family, and the stop tokens (config/generation_config eos ids, the tokenizer's eos
// and the template's end-of-turn token). Each request is parsed, rendered, tokenized and checked
// against the context on the HTTP thread; generation runs on the LmBatcher's thread (continuous
// batching by default: requests join the running decode batch between steps). Streams
// write text as soon as it is complete UTF-8 and cannot be the start of a stop string; a
// client that goes away cancels its generation.
// Thread-safety: thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "http/http.h"
#include "ml/ml.h"
#include "serving/lm_batcher.h"
#include "tokenizer/tokenizer.h"

namespace sskai::serving {

class LmService {
 public:
  struct Options {
    std::string served_name;           // the "model" id answered (default: the directory name)
    LmBatcher::Options batching;
    ml::LmLoadOptions load;
    Clock* clock = &SystemClock::Default();  // "created" timestamps
  };

  // Errors: kNotFound (no config/tokenizer), kInvalidArgument (bad files), the engine's errors.
  static Result<std::unique_ptr<LmService>> Load(ml::Engine& engine, const std::string& dir,
                                                 Options options);
  ~LmService();

  void Chat(http::Request& req, http::Responder respond);
  void Complete(http::Request& req, http::Responder respond);
  http::Response Models() const;
  // {"model", "context", "batching", "batches", "steps", "requests", "joined_running", "tokens",
  // "largest_batch", "stopped_early"} (see LmBatcher::Stats).
  std::string StatsJson();

  struct Generation;  // one request in flight (private)

 private:
  LmService() = default;
  void Serve(bool chat, http::Request& req, http::Responder respond);

  Options options_;
  std::unique_ptr<ml::LanguageModel> model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::optional<tokenizer::ChatTemplate> template_;
  std::string template_error_;
  std::vector<int64_t> stop_tokens_;
  int64_t context_ = 0;
  std::unique_ptr<LmBatcher> batcher_;
};

}  // namespace sskai::serving
