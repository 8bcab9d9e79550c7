// The `sskai replica` process: loads one model and serves predictions over loopback HTTP.
#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/log.h"
#include "http/http.h"
#include "ml/ml.h"
#include "serving/batcher.h"
#include "serving/internal.h"
#include "serving/lm_service.h"
#include "serving/openai.h"
#include "serving/serving.h"

namespace sskai::serving {
namespace {

using nlohmann::json;
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

class PredictorSlot {
 public:
  std::shared_ptr<ml::Predictor> Get() {
    std::lock_guard<std::mutex> lock(mu_);
    return predictor_;
  }
  void Set(std::shared_ptr<ml::Predictor> p) {
    std::lock_guard<std::mutex> lock(mu_);
    predictor_ = std::move(p);
  }

 private:
  std::mutex mu_;
  std::shared_ptr<ml::Predictor> predictor_;
};

// The language model of an LM replica (set once loaded).
class LmSlot {
 public:
  std::shared_ptr<LmService> Get() {
    std::lock_guard<std::mutex> lock(mu_);
    return service_;
  }
  void Set(std::shared_ptr<LmService> s) {
    std::lock_guard<std::mutex> lock(mu_);
    service_ = std::move(s);
  }

 private:
  std::mutex mu_;
  std::shared_ptr<LmService> service_;
};

bool IsLmDir(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) &&
         std::filesystem::exists(std::filesystem::path(path) / "config.json", ec);
}

bool g_engine_threads_chosen = false;  // SetEngineThreads set OMP_NUM_THREADS

int Cores() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

// Engine threads for predictors. Each HTTP io thread runs its own forward passes, so io
// threads x engine threads should not exceed the cores, or concurrent passes fight over them:
// with the defaults on 2 cores, OpenBLAS's own worker threads spent a fifth of the CNN
// replica's CPU in sched_yield. OMP_NUM_THREADS, set before the engine is loaded, sizes both
// libtorch's OpenMP pool and OpenBLAS's (which reads it when OPENBLAS_NUM_THREADS is unset);
// an explicit environment setting wins.
void SetEngineThreads(const ReplicaOptions& options) {
  int threads = options.torch_threads > 0 ? options.torch_threads
                                           : std::max(1, Cores() / std::max(1, options.threads));
  if (std::getenv("OMP_NUM_THREADS") != nullptr) return;
  ::setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), /*overwrite=*/1);
  g_engine_threads_chosen = true;
}

// A language model runs all its requests in one decode loop: its matrix products get every
// core again (OpenBLAS was sized by SetEngineThreads before the model kind was known).
void SetBlasThreadsForLm(const ReplicaOptions& options) {
  if (!g_engine_threads_chosen || options.torch_threads > 0 ||
      std::getenv("OPENBLAS_NUM_THREADS") != nullptr) {
    return;
  }
  void* blas = ::dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD);
  if (blas == nullptr) return;  // another BLAS, or none loaded
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(::dlsym(blas, "openblas_set_num_threads"))) set(Cores());
  ::dlclose(blas);
}

Result<std::shared_ptr<LmService>> LoadLmService(ml::Engine& engine, const std::string& dir,
                                                 const ReplicaOptions& options) {
  LmService::Options lo;
  lo.served_name = options.served_name;
  lo.batching.max_batch = options.max_batch;
  lo.batching.window = std::chrono::microseconds(options.batch_window_us);
  SSKAI_ASSIGN_OR_RETURN(lo.batching.mode, LmBatcher::ParseMode(options.lm_batching));
  // One decode loop runs all of a language model's requests: it gets every core.
  lo.load.threads = options.torch_threads > 0 ? options.torch_threads : Cores();
  SetBlasThreadsForLm(options);
  SSKAI_ASSIGN_OR_RETURN(auto svc, LmService::Load(engine, dir, lo));
  return std::shared_ptr<LmService>(std::move(svc));
}

http::Response NoLm() {
  return openai::ErrorResponse(
      {404, "this endpoint does not serve a language model (use /predict)", "model", "model_not_found"});
}

// OpenAI-compatible routes; they answer 404 until a language model is loaded.
void AddLmRoutes(http::Router& router, const std::shared_ptr<LmSlot>& lm) {
  router.Add("POST", "/v1/chat/completions", [lm](http::Request& req, http::Responder respond) {
    auto svc = lm->Get();
    if (!svc) return respond(NoLm());
    svc->Chat(req, std::move(respond));
  });
  router.Add("POST", "/v1/completions", [lm](http::Request& req, http::Responder respond) {
    auto svc = lm->Get();
    if (!svc) return respond(NoLm());
    svc->Complete(req, std::move(respond));
  });
  router.AddSync("GET", "/v1/models", [lm](http::Request&) {
    auto svc = lm->Get();
    return svc ? svc->Models() : NoLm();
  });
  router.AddSync("GET", "/v1/lm/stats", [lm](http::Request&) {
    auto svc = lm->Get();
    return svc ? http::Response::Json(200, svc->StatsJson()) : NoLm();
  });
}

