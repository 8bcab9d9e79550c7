// Pure serving decisions: configuration parsing, the autoscaler, activator admission.
#include "serving/policy.h"

#include <algorithm>
#include <cmath>
#include <cctype>
#include <nlohmann/json.hpp>

namespace sskai::serving {
namespace {

using nlohmann::json;

Status FieldError(const std::string& field, const std::string& message) {
  return Status::InvalidArgument("field '" + field + "': " + message);
}

Result<int64_t> IntOf(const json& obj, const std::string& key, int64_t min, int64_t max) {
  const json& v = obj.at(key);
  if (!v.is_number_integer()) return FieldError(key, "expected an integer");
  int64_t x = v.get<int64_t>();
  if (x < min || x > max) {
    return FieldError(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return x;
}

Result<double> NumberOf(const json& obj, const std::string& key, double min, double max) {
  const json& v = obj.at(key);
  if (!v.is_number()) return FieldError(key, "expected a number");
  double x = v.get<double>();
  if (!(x >= min && x <= max)) {
    return FieldError(key, "must be between " + json(min).dump() + " and " + json(max).dump());
  }
  return x;
}

// "batching": {"max_batch_size": 1..1024, "max_delay_ms": 0..1000}; null = off.
Status ParseBatching(const json& b, ServingConfig* c) {
  if (b.is_null()) return Status::Ok();
  if (!b.is_object()) return FieldError("batching", "expected an object {max_batch_size, max_delay_ms}");
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (it.key() != "max_batch_size" && it.key() != "max_delay_ms") {
      return FieldError("batching." + it.key(), "unknown batching setting");
    }
  }
  auto field = [&b](const char* key, int64_t min, int64_t max, int64_t* out) -> Status {
    if (!b.contains(key)) return Status::Ok();
    const json& v = b.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max) {
      return FieldError(std::string("batching.") + key, "expected an integer between " +
                                                         std::to_string(min) + " and " +
                                                         std::to_string(max));
    }
    *out = v.get<int64_t>();
    return Status::Ok();
  };
  int64_t size = c->max_batch_size, delay = c->max_batch_delay.count();
  SSKAI_RETURN_IF_ERROR(field("max_batch_size", 1, 1024, &size));
  SSKAI_RETURN_IF_ERROR(field("max_delay_ms", 0, 1000, &delay));
  c->max_batch_size = static_cast<int>(size);
  c->max_batch_delay = Millis(delay);
  return Status::Ok();
}

Status ParsePlacement(const json& obj, ServingConfig* c) {
  if (obj.contains("executor")) {
    if (!obj["executor"].is_string()) return FieldError("executor", "expected a string");
    c->executor = obj["executor"].get<std::string>();
    if (c->executor != "" && c->executor != "local" && c->executor != "slurm") {
      return FieldError("executor", "expected 'local' or 'slurm', got '" + c->executor + "'");
    }
  }
  if (obj.contains("partition")) {
    if (!obj["partition"].is_string()) return FieldError("partition", "expected a string");
    c->partition = obj["partition"].get<std::string>();
    for (char ch : c->partition) {
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) {
        return FieldError("partition", "expected a Slurm partition name ([A-Za-z0-9._-])");
      }
    }
  }
  if (!c->partition.empty() && c->executor == "local") {
    return FieldError("partition", "only Slurm replicas have a partition (executor is 'local')");
  }
  return Status::Ok();
}

Result<ServingConfig> FromObject(const json& obj) {
  static const char* kKnown[] = {"mode", "min_replicas", "max_replicas", "replicas",
                                 "target_concurrency", "replica_concurrency", "stable_window_ms",
                                 "panic_window_ms", "panic_threshold", "scale_down_delay_ms",
                                 "idle_timeout_ms", "queue_limit", "queue_timeout_ms", "spot", "batching",
                                 "executor", "partition"};
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(std::begin(kKnown), std::end(kKnown), it.key()) == std::end(kKnown)) {
      return FieldError(it.key(), "unknown serving setting");
    }
  }
  ServingConfig c;
  if (obj.contains("mode")) {
    if (!obj["mode"].is_string()) return FieldError("mode", "expected a string");
    c.mode = obj["mode"].get<std::string>();
  }
  if (c.mode != "serverless" && c.mode != "dedicated" && c.mode != "spot") {
    return FieldError("mode", "expected 'serverless', 'dedicated' or 'spot', got '" + c.mode + "'");
  }
  if (obj.contains("spot")) {
    if (!obj["spot"].is_object()) return FieldError("spot", "expected an object");
    SSKAI_ASSIGN_OR_RETURN(c.spot, ParseSpotSettings(obj["spot"].dump()));
  }
  c.min_replicas = c.mode == "serverless" ? 0 : 1;
  auto ms = [&](const char* key, Millis* out, int64_t min, int64_t max) -> Status {
    if (!obj.contains(key)) return Status::Ok();
    SSKAI_ASSIGN_OR_RETURN(int64_t v, IntOf(obj, key, min, max));
    *out = Millis(v);
    return Status::Ok();
  };
  if (obj.contains("replicas")) {
    SSKAI_ASSIGN_OR_RETURN(int64_t n, IntOf(obj, "replicas", 0, 64));
    c.min_replicas = c.max_replicas = static_cast<int>(n);
  }
  if (obj.contains("min_replicas")) {
    SSKAI_ASSIGN_OR_RETURN(int64_t n, IntOf(obj, "min_replicas", 0, 64));
    c.min_replicas = static_cast<int>(n);
  }
  if (obj.contains("max_replicas")) {
    SSKAI_ASSIGN_OR_RETURN(int64_t n, IntOf(obj, "max_replicas", 1, 64));
    c.max_replicas = static_cast<int>(n);
  }
  if (obj.contains("target_concurrency")) {
    SSKAI_ASSIGN_OR_RETURN(c.target_concurrency, NumberOf(obj, "target_concurrency", 0.01, 1e6));
  }
  if (obj.contains("replica_concurrency")) {
    SSKAI_ASSIGN_OR_RETURN(int64_t n, IntOf(obj, "replica_concurrency", 1, 100000));
    c.replica_concurrency = static_cast<int>(n);
  }
  if (obj.contains("panic_threshold")) {
    SSKAI_ASSIGN_OR_RETURN(c.panic_threshold, NumberOf(obj, "panic_threshold", 1.0, 1000));
  }
  if (obj.contains("queue_limit")) {
    SSKAI_ASSIGN_OR_RETURN(int64_t n, IntOf(obj, "queue_limit", 0, 1000000));
    c.queue_limit = static_cast<int>(n);
  }
  if (obj.contains("batching")) SSKAI_RETURN_IF_ERROR(ParseBatching(obj["batching"], &c));
  SSKAI_RETURN_IF_ERROR(ParsePlacement(obj, &c));
  constexpr int64_t kDay = 86'400'000;
  SSKAI_RETURN_IF_ERROR(ms("stable_window_ms", &c.stable_window, 1, kDay));
  SSKAI_RETURN_IF_ERROR(ms("panic_window_ms", &c.panic_window, 1, kDay));
  SSKAI_RETURN_IF_ERROR(ms("scale_down_delay_ms", &c.scale_down_delay, 0, kDay));
  SSKAI_RETURN_IF_ERROR(ms("idle_timeout_ms", &c.idle_timeout, 1, 30 * kDay));
  SSKAI_RETURN_IF_ERROR(ms("queue_timeout_ms", &c.queue_timeout, 1, 600'000));
  if ((c.mode == "dedicated" || c.mode == "spot") && c.min_replicas < 1) {
    return FieldError("min_replicas", "a dedicated endpoint keeps at least 1 replica; use mode "
                                      "'serverless' to scale to zero");
  }
  if (c.mode == "serverless" && c.min_replicas != 0) {
    return FieldError("min_replicas", "a serverless endpoint scales to zero (min 0); use mode "
                                      "'dedicated' to keep replicas");
  }
  if (c.max_replicas < std::max(c.min_replicas, 1)) {
    return FieldError("max_replicas",
                      "must be >= min_replicas (" + std::to_string(c.min_replicas) + ")");
  }
  if (c.panic_window > c.stable_window) {
    return FieldError("panic_window_ms", "must be <= stable_window_ms");
  }
  return c;
}

Result<json> ParseObjectText(const std::string& text) {
  if (text.empty()) return json::object();
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("serving config: expected a JSON object");
  }
  return j;
}

}  // namespace

