// The warm pool's pure decisions (policy.h): parsing `--slurm-warm-pool` and the pool's target.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "serving/policy.h"

namespace sskai::serving {

namespace {

constexpr int kMaxStandbys = 64;  // per partition: a typo should not submit thousands of jobs

// "12" → 12; false unless the whole text is an integer in 0..kMaxStandbys.
bool ParseCount(std::string_view text, int* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && *out >= 0 && *out <= kMaxStandbys;
}

}  // namespace

Result<std::vector<WarmPoolSpec>> ParseWarmPoolSpec(const std::string& text, const std::string& default_partition) {
  std::vector<WarmPoolSpec> out;
  std::set<std::string> seen;
  size_t start = 0;
  for (int index = 1; start <= text.size(); ++index) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string entry = text.substr(start, comma - start);
    start = comma + 1;
    if (entry.empty()) {
      if (text.empty()) break;
      return Status::InvalidArgument("--slurm-warm-pool entry " + std::to_string(index) + " is empty");
    }
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument("--slurm-warm-pool entry " + std::to_string(index) + " ('" + entry + "'): " + why);
    };
    WarmPoolSpec spec;
    std::string_view counts = entry;
    if (size_t eq = entry.find('='); eq != std::string::npos) {
      spec.partition = entry.substr(0, eq);
      if (spec.partition.empty()) return bad("the partition before '=' is empty");
      for (unsigned char c : spec.partition) {
        if (!std::isalnum(c) && c != '_' && c != '-' && c != '.') {
          return bad("a partition name has letters, digits, '_', '-' and '.' only");
        }
      }
      counts = std::string_view(entry).substr(eq + 1);
    } else {
      spec.partition = default_partition;
    }
    std::string_view low = counts, high = counts;
    if (size_t dots = counts.find(".."); dots != std::string_view::npos) {
      low = counts.substr(0, dots);
      high = counts.substr(dots + 2);
    }
    const std::string range = "must be N or N..M, standby counts from 0 to " + std::to_string(kMaxStandbys);
    if (!ParseCount(low, &spec.min) || !ParseCount(high, &spec.max)) return bad(range);
    if (spec.max < spec.min) {
      return bad("the maximum " + std::to_string(spec.max) + " is below the minimum " + std::to_string(spec.min));
    }
    if (!seen.insert(spec.partition).second) {
      return bad(spec.partition.empty() ? "the default partition has a pool already"
                                        : "partition '" + spec.partition + "' has a pool already");
    }
    if (spec.max > 0) out.push_back(std::move(spec));
  }
  return out;
}

int WarmPoolTarget(const WarmPoolSpec& spec, const std::deque<TimePoint>& launches, TimePoint now, Millis window) {
  const auto recent = std::count_if(launches.begin(), launches.end(),
                                    [&](TimePoint t) { return t <= now && now - t < window; });
  return static_cast<int>(std::min<int64_t>(spec.max, spec.min + recent));
}

}  // namespace sskai::serving
