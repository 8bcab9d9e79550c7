// Spot simulation (pure) and the execution part of a job's spec.
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "jobs/jobs.h"

namespace sskai::jobs {

namespace {
constexpr double kMonthSeconds = 30.0 * 24 * 3600;
}  // namespace

double BandMonthlyProbability(int band) {
  static const double kMid[] = {0.025, 0.075, 0.125, 0.175, 0.25};
  if (band < 0) return 0;
  return kMid[std::min(band, 4)];
}

double BandRatePerSecond(int band, double acceleration) {
  double p = BandMonthlyProbability(band);
  if (p <= 0) return 0;
  // P(at least one interruption in a month) = 1 - exp(-rate * month).
  return -std::log(1 - p) / kMonthSeconds * std::max(acceleration, 0.0);
}

double NextInterruptionSeconds(const ExecutionSpec& spec, int64_t job_id, int64_t attempt) {
  if (spec.executor != "spot-sim") return 0;
  if (spec.chaos_every_seconds > 0) return spec.chaos_every_seconds;
  if (spec.chaos_after_steps > 0) return 0;  // the worker delivers the step-based notice itself
  double rate = BandRatePerSecond(spec.interruption_band, spec.acceleration);
  if (rate <= 0) return 0;
  std::seed_seq seq{static_cast<uint64_t>(spec.seed), static_cast<uint64_t>(job_id),
                    static_cast<uint64_t>(attempt)};
  std::mt19937_64 rng(seq);
  std::exponential_distribution<double> draw(rate);
  return std::max(draw(rng), 0.001);
}

Result<ExecutionSpec> ParseExecutionSpec(const std::string& spec_json) {
  using nlohmann::json;
  ExecutionSpec out;
  if (spec_json.empty()) return out;
  json j = json::parse(spec_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::InvalidArgument("spec: not a JSON object");
  auto number = [&](const char* key, double lo, double hi, double& into) -> Status {
    if (!j.contains(key) || j[key].is_null()) return Status::Ok();
    if (!j[key].is_number() || j[key].get<double>() < lo || j[key].get<double>() > hi) {
      return Status::InvalidArgument("field '" + std::string(key) + "': expected a number in [" +
                                     json(lo).dump() + ", " + json(hi).dump() + "]");
    }
    into = j[key].get<double>();
    return Status::Ok();
  };
  if (j.contains("executor") && !j["executor"].is_null()) {
    if (!j["executor"].is_string() ||
        (j["executor"] != "local" && j["executor"] != "spot-sim" && j["executor"] != "slurm")) {
      return Status::InvalidArgument("field 'executor': expected 'local', 'spot-sim' or 'slurm'");
    }
    out.executor = j["executor"].get<std::string>();
  }
  if (j.contains("offering") && !j["offering"].is_null()) {
    if (!j["offering"].is_string()) return Status::InvalidArgument("field 'offering': expected a string");
    out.offering = j["offering"].get<std::string>();
  }
  if (j.contains("partition") && !j["partition"].is_null()) {
    if (!j["partition"].is_string() || j["partition"].get<std::string>().empty() ||
        j["partition"].get<std::string>().find_first_of(" \t\n'\"\\;$`") != std::string::npos) {
      return Status::InvalidArgument("field 'partition': expected a Slurm partition name");
    }
    out.partition = j["partition"].get<std::string>();
  }
  double tasks = 1;
  SSKAI_RETURN_IF_ERROR(number("tasks", 1, 64, tasks));
  if (tasks != static_cast<double>(static_cast<int>(tasks))) {
    return Status::InvalidArgument("field 'tasks': expected an integer in [1, 64]");
  }
  out.tasks = static_cast<int>(tasks);
  double band = out.interruption_band, seed = static_cast<double>(out.seed), steps = 0, ck_steps = 0;
  SSKAI_RETURN_IF_ERROR(number("interruption_band", 0, 4, band));
  SSKAI_RETURN_IF_ERROR(number("acceleration", 0.000001, 1e9, out.acceleration));
  SSKAI_RETURN_IF_ERROR(number("notice_seconds", 0, 3600, out.notice_seconds));
  SSKAI_RETURN_IF_ERROR(number("checkpoint_interval_seconds", 0, 86400, out.checkpoint_interval_seconds));
  SSKAI_RETURN_IF_ERROR(number("checkpoint_interval_steps", 0, 1e12, ck_steps));
  if (j.contains("chaos") && !j["chaos"].is_null()) {
    const json& c = j["chaos"];
    if (!c.is_object()) return Status::InvalidArgument("field 'chaos': expected an object");
    json saved = j;
    j = c;
    SSKAI_RETURN_IF_ERROR(number("every_seconds", 0, 1e9, out.chaos_every_seconds).WithPrefix("chaos"));
    SSKAI_RETURN_IF_ERROR(number("after_steps", 0, 1e12, steps).WithPrefix("chaos"));
    SSKAI_RETURN_IF_ERROR(number("seed", 0, 1e15, seed).WithPrefix("chaos"));
    j = saved;
  }
  out.interruption_band = static_cast<int>(band);
  out.seed = static_cast<uint64_t>(seed);
  out.chaos_after_steps = static_cast<int64_t>(steps);
  out.checkpoint_interval_steps = static_cast<int64_t>(ck_steps);
  if (j.contains("command") && !j["command"].is_null()) {
    const json& c = j["command"];
    if (!c.is_array() || c.empty()) {
      return Status::InvalidArgument("field 'command': expected a non-empty array of strings");
    }
    for (const auto& arg : c) {
      if (!arg.is_string()) return Status::InvalidArgument("field 'command': expected strings only");
      out.command.push_back(arg.get<std::string>());
    }
  }
  return out;
}

}  // namespace sskai::jobs