Result<ServingConfig> ParseServingConfig(const std::string& json_text) {
  SSKAI_ASSIGN_OR_RETURN(json obj, ParseObjectText(json_text));
  obj.erase("plan");  // a stored endpoint config also records the plan it was created from
  return FromObject(obj);
}

Result<ServingConfig> PatchServingConfig(const ServingConfig& base, const std::string& patch_json) {
  SSKAI_ASSIGN_OR_RETURN(json patch, ParseObjectText(patch_json));
  json merged = json::parse(ServingConfigJson(base));
  if (patch.contains("mode") && patch["mode"] != merged["mode"]) merged.erase("min_replicas");
  if (patch.contains("replicas")) {
    merged.erase("min_replicas");
    merged.erase("max_replicas");
  }
  for (auto it = patch.begin(); it != patch.end(); ++it) merged[it.key()] = it.value();
  return FromObject(merged);
}

std::string ServingConfigJson(const ServingConfig& c) {
  json out = json{{"mode", c.mode},
              {"min_replicas", c.min_replicas},
              {"max_replicas", c.max_replicas},
              {"target_concurrency", c.target_concurrency},
              {"replica_concurrency", c.replica_concurrency},
              {"stable_window_ms", c.stable_window.count()},
              {"panic_window_ms", c.panic_window.count()},
              {"panic_threshold", c.panic_threshold},
              {"scale_down_delay_ms", c.scale_down_delay.count()},
              {"idle_timeout_ms", c.idle_timeout.count()},
              {"queue_limit", c.queue_limit},
              {"queue_timeout_ms", c.queue_timeout.count()},
              {"batching",
               {{"max_batch_size", c.max_batch_size},
                {"max_delay_ms", c.max_batch_delay.count()}}}};
  if (c.mode == "spot") out["spot"] = json::parse(SpotSettingsJson(c.spot));
  if (!c.executor.empty()) out["executor"] = c.executor;
  if (!c.partition.empty()) out["partition"] = c.partition;
  return out.dump();
}

