#include "data/values.h"

#include <charconv>
#include <cmath>

namespace sskai::data::internal {

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool IsMissing(std::string_view v) {
  return v.empty() || v == "NA" || v == "N/A" || v == "NaN" || v == "nan" || v == "null" ||
         v == "NULL" || v == "?";
}

bool ParseInt64(std::string_view v, int64_t* out) {
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  if (v.empty()) return false;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return ec == std::errc() && ptr == v.data() + v.size();
}

bool ParseDouble(std::string_view v, double* out) {
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  if (v.empty()) return false;
  // from_chars accepts "inf"/"nan"; reject anything that does not start like a number.
  char first = v.front() == '-' && v.size() > 1 ? v[1] : v.front();
  if (!(first == '.' || (first >= '0' && first <= '9'))) return false;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return ec == std::errc() && ptr == v.data() + v.size() && std::isfinite(*out);
}

bool ParseBool(std::string_view v, bool* out) {
  auto equals = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t idx = 0; idx < a.size(); ++idx) {
      char c = a[idx];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != b[idx]) return false;
    }
    return true;
  };
  if (equals(v, "true")) {
    *out = true;
    return true;
  }
  if (equals(v, "false")) {
    *out = false;
    return true;
  }
  return false;
}

std::string FormatNumber(double v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, ptr) : std::string("nan");
}

size_t FindInvalidUtf8(std::string_view v) {
  const auto* s = reinterpret_cast<const unsigned char*>(v.data());
  size_t n = v.size();
  size_t idx = 0;
  while (idx < n) {
    unsigned char c = s[idx];
    if (c < 0x80) {
      ++idx;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return idx;
    }
    if (idx + len > n) return idx;
    for (size_t k = 1; k < len; ++k) {
      if ((s[idx + k] & 0xC0) != 0x80) return idx;
      cp = (cp << 6) | (s[idx + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return idx;
    }
    idx += len;
  }
  return std::string_view::npos;
}

int64_t CountCodePoints(std::string_view v) {
  int64_t n = 0;
  for (char c : v) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string Quote(std::string_view v) {
  std::string out = "\"";
  bool cut = v.size() > 40;
  if (cut) v = v.substr(0, 40);
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += cut ? "...\"" : "\"";
  return out;
}

}  // namespace sskai::data::internal
