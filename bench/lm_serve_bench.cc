// Decode batching of an LM replica, two parts:
//  1. closed loop over real HTTP: tokens/s at 1, 4 and 16 concurrent streamed /v1/completions
//     clients for unbatched (max_batch 1), static and continuous batching (max_batch 16);
//  2. open loop at the scheduler (LmBatcher, no HTTP): `--requests` requests arrive every
//     `--arrival-ms` ms whatever the replica's state, with mixed prompt lengths and mixed
//     max_tokens (alternately tokens/2 and tokens*2); time to first token (submit -> first
//     token callback) and per-request latency (submit -> done) p50/p95, for the same three.
//   SSKAI_ML_LIBRARY=build/apps/sskai/libsskai_ml.so build/bench/lm_serve_bench
//       [--hidden 256 --layers 4 --tokens 32 --threads 1 --requests 32 --arrival-ms 20 --skip-closed 0
//        --skip-unbatched 0]
// The model is Llama-shaped with random weights and the byte-level test tokenizer.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <unistd.h>
#include <string>
#include <thread>
#include <vector>

#include "http/http.h"
#include "ml/ml.h"
#include "serving/lm_batcher.h"
#include "serving/lm_service.h"
#include "testing/tiny_lm.h"

using namespace sskai;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Variant {
  const char* name;
  int max_batch;
  serving::LmBatcher::Mode mode;
};
const Variant kVariants[] = {{"unbatched", 1, serving::LmBatcher::Mode::kContinuous},
                             {"static", 16, serving::LmBatcher::Mode::kStatic},
                             {"continuous", 16, serving::LmBatcher::Mode::kContinuous}};

