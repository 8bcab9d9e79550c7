// src/serving/openai.h — the OpenAI-compatible protocol of LM replicas (private to serving):
// request parsing into typed requests, response/chunk formatting, stop-string scanning.
// Shapes follow OpenAI's API reference for POST /v1/chat/completions, POST /v1/completions and
// GET /v1/models, so stock OpenAI clients work. Pure functions: no I/O, no clock (time is an
// argument). Thread-safety: all functions are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "http/http.h"
#include "tokenizer/tokenizer.h"

namespace sskai::serving::openai {

// One parsed generation request (chat or plain completion).
struct LmRequest {
  bool chat = false;
  std::vector<tokenizer::ChatMessage> messages;  // chat: non-empty
  std::string prompt;                            // completions
  std::string model;                             // as sent (informational)
  bool stream = false;
  bool include_usage = false;                    // stream_options.include_usage
  std::optional<int> max_tokens;                 // max_tokens / max_completion_tokens
  double temperature = 1.0;                      // 0 = greedy
  double top_p = 1.0;
  int top_k = 0;                                 // extension (vLLM-style)
  double repetition_penalty = 1.0;               // extension (vLLM-style)
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;                 // at most 4 non-empty strings
};

// A rejected request: HTTP status, message, the offending parameter and an OpenAI error code.
struct ApiError {
  int status = 400;
  std::string message;
  std::string param;  // "" = null
  std::string code;   // "" = null; e.g. "context_length_exceeded"
};

// Parse a body. Errors name the field: bad JSON, wrong types, roles other than
// system/developer/user/assistant, n != 1, non-zero presence/frequency penalties (not
// supported: use repetition_penalty), logprobs, tools, temperature outside [0, 2], top_p outside
// [0, 1] (0 = greedy), max_tokens < 1.
std::optional<ApiError> ParseChatRequest(std::string_view body, LmRequest* out);
std::optional<ApiError> ParseCompletionRequest(std::string_view body, LmRequest* out);

// {"error":{"message","type","param","code"}} with err.status.
http::Response ErrorResponse(const ApiError& err);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// Non-streaming bodies ("chat.completion" / "text_completion").
std::string CompletionJson(bool chat, const std::string& id, int64_t created,
                           const std::string& model, const std::string& text,
                           const std::string& finish_reason, const Usage& usage);
// One server-sent event "data: {...}\n\n" of a stream ("chat.completion.chunk" /
// "text_completion"). `first` adds the assistant role to a chat delta; a non-empty
// finish_reason ends the choice (empty delta for chat).
std::string ChunkEvent(bool chat, const std::string& id, int64_t created, const std::string& model,
                       const std::string& text, bool first, const std::string& finish_reason);
// The usage event of stream_options.include_usage (choices: []).
std::string UsageEvent(bool chat, const std::string& id, int64_t created, const std::string& model,
                       const Usage& usage);
inline constexpr std::string_view kDoneEvent = "data: [DONE]\n\n";
// GET /v1/models: {"object":"list","data":[{"id","object":"model","created","owned_by"}]}.
std::string ModelsJson(const std::string& model, int64_t created);

// Where generated `text` stands against the stop strings: `matched` when one occurs (text must
// be cut at `end`, the earliest occurrence); otherwise text[0, end) is safe to emit and the rest
// might still become a stop string with later tokens.
struct StopScan {
  bool matched = false;
  size_t end = 0;
};
StopScan ScanStops(std::string_view text, const std::vector<std::string>& stops);

}  // namespace sskai::serving::openai
