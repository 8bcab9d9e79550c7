// Chat templates: exact strings of the official Llama-3 and Qwen ChatML templates.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace sskai::tokenizer {
namespace {

const std::vector<ChatMessage> kChat = {
    {"system", "You are terse."}, {"user", "  Hi there \n"}, {"assistant", "Hello."}, {"user", "2+2?"}};

TEST(ChatTemplateTest, Llama3MatchesTheOfficialTemplate) {
  ChatTemplate tmpl{ChatFamily::kLlama3, "", "<|begin_of_text|>"};
  EXPECT_EQ(RenderChat(tmpl, kChat, true),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  std::vector<ChatMessage> one = {{"user", "x"}};
  EXPECT_EQ(RenderChat(tmpl, one, false),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>");
}

TEST(ChatTemplateTest, Qwen2ChatMlAddsTheDefaultSystemPrompt) {
  ChatTemplate tmpl{ChatFamily::kChatMl, "You are a helpful assistant.", ""};
  std::vector<ChatMessage> chat = {{"user", "Hello, how are you?"},
                                   {"assistant", "I'm doing great. How can I help you today?"}};
  EXPECT_EQ(RenderChat(tmpl, chat, true),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHello, how are you?<|im_end|>\n"
            "<|im_start|>assistant\nI'm doing great. How can I help you today?<|im_end|>\n"
            "<|im_start|>assistant\n");
  // A caller's system message replaces the default; content is not trimmed.
  EXPECT_EQ(RenderChat(tmpl, kChat, false),
            "<|im_start|>system\nYou are terse.<|im_end|>\n"
            "<|im_start|>user\n  Hi there \n<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n"
            "<|im_start|>user\n2+2?<|im_end|>\n");
}

TEST(ChatTemplateTest, DetectsFamilyFromTemplateTextOrModelType) {
  nlohmann::json llama = {
      {"bos_token", "<|begin_of_text|>"},
      {"chat_template",
       "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
       "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
       "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
       "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"}};
  auto t = DetectChatTemplate(llama.dump(), "");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->family, ChatFamily::kLlama3);
  nlohmann::json qwen = {
      {"chat_template",
       "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
       "'<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + "
       "message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if "
       "add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"}};
  t = DetectChatTemplate(qwen.dump(), "");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->family, ChatFamily::kChatMl);
  EXPECT_EQ(t->default_system, "You are a helpful assistant.");
  t = DetectChatTemplate("", R"({"model_type": "qwen3"})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->family, ChatFamily::kChatMl);
  EXPECT_EQ(t->default_system, "");
  t = DetectChatTemplate("", R"({"model_type": "llama"})");
  EXPECT_EQ(t->family, ChatFamily::kLlama3);
  EXPECT_EQ(DetectChatTemplate(R"({"chat_template": "{{ messages }}"})", "").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(DetectChatTemplate("", R"({"model_type": "gpt2"})").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sskai::tokenizer