serving::LmBatcher::Options Batching(const Variant& v) {
  serving::LmBatcher::Options o;
  o.max_batch = v.max_batch;
  o.mode = v.mode;
  o.window = std::chrono::milliseconds(v.max_batch > 1 ? 5 : 0);
  return o;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// tokens/s of `streams` concurrent streamed clients over HTTP; *largest = the largest batch.
double ClosedLoop(ml::Engine& engine, const std::string& dir, const Variant& v, int streams, int tokens,
                  int threads, int* largest) {
  serving::LmService::Options o;
  o.served_name = "bench";
  o.batching = Batching(v);
  o.load.threads = threads;
  auto svc = serving::LmService::Load(engine, dir, o);
  if (!svc.ok()) return std::fprintf(stderr, "%s\n", svc.status().ToString().c_str()), 0;
  auto router = std::make_shared<http::Router>();
  serving::LmService* s = svc->get();
  router->Add("POST", "/v1/completions", [s](http::Request& req, http::Responder r) { s->Complete(req, std::move(r)); });
  http::Server::Options so;
  so.io_threads = 2;
  auto server = http::Server::Create(so, router);
  std::string url = "http://127.0.0.1:" + std::to_string((*server)->port());
  std::vector<int64_t> per(streams, 0);
  auto t0 = SteadyClock::now();
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
  double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  int64_t generated = 0;
  for (int64_t n : per) generated += n;
  *largest = json::parse((*svc)->StatsJson())["largest_batch"];
  (*server)->Stop();
  return static_cast<double>(generated) / secs;
}

struct OpenLoopResult {
  std::vector<double> ttft_ms, latency_ms;
  double tokens_per_s = 0;
  int largest = 0;
  int64_t joined = 0;
  int64_t prefills = 0;  // Add calls (newcomers prefilled together count once)
};

OpenLoopResult OpenLoop(ml::LanguageModel& lm, const Variant& v, int requests, double arrival_ms, int tokens) {
  std::mt19937_64 rng(7);
  std::vector<ml::GenerateRequest> reqs(requests);
  for (int i = 0; i < requests; ++i) {
    int prompt_len = 4 + static_cast<int>(rng() % 36);
    for (int t = 0; t < prompt_len; ++t) reqs[i].prompt.push_back(static_cast<int64_t>(rng() % 256));
    reqs[i].sampling.max_tokens = i % 2 == 0 ? std::max(1, tokens / 2) : tokens * 2;
    reqs[i].sampling.temperature = 0.8;
    reqs[i].sampling.seed = static_cast<uint64_t>(i);
  }
  std::vector<SteadyClock::time_point> submitted(requests), first(requests), done(requests);
  std::vector<std::promise<void>> finished(requests);
  int64_t generated = 0;
  OpenLoopResult out;
  {
    serving::LmBatcher batcher(lm, Batching(v));
    auto t0 = SteadyClock::now();
    for (int i = 0; i < requests; ++i) {
      std::this_thread::sleep_until(t0 + std::chrono::microseconds(static_cast<int64_t>(i * arrival_ms * 1000)));
      serving::LmBatcher::Job job;
      job.request = reqs[i];
      job.on_token = [&, i, n = 0](int64_t) mutable {
        if (n++ == 0) first[i] = SteadyClock::now();
        return true;
      };
      job.on_done = [&, i](Result<ml::GenerateResult> r) {
        done[i] = SteadyClock::now();
        if (r.ok()) generated += static_cast<int64_t>(r->tokens.size());  // scheduler thread only
        finished[i].set_value();
      };
      submitted[i] = SteadyClock::now();
      batcher.Submit(std::move(job));
    }
    for (auto& f : finished) f.get_future().wait();
    double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    out.tokens_per_s = static_cast<double>(generated) / secs;
    out.largest = batcher.stats().largest_batch;
    out.joined = batcher.stats().joined_running;
    out.prefills = batcher.stats().batches;
  }
  for (int i = 0; i < requests; ++i) {
    out.ttft_ms.push_back(std::chrono::duration<double, std::milli>(first[i] - submitted[i]).count());
    out.latency_ms.push_back(std::chrono::duration<double, std::milli>(done[i] - submitted[i]).count());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int hidden = 256, layers = 4, tokens = 32, threads = 1, requests = 32, skip_closed = 0, skip_unbatched = 0;
  double arrival_ms = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    double v = std::atof(argv[i + 1]);
    if (k == "--hidden") hidden = static_cast<int>(v);
    if (k == "--layers") layers = static_cast<int>(v);
    if (k == "--tokens") tokens = static_cast<int>(v);
    if (k == "--threads") threads = static_cast<int>(v);
    if (k == "--requests") requests = static_cast<int>(v);
    if (k == "--arrival-ms") arrival_ms = v;
    if (k == "--skip-closed") skip_closed = static_cast<int>(v);
    if (k == "--skip-unbatched") skip_unbatched = static_cast<int>(v);  // open loop only
  }
  auto engine = ml::LoadEngine();
  if (!engine.ok()) return std::fprintf(stderr, "%s\n", engine.status().ToString().c_str()), 1;
  std::string dir = (std::filesystem::temp_directory_path() / ("sskai_lm_serve_bench_" + std::to_string(getpid()))).string();
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
  std::printf("model: %lld parameters, %d engine thread(s)\n", static_cast<long long>((*lm)->NumParameters()), threads);

  if (!skip_closed) {
    std::printf("\nclosed loop over HTTP, %d new tokens per request: tok/s (largest batch)\n", tokens);
    std::printf("| streams | unbatched | static | continuous |\n|---|---|---|---|\n");
    for (int streams : {1, 4, 16}) {
      std::printf("| %d |", streams);
      for (const auto& v : kVariants) {
        int largest = 0;
        double rate = ClosedLoop(**engine, dir, v, streams, tokens, threads, &largest);
        std::printf(" %.1f (%d) |", rate, largest);
        std::fflush(stdout);
      }
      std::printf("\n");
    }
  }

  std::printf("\nopen loop at the scheduler: %d requests, one every %.1f ms, max_tokens %d/%d alternately\n",
              requests, arrival_ms, std::max(1, tokens / 2), tokens * 2);
  std::printf("| batching | TTFT p50 ms | TTFT p95 ms | latency p50 ms | latency p95 ms | tok/s | largest batch | joined running | prefills |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& v : kVariants) {
    if (skip_unbatched && v.max_batch == 1) continue;
    OpenLoopResult r = OpenLoop(**lm, v, requests, arrival_ms, tokens);
    std::printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %lld | %lld |\n", v.name, Percentile(r.ttft_ms, 0.5),
                Percentile(r.ttft_ms, 0.95), Percentile(r.latency_ms, 0.5), Percentile(r.latency_ms, 0.95),
                r.tokens_per_s, r.largest, static_cast<long long>(r.joined), static_cast<long long>(r.prefills));
    std::fflush(stdout);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
