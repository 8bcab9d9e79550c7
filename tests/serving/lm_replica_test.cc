// An LM replica's OpenAI-compatible routes over real HTTP: a tiny random Llama-shaped model,
// greedy output equal to the engine's Generate, streaming, usage, stop strings, batching, and
// bad input answered 4xx while the replica keeps serving.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "http/http.h"
#include "ml/ml.h"
#include "serving/lm_service.h"
#include "testing/scratch_dir.h"
#include "testing/tiny_lm.h"
#include "tokenizer/tokenizer.h"

namespace sskai::serving {
namespace {

using nlohmann::json;

ml::Engine* GetEngine() {
  setenv("SSKAI_ML_LIBRARY", SSKAI_ML_LIBRARY_PATH, 1);
  auto engine = ml::LoadEngine();
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? *engine : nullptr;
}

// The service behind a real HTTP server, as the replica process wires it.
class LmReplicaTest : public ::testing::Test {
 protected:
  void Start(LmBatcher::Options batching = {}) {
    ASSERT_EQ(testing::WriteTinyLm(dir_.Sub("model")), "");
    LmService::Options o;
    o.served_name = "tiny";
    o.batching = batching;
    auto svc = LmService::Load(*GetEngine(), dir_.path() + "/model", o);
    ASSERT_TRUE(svc.ok()) << svc.status().ToString();
    svc_ = std::move(*svc);
    auto router = std::make_shared<http::Router>();
    LmService* s = svc_.get();
    router->Add("POST", "/v1/chat/completions",
                [s](http::Request& req, http::Responder r) { s->Chat(req, std::move(r)); });
    router->Add("POST", "/v1/completions",
                [s](http::Request& req, http::Responder r) { s->Complete(req, std::move(r)); });
    router->AddSync("GET", "/v1/models", [s](http::Request&) { return s->Models(); });
    http::Server::Options so;
    so.io_threads = 4;
    auto server = http::Server::Create(so, router);
    ASSERT_TRUE(server.ok());
    server_ = std::move(*server);
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    svc_.reset();
  }
  http::ClientResponse Post(const std::string& target, const json& body) {
    auto client = http::Client::Create(url_);
    auto res = (*client)->Request("POST", target, body.dump(), {{"content-type", "application/json"}});
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    return res.ok() ? *res : http::ClientResponse{};
  }
  // The events of a streamed answer (JSON objects; "[DONE]" as a string).
  std::vector<json> PostStream(const std::string& target, const json& body, int* status) {
    auto client = http::Client::Create(url_);
    std::string raw;
    auto res = (*client)->Stream(
        "POST", target, body.dump(), {{"content-type", "application/json"}},
        [&](const http::ClientResponse& head) {
          *status = head.status;
          EXPECT_EQ(head.headers.at("content-type"), "text/event-stream");
          return true;
        },
        [&](std::string_view data) {
          raw += data;
          return true;
        });
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    std::vector<json> events;
    size_t pos = 0;
    while (true) {
      size_t end = raw.find("\n\n", pos);
      if (end == std::string::npos) break;
      std::string ev = raw.substr(pos, end - pos);
      pos = end + 2;
      EXPECT_TRUE(ev.starts_with("data: ")) << ev;
      std::string payload = ev.substr(6);
      events.push_back(payload == "[DONE]" ? json("[DONE]") : json::parse(payload));
    }
    EXPECT_EQ(pos, raw.size());
    return events;
  }
  // The engine's own greedy generation for the chat prompt, as text and token count.
  std::pair<std::string, size_t> EngineGreedy(const std::vector<tokenizer::ChatMessage>& msgs, int max_tokens) {
    auto tok = tokenizer::LoadTokenizer(dir_.path() + "/model");
    EXPECT_TRUE(tok.ok()) << tok.status().ToString();
    auto tmpl = tokenizer::DetectChatTemplate("", R"({"model_type":"llama"})");
    EXPECT_TRUE(tmpl.ok()) << tmpl.status().ToString();
    std::string prompt = tokenizer::RenderChat(*tmpl, msgs, true);
    auto ids = (*tok)->Encode(prompt, false);
    EXPECT_TRUE(ids.ok()) << ids.status().ToString();
    auto lm = GetEngine()->LoadLm(dir_.path() + "/model", {});
    EXPECT_TRUE(lm.ok()) << lm.status().ToString();
    ml::GenerateRequest g;
    g.prompt.assign(ids->begin(), ids->end());
    g.sampling.temperature = 0;
    g.sampling.max_tokens = max_tokens;
    g.sampling.stop_tokens = {301, 302};
    auto out = (*lm)->Generate({g}, {});
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    std::vector<tokenizer::TokenId> text_ids;
    for (int64_t t : (*out)[0].tokens) {
      // Stop tokens are not text; ids past the tokenizer (the model's vocabulary is padded, as
      // real checkpoints often are) have none.
      if (t != 301 && t != 302 && t < static_cast<int64_t>((*tok)->VocabSize())) {
        text_ids.push_back(static_cast<tokenizer::TokenId>(t));
      }
    }
    prompt_tokens_ = ids->size();
    auto text = (*tok)->Decode(text_ids, true);
    EXPECT_TRUE(text.ok()) << text.status().ToString();
    return {*text, (*out)[0].tokens.size()};
  }

