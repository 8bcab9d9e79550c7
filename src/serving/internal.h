// src/serving/internal.h — state shared by the manager's implementation files (not public).
#pragma once

#include <deque>

#include "common/thread_pool.h"
#include "http/http.h"
#include "serving/serving.h"

namespace sskai::serving {

struct EndpointManager::Replica {
  int64_t id = 0;
  jobs::WorkerHandle handle;
  std::string port_file;
  int port = 0;
  bool ready = false;
  bool loading = false;      // a standby is loading the model (POST /load in flight)
  bool draining = false;     // no new traffic; stopped once in_flight is 0
  bool load_failed = false;  // the standby's /load answered an error
  bool broken = false;       // a request to it failed at the connection: no more traffic
  bool was_ready = false;    // it served at some point (its exit is not a failed start)
  std::string pending_model; // a starting standby taken by a cold start: /load once healthy
  int in_flight = 0;
  int64_t model_version_id = 0;
  TimePoint launched_at{};
  TimePoint stop_sent_at{};
  int64_t usage_id = 0;
  std::shared_ptr<http::ClientPool> pool;
};

struct EndpointManager::Pending {
  std::string body;
  std::string target;
  std::function<void(http::Response)> done;
  TimePoint arrived{};
  TimePoint dispatched{};
  bool waited = false;
};

struct EndpointManager::EndpointRt {
  int64_t id = 0, owner_id = 0;
  std::string name;
  std::string config_json;  // as last parsed
  ServingConfig config;
  std::unique_ptr<Autoscaler> scaler;
  std::vector<std::shared_ptr<Replica>> replicas;
  std::deque<std::shared_ptr<Pending>> queue;
  int failed_starts = 0;
  bool failed = false;
  bool blocked = false;
  std::string blocked_reason;
  TimePoint last_request{};
  bool cold = true;  // no ready replica since the last scale to zero
  EndpointMetrics metrics;
};

// Blocking calls to replicas (/load) run on `pool`; forwarded requests run on `forward`'s io
// thread (async, keep-alive connections per replica).
class EndpointManager::ProxyPool {
 public:
  explicit ProxyPool(int threads) : pool(threads), forward(http::AsyncClient::Options{}) {}
  ThreadPool pool;
  http::AsyncClient forward;
};

// {"error":{"code":"payment_required","message":reason}} with status 402.
http::Response BlockedResponse(const std::string& endpoint, const std::string& reason);

}  // namespace sskai::serving
