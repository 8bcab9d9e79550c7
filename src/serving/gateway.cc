// The request path of EndpointManager: the activator queue, the proxy to replicas, metrics.
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "serving/batcher.h"
#include "serving/internal.h"
#include "store/store.h"

namespace sskai::serving {

using nlohmann::json;

http::Response BlockedResponse(const std::string& endpoint, const std::string& reason) {
  json body = {{"error",
                {{"code", "payment_required"},
                 {"message", "endpoint '" + endpoint + "' is blocked: " + reason},
                 {"details", {{"reason", reason}}}}}};
  return http::Response::Json(402, body.dump());
}

namespace {
http::Response Shed(const std::string& message) {
  auto resp = http::ErrorResponse(Status::ResourceExhausted(message));
  resp.headers.push_back({"Retry-After", "1"});
  return resp;
}
double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}
}  // namespace

void EndpointManager::Predict(const store::Endpoint& endpoint, std::string body,
                              std::function<void(http::Response)> done, std::string target,
                              bool stream) {
  auto p = std::make_shared<Pending>();
  p->stream = stream;
  p->body = std::move(body);
  p->target = std::move(target);
  p->done = std::move(done);
  p->arrived = clock_.Monotonic();
  bool wake = false;
  std::optional<http::Response> immediate;
  {
    std::lock_guard<std::mutex> lock(mu_);
    EndpointRt& rt = RtFor(endpoint);
    if (rt.blocked || endpoint.state == kBlocked) {
      immediate = BlockedResponse(endpoint.name,
                                  rt.blocked ? rt.blocked_reason : endpoint.reason);
    } else {
      rt.last_request = p->arrived;
      std::shared_ptr<Replica> best = PickReplica(rt, /*under_cap=*/false);
      switch (Admit(rt.config, best ? best->in_flight : 0, best != nullptr,
                    static_cast<int>(rt.queue.size()))) {
        case Admission::kDispatch:
          Dispatch(rt, best, p);
          break;
        case Admission::kQueue:
          p->waited = true;
          rt.queue.push_back(p);
          wake = best == nullptr;
          break;
        case Admission::kReject:
          rt.metrics.requests += 1;
          rt.metrics.errors += 1;
          rt.metrics.rejected += 1;
          immediate = Shed("endpoint '" + rt.name + "' is at capacity (" +
                           std::to_string(rt.queue.size()) + " requests waiting); retry later");
          break;
      }
    }
  }
  if (wake) Kick();
  if (immediate) p->done(std::move(*immediate));
}

void EndpointManager::Dispatch(EndpointRt& rt, std::shared_ptr<Replica> r,
                               std::shared_ptr<Pending> p) {
  r->in_flight += 1;
  p->dispatched = clock_.Monotonic();
  int64_t endpoint_id = rt.id, owner_id = rt.owner_id;
  std::string name = rt.name;
  std::vector<std::pair<std::string, std::string>> headers = {
      {"content-type", "application/json"}};
  if (!r->key.empty()) headers.emplace_back(kReplicaKeyHeader, r->key);
  if (rt.config.max_batch_size > 1) {
    headers.emplace_back(kBatchHeader, std::to_string(rt.config.max_batch_size) + "," +
                                           std::to_string(rt.config.max_batch_delay.count()));
  }
  auto t0 = std::chrono::steady_clock::now();
  auto answered = [this, endpoint_id, owner_id, name, r, p, t0](Result<http::ClientResponse> res) {
    double busy = Seconds(std::chrono::steady_clock::now() - t0);
    http::Response resp;
    if (!res.ok()) {
      if (res.status().code() == StatusCode::kUnavailable) {
        std::lock_guard<std::mutex> lock(mu_);
        r->ready = false;  // the process died or hung up: the rest wait for its replacement
        r->broken = true;
      }
      Kick();
      resp = http::ErrorResponse(Status::Unavailable(
          "the replica of endpoint '" + name + "' failed during the request (" +
          res.status().message() + "); it is being replaced, retry the request"));
      resp.headers.push_back({"Retry-After", "1"});
    } else {
      resp.status = res->status;
      resp.body = std::move(res->body);
      auto ct = res->headers.find("content-type");
      if (ct != res->headers.end()) resp.content_type = std::move(ct->second);
      resp.headers.push_back({"X-Sskai-Model-Version", std::to_string(r->model_version)});
    }
    if (options_.on_request) {
      options_.on_request(endpoint_id, owner_id, busy, resp.status >= 200 && resp.status < 300);
    }
    Finish(endpoint_id, r.get(), *p, std::move(resp));
  };
  if (p->stream) {
    // Streams (LM server-sent events) hold a pooled blocking connection for their whole length.
    auto task = [r, p, answered] { answered(ProxyStream(*r->pool, *p, r->key)); };
    if (!proxy_->pool.Submit(task)) {
      r->in_flight -= 1;
      rt.metrics.requests += 1;
      rt.metrics.errors += 1;
      rt.metrics.rejected += 1;
      auto resp = Shed("too many requests in flight");
      // Answered off the lock: the caller's thread owns `done`.
      std::thread([p, resp] { p->done(resp); }).detach();
    }
    return;
  }
  // Async on the forwarding client's io thread: no thread per hop, the body is moved through.
  proxy_->forward.Request(r->ForwardUrl(), "POST", p->target,
                          std::move(p->body), std::move(headers), std::move(answered),
                          options_.predict_timeout);
}

