// The OpenAI-compatible protocol: parsing, formatting, stop strings (see openai.h).
#include "serving/openai.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace sskai::serving::openai {

using nlohmann::json;

namespace {

ApiError Bad(std::string param, std::string message) {
  return ApiError{400, std::move(message), std::move(param), ""};
}

bool IsNumber(const json& v) { return v.is_number(); }

// Fields shared by both routes.
std::optional<ApiError> ParseCommon(const json& j, LmRequest* out) {
  if (j.contains("model") && !j["model"].is_null()) {
    if (!j["model"].is_string()) return Bad("model", "'model' must be a string");
    out->model = j["model"].get<std::string>();
  }
  if (j.contains("stream") && !j["stream"].is_null()) {
    if (!j["stream"].is_boolean()) return Bad("stream", "'stream' must be a boolean");
    out->stream = j["stream"].get<bool>();
  }
  if (j.contains("stream_options") && !j["stream_options"].is_null()) {
    const json& so = j["stream_options"];
    if (!so.is_object()) return Bad("stream_options", "'stream_options' must be an object");
    if (so.contains("include_usage") && !so["include_usage"].is_null()) {
      if (!so["include_usage"].is_boolean()) {
        return Bad("stream_options.include_usage", "'stream_options.include_usage' must be a boolean");
      }
      out->include_usage = so["include_usage"].get<bool>();
    }
  }
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    if (!j[key].is_number_integer() || j[key].get<int64_t>() < 1 || j[key].get<int64_t>() > 1'000'000) {
      return Bad(key, std::string("'") + key + "' must be an integer >= 1");
    }
    out->max_tokens = static_cast<int>(j[key].get<int64_t>());
  }
  if (j.contains("temperature") && !j["temperature"].is_null()) {
    if (!IsNumber(j["temperature"]) || j["temperature"].get<double>() < 0 || j["temperature"].get<double>() > 2) {
      return Bad("temperature", "'temperature' must be a number in [0, 2]");
    }
    out->temperature = j["temperature"].get<double>();
  }
  if (j.contains("top_p") && !j["top_p"].is_null()) {
    if (!IsNumber(j["top_p"]) || j["top_p"].get<double>() < 0 || j["top_p"].get<double>() > 1) {
      return Bad("top_p", "'top_p' must be a number in [0, 1]");
    }
    out->top_p = j["top_p"].get<double>();
    if (out->top_p == 0) {  // only the most likely token survives: greedy
      out->top_p = 1.0;
      out->temperature = 0;
    }
  }
  if (j.contains("top_k") && !j["top_k"].is_null()) {
    if (!j["top_k"].is_number_integer() || j["top_k"].get<int64_t>() < -1 || j["top_k"].get<int64_t>() > 1'000'000) {
      return Bad("top_k", "'top_k' must be an integer >= -1 (-1 or 0 = off)");
    }
    out->top_k = std::max<int>(0, static_cast<int>(j["top_k"].get<int64_t>()));
  }
  if (j.contains("repetition_penalty") && !j["repetition_penalty"].is_null()) {
    if (!IsNumber(j["repetition_penalty"]) || j["repetition_penalty"].get<double>() <= 0 ||
        j["repetition_penalty"].get<double>() > 10) {
      return Bad("repetition_penalty", "'repetition_penalty' must be a number in (0, 10]");
    }
    out->repetition_penalty = j["repetition_penalty"].get<double>();
  }
  for (const char* key : {"presence_penalty", "frequency_penalty"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    if (!IsNumber(j[key])) return Bad(key, std::string("'") + key + "' must be a number");
    if (j[key].get<double>() != 0) {
      return Bad(key, std::string("'") + key +
                          "' is not supported (only 0); use 'repetition_penalty' (e.g. 1.1) instead");
    }
  }
  if (j.contains("seed") && !j["seed"].is_null()) {
    if (!j["seed"].is_number_integer()) return Bad("seed", "'seed' must be an integer");
    out->seed = static_cast<uint64_t>(j["seed"].get<int64_t>());
  }
  if (j.contains("n") && !j["n"].is_null()) {
    if (!j["n"].is_number_integer() || j["n"].get<int64_t>() != 1) {
      return Bad("n", "'n' must be 1 (one choice per request)");
    }
  }
  if (j.contains("stop") && !j["stop"].is_null()) {
    const json& s = j["stop"];
    if (s.is_string()) {
      out->stop.push_back(s.get<std::string>());
    } else if (s.is_array() && s.size() <= 4) {
      for (const auto& x : s) {
        if (!x.is_string()) return Bad("stop", "'stop' must be a string or an array of up to 4 strings");
        out->stop.push_back(x.get<std::string>());
      }
    } else {
      return Bad("stop", "'stop' must be a string or an array of up to 4 strings");
    }
    out->stop.erase(std::remove(out->stop.begin(), out->stop.end(), std::string()), out->stop.end());
  }
  if (j.contains("logprobs") && !j["logprobs"].is_null() && j["logprobs"] != json(false)) {
    return Bad("logprobs", "'logprobs' is not supported");
  }
  for (const char* key : {"tools", "functions", "logit_bias"}) {
    if (j.contains(key) && !j[key].is_null() && !j[key].empty()) {
      return Bad(key, std::string("'") + key + "' is not supported");
    }
  }
  if (j.contains("response_format") && j["response_format"].is_object() &&
      j["response_format"].value("type", "text") != "text") {
    return Bad("response_format", "'response_format' other than text is not supported");
  }
  return std::nullopt;
}

std::optional<json> ParseBody(std::string_view body, std::optional<ApiError>* err) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    *err = Bad("", "the request body is not valid JSON");
    return std::nullopt;
  }
  if (!j.is_object()) {
    *err = Bad("", "the request body must be a JSON object");
    return std::nullopt;
  }
  return j;
}

