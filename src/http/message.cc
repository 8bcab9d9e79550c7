// Request/Response helpers and URL encoding.
#include <cctype>

#include "http/http.h"

namespace sskai::http {

std::string Request::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string Request::Query(const std::string& name, const std::string& def) const {
  auto it = query.find(name);
  return it == query.end() ? def : it->second;
}

Response Response::Json(int status, std::string json) {
  Response r;
  r.status = status;
  r.body = std::move(json);
  return r;
}

Response Response::Text(int status, std::string text, std::string content_type) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(text);
  return r;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size(); ++pos) {
    if (s[pos] == '%' && pos + 2 < s.size()) {
      int hi = HexValue(s[pos + 1]);
      int lo = HexValue(s[pos + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        pos += 2;
        continue;
      }
    }
    out.push_back(s[pos]);
  }
  return out;
}

}  // namespace sskai::http
