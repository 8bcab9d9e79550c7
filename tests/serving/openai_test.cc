// The OpenAI protocol layer: parsing (good and bad requests), response shapes, stop strings.
#include "serving/openai.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sskai::serving::openai {
namespace {

using nlohmann::json;

TEST(OpenAiParseTest, ChatRequestWithOptions) {
  LmRequest r;
  auto err = ParseChatRequest(R"({"model":"m","messages":[{"role":"system","content":"be brief"},
      {"role":"user","content":[{"type":"text","text":"hi "},{"type":"text","text":"there"}]}],
      "temperature":0,"top_p":0.9,"max_tokens":7,"stop":["\n\n","END"],"seed":3,"stream":true,
      "stream_options":{"include_usage":true},"n":1,"presence_penalty":0,"frequency_penalty":0})",
                              &r);
  ASSERT_FALSE(err) << err->message;
  EXPECT_TRUE(r.chat);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].content, "hi there");
  EXPECT_EQ(r.temperature, 0);
  EXPECT_EQ(r.top_p, 0.9);
  EXPECT_EQ(*r.max_tokens, 7);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_EQ(*r.seed, 3u);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(OpenAiParseTest, BadRequestsNameTheField) {
  struct Case {
    const char* body;
    const char* param;
  };
  const Case cases[] = {
      {"{not json", ""},
      {"[1]", ""},
      {R"({"messages":[]})", "messages"},
      {R"({"messages":[{"role":"robot","content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"user","content":7}]})", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":"x"}],"n":2})", "n"},
      {R"({"messages":[{"role":"user","content":"x"}],"presence_penalty":0.5})", "presence_penalty"},
      {R"({"messages":[{"role":"user","content":"x"}],"frequency_penalty":1})", "frequency_penalty"},
      {R"({"messages":[{"role":"user","content":"x"}],"temperature":3})", "temperature"},
      {R"({"messages":[{"role":"user","content":"x"}],"top_p":1.5})", "top_p"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})", "max_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop":[1]})", "stop"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]})", "stop"},
      {R"({"messages":[{"role":"user","content":"x"}],"logprobs":true})", "logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]})", "tools"},
      {R"({"messages":[{"role":"user","content":"x"}],"stream":"yes"})", "stream"},
  };
  for (const auto& c : cases) {
    LmRequest r;
    auto err = ParseChatRequest(c.body, &r);
    ASSERT_TRUE(err.has_value()) << c.body;
    EXPECT_EQ(err->status, 400) << c.body;
    EXPECT_EQ(err->param, c.param) << c.body;
    EXPECT_FALSE(err->message.empty());
  }
  LmRequest r;
  EXPECT_EQ(ParseCompletionRequest(R"({"prompt":5})", &r)->param, "prompt");
  EXPECT_EQ(ParseCompletionRequest(R"({"prompt":"a","echo":true})", &r)->param, "echo");
  EXPECT_FALSE(ParseCompletionRequest(R"({"prompt":["a"]})", &r).has_value());
}

TEST(OpenAiParseTest, TopPZeroMeansGreedyAndDeveloperIsSystem) {
  LmRequest r;
  ASSERT_FALSE(ParseChatRequest(R"({"messages":[{"role":"developer","content":"x"}],"top_p":0})", &r));
  EXPECT_EQ(r.temperature, 0);
  EXPECT_EQ(r.top_p, 1.0);
  EXPECT_EQ(r.messages[0].role, "system");
}

TEST(OpenAiFormatTest, ShapesFollowTheReference) {
  json c = json::parse(CompletionJson(true, "chatcmpl-1", 100, "m", "hi", "stop", {5, 2}));
  EXPECT_EQ(c["object"], "chat.completion");
  EXPECT_EQ(c["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(c["choices"][0]["message"]["content"], "hi");
  EXPECT_EQ(c["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(c["usage"]["total_tokens"], 7);
  json t = json::parse(CompletionJson(false, "cmpl-1", 100, "m", "hi", "length", {5, 2}));
  EXPECT_EQ(t["object"], "text_completion");
  EXPECT_EQ(t["choices"][0]["text"], "hi");

  std::string ev = ChunkEvent(true, "id", 1, "m", "", true, "");
  ASSERT_TRUE(ev.starts_with("data: ") && ev.ends_with("\n\n"));
  json first = json::parse(ev.substr(6));
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  json last = json::parse(ChunkEvent(true, "id", 1, "m", "", false, "length").substr(6));
  EXPECT_TRUE(last["choices"][0]["delta"].empty());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  json usage = json::parse(UsageEvent(true, "id", 1, "m", {3, 4}).substr(6));
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 4);
  json models = json::parse(ModelsJson("chat", 5));
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][0]["id"], "chat");
  EXPECT_EQ(models["data"][0]["object"], "model");
  json e = json::parse(ErrorResponse({400, "too long", "messages", "context_length_exceeded"}).body);
  EXPECT_EQ(e["error"]["code"], "context_length_exceeded");
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
}

TEST(StopScanTest, HoldsBackPossibleStartsAndCutsAtTheEarliestMatch) {
  std::vector<std::string> stops = {"END", "\n\n"};
  EXPECT_EQ(ScanStops("hello", stops).end, 5u);
  EXPECT_FALSE(ScanStops("hello", stops).matched);
  EXPECT_EQ(ScanStops("hello E", stops).end, 6u);   // "E" may become "END"
  EXPECT_EQ(ScanStops("hello EN", stops).end, 6u);
  EXPECT_EQ(ScanStops("hello\n", stops).end, 5u);
  auto m = ScanStops("hello ENDgame\n\n", stops);
  EXPECT_TRUE(m.matched);
  EXPECT_EQ(m.end, 6u);
  auto m2 = ScanStops("a\n\nb END", stops);
  EXPECT_TRUE(m2.matched);
  EXPECT_EQ(m2.end, 1u);
  EXPECT_EQ(ScanStops("abc", {}).end, 3u);
  // Streaming token by token: what is emitted never contains a stop, whatever the split.
  std::string full = "one two ENDthree";
  for (size_t cut = 0; cut <= full.size(); ++cut) {
    auto partial = ScanStops(full.substr(0, cut), stops);
    EXPECT_LE(partial.end, 4u + 4u) << cut;
    EXPECT_EQ(full.substr(0, partial.end).find("END"), std::string::npos);
  }
}

}  // namespace
}  // namespace sskai::serving::openai