// Message content: a string, or an array of {"type":"text","text":...} parts.
std::optional<std::string> ContentText(const json& c) {
  if (c.is_string()) return c.get<std::string>();
  if (c.is_null()) return std::string();
  if (!c.is_array()) return std::nullopt;
  std::string out;
  for (const auto& part : c) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
        !part["text"].is_string()) {
      return std::nullopt;
    }
    out += part["text"].get<std::string>();
  }
  return out;
}

json UsageJson(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

std::string Event(const json& j) {
  return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

}  // namespace

std::optional<ApiError> ParseChatRequest(std::string_view body, LmRequest* out) {
  std::optional<ApiError> err;
  auto j = ParseBody(body, &err);
  if (!j) return err;
  out->chat = true;
  if (!j->contains("messages") || !(*j)["messages"].is_array() || (*j)["messages"].empty()) {
    return Bad("messages", "'messages' must be a non-empty array of {role, content}");
  }
  const json& msgs = (*j)["messages"];
  for (size_t i = 0; i < msgs.size(); ++i) {
    std::string where = "messages[" + std::to_string(i) + "]";
    const json& m = msgs[i];
    if (!m.is_object()) return Bad(where, "'" + where + "' must be an object");
    if (!m.contains("role") || !m["role"].is_string()) {
      return Bad(where + ".role", "'" + where + ".role' must be a string");
    }
    std::string role = m["role"].get<std::string>();
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant") {
      return Bad(where + ".role", "'" + where + ".role' must be one of system, developer, user, "
                                  "assistant (got '" + role + "')");
    }
    auto text = ContentText(m.contains("content") ? m["content"] : json());
    if (!text) {
      return Bad(where + ".content",
                 "'" + where + ".content' must be a string or an array of text parts");
    }
    out->messages.push_back({role, *text});
  }
  if (auto e = ParseCommon(*j, out)) return e;
  return std::nullopt;
}

