// Chat templates rendered without Jinja, character for character like the official ones:
//  Meta-Llama-3-*-Instruct:
//    {% set loop_messages = messages %}{% for message in loop_messages %}{% set content =
//    '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim +
//    '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}
//    {{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant
//    <|end_header_id|>\n\n' }}{% endif %}
//  Qwen2-*-Instruct (ChatML; Qwen2.5 differs only in the default system sentence, Qwen3 has none):
//    {% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}
//    {{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}
//    {{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}
//    {% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace sskai::tokenizer {

namespace {

constexpr std::string_view kQwen2System = "You are a helpful assistant.";
constexpr std::string_view kQwen25System =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

// Jinja's `trim` is Python's str.strip(): leading and trailing whitespace.
std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::string TokenName(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

}  // namespace

std::string RenderChat(const ChatTemplate& tmpl, std::span<const ChatMessage> messages,
                       bool add_generation_prompt) {
  std::string out;
  if (tmpl.family == ChatFamily::kLlama3) {
    for (size_t idx = 0; idx < messages.size(); ++idx) {
      if (idx == 0) out += tmpl.bos_token;
      out += "<|start_header_id|>";
      out += messages[idx].role;
      out += "<|end_header_id|>\n\n";
      out += Trim(messages[idx].content);
      out += "<|eot_id|>";
    }
    if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out;
  }
  for (size_t idx = 0; idx < messages.size(); ++idx) {
    if (idx == 0 && messages[0].role != "system" && !tmpl.default_system.empty()) {
      out += "<|im_start|>system\n" + tmpl.default_system + "<|im_end|>\n";
    }
    out += "<|im_start|>" + messages[idx].role + "\n" + messages[idx].content + "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

Result<ChatTemplate> DetectChatTemplate(std::string_view tokenizer_config_json,
                                        std::string_view config_json) {
  ChatTemplate tmpl;
  std::string text;
  if (!tokenizer_config_json.empty()) {
    auto doc = nlohmann::json::parse(tokenizer_config_json, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return Status::InvalidArgument("tokenizer_config.json is not a JSON object");
    }
    if (doc.contains("chat_template")) {
      const auto& ct = doc["chat_template"];
      if (ct.is_string()) {
        text = ct.get<std::string>();
      } else if (ct.is_array()) {  // [{"name": "default", "template": ...}, ...]
        for (const auto& entry : ct) {
          if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
              entry["template"].is_string()) {
            text = entry["template"].get<std::string>();
          }
        }
      }
    }
    if (doc.contains("bos_token")) {
      std::string bos = TokenName(doc["bos_token"]);
      if (!bos.empty()) tmpl.bos_token = bos;
    }
  }
  if (!text.empty()) {
    if (text.find("<|start_header_id|>") != std::string::npos) {
      tmpl.family = ChatFamily::kLlama3;
      return tmpl;
    }
    if (text.find("<|im_start|>") != std::string::npos) {
      tmpl.family = ChatFamily::kChatMl;
      if (text.find(kQwen25System) != std::string::npos) {
        tmpl.default_system = kQwen25System;
      } else if (text.find(kQwen2System) != std::string::npos) {
        tmpl.default_system = kQwen2System;
      }
      return tmpl;
    }
    return Status::InvalidArgument("tokenizer_config.json: chat_template is not a supported family "
                                   "(Llama-3 or ChatML)");
  }
  if (!config_json.empty()) {
    auto cfg = nlohmann::json::parse(config_json, nullptr, false);
    std::string type = cfg.is_object() ? cfg.value("model_type", "") : "";
    if (type == "llama") {
      tmpl.family = ChatFamily::kLlama3;
      return tmpl;
    }
    if (type == "qwen2") {
      tmpl.family = ChatFamily::kChatMl;
      tmpl.default_system = kQwen2System;
      return tmpl;
    }
    if (type == "qwen3") {
      tmpl.family = ChatFamily::kChatMl;
      return tmpl;
    }
  }
  return Status::InvalidArgument("no chat template: tokenizer_config.json has no supported chat_template and "
                                 "config.json's model_type is not llama, qwen2 or qwen3");
}

}  // namespace sskai::tokenizer
