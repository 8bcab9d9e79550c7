// LM serving against the real binary: an LM model version (Hugging Face file set) deployed as
// an endpoint, OpenAI-compatible chat/completions through the gateway (non-streamed and
// streamed), usage counts, the top-level routes keyed by "model", bad input answered 4xx while
// the replica keeps serving, and the CLI. The model arrives the user's way: the import route.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "testing/server_harness.h"
#include "testing/tiny_lm.h"
#include "tokenizer/tokenizer.h"

namespace sskai::testing {
namespace {

namespace fs = std::filesystem;

class LmServingE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    files_ = new TempDir();
    server_ = new TestServer(dir_->path());
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    ASSERT_EQ(WriteTinyLm(files_->path() + "/tiny"), "");
    int status = 0;
    json imported = ImportLmDir(*server_, "tiny-lm", files_->path() + "/tiny", &status);
    ASSERT_EQ(status, 201) << imported.dump();
    EXPECT_EQ(imported["model"], "tiny-lm");
    EXPECT_EQ(imported["version"], 1);
    json ep = server_->CallJson("POST", "/v1/endpoints",
                                {{"name", "chat"}, {"model", "tiny-lm"}, {"min_replicas", 1}}, &status);
    ASSERT_EQ(status, 201) << ep.dump();
    json ready = server_->WaitForEndpoint("chat", "ready", 120);
    ASSERT_EQ(ready["state"], "ready") << ready.dump();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete files_;
    delete dir_;
  }
  static json Chat(const std::string& text, int max_tokens) {
    return {{"model", "chat"},
            {"messages", {{{"role", "user"}, {"content", text}}}},
            {"temperature", 0},
            {"max_tokens", max_tokens}};
  }
  // Prompt tokens of a one-message chat, counted with the model's own tokenizer and template.
  static size_t PromptTokens(const std::string& text) {
    auto tok = tokenizer::LoadTokenizer(files_->path() + "/tiny");
    auto tmpl = tokenizer::DetectChatTemplate("", R"({"model_type":"llama"})");
    std::vector<tokenizer::ChatMessage> msgs = {{"user", text}};
    return (*tok)->Encode(tokenizer::RenderChat(*tmpl, msgs, true), false)->size();
  }
  // A streamed call through the gateway: the concatenated content and the number of events.
  static std::string Stream(const std::string& target, json body, int* events, int* status) {
    body["stream"] = true;
    auto client = http::Client::Create(server_->url());
    std::string raw;
    auto res = (*client)->Stream(
        "POST", target, body.dump(),
        {{"authorization", "Bearer " + server_->token()}, {"content-type", "application/json"}},
        [&](const http::ClientResponse& head) {
          *status = head.status;
          return true;
        },
        [&](std::string_view data) {
          raw += data;
          return true;
        });
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    std::string content;
    *events = 0;
    size_t pos = 0, end;
    while ((end = raw.find("\n\n", pos)) != std::string::npos) {
      std::string payload = raw.substr(pos + 6, end - pos - 6);
      pos = end + 2;
      ++*events;
      if (payload == "[DONE]") continue;
      json ev = json::parse(payload);
      if (!ev["choices"].empty()) content += ev["choices"][0]["delta"].value("content", "");
    }
    EXPECT_TRUE(raw.ends_with("data: [DONE]\n\n")) << raw;
    return content;
  }

  static TempDir* dir_;
  static TempDir* files_;
  static TestServer* server_;
};

TempDir* LmServingE2eTest::dir_ = nullptr;
TempDir* LmServingE2eTest::files_ = nullptr;
TestServer* LmServingE2eTest::server_ = nullptr;

