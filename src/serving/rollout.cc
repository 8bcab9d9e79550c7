// Pure rollout decisions: spec parsing, state persistence, traffic split, rollback rule, steps.
#include "serving/rollout.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace sskai::serving {
namespace {

using nlohmann::json;

Status FieldError(const std::string& field, const std::string& message) {
  return Status::InvalidArgument("field '" + field + "': " + message);
}

Result<double> NumberField(const json& obj, const std::string& key, const std::string& path,
                           double min, double max) {
  const json& v = obj.at(key);
  if (!v.is_number()) return FieldError(path, "expected a number");
  double x = v.get<double>();
  if (!(x >= min && x <= max)) {
    return FieldError(path, "must be between " + json(min).dump() + " and " + json(max).dump());
  }
  return x;
}

Result<int64_t> IntField(const json& obj, const std::string& key, const std::string& path,
                         int64_t min, int64_t max) {
  const json& v = obj.at(key);
  if (!v.is_number_integer()) return FieldError(path, "expected an integer");
  int64_t x = v.get<int64_t>();
  if (x < min || x > max) {
    return FieldError(path, "must be between " + std::to_string(min) + " and " +
                                std::to_string(max));
  }
  return x;
}

Result<RollbackPolicy> ParsePolicy(const json& obj) {
  if (!obj.is_object()) return FieldError("rollback", "expected an object");
  RollbackPolicy p;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& k = it.key();
    const std::string path = "rollback." + k;
    if (k == "max_error_rate_delta") {
      SSKAI_ASSIGN_OR_RETURN(p.max_error_rate_delta, NumberField(obj, k, path, 0, 1));
    } else if (k == "max_p95_ratio") {
      SSKAI_ASSIGN_OR_RETURN(p.max_p95_ratio, NumberField(obj, k, path, 1, 1000));
    } else if (k == "p95_slack_ms") {
      SSKAI_ASSIGN_OR_RETURN(p.p95_slack_ms, NumberField(obj, k, path, 0, 600000));
    } else if (k == "min_requests") {
      SSKAI_ASSIGN_OR_RETURN(p.min_requests, IntField(obj, k, path, 1, 1'000'000'000));
    } else if (k == "max_canary_failures") {
      SSKAI_ASSIGN_OR_RETURN(int64_t n, IntField(obj, k, path, 1, 1000));
      p.max_canary_failures = static_cast<int>(n);
    } else {
      return FieldError(path, "unknown rollback setting");
    }
  }
  return p;
}

json PolicyJson(const RollbackPolicy& p) {
  return {{"max_error_rate_delta", p.max_error_rate_delta},
          {"max_p95_ratio", p.max_p95_ratio},
          {"p95_slack_ms", p.p95_slack_ms},
          {"min_requests", p.min_requests},
          {"max_canary_failures", p.max_canary_failures}};
}

json SpecJson(const RolloutSpec& s) {
  return {{"strategy", ToString(s.strategy)},
          {"steps", s.steps},
          {"step_seconds", s.step_seconds},
          {"step_requests", s.step_requests},
          {"rollback", PolicyJson(s.rollback)}};
}

Result<RolloutSpec> SpecFromObject(const json& obj) {
  RolloutSpec s;
  bool steps_given = false;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& k = it.key();
    if (k == "model" || k == "version") continue;
    if (k == "strategy") {
      if (!it->is_string()) return FieldError(k, "expected a string");
      std::string v = it->get<std::string>();
      if (v == "canary") {
        s.strategy = RolloutStrategy::kCanary;
      } else if (v == "blue_green") {
        s.strategy = RolloutStrategy::kBlueGreen;
      } else {
        return FieldError(k, "expected 'canary' or 'blue_green', got '" + v + "'");
      }
    } else if (k == "steps") {
      if (!it->is_array() || it->empty()) return FieldError(k, "expected a non-empty array");
      s.steps.clear();
      int prev = 0;
      for (const json& v : *it) {
        if (!v.is_number_integer()) return FieldError(k, "expected integer percentages");
        int p = v.get<int>();
        if (p < 1 || p > 100) return FieldError(k, "each step must be between 1 and 100");
        if (p <= prev) return FieldError(k, "steps must increase");
        s.steps.push_back(p);
        prev = p;
      }
      steps_given = true;
    } else if (k == "step_seconds") {
      SSKAI_ASSIGN_OR_RETURN(s.step_seconds, NumberField(obj, k, k, 0, 30 * 86400.0));
    } else if (k == "step_requests") {
      SSKAI_ASSIGN_OR_RETURN(s.step_requests, IntField(obj, k, k, 0, 1'000'000'000));
    } else if (k == "rollback") {
      SSKAI_ASSIGN_OR_RETURN(s.rollback, ParsePolicy(*it));
    } else {
      return FieldError(k, "unknown rollout setting");
    }
  }
  if (s.strategy == RolloutStrategy::kBlueGreen) {
    if (steps_given && s.steps != std::vector<int>{100}) {
      return FieldError("steps", "a blue_green rollout switches 0 -> 100 in one step; omit "
                                 "'steps' or use [100]");
    }
    s.steps = {100};
  }
  return s;
}

}  // namespace

std::string_view ToString(RolloutStrategy strategy) {
  return strategy == RolloutStrategy::kCanary ? "canary" : "blue_green";
}

std::string_view ToString(RolloutPhase phase) {
  switch (phase) {
    case RolloutPhase::kRunning: return "running";
    case RolloutPhase::kPromoted: return "promoted";
    case RolloutPhase::kRolledBack: return "rolled_back";
  }
  return "running";
}

Result<RolloutSpec> ParseRolloutSpec(const std::string& json_text) {
  json obj = json_text.empty() ? json::object()
                               : json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded() || !obj.is_object()) {
    return Status::InvalidArgument("rollout: expected a JSON object");
  }
  return SpecFromObject(obj);
}

std::string RolloutStateJson(const RolloutState& s) {
  return json{{"spec", SpecJson(s.spec)},
              {"phase", ToString(s.phase)},
              {"stable_version_id", s.stable_version_id},
              {"canary_version_id", s.canary_version_id},
              {"stable_label", s.stable_label},
              {"canary_label", s.canary_label},
              {"stable_version", s.stable_version},
              {"canary_version", s.canary_version},
              {"step_index", s.step_index},
              {"percent", s.percent},
              {"started_at", s.started_at},
              {"step_started_at", s.step_started_at},
              {"finished_at", s.finished_at},
              {"reason", s.reason}}
      .dump();
}

Result<std::optional<RolloutState>> ParseRolloutState(const std::string& json_text) {
  if (json_text.empty()) return std::optional<RolloutState>();
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("spec") || !j["spec"].is_object()) {
    return Status::InvalidArgument("stored rollout: expected a JSON object with 'spec'");
  }
  RolloutState s;
  SSKAI_ASSIGN_OR_RETURN(s.spec, SpecFromObject(j["spec"]));
  std::string phase = j.value("phase", "running");
  s.phase = phase == "promoted"      ? RolloutPhase::kPromoted
            : phase == "rolled_back" ? RolloutPhase::kRolledBack
                                     : RolloutPhase::kRunning;
  s.stable_version_id = j.value("stable_version_id", int64_t{0});
  s.canary_version_id = j.value("canary_version_id", int64_t{0});
  s.stable_label = j.value("stable_label", "");
  s.canary_label = j.value("canary_label", "");
  s.stable_version = j.value("stable_version", int64_t{0});
  s.canary_version = j.value("canary_version", int64_t{0});
  s.step_index = j.value("step_index", -1);
  s.percent = j.value("percent", 0);
  s.started_at = j.value("started_at", 0.0);
  s.step_started_at = j.value("step_started_at", 0.0);
  s.finished_at = j.value("finished_at", 0.0);
  s.reason = j.value("reason", "");
  return std::optional<RolloutState>(std::move(s));
}

