// Decode batching of an LM replica: tokens/s at 1, 4 and 16 concurrent streams, batched
// (max_batch 16) vs unbatched (max_batch 1), over real HTTP to the replica's OpenAI route.
//   SSKAI_ML_LIBRARY=build/apps/sskai/libsskai_ml.so build/bench/lm_serve_bench
//       [--hidden 256 --layers 4 --tokens 32 --threads 1]
// The model is Llama-shaped with random weights and the byte-level test tokenizer; tokens/s
// counts the completion tokens the replica reports (usage), over the wall time of all streams.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "http/http.h"
#include "ml/ml.h"
#include "serving/lm_service.h"
#include "testing/tiny_lm.h"

using namespace sskai;
using nlohmann::json;

int main(int argc, char** argv) {
  int hidden = 256, layers = 4, tokens = 32, threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (k == "--hidden") hidden = v;
    if (k == "--layers") layers = v;
    if (k == "--tokens") tokens = v;
    if (k == "--threads") threads = v;
  }
  auto engine = ml::LoadEngine();
  if (!engine.ok()) return std::fprintf(stderr, "%s\n", engine.status().ToString().c_str()), 1;
  std::string dir = (std::filesystem::temp_directory_path() / "sskai_lm_serve_bench").string();
  std::filesystem::remove_all(dir);
  ml::LmConfig c;
  c.vocab_size = testing::kTinyLmVocab;
  c.hidden_size = hidden;
  c.intermediate_size = hidden * 8 / 3;
  c.num_hidden_layers = layers;
  c.num_attention_heads = hidden / 32;
  c.num_key_value_heads = hidden / 64;
  c.head_dim = 32;
  c.max_position_embeddings = 512;
  ml::LmLoadOptions lo;
  lo.threads = threads;
  auto lm = (*engine)->CreateLm(c, 1, lo);
  if (!lm.ok()) return std::fprintf(stderr, "%s\n", lm.status().ToString().c_str()), 1;
  if (Status st = (*lm)->Save(dir, {}); !st.ok()) return std::fprintf(stderr, "%s\n", st.ToString().c_str()), 1;
  testing::TinyLmWrite(std::filesystem::path(dir) / "tokenizer.json", testing::TinyLmTokenizerJson());
  std::printf("model: %lld parameters, %d new tokens per request, %d engine thread(s)\n",
              static_cast<long long>((*lm)->NumParameters()), tokens, threads);
  std::printf("| streams | unbatched tok/s | batched tok/s | speed-up | largest batch |\n|---|---|---|---|---|\n");
  for (int streams : {1, 4, 16}) {
    double rate[2] = {0, 0};
    int largest = 0;
    for (int batched = 0; batched < 2; ++batched) {
      serving::LmService::Options o;
      o.served_name = "bench";
      o.batching.max_batch = batched ? 16 : 1;
      o.batching.window = std::chrono::milliseconds(batched ? 5 : 0);
      o.load.threads = threads;
      auto svc = serving::LmService::Load(**engine, dir, o);
      if (!svc.ok()) return std::fprintf(stderr, "%s\n", svc.status().ToString().c_str()), 1;
      auto router = std::make_shared<http::Router>();
      serving::LmService* s = svc->get();
      router->Add("POST", "/v1/completions",
                  [s](http::Request& req, http::Responder r) { s->Complete(req, std::move(r)); });
      http::Server::Options so;
      so.io_threads = 2;
      auto server = http::Server::Create(so, router);
      std::string url = "http://127.0.0.1:" + std::to_string((*server)->port());
      int64_t generated = 0;
      std::vector<int64_t> per(streams, 0);
      auto t0 = std::chrono::steady_clock::now();
      std::vector<std::thread> clients;
      for (int i = 0; i < streams; ++i) {
        clients.emplace_back([&, i] {
          auto client = http::Client::Create(url, {.timeout = std::chrono::minutes(10)});
          json body = {{"prompt", "hello the world " + std::to_string(i)},
                       {"max_tokens", tokens}, {"temperature", 0.7}, {"seed", i}, {"stream", true},
                       {"stream_options", {{"include_usage", true}}}};
          std::string raw;
          auto res = (*client)->Stream("POST", "/v1/completions", body.dump(), {}, nullptr,
                                       [&](std::string_view d) { return raw.append(d), true; });
          size_t at = raw.rfind("data: {");
          if (!res.ok() || at == std::string::npos) return;
          json usage = json::parse(raw.substr(at + 6, raw.find("\n\n", at) - at - 6), nullptr, false);
          if (usage.is_object() && usage.contains("usage")) per[i] = usage["usage"]["completion_tokens"];
        });
      }
      for (auto& t : clients) t.join();
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (int64_t n : per) generated += n;
      rate[batched] = static_cast<double>(generated) / secs;
      if (batched) largest = json::parse((*svc)->StatsJson())["largest_batch"];
      (*server)->Stop();
    }
    std::printf("| %d | %.1f | %.1f | %.2fx | %d |\n", streams, rate[0], rate[1], rate[1] / rate[0], largest);
    std::fflush(stdout);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