TEST_F(LmServingE2eTest, ChatThroughTheGatewayStreamedAndNot) {
  int status = 0;
  json out = server_->CallJson("POST", "/v1/endpoints/chat/v1/chat/completions",
                               Chat("hello world", 12), &status);
  ASSERT_EQ(status, 200) << out.dump();
  EXPECT_EQ(out["object"], "chat.completion");
  EXPECT_EQ(out["model"], "chat");
  EXPECT_EQ(out["usage"]["prompt_tokens"], PromptTokens("hello world"));
  int64_t completion = out["usage"]["completion_tokens"];
  EXPECT_GE(completion, 1);
  EXPECT_LE(completion, 12);
  EXPECT_EQ(out["usage"]["total_tokens"], out["usage"]["prompt_tokens"].get<int64_t>() + completion);
  std::string content = out["choices"][0]["message"]["content"];

  // The top-level route with "model" = the endpoint name gives the same greedy answer.
  json top = server_->CallJson("POST", "/v1/chat/completions", Chat("hello world", 12), &status);
  ASSERT_EQ(status, 200) << top.dump();
  EXPECT_EQ(top["choices"][0]["message"]["content"], content);

  int events = 0;
  std::string streamed = Stream("/v1/endpoints/chat/v1/chat/completions", Chat("hello world", 12),
                                &events, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(streamed, content);
  EXPECT_GE(events, 3);  // role, ..., finish, [DONE]
  streamed = Stream("/v1/chat/completions", Chat("hello world", 12), &events, &status);
  EXPECT_EQ(streamed, content);

  json models = server_->CallJson("GET", "/v1/endpoints/chat/v1/models", nullptr, &status);
  ASSERT_EQ(status, 200);
  EXPECT_EQ(models["data"][0]["id"], "chat");

  json comp = server_->CallJson("POST", "/v1/completions",
                                {{"model", "chat"}, {"prompt", "hello"}, {"max_tokens", 4}}, &status);
  ASSERT_EQ(status, 200) << comp.dump();
  EXPECT_EQ(comp["object"], "text_completion");
  EXPECT_LE(comp["usage"]["completion_tokens"], 4);
}

TEST_F(LmServingE2eTest, BadInputIsA4xxAndTheReplicaKeepsServing) {
  auto bad = server_->Call("POST", "/v1/endpoints/chat/v1/chat/completions", "{oops");
  EXPECT_EQ(bad.status, 400);
  int status = 0;
  json role = server_->CallJson("POST", "/v1/endpoints/chat/v1/chat/completions",
                                {{"messages", {{{"role", "robot"}, {"content", "x"}}}}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(role["error"]["param"], "messages[0].role");
  std::string long_text;
  for (int i = 0; i < 600; ++i) long_text += "x ";
  json too_long = server_->CallJson("POST", "/v1/endpoints/chat/v1/chat/completions",
                                    Chat(long_text, 4), &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(too_long["error"]["code"], "context_length_exceeded");
  json no_model = server_->CallJson("POST", "/v1/chat/completions",
                                    {{"messages", {{{"role", "user"}, {"content", "x"}}}}}, &status);
  EXPECT_EQ(status, 400);
  json unknown = server_->CallJson("POST", "/v1/chat/completions",
                                   {{"model", "nope"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}},
                                   &status);
  EXPECT_EQ(status, 404);
  auto ok = server_->CallJson("POST", "/v1/endpoints/chat/v1/chat/completions", Chat("hi", 3), &status);
  EXPECT_EQ(status, 200) << ok.dump();
  // The tabular route says what to use instead.
  auto predict = server_->Call("POST", "/v1/endpoints/chat/predict", R"({"rows":[]})");
  EXPECT_EQ(predict.status, 400);
}

TEST_F(LmServingE2eTest, ImportWithoutConfigIs4xxAndRegistersNothing) {
  TempDir broken;
  ASSERT_EQ(WriteTinyLm(broken.path() + "/m"), "");
  fs::remove(broken.path() + "/m/config.json");
  int status = 0;
  json out = ImportLmDir(*server_, "broken-lm", broken.path() + "/m", &status);
  EXPECT_GE(status, 400) << out.dump();
  EXPECT_LT(status, 500) << out.dump();
  EXPECT_NE(out.dump().find("config.json"), std::string::npos) << out.dump();
  server_->CallJson("GET", "/v1/models/broken-lm", nullptr, &status);
  EXPECT_EQ(status, 404);
}

TEST_F(LmServingE2eTest, CliCompleteStreams) {
  std::string out, err;
  int rc = server_->RunCli({"complete", "chat", "hello", "--max-tokens", "5", "-t", "0"}, &out, &err);
  EXPECT_EQ(rc, 0) << err;
  int status = 0;
  json same = server_->CallJson("POST", "/v1/completions",
                                {{"model", "chat"}, {"prompt", "hello"}, {"max_tokens", 5}, {"temperature", 0}},
                                &status);
  EXPECT_EQ(out, same["choices"][0]["text"].get<std::string>() + "\n");
}

}  // namespace
}  // namespace sskai::testing