  testing::ScratchDir dir_;
  std::unique_ptr<LmService> svc_;
  std::unique_ptr<http::Server> server_;
  std::string url_;
  size_t prompt_tokens_ = 0;
};

json Chat(const std::string& text, int max_tokens) {
  return {{"model", "tiny"},
          {"messages", {{{"role", "user"}, {"content", text}}}},
          {"temperature", 0},
          {"max_tokens", max_tokens}};
}

TEST_F(LmReplicaTest, GreedyChatEqualsTheEngineAndCountsUsage) {
  Start();
  auto [expected, generated] = EngineGreedy({{"user", "hello world"}}, 20);
  auto res = Post("/v1/chat/completions", Chat("hello world", 20));
  ASSERT_EQ(res.status, 200) << res.body;
  json j = json::parse(res.body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "tiny");
  EXPECT_TRUE(j["id"].get<std::string>().starts_with("chatcmpl-"));
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], expected);
  EXPECT_EQ(j["usage"]["prompt_tokens"], prompt_tokens_);
  EXPECT_EQ(j["usage"]["completion_tokens"], generated);
  EXPECT_EQ(j["usage"]["total_tokens"], prompt_tokens_ + generated);
  EXPECT_EQ(j["choices"][0]["finish_reason"], generated == 20 ? "length" : "stop");

