// The `sskai replica` process: loads one model and serves predictions over loopback HTTP.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/log.h"
#include "http/http.h"
#include "ml/ml.h"
#include "serving/serving.h"

namespace sskai::serving {
namespace {

using nlohmann::json;
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

std::string PredictionsJson(const ml::PredictOutput& out) {
  json j;
  if (!out.labels.empty() || !out.classes.empty()) {
    j["predictions"] = out.labels;
    j["probabilities"] = out.probabilities;
    j["classes"] = out.classes;
  } else {
    j["predictions"] = out.values;
  }
  return j.dump();
}

// A bare JSON object that is not an envelope ({"instances"|"inputs"|"rows": ...}) is one row.
std::string NormalizeInput(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.contains("instances") || j.contains("inputs") || j.contains("rows")) {
    return body;
  }
  return json::array({j}).dump();
}

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

  auto engine = ml::LoadEngine();
  if (!engine.ok()) {
    SSKAI_LOG_ERROR("replica: {}", engine.status().ToString());
    return 1;
  }
  auto loaded = (*engine)->LoadPredictor(options.model_path);
  if (!loaded.ok()) {
    SSKAI_LOG_ERROR("replica: cannot load '{}': {}", options.model_path,
                    loaded.status().ToString());
    return 1;
  }
  std::shared_ptr<ml::Predictor> predictor = std::move(*loaded);

  auto router = std::make_shared<http::Router>();
  router->AddSync("GET", "/healthz", [](http::Request&) {
    return http::Response::Json(200, R"({"status":"ok"})");
  });
  router->AddSync("GET", "/metadata", [predictor](http::Request&) {
    return http::Response::Json(200, predictor->metadata_json());
  });
  router->AddSync("POST", "/predict", [predictor](http::Request& req) {
    auto out = predictor->PredictJson(NormalizeInput(req.body));
    if (!out.ok()) return http::ErrorResponse(out.status());
    return http::Response::Json(200, PredictionsJson(*out));
  });

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
  SSKAI_LOG_INFO("replica: serving '{}' on {}:{}", options.model_path, options.host, port);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*server)->Stop();
  SSKAI_LOG_INFO("replica: stopped");
  return 0;
}

}  // namespace sskai::serving
