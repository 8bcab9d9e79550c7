// src/data/column_stats.h — streaming per-column type inference and statistics for CSV
// (internal to the data module). Thread-safety: externally synchronized.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sskai::data::internal {

inline constexpr size_t kMaxTrackedDistinct = 1000;  // distinct values counted per column
inline constexpr int64_t kMaxClassDistinct = 50;     // integer targets: classification bound

class ColumnStats {
 public:
  explicit ColumnStats(std::string name) : name_(std::move(name)) {}

  // Adds one raw field (trimmed here); missing spellings count as missing.
  void Add(std::string_view raw);

  const std::string& name() const { return name_; }
  // "integer", "number", "boolean" or "string" (an all-missing column is "string").
  std::string Type() const;
  bool Numeric() const { return Type() == "integer" || Type() == "number"; }
  int64_t present() const { return present_; }
  int64_t missing() const { return missing_; }
  double min() const { return min_; }
  double max() const { return max_; }
  double mean() const { return mean_; }
  double Stddev() const;  // population standard deviation
  // Distinct non-missing values seen (exact below kMaxTrackedDistinct, else a lower bound).
  int64_t distinct() const { return static_cast<int64_t>(counts_.size()); }
  bool distinct_capped() const { return capped_; }
  // The `limit` most frequent values, most frequent first (ties by value).
  std::vector<std::pair<std::string, int64_t>> Top(size_t limit) const;
  // Fraction of present values that are boolean true (boolean columns).
  double TrueFraction() const { return present_ ? static_cast<double>(trues_) / present_ : 0; }

  // Class labels of this column used as a target: values canonicalized (numbers formatted,
  // booleans lower-cased) and merged, sorted numerically for numeric columns, else by text.
  std::vector<std::pair<std::string, int64_t>> ClassCounts() const;
  // The canonical class label of one value of this column (see ClassCounts).
  std::string CanonicalClass(std::string_view raw) const;

 private:
  std::string name_;
  int64_t present_ = 0, missing_ = 0, trues_ = 0;
  bool all_int_ = true, all_number_ = true, all_bool_ = true;
  int64_t numbers_ = 0;
  double mean_ = 0, m2_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view v) const { return std::hash<std::string_view>()(v); }
  };
  std::unordered_map<std::string, int64_t, Hash, std::equal_to<>> counts_;
  bool capped_ = false;
};

// "classification" for string/boolean targets and for integer targets with at most
// kMaxClassDistinct distinct values that are at most half of the rows; else "regression".
std::string InferTask(const ColumnStats& target, int64_t rows);

}  // namespace sskai::data::internal