double Autoscaler::Average(TimePoint now, Millis window) const {
  double sum = 0;
  int n = 0;
  for (auto it = samples_.rbegin(); it != samples_.rend() && now - it->first < window; ++it) {
    sum += it->second;
    ++n;
  }
  return n == 0 ? 0.0 : sum / n;
}

AutoscaleDecision Autoscaler::Decide(const AutoscaleSnapshot& s) {
  const ServingConfig& c = config_;
  const int concurrency = s.in_flight + s.queued;
  samples_.emplace_back(s.now, concurrency);
  while (!samples_.empty() && s.now - samples_.front().first >= c.stable_window) {
    samples_.pop_front();
  }
  const double stable = Average(s.now, c.stable_window);
  const double panic = Average(s.now, c.panic_window);
  const int want_stable = static_cast<int>(std::ceil(stable / c.target_concurrency - 1e-9));
  const int want_panic = static_cast<int>(std::ceil(panic / c.target_concurrency - 1e-9));
  const int current = s.ready + s.starting;

  AutoscaleDecision d;
  if (s.ready > 0 && panic / c.target_concurrency >= c.panic_threshold * s.ready) {
    if (!panicking_) d.reason = "panic: burst over " + std::to_string(s.ready) + " ready";
    panicking_ = true;
    panic_until_ = s.now + c.stable_window;
  } else if (panicking_ && s.now >= panic_until_) {
    panicking_ = false;
  }
  int raw = panicking_ ? std::max(want_panic, current) : want_stable;
  recent_.emplace_back(s.now, raw);
  while (!recent_.empty() && s.now - recent_.front().first > c.scale_down_delay) {
    recent_.pop_front();
  }
  int desired = raw;
  for (const auto& [t, v] : recent_) desired = std::max(desired, v);
  if (d.reason.empty()) d.reason = "concurrency " + std::to_string(stable) + " over the stable window";

  if (c.min_replicas == 0) {
    bool never = s.last_request.time_since_epoch().count() == 0;
    bool idle = concurrency == 0 && (never || s.now - s.last_request >= c.idle_timeout);
    if (idle) {
      desired = 0;
      d.reason = "idle";
    } else {
      desired = std::max(desired, 1);
    }
  }
  if (concurrency > 0 && current == 0) d.reason = "activation";
  if (concurrency > 0 && desired < 1) {
    desired = 1;
    d.reason = "activation";
  }
  d.desired = std::clamp(desired, c.min_replicas, c.max_replicas);
  d.panic = panicking_;
  return d;
}

Admission Admit(const ServingConfig& config, int least_loaded_in_flight, bool any_ready,
                int queued) {
  if (any_ready && least_loaded_in_flight < config.replica_concurrency) return Admission::kDispatch;
  if (queued < config.queue_limit) return Admission::kQueue;
  return Admission::kReject;
}

}  // namespace sskai::serving
