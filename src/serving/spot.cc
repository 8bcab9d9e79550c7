// Pure spot decisions: settings, simulated reclaim times, market choice (fallback to on-demand).
#include "serving/spot.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "jobs/jobs.h"

namespace sskai::serving {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

Status FieldError(const std::string& key, const std::string& message) {
  return Status::InvalidArgument("field 'spot." + key + "': " + message);
}

Result<int64_t> Int(const json& v, const std::string& key, int64_t min, int64_t max) {
  if (!v.is_number_integer()) return FieldError(key, "expected an integer");
  int64_t x = v.get<int64_t>();
  if (x < min || x > max) {
    return FieldError(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return x;
}

}  // namespace

Result<SpotSettings> ParseSpotSettings(const std::string& text) {
  json obj = text.empty() ? json::object() : json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded() || !obj.is_object()) {
    return Status::InvalidArgument("field 'spot': expected an object");
  }
  SpotSettings s;
  constexpr int64_t kDayMs = 86'400'000;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (k == "offering") {
      if (!v.is_string()) return FieldError(k, "expected a string");
      s.offering = v.get<std::string>();
    } else if (k == "band") {
      SSKAI_ASSIGN_OR_RETURN(int64_t n, Int(v, k, 0, 4));
      s.band = static_cast<int>(n);
    } else if (k == "acceleration") {
      if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() <= 1e9)) {
        return FieldError(k, "expected a number between 0 and 1e9");
      }
      s.acceleration = v.get<double>();
    } else if (k == "notice_ms") {
      SSKAI_ASSIGN_OR_RETURN(int64_t n, Int(v, k, 0, kDayMs));
      s.notice = milliseconds(n);
    } else if (k == "chaos_every_ms") {
      SSKAI_ASSIGN_OR_RETURN(int64_t n, Int(v, k, 0, 30 * kDayMs));
      s.chaos_every = milliseconds(n);
    } else if (k == "unavailable") {
      if (!v.is_boolean()) return FieldError(k, "expected true or false");
      s.unavailable = v.get<bool>();
    } else if (k == "max_preemptions") {
      SSKAI_ASSIGN_OR_RETURN(int64_t n, Int(v, k, 1, 1000000));
      s.max_preemptions = static_cast<int>(n);
    } else if (k == "preemption_window_ms") {
      SSKAI_ASSIGN_OR_RETURN(int64_t n, Int(v, k, 1, 30 * kDayMs));
      s.preemption_window = milliseconds(n);
    } else if (k == "fallback_ms") {
      SSKAI_ASSIGN_OR_RETURN(int64_t n, Int(v, k, 0, 30 * kDayMs));
      s.fallback_for = milliseconds(n);
    } else if (k == "seed") {
      SSKAI_ASSIGN_OR_RETURN(int64_t n, Int(v, k, 0, INT64_MAX));
      s.seed = static_cast<uint64_t>(n);
    } else {
      return FieldError(k, "unknown spot setting");
    }
  }
  if (s.chaos_every.count() > 0 && s.chaos_every <= s.notice) {
    return FieldError("chaos_every_ms", "must be longer than notice_ms (" +
                                            std::to_string(s.notice.count()) + ")");
  }
  return s;
}

std::string SpotSettingsJson(const SpotSettings& s) {
  return json{{"offering", s.offering},
              {"band", s.band},
              {"acceleration", s.acceleration},
              {"notice_ms", s.notice.count()},
              {"chaos_every_ms", s.chaos_every.count()},
              {"unavailable", s.unavailable},
              {"max_preemptions", s.max_preemptions},
              {"preemption_window_ms", s.preemption_window.count()},
              {"fallback_ms", s.fallback_for.count()},
              {"seed", s.seed}}
      .dump();
}

milliseconds SpotInterruptAfter(const SpotSettings& s, int64_t endpoint_id, int64_t replica_id) {
  const milliseconds floor = s.notice + milliseconds(1);
  if (s.chaos_every.count() > 0) return std::max(s.chaos_every, floor);
  double rate = jobs::BandRatePerSecond(s.band, s.acceleration);
  if (rate <= 0) return milliseconds::max();
  std::seed_seq seq{static_cast<uint64_t>(s.seed), static_cast<uint64_t>(endpoint_id),
                    static_cast<uint64_t>(replica_id)};
  std::mt19937_64 rng(seq);
  std::exponential_distribution<double> draw(rate);
  double ms = std::min(draw(rng) * 1000.0, 1e15);
  return std::max(milliseconds(static_cast<int64_t>(ms)), floor);
}

MarketDecision ChooseMarket(const SpotSettings& s,
                            const std::deque<std::chrono::steady_clock::time_point>& preemptions,
                            std::chrono::steady_clock::time_point now) {
  MarketDecision d;
  if (s.unavailable) {
    d.market = Market::kOnDemand;
    d.reason = "spot capacity unavailable";
    return d;
  }
  int recent = 0;
  for (const auto& t : preemptions) recent += now - t < s.preemption_window ? 1 : 0;
  if (recent >= s.max_preemptions && !preemptions.empty() &&
      now - preemptions.back() < s.fallback_for) {
    d.market = Market::kOnDemand;
    d.reason = std::to_string(recent) + " preemptions within " +
               std::to_string(s.preemption_window.count() / 1000) + " s";
  }
  return d;
}

}  // namespace sskai::serving