  // The same request streamed: same text, role first, finish reason, usage, [DONE] last.
  json body = Chat("hello world", 20);
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  int status = 0;
  auto events = PostStream("/v1/chat/completions", body, &status);
  ASSERT_EQ(status, 200);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.front()["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(events.back(), json("[DONE]"));
  std::string streamed;
  for (size_t i = 0; i + 3 < events.size(); ++i) {
    EXPECT_EQ(events[i]["object"], "chat.completion.chunk");
    streamed += events[i]["choices"][0]["delta"].value("content", "");
  }
  EXPECT_EQ(streamed, expected);
  json finish = events[events.size() - 3];
  EXPECT_EQ(finish["choices"][0]["finish_reason"], j["choices"][0]["finish_reason"]);
  json usage = events[events.size() - 2];
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"], j["usage"]);
}

TEST_F(LmReplicaTest, CompletionsStopStringsAndModels) {
  Start();
  json body = {{"prompt", "hello the world"}, {"max_tokens", 30}, {"temperature", 0}};
  auto res = Post("/v1/completions", body);
  ASSERT_EQ(res.status, 200) << res.body;
  json j = json::parse(res.body);
  EXPECT_EQ(j["object"], "text_completion");
  std::string text = j["choices"][0]["text"];
  // A stop string from the middle of the output cuts the text there, streamed or not.
  // Characters 1 and 2 of the output (UTF-8 aware: the random model emits any bytes).
  std::vector<size_t> starts;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  starts.push_back(text.size());
  if (starts.size() >= 5) {
    std::string stop = text.substr(starts[1], starts[3] - starts[1]);
    size_t cut = text.find(stop);
    body["stop"] = {stop};
    json stopped = json::parse(Post("/v1/completions", body).body);
    EXPECT_EQ(stopped["choices"][0]["text"], text.substr(0, cut));
    EXPECT_EQ(stopped["choices"][0]["finish_reason"], "stop");
    body["stream"] = true;
    int status = 0;
    auto events = PostStream("/v1/completions", body, &status);
    std::string streamed;
    for (auto& e : events) {
      if (e.is_object()) streamed += e["choices"][0].value("text", "");
    }
    EXPECT_EQ(streamed, text.substr(0, cut));
  }
  auto client = http::Client::Create(url_);
  auto models = (*client)->Request("GET", "/v1/models");
  ASSERT_TRUE(models.ok());
  EXPECT_EQ(json::parse(models->body)["data"][0]["id"], "tiny");
}

TEST_F(LmReplicaTest, BadInputIsAClear4xxAndTheReplicaKeepsServing) {
  Start();
  auto bad_json = Post("/v1/chat/completions", json("x"));
  EXPECT_EQ(bad_json.status, 400);
  auto client = http::Client::Create(url_);
  auto raw = (*client)->Request("POST", "/v1/chat/completions", "{oops", {});
  EXPECT_EQ(raw->status, 400);
  EXPECT_EQ(json::parse(raw->body)["error"]["type"], "invalid_request_error");
  json role = {{"messages", {{{"role", "robot"}, {"content", "x"}}}}};
  auto bad_role = Post("/v1/chat/completions", role);
  EXPECT_EQ(bad_role.status, 400);
  EXPECT_EQ(json::parse(bad_role.body)["error"]["param"], "messages[0].role");
  std::string long_text;
  for (int i = 0; i < 600; ++i) long_text += "x ";
  auto too_long = Post("/v1/chat/completions", Chat(long_text, 5));
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(json::parse(too_long.body)["error"]["code"], "context_length_exceeded");
  auto too_many = Post("/v1/chat/completions", Chat("hi", static_cast<int>(testing::kTinyLmContext)));
  EXPECT_EQ(json::parse(too_many.body)["error"]["code"], "context_length_exceeded");
  json penalty = Chat("hi", 3);
  penalty["presence_penalty"] = 0.5;
  EXPECT_EQ(Post("/v1/chat/completions", penalty).status, 400);
  auto ok = Post("/v1/chat/completions", Chat("hi", 3));
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(LmReplicaTest, ConcurrentRequestsShareOneBatch) {
  // A long window: the batch starts once 4 requests are queued, not when the timer fires.
  Start({.max_batch = 4, .window = std::chrono::seconds(20)});
  std::vector<std::thread> threads;
  std::vector<int> statuses(4);
  std::vector<int64_t> completion(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      json body = Chat("hello " + std::to_string(i), 8);
      body["temperature"] = 0.8;
      body["seed"] = i;
      auto res = Post("/v1/chat/completions", body);
      statuses[i] = res.status;
      if (res.status == 200) completion[i] = json::parse(res.body)["usage"]["completion_tokens"];
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(statuses[i], 200);
    EXPECT_GE(completion[i], 1);
  }
  json stats = json::parse(svc_->StatsJson());
  EXPECT_EQ(stats["largest_batch"], 4);
  EXPECT_EQ(stats["batches"], 1);
}

TEST_F(LmReplicaTest, ClientThatGoesAwayCancelsItsGeneration) {
  // One slot: the next request runs only once the abandoned one has left the batch.
  Start({.max_batch = 1});
  // Greedy: sampling at temperature 1 sometimes drew the tiny model's end token within a few
  // tokens, so the stream ended on its own before the client left (~1 run in 10).
  json body = Chat("hello", 400);
  body["stream"] = true;
  auto client = http::Client::Create(url_);
  int chunks = 0;
  auto res = (*client)->Stream("POST", "/v1/chat/completions", body.dump(), {}, nullptr,
                               [&](std::string_view) { return ++chunks < 2; });
  ASSERT_TRUE(res.ok());
  // The replica notices at its next writes and stops; then it serves the next request.
  auto ok = Post("/v1/chat/completions", Chat("hi", 3));
  EXPECT_EQ(ok.status, 200);
  json stats = json::parse(svc_->StatsJson());
  EXPECT_EQ(stats["requests"], 2);
  EXPECT_EQ(stats["stopped_early"], 1) << stats.dump();  // the abandoned stream, not 400 tokens later
  EXPECT_LT(stats["tokens"], 400) << stats.dump();
}

}  // namespace
}  // namespace sskai::serving
