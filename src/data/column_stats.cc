#include "data/column_stats.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "data/values.h"

namespace sskai::data::internal {

void ColumnStats::Add(std::string_view raw) {
  std::string_view v = Trim(raw);
  if (IsMissing(v)) {
    ++missing_;
    return;
  }
  ++present_;
  int64_t i;
  double d;
  bool b;
  if (all_int_ && !ParseInt64(v, &i)) all_int_ = false;
  if (all_number_) {
    if (ParseDouble(v, &d)) {
      ++numbers_;
      double delta = d - mean_;
      mean_ += delta / numbers_;
      m2_ += delta * (d - mean_);
      min_ = std::min(min_, d);
      max_ = std::max(max_, d);
    } else {
      all_number_ = false;
    }
  }
  if (all_bool_) {
    if (ParseBool(v, &b)) {
      trues_ += b ? 1 : 0;
    } else {
      all_bool_ = false;
    }
  }
  auto it = counts_.find(v);
  if (it != counts_.end()) {
    ++it->second;
  } else if (counts_.size() < kMaxTrackedDistinct) {
    counts_.emplace(std::string(v), 1);
  } else {
    capped_ = true;
  }
}

std::string ColumnStats::Type() const {
  if (present_ == 0) return "string";
  if (all_int_) return "integer";
  if (all_number_) return "number";
  if (all_bool_) return "boolean";
  return "string";
}

double ColumnStats::Stddev() const {
  return numbers_ > 0 ? std::sqrt(m2_ / static_cast<double>(numbers_)) : 0.0;
}

std::vector<std::pair<std::string, int64_t>> ColumnStats::Top(size_t limit) const {
  std::vector<std::pair<std::string, int64_t>> all(counts_.begin(), counts_.end());
  auto order = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  size_t n = std::min(limit, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), order);
  all.resize(n);
  return all;
}

std::string ColumnStats::CanonicalClass(std::string_view raw) const {
  std::string_view v = Trim(raw);
  std::string type = Type();
  if (type == "integer") {
    int64_t i;
    if (ParseInt64(v, &i)) return std::to_string(i);
  } else if (type == "number") {
    double d;
    if (ParseDouble(v, &d)) return FormatNumber(d);
  } else if (type == "boolean") {
    bool b;
    if (ParseBool(v, &b)) return b ? "true" : "false";
  }
  return std::string(v);
}

std::vector<std::pair<std::string, int64_t>> ColumnStats::ClassCounts() const {
  std::map<std::string, int64_t> merged;
  for (const auto& [value, count] : counts_) merged[CanonicalClass(value)] += count;
  std::vector<std::pair<std::string, int64_t>> out(merged.begin(), merged.end());
  if (Numeric()) {
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      double x = 0, y = 0;
      ParseDouble(a.first, &x);
      ParseDouble(b.first, &y);
      return x < y;
    });
  }
  return out;
}

std::string InferTask(const ColumnStats& target, int64_t rows) {
  std::string type = target.Type();
  if (type == "string" || type == "boolean") return "classification";
  if (type == "integer" && !target.distinct_capped() && target.distinct() <= kMaxClassDistinct &&
      target.distinct() * 2 <= rows) {
    return "classification";
  }
  return "regression";
}

}  // namespace sskai::data::internal
