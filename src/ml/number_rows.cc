// src/ml/number_rows.cc — strict reader of numeric predict rows (see number_rows.h).
#include "ml/number_rows.h"

#include <charconv>
#include <cmath>

namespace sskai::ml {

namespace {

constexpr int kMaxDepth = 8;
constexpr int kMaxIntegerDigits = 15;  // longer integers take the general path (exact int → float rounding)

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool Peek(char c) {
    SkipSpace();
    return i_ < s_.size() && s_[i_] == c;
  }
  bool AtEnd() {
    SkipSpace();
    return i_ == s_.size();
  }

  // A key string without escapes.
  bool Key(std::string_view* key) {
    if (!Eat('"')) return false;
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\' || static_cast<unsigned char>(s_[i_]) < 0x20) return false;
      ++i_;
    }
    if (i_ == s_.size()) return false;
    *key = s_.substr(start, i_ - start);
    ++i_;
    return true;
  }

  // One JSON number (strict grammar: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?).
  bool Number(float* out) {
    SkipSpace();
    const size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    const size_t int_start = i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else {
      if (i_ == s_.size() || s_[i_] < '1' || s_[i_] > '9') return false;
      while (i_ < s_.size() && IsDigit(s_[i_])) ++i_;
    }
    bool integer = true;
    if (i_ < s_.size() && s_[i_] == '.') {
      integer = false;
      ++i_;
      if (!Digits()) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      integer = false;
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!Digits()) return false;
    }
    if (integer && i_ - int_start > kMaxIntegerDigits) return false;
    double value = 0;
    auto [end, ec] = std::from_chars(s_.data() + start, s_.data() + i_, value);
    if (ec != std::errc() || end != s_.data() + i_ || !std::isfinite(value)) return false;
    *out = static_cast<float>(value);
    return true;
  }

  // The numbers of a (nested) array, appended to `out`.
  bool Array(std::vector<float>* out, int depth) {
    if (depth > kMaxDepth || !Eat('[')) return false;
    if (Eat(']')) return true;
    do {
      if (Peek('[')) {
        if (!Array(out, depth + 1)) return false;
      } else {
        float v;
        if (!Number(&v)) return false;
        out->push_back(v);
      }
    } while (Eat(','));
    return Eat(']');
  }

  // The rows of the top-level array: either all rows (arrays) of `width` numbers, or all numbers
  // (then exactly `width` of them: one row).
  bool Rows(size_t width, std::vector<float>* out, int64_t* rows) {
    if (!Eat('[')) return false;
    if (!Peek('[')) {  // one flat row
      if (!Peek(']')) {
        do {
          float v;
          if (!Number(&v)) return false;
          out->push_back(v);
        } while (Eat(','));
      }
      if (!Eat(']') || out->size() != width || width == 0) return false;
      *rows = 1;
      return true;
    }
    int64_t n = 0;
    do {
      if (!Array(out, 2) || out->size() != static_cast<size_t>(n + 1) * width) return false;
      ++n;
    } while (Eat(','));
    if (!Eat(']')) return false;
    *rows = n;
    return true;
  }

 private:
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }
  bool Digits() {
    const size_t start = i_;
    while (i_ < s_.size() && IsDigit(s_[i_])) ++i_;
    return i_ > start;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

std::optional<std::vector<float>> ParseNumberRows(std::string_view body, size_t width, int64_t* rows) {
  Reader r(body);
  std::vector<float> values;
  values.reserve(width);
  int64_t n = 0;
  if (r.Eat('{')) {
    std::string_view key;
    if (!r.Key(&key) || (key != "instances" && key != "inputs" && key != "rows") || !r.Eat(':')) return std::nullopt;
    if (!r.Rows(width, &values, &n) || !r.Eat('}')) return std::nullopt;
  } else if (!r.Rows(width, &values, &n)) {
    return std::nullopt;
  }
  if (!r.AtEnd()) return std::nullopt;
  *rows = n;
  return values;
}

}  // namespace sskai::ml