void EndpointManager::Finish(int64_t endpoint_id, Replica* r, Pending& p, http::Response resp) {
  std::vector<Done> after;
  {
    std::lock_guard<std::mutex> lock(mu_);
    r->in_flight -= 1;
    auto it = endpoints_.find(endpoint_id);
    if (it != endpoints_.end()) {
      EndpointRt& rt = *it->second;
      EndpointMetrics& m = rt.metrics;
      auto now = clock_.Monotonic();
      double latency = Seconds(now - p.arrived);
      m.requests += 1;
      if (resp.status >= 500) m.errors += 1;
      m.latency_sum_s += latency;
      size_t bucket = 0;
      while (bucket < EndpointMetrics::kBuckets &&
             latency * 1000 > EndpointMetrics::kBucketsMs[bucket]) {
        ++bucket;
      }
      m.latency_counts[bucket] += 1;
      if (p.waited) {
        m.queued_total += 1;
        m.queue_sum_s += Seconds(p.dispatched - p.arrived);
      }
      RecordVersion(rt, *r, resp.status, latency);
      DrainQueue(rt, after);
    }
  }
  if (!p.answered) p.done(std::move(resp));
  for (auto& fn : after) fn();
}

void EndpointManager::DrainQueue(EndpointRt& rt, std::vector<Done>& after) {
  (void)after;
  while (!rt.queue.empty()) {
    std::shared_ptr<Replica> best = PickReplica(rt, /*under_cap=*/true);
    if (!best) return;
    auto p = rt.queue.front();
    rt.queue.pop_front();
    Dispatch(rt, best, p);
  }
}

void EndpointManager::FailQueue(EndpointRt& rt, const http::Response& resp,
                                std::vector<Done>& after) {
  for (auto& p : rt.queue) {
    rt.metrics.requests += 1;
    rt.metrics.errors += 1;
    after.push_back([p, resp] { p->done(resp); });
  }
  rt.queue.clear();
}

EndpointMetrics EndpointManager::Metrics(int64_t endpoint_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = endpoints_.find(endpoint_id);
  if (it == endpoints_.end()) return {};
  EndpointRt& rt = *it->second;
  EndpointMetrics m = rt.metrics;
  m.queued = static_cast<int>(rt.queue.size());
  for (auto& r : rt.replicas) {
    m.in_flight += r->in_flight;
    if (r->draining) continue;
    (r->ready ? m.ready : m.starting) += 1;
  }
  return m;
}