bool TrafficSplitter::NextIsCanary(int percent) {
  percent = std::clamp(percent, 0, 100);
  acc_ += percent;
  if (acc_ >= 100) {
    acc_ -= 100;
    return true;
  }
  return false;
}

void VersionWindow::Record(bool ok, double latency_ms) {
  requests_ += 1;
  errors_ += ok ? 0 : 1;
  latencies_ms_.push_back(latency_ms);
  if (latencies_ms_.size() > kMaxLatencies) latencies_ms_.pop_front();
}

WindowStats VersionWindow::Stats() const {
  WindowStats s;
  s.requests = requests_;
  s.errors = errors_;
  if (!latencies_ms_.empty()) {
    std::vector<double> sorted(latencies_ms_.begin(), latencies_ms_.end());
    size_t rank = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(sorted.size()))) - 1;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(rank),
                     sorted.end());
    s.p95_ms = sorted[rank];
  }
  return s;
}

namespace {
json WindowJson(int64_t requests, int64_t errors, const std::deque<double>& latencies) {
  return {{"requests", requests}, {"errors", errors}, {"latencies_ms", latencies}};
}
}  // namespace

std::string RolloutWindowsJson(const RolloutWindows& w) {
  return json{{"started_at", w.started_at},
              {"stable", WindowJson(w.stable.requests_, w.stable.errors_,
                                    w.stable.latencies_ms_)},
              {"canary", WindowJson(w.canary.requests_, w.canary.errors_,
                                    w.canary.latencies_ms_)},
              {"canary_step_requests", w.canary_step_requests},
              {"canary_failures", w.canary_failures}}
      .dump();
}