std::optional<ApiError> ParseCompletionRequest(std::string_view body, LmRequest* out) {
  std::optional<ApiError> err;
  auto j = ParseBody(body, &err);
  if (!j) return err;
  out->chat = false;
  const json& p = j->contains("prompt") ? (*j)["prompt"] : json();
  if (p.is_string()) {
    out->prompt = p.get<std::string>();
  } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
    out->prompt = p[0].get<std::string>();
  } else {
    return Bad("prompt", "'prompt' must be a string (or an array of one string)");
  }
  if (j->contains("echo") && (*j)["echo"] == json(true)) return Bad("echo", "'echo' is not supported");
  if (j->contains("best_of") && !(*j)["best_of"].is_null() && (*j)["best_of"] != json(1)) {
    return Bad("best_of", "'best_of' must be 1");
  }
  if (j->contains("suffix") && !(*j)["suffix"].is_null()) return Bad("suffix", "'suffix' is not supported");
  if (auto e = ParseCommon(*j, out)) return e;
  return std::nullopt;
}

http::Response ErrorResponse(const ApiError& err) {
  json body = {{"error",
                {{"message", err.message},
                 {"type", err.status >= 500 ? "server_error" : "invalid_request_error"},
                 {"param", err.param.empty() ? json(nullptr) : json(err.param)},
                 {"code", err.code.empty() ? json(nullptr) : json(err.code)}}}};
  return http::Response::Json(err.status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string CompletionJson(bool chat, const std::string& id, int64_t created,
                           const std::string& model, const std::string& text,
                           const std::string& finish_reason, const Usage& usage) {
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish_reason}};
  if (chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
  } else {
    choice["text"] = text;
  }
  json j = {{"id", id},
            {"object", chat ? "chat.completion" : "text_completion"},
            {"created", created},
            {"model", model},
            {"choices", json::array({choice})},
            {"usage", UsageJson(usage)},
            {"system_fingerprint", nullptr}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string ChunkEvent(bool chat, const std::string& id, int64_t created, const std::string& model,
                       const std::string& text, bool first, const std::string& finish_reason) {
  json choice = {{"index", 0},
                 {"logprobs", nullptr},
                 {"finish_reason", finish_reason.empty() ? json(nullptr) : json(finish_reason)}};
  if (chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (finish_reason.empty() || !text.empty()) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  json j = {{"id", id},
            {"object", chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created},
            {"model", model},
            {"system_fingerprint", nullptr},
            {"choices", json::array({choice})}};
  return Event(j);
}

std::string UsageEvent(bool chat, const std::string& id, int64_t created, const std::string& model,
                       const Usage& usage) {
  json j = {{"id", id},
            {"object", chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created},
            {"model", model},
            {"system_fingerprint", nullptr},
            {"choices", json::array()},
            {"usage", UsageJson(usage)}};
  return Event(j);
}

std::string ModelsJson(const std::string& model, int64_t created) {
  json j = {{"object", "list"},
            {"data", json::array({{{"id", model},
                                   {"object", "model"},
                                   {"created", created},
                                   {"owned_by", "sskai"}}})}};
  return j.dump();
}

StopScan ScanStops(std::string_view text, const std::vector<std::string>& stops) {
  StopScan out;
  size_t earliest = std::string_view::npos;
  for (const auto& s : stops) {
    if (s.empty()) continue;
    size_t at = text.find(s);
    if (at != std::string_view::npos && at < earliest) earliest = at;
  }
  if (earliest != std::string_view::npos) {
    out.matched = true;
    out.end = earliest;
    return out;
  }
  // Hold back the longest suffix that is a proper prefix of a stop string.
  size_t hold = 0;
  for (const auto& s : stops) {
    if (s.empty()) continue;
    size_t most = std::min(s.size() - 1, text.size());
    for (size_t len = most; len > hold; --len) {
      if (text.substr(text.size() - len) == std::string_view(s).substr(0, len)) {
        hold = len;
        break;
      }
    }
  }
  out.end = text.size() - hold;
  return out;
}

}  // namespace sskai::serving::openai