std::string EndpointManager::PrometheusText() {
  std::vector<std::pair<std::string, EndpointMetrics>> all;
  {
    std::vector<int64_t> ids;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [id, rt] : endpoints_) ids.push_back(id);
    }
    for (int64_t id : ids) {
      std::string label;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = endpoints_.find(id);
        if (it == endpoints_.end()) continue;
        label = "endpoint=\"" + it->second->name + "\",owner_id=\"" +
                std::to_string(it->second->owner_id) + "\"";
      }
      all.emplace_back(label, Metrics(id));
    }
  }
  std::ostringstream out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int ready = 0;
    for (auto& r : standby_) ready += r->ready ? 1 : 0;
    out << "# HELP sskai_serving_standby_ready Warm-pool replicas ready to take a model.\n"
        << "# TYPE sskai_serving_standby_ready gauge\nsskai_serving_standby_ready " << ready
        << "\n";
    int slurm_ready = 0;
    for (auto& r : slurm_standby_) slurm_ready += r->ready ? 1 : 0;
    out << "# HELP sskai_serving_slurm_standby_ready Standby replica jobs on Slurm ready to take "
           "a model.\n# TYPE sskai_serving_slurm_standby_ready gauge\n"
        << "sskai_serving_slurm_standby_ready " << slurm_ready << "\n";
    if (!slurm_pool_target_.empty()) {
      out << "# HELP sskai_serving_slurm_standby_target Standby replica jobs a Slurm partition's "
             "warm pool aims for (its minimum plus recent replica launches, at most its maximum).\n"
             "# TYPE sskai_serving_slurm_standby_target gauge\n";
      for (const auto& [partition, target] : slurm_pool_target_) {
        out << "sskai_serving_slurm_standby_target{partition=\"" << partition << "\"} " << target
            << "\n";
      }
    }
  }
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    for (auto& [label, m] : all) out << name << "{" << label << "} " << value(m) << "\n";
  };
  family("sskai_endpoint_requests_total", "counter", "Requests answered.",
         [](const EndpointMetrics& m) { return m.requests; });
  family("sskai_endpoint_errors_total", "counter", "Requests answered 5xx or shed.",
         [](const EndpointMetrics& m) { return m.errors; });
  family("sskai_endpoint_rejected_total", "counter", "Requests shed by the activator (429/503).",
         [](const EndpointMetrics& m) { return m.rejected; });
  family("sskai_endpoint_cold_starts_total", "counter", "Scale-ups from zero with requests waiting.",
         [](const EndpointMetrics& m) { return m.cold_starts; });
  family("sskai_endpoint_replicas", "gauge", "Replicas serving (ready).",
         [](const EndpointMetrics& m) { return m.ready; });
  family("sskai_endpoint_replicas_starting", "gauge", "Replicas launched, not yet ready.",
         [](const EndpointMetrics& m) { return m.starting; });
  family("sskai_endpoint_in_flight", "gauge", "Requests at replicas.",
         [](const EndpointMetrics& m) { return m.in_flight; });
  family("sskai_endpoint_queued", "gauge", "Requests waiting for a replica.",
         [](const EndpointMetrics& m) { return m.queued; });
  family("sskai_endpoint_queue_seconds_sum", "counter", "Time requests waited for a replica.",
         [](const EndpointMetrics& m) { return m.queue_sum_s; });
  family("sskai_endpoint_queue_seconds_count", "counter", "Requests that waited for a replica.",
         [](const EndpointMetrics& m) { return m.queued_total; });
  const char* h = "sskai_endpoint_request_duration_seconds";
  out << "# HELP " << h << " Gateway latency (arrival to answer).\n# TYPE " << h << " histogram\n";
  for (auto& [label, m] : all) {
    int64_t cumulative = 0;
    for (size_t b = 0; b <= EndpointMetrics::kBuckets; ++b) {
      cumulative += m.latency_counts[b];
      std::string le = b < EndpointMetrics::kBuckets
                           ? json(EndpointMetrics::kBucketsMs[b] / 1000.0).dump()
                           : "+Inf";
      out << h << "_bucket{" << label << ",le=\"" << le << "\"} " << cumulative << "\n";
    }
    out << h << "_sum{" << label << "} " << m.latency_sum_s << "\n";
    out << h << "_count{" << label << "} " << cumulative << "\n";
  }
  out << RolloutPrometheusText();
  return out.str();
}

}  // namespace sskai::serving