Result<RolloutWindows> ParseRolloutWindows(const std::string& json_text) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  auto bad = [](const std::string& what) {
    return Status::InvalidArgument("rollout windows: " + what);
  };
  if (!j.is_object() || !j.contains("started_at") || !j["started_at"].is_number()) {
    return bad("expected an object with started_at");
  }
  RolloutWindows w;
  w.started_at = j["started_at"].get<double>();
  w.canary_step_requests = j.value("canary_step_requests", int64_t{0});
  w.canary_failures = j.value("canary_failures", 0);
  for (auto [key, window] : {std::pair{"stable", &w.stable}, std::pair{"canary", &w.canary}}) {
    if (!j.contains(key) || !j[key].is_object()) return bad(std::string("missing '") + key + "'");
    const json& o = j[key];
    if (!o.value("latencies_ms", json()).is_array()) return bad(std::string(key) + ".latencies_ms");
    window->requests_ = o.value("requests", int64_t{0});
    window->errors_ = o.value("errors", int64_t{0});
    for (const auto& v : o["latencies_ms"]) {
      if (!v.is_number()) return bad(std::string(key) + ".latencies_ms: expected numbers");
      window->latencies_ms_.push_back(v.get<double>());
    }
    while (window->latencies_ms_.size() > VersionWindow::kMaxLatencies) window->latencies_ms_.pop_front();
  }
  return w;
}

std::optional<std::string> RollbackReason(const RollbackPolicy& policy, const WindowStats& stable,
                                          const WindowStats& canary) {
  if (canary.requests < policy.min_requests) return std::nullopt;
  const double delta = canary.ErrorRate() - stable.ErrorRate();
  if (delta > policy.max_error_rate_delta) {
    return "canary error rate " + std::to_string(canary.ErrorRate()) + " vs stable " +
           std::to_string(stable.ErrorRate()) + " (over " + std::to_string(canary.requests) +
           " requests) exceeds the allowed delta " + std::to_string(policy.max_error_rate_delta);
  }
  if (stable.requests > 0 && canary.p95_ms > stable.p95_ms * policy.max_p95_ratio +
                                                 policy.p95_slack_ms) {
    return "canary p95 " + std::to_string(canary.p95_ms) + " ms vs stable " +
           std::to_string(stable.p95_ms) + " ms exceeds ratio " +
           std::to_string(policy.max_p95_ratio);
  }
  return std::nullopt;
}

RolloutAction DecideRollout(const RolloutState& state, const RolloutInputs& in) {
  RolloutAction a;
  if (state.phase != RolloutPhase::kRunning || state.spec.steps.empty()) return a;
  const RolloutSpec& spec = state.spec;
  if (in.canary_failures >= spec.rollback.max_canary_failures) {
    a.kind = RolloutAction::Kind::kRollback;
    a.reason = "canary replicas died " + std::to_string(in.canary_failures) + " times";
    return a;
  }
  // Blue/green sends the green set all traffic at once, so the blue version has no answers from
  // the same period: its latencies were measured under whatever load the machine had before the
  // switch. Comparing p95 across two disjoint periods races with the machine's load (a busy
  // minute after the switch rolls back a healthy green), so blue/green compares error rates and
  // replica deaths only; canaries share the period with the stable version and compare both.
  RollbackPolicy policy = spec.rollback;
  if (spec.strategy == RolloutStrategy::kBlueGreen) {
    policy.max_p95_ratio = std::numeric_limits<double>::infinity();
  }
  if (auto why = RollbackReason(policy, in.stable, in.canary)) {
    a.kind = RolloutAction::Kind::kRollback;
    a.reason = *why;
    return a;
  }
  if (state.step_index < 0) {
    if (!in.canary_ready) return a;
    a.kind = RolloutAction::Kind::kStep;
    a.step_index = 0;
    a.percent = spec.steps[0];
    a.reason = spec.strategy == RolloutStrategy::kBlueGreen
                   ? "green replicas ready: switching all traffic"
                   : "canary ready: first step";
    return a;
  }
  if (in.now - state.step_started_at < spec.step_seconds) return a;
  if (in.canary_step_requests < spec.step_requests) return a;
  const size_t next = static_cast<size_t>(state.step_index) + 1;
  if (next >= spec.steps.size()) {
    a.kind = RolloutAction::Kind::kPromote;
    a.reason = "healthy through every step (" + std::to_string(in.canary.requests) +
               " canary requests, error rate " + std::to_string(in.canary.ErrorRate()) + ")";
    return a;
  }
  a.kind = RolloutAction::Kind::kStep;
  a.step_index = static_cast<int>(next);
  a.percent = spec.steps[next];
  a.reason = "healthy for " + std::to_string(spec.step_seconds) + " s";
  return a;
}

int CanaryReplicas(const RolloutState& state, int stable_desired, int max_replicas) {
  if (state.phase != RolloutPhase::kRunning) return 0;
  int want = state.spec.strategy == RolloutStrategy::kBlueGreen
                 ? stable_desired
                 : static_cast<int>(std::ceil(stable_desired * state.percent / 100.0 - 1e-9));
  return std::clamp(want, 1, std::max(1, max_replicas));
}

}  // namespace sskai::serving