// "port" for a loopback replica; "host:port" when it listens for other nodes.
std::string AddressLine(const ReplicaOptions& options, int port) {
  std::string host = options.advertise_host;
  if (host.empty() && options.host != "127.0.0.1") host = options.host;
  if (host == "0.0.0.0" || host == "::") {
    char name[256] = {};
    host = gethostname(name, sizeof(name) - 1) == 0 ? name : "127.0.0.1";
  }
  return host.empty() ? std::to_string(port) : host + ":" + std::to_string(port);
}

Status WritePortFile(const std::string& path, const std::string& line) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << line << "\n";
    if (!out) return Status::Internal("cannot write '" + tmp + "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::Internal("cannot rename '" + tmp + "': " + ec.message());
  return Status::Ok();
}

}  // namespace

int RunReplica(const ReplicaOptions& given) {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  ReplicaOptions options = given;
  if (!options.model_url.empty()) {
    const char* token = std::getenv("SSKAI_TOKEN");
    auto t0 = std::chrono::steady_clock::now();
    auto fetched = FetchReplicaModel(options, token != nullptr ? token : "");
    if (!fetched.ok()) {
      SSKAI_LOG_ERROR("replica: cannot fetch the model: {}", fetched.status().ToString());
      return 1;
    }
    options.model_path = *fetched;
    SSKAI_LOG_INFO("replica: model fetched to {} in {:.1f} ms", *fetched,
                   std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }

  if (!options.standby && options.model_path.empty()) {
    SSKAI_LOG_ERROR("replica: --model is required (or --standby)");
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  SetEngineThreads(options);
  auto engine = ml::LoadEngine();
  if (!engine.ok()) {
    SSKAI_LOG_ERROR("replica: {}", engine.status().ToString());
    return 1;
  }
  auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  SSKAI_LOG_INFO("replica: engine loaded in {:.1f} ms", ms_since(t0));
  // The predictor; a standby replica gets it from POST /load.
  auto slot = std::make_shared<PredictorSlot>();
  auto lm = std::make_shared<LmSlot>();
  if (!options.standby && IsLmDir(options.model_path)) {
    auto t1 = std::chrono::steady_clock::now();
    auto loaded = LoadLmService(**engine, options.model_path, options);
    if (!loaded.ok()) {
      SSKAI_LOG_ERROR("replica: cannot load '{}': {}", options.model_path,
                      loaded.status().ToString());
      return 1;
    }
    lm->Set(std::move(*loaded));
    SSKAI_LOG_INFO("replica: language model loaded in {:.1f} ms", ms_since(t1));
  } else if (!options.standby) {
    auto t1 = std::chrono::steady_clock::now();
    auto loaded = (*engine)->LoadPredictor(options.model_path);
    if (!loaded.ok()) {
      SSKAI_LOG_ERROR("replica: cannot load '{}': {}", options.model_path,
                      loaded.status().ToString());
      return 1;
    }
    slot->Set(std::move(*loaded));
    SSKAI_LOG_INFO("replica: model loaded in {:.1f} ms", ms_since(t1));
  }

  auto router = std::make_shared<http::Router>();
  // Keyed (a Slurm replica): a load order may replace the key (a standby taken by an endpoint).
  auto key = options.key.empty() ? nullptr : std::make_shared<ReplicaKey>(options.key);
  router->AddSync("GET", "/healthz", [](http::Request&) {
    return http::Response::Json(200, R"({"status":"ok"})");
  });
  AddLmRoutes(*router, lm);
  router->AddSync("GET", "/metadata", [slot, lm](http::Request&) {
    if (auto svc = lm->Get()) return http::Response::Json(200, svc->StatsJson());
    auto predictor = slot->Get();
    if (!predictor) return http::ErrorResponse(Status::Unavailable("no model loaded"));
    return http::Response::Json(200, predictor->metadata_json());
  });
  // Requests the gateway marks with kBatchHeader go through the batcher (one forward pass for
  // many requests); the rest run on the io thread that read them.
  // One batch worker per io thread: the io threads sit idle while requests wait in batches.
  auto batcher = std::make_shared<Batcher>([slot] { return slot->Get(); }, options.threads);
  router->Add("POST", "/predict", [slot, lm, batcher](http::Request& req, http::Responder respond) {
    if (lm->Get()) {
      return respond(http::ErrorResponse(Status::InvalidArgument(
          "this endpoint serves a language model: use /v1/chat/completions or /v1/completions")));
    }
    if (auto settings = ParseBatchHeader(req.Header(kBatchHeader))) {
      return batcher->Submit(std::move(req.body), *settings, std::move(respond));
    }
    auto predictor = slot->Get();
    if (!predictor) return respond(http::ErrorResponse(Status::Unavailable("no model loaded")));
    respond(PredictOne(*predictor, req.body));
  });
  if (options.standby) {
    ml::Engine* eng = *engine;
    // Preloading a model pays libtorch's first-use costs now instead of at the cold start.
    auto preloaded = std::make_shared<std::shared_ptr<ml::Predictor>>();
    if (!options.warmup_model.empty()) {
      auto t1 = std::chrono::steady_clock::now();
      auto warm = eng->LoadPredictor(options.warmup_model);
      if (warm.ok()) {
        *preloaded = std::move(*warm);
        SSKAI_LOG_INFO("replica: standby preloaded '{}' in {:.1f} ms", options.warmup_model,
                       ms_since(t1));
      }
    }
    std::string warm_path = options.warmup_model;
    ReplicaOptions opts = options;
    router->AddSync("POST", "/load", [slot, lm, eng, ms_since, preloaded, warm_path, opts,
                                      key](http::Request& req) {
      if (slot->Get() || lm->Get()) {
        return http::ErrorResponse(Status::FailedPrecondition("a model is loaded"));
      }
      auto t1 = std::chrono::steady_clock::now();
      auto order = ParseLoadOrder(req.body, opts);
      if (!order.ok()) return http::ErrorResponse(order.status());
      // The endpoint that took this standby gives it its own key, at once (this answer still
      // goes out): from here on its readiness probe gets 503 until the model is in, not 401,
      // and 401 means "no load order ever arrived" (EndpointManager::CheckReady).
      if (key && !order->key.empty()) key->Set(order->key);
      std::string path = order->model_path;
      if (!order->fetch.model_url.empty()) {  // a Slurm standby: fetch the model first
        auto fetched = FetchReplicaModel(order->fetch, order->token);
        if (!fetched.ok()) return http::ErrorResponse(fetched.status());
        path = *fetched;
        SSKAI_LOG_INFO("replica: standby fetched the model to {} in {:.1f} ms", path, ms_since(t1));
      }
      if (IsLmDir(path)) {
        ReplicaOptions lm_opts = opts;
        if (!order->served_name.empty()) lm_opts.served_name = order->served_name;
        auto loaded = LoadLmService(*eng, path, lm_opts);
        if (!loaded.ok()) return http::ErrorResponse(loaded.status());
        lm->Set(std::move(*loaded));
        SSKAI_LOG_INFO("replica: standby loaded language model '{}' in {:.1f} ms", path, ms_since(t1));
        return http::Response::Json(200, R"({"loaded":true})");
      }
      if (*preloaded && path == warm_path) {
        slot->Set(*preloaded);
        SSKAI_LOG_INFO("replica: standby loaded '{}' in {:.1f} ms (preloaded)", path, ms_since(t1));
        return http::Response::Json(200, R"({"loaded":true})");
      }
      auto loaded = eng->LoadPredictor(path);
      if (!loaded.ok()) return http::ErrorResponse(loaded.status());
      slot->Set(std::move(*loaded));
      SSKAI_LOG_INFO("replica: standby loaded '{}' in {:.1f} ms", path, ms_since(t1));
      return http::Response::Json(200, R"({"loaded":true})");
    });
  }

  http::Server::Options so;
  so.host = options.host;
  so.port = static_cast<uint16_t>(options.port);
  so.io_threads = options.threads;
  so.unix_path = options.unix_socket;
  so.middleware = ReplicaKeyMiddleware(key);  // nullptr without a key
  auto server = http::Server::Create(so, router);
  if (!server.ok()) {
    SSKAI_LOG_ERROR("replica: {}", server.status().ToString());
    return 1;
  }
  int port = (*server)->port();
  if (!options.port_file.empty()) {
    Status st = WritePortFile(options.port_file, AddressLine(options, port));
    if (!st.ok()) {
      SSKAI_LOG_ERROR("replica: {}", st.ToString());
      return 1;
    }
  }
  SSKAI_LOG_INFO("replica: serving '{}' on {}:{}{}",
                 options.standby ? "(standby)" : options.model_path, options.host, port,
                 options.key.empty() ? "" : " (replica key required)");
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*server)->Stop();
  lm->Set(nullptr);  // finishes the running batch
  SSKAI_LOG_INFO("replica: stopped");
  return 0;
}

}  // namespace sskai::serving
