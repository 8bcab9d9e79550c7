// The web console: static files from ApiContext::web_dir at /, with single-page-app fallback.
//
// GET /{path...} is the router's lowest-priority route, so every API route wins. Paths under the
// API prefixes answer the router's usual JSON 404; a path with a file extension that does not
// exist answers 404; any other path answers index.html (the console routes in the browser).
// Hashed build output under assets/ is cached for a year, everything else is revalidated.
#include <sys/stat.h>

#include <array>
#include <string_view>

#include "api/internal.h"

namespace sskai::api {

namespace {

constexpr std::array<std::string_view, 5> kApiPrefixes = {"/v1", "/v2", "/healthz", "/readyz",
                                                         "/metrics"};

bool UnderApiPrefix(std::string_view path) {
  for (std::string_view prefix : kApiPrefixes) {
    if (path.substr(0, prefix.size()) == prefix &&
        (path.size() == prefix.size() || path[prefix.size()] == '/')) {
      return true;
    }
  }
  return false;
}

bool IsRegularFile(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The relative file path for a decoded request path, or "" when a segment is unsafe
// ("..", ".", a hidden file, a backslash or a NUL) — such paths are never served.
std::string SafeRelativePath(std::string_view rest) {
  std::string out;
  size_t start = 0;
  while (start <= rest.size()) {
    size_t slash = rest.find('/', start);
    std::string_view seg = rest.substr(start, slash == std::string_view::npos ? rest.npos : slash - start);
    if (!seg.empty()) {
      if (seg.front() == '.' || seg.find('\\') != seg.npos || seg.find('\0') != seg.npos) return "";
      if (!out.empty()) out.push_back('/');
      out.append(seg);
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

http::Response NotBuiltPage(int status) {
  return http::Response::Text(
      status,
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>sskai</title></head><body>"
      "<h1>sskai</h1><p>The web console has not been built. Build it with <code>make web</code> "
      "(needs Node.js and npm; <code>make run</code> does it for you) or start the server with "
      "<code>--web-dir DIR</code> pointing at a built console.</p>"
      "<p>The API is at <a href=\"/v1/openapi.json\">/v1/openapi.json</a>.</p></body></html>",
      "text/html; charset=utf-8");
}

http::Response FileResponse(const std::string& path, const std::string& rel) {
  http::Response r;
  r.file_path = path;
  r.content_type = ContentTypeFor(rel);
  bool hashed = rel.rfind("assets/", 0) == 0;
  r.headers.emplace_back("Cache-Control",
                         hashed ? "public, max-age=31536000, immutable" : "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

}  // namespace

std::string ContentTypeFor(const std::string& filename) {
  static const std::array<std::pair<std::string_view, std::string_view>, 16> kTypes = {{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".webp", "image/webp"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  }};
  size_t dot = filename.rfind('.');
  size_t slash = filename.rfind('/');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    std::string ext = filename.substr(dot);
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& [suffix, type] : kTypes) {
      if (ext == suffix) return std::string(type);
    }
  }
  return "application/octet-stream";
}

void AddStaticRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("GET", "/{path...}", [&ctx](http::Request& req) {
    if (UnderApiPrefix(req.path)) {
      return Error(Status::NotFound("no route for GET " + req.path));
    }
    std::string index = ctx.web_dir.empty() ? "" : ctx.web_dir + "/index.html";
    if (index.empty() || !IsRegularFile(index)) return NotBuiltPage(req.path == "/" ? 200 : 404);
    const std::string& rest = req.params["path"];
    std::string rel = SafeRelativePath(rest);
    if (rel.empty() && !rest.empty() && rest.find_first_not_of('/') != std::string::npos) {
      return Error(Status::NotFound("no such file: " + req.path));
    }
    if (!rel.empty()) {
      std::string file = ctx.web_dir + "/" + rel;
      if (IsRegularFile(file)) return FileResponse(file, rel);
      size_t last = rel.rfind('/');
      if (rel.find('.', last == std::string::npos ? 0 : last) != std::string::npos ||
          rel.rfind("assets/", 0) == 0) {
        return Error(Status::NotFound("no such file: " + req.path));
      }
    }
    return FileResponse(index, "index.html");  // a console route: the app routes it
  }, {.summary = "The web console (single-page app)"});
}

}  // namespace sskai::api
