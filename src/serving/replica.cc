// The `sskai replica` process: loads one model and serves predictions over loopback HTTP.
#include <signal.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/log.h"
#include "http/http.h"
#include "ml/ml.h"
#include "serving/batcher.h"
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

Status WritePortFile(const std::string& path, int port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
    if (!out) return Status::Internal("cannot write '" + tmp + "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::Internal("cannot rename '" + tmp + "': " + ec.message());
  return Status::Ok();
}

}  // namespace

int RunReplica(const ReplicaOptions& options) {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  if (!options.standby && options.model_path.empty()) {
    SSKAI_LOG_ERROR("replica: --model is required (or --standby)");
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
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
  if (!options.standby) {
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
  router->AddSync("GET", "/healthz", [](http::Request&) {
    return http::Response::Json(200, R"({"status":"ok"})");
  });
  router->AddSync("GET", "/metadata", [slot](http::Request&) {
    auto predictor = slot->Get();
    if (!predictor) return http::ErrorResponse(Status::Unavailable("no model loaded"));
    return http::Response::Json(200, predictor->metadata_json());
  });
  // Requests the gateway marks with kBatchHeader go through the batcher (one forward pass for
  // many requests); the rest run on the io thread that read them.
  auto batcher = std::make_shared<Batcher>([slot] { return slot->Get(); });
  router->Add("POST", "/predict", [slot, batcher](http::Request& req, http::Responder respond) {
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
    router->AddSync("POST", "/load", [slot, eng, ms_since, preloaded, warm_path](http::Request& req) {
      json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || !j.contains("model_path") || !j["model_path"].is_string()) {
        return http::ErrorResponse(Status::InvalidArgument("field 'model_path': expected a string"));
      }
      if (slot->Get()) return http::ErrorResponse(Status::FailedPrecondition("a model is loaded"));
      auto t1 = std::chrono::steady_clock::now();
      std::string path = j["model_path"].get<std::string>();
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
  auto server = http::Server::Create(so, router);
  if (!server.ok()) {
    SSKAI_LOG_ERROR("replica: {}", server.status().ToString());
    return 1;
  }
  int port = (*server)->port();
  if (!options.port_file.empty()) {
    Status st = WritePortFile(options.port_file, port);
    if (!st.ok()) {
      SSKAI_LOG_ERROR("replica: {}", st.ToString());
      return 1;
    }
  }
  SSKAI_LOG_INFO("replica: serving '{}' on {}:{}", options.standby ? "(standby)" : options.model_path,
                 options.host, port);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*server)->Stop();
  SSKAI_LOG_INFO("replica: stopped");
  return 0;
}

}  // namespace sskai::serving
