// Route table: pattern parsing, matching with literal > param > rest priority, 404/405.
#include <atomic>
#include <random>
#include <thread>

#include "common/log.h"
#include "http/internal.h"

namespace sskai::http {

namespace {

enum class SegmentKind : uint8_t { kRest = 0, kParam = 1, kLiteral = 2 };

struct Segment {
  SegmentKind kind;
  std::string text;  // literal text or param name
};

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(path.substr(start));
      break;
    }
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

}  // namespace

struct Router::Route {
  std::string method;
  std::vector<Segment> segments;
  std::vector<uint8_t> score;  // the segments' kinds: a higher score wins (literal > param > rest)
  Handler handler;
  RouteOptions options;
  size_t info_idx = 0;
};

void Router::Add(std::string method, std::string pattern, Handler h, RouteOptions o) {
  auto route = std::make_shared<Route>();
  route->method = method;
  for (std::string_view part : SplitPath(pattern)) {
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      std::string_view name = part.substr(1, part.size() - 2);
      if (name.size() > 3 && name.substr(name.size() - 3) == "...") {
        route->segments.push_back({SegmentKind::kRest, std::string(name.substr(0, name.size() - 3))});
      } else {
        route->segments.push_back({SegmentKind::kParam, std::string(name)});
      }
    } else {
      route->segments.push_back({SegmentKind::kLiteral, UrlDecode(part)});
    }
  }
  for (const Segment& seg : route->segments) route->score.push_back(static_cast<uint8_t>(seg.kind));
  route->handler = std::move(h);
  RouteInfo info{method, pattern, o.summary, o.stream_body};
  route->options = std::move(o);
  for (auto& existing : table_) {
    if (existing->method == method && infos_[existing->info_idx].pattern == pattern) {
      route->info_idx = existing->info_idx;
      infos_[route->info_idx] = std::move(info);
      existing = std::move(route);
      return;
    }
  }
  route->info_idx = infos_.size();
  infos_.push_back(std::move(info));
  table_.push_back(std::move(route));
}

void Router::AddSync(std::string method, std::string pattern, SyncHandler h, RouteOptions o) {
  o.blocking = true;
  Add(std::move(method), std::move(pattern),
      [h = std::move(h)](Request& req, Responder respond) { respond(h(req)); }, std::move(o));
}

namespace {

// True when `segments` match the decoded path parts (no allocation).
bool Matches(const std::vector<Segment>& segments, const std::vector<std::string>& parts) {
  // Cheap length check first (most routes fail it): a final rest param may match nothing.
  const bool rest = !segments.empty() && segments.back().kind == SegmentKind::kRest;
  if (rest ? parts.size() + 1 < segments.size() : parts.size() != segments.size()) return false;
  for (size_t seg_idx = 0; seg_idx < segments.size(); ++seg_idx) {
    const Segment& seg = segments[seg_idx];
    if (seg.kind == SegmentKind::kRest) return seg_idx + 1 == segments.size();
    if (seg_idx >= parts.size()) return false;
    if (seg.kind == SegmentKind::kLiteral ? parts[seg_idx] != seg.text : parts[seg_idx].empty()) {
      return false;
    }
  }
  return segments.size() == parts.size();
}

std::map<std::string, std::string> Params(const std::vector<Segment>& segments,
                                          std::vector<std::string>& parts) {
  std::map<std::string, std::string> params;
  for (size_t seg_idx = 0; seg_idx < segments.size(); ++seg_idx) {
    const Segment& seg = segments[seg_idx];
    if (seg.kind == SegmentKind::kParam) {
      params[seg.text] = std::move(parts[seg_idx]);
    } else if (seg.kind == SegmentKind::kRest) {
      std::string rest;
      for (size_t part_idx = seg_idx; part_idx < parts.size(); ++part_idx) {
        if (part_idx > seg_idx) rest.push_back('/');
        rest += parts[part_idx];
      }
      params[seg.text] = std::move(rest);
    }
  }
  return params;
}

}  // namespace

Router::Match Router::Resolve(std::string_view method, std::string_view raw_path) const {
  // Each segment is decoded once; routes are compared without allocating, and the params of
  // the winner only are built. Priority: per segment from the left, literal > param > rest.
  std::vector<std::string> parts;
  for (std::string_view part : SplitPath(raw_path)) parts.push_back(UrlDecode(part));
  Match best;
  const Route* winner = nullptr;
  std::vector<std::string> allowed;
  for (const auto& route : table_) {
    if (!Matches(route->segments, parts)) continue;
    if (route->method != method) {
      allowed.push_back(route->method);
      continue;
    }
    if (winner != nullptr && !(route->score > winner->score)) continue;
    winner = route.get();
  }
  if (winner != nullptr) {
    best.outcome = Match::Outcome::kFound;
    best.info = &infos_[winner->info_idx];
    best.options = &winner->options;
    best.handler = &winner->handler;
    best.params = Params(winner->segments, parts);
  } else if (!allowed.empty()) {
    best.outcome = Match::Outcome::kMethodNotAllowed;
    for (const auto& m : allowed) {
      if (best.allow.find(m) != std::string::npos) continue;
      if (!best.allow.empty()) best.allow += ", ";
      best.allow += m;
    }
  }
  return best;
}

void Router::Dispatch(Request& req, Responder respond) const {
  std::string raw_path;
  std::map<std::string, std::string> query;
  internal::ParseTarget(req.target.empty() ? req.path : req.target, &raw_path, &query);
  if (req.path.empty()) req.path = UrlDecode(raw_path);
  if (req.query.empty()) req.query = std::move(query);
  Match match = Resolve(req.method, raw_path);
  switch (match.outcome) {
    case Match::Outcome::kNotFound:
      respond(ErrorResponse(Status::NotFound("no route for " + req.method + " " + req.path)));
      return;
    case Match::Outcome::kMethodNotAllowed: {
      respond(internal::MethodNotAllowed(req.method, req.path, match.allow));
      return;
    }
    case Match::Outcome::kFound:
      req.params = std::move(match.params);
      internal::InvokeHandler(*match.handler, req, std::move(respond));
      return;
  }
}

namespace internal {

void ParseTarget(std::string_view target, std::string* raw_path,
                 std::map<std::string, std::string>* query) {
  size_t qmark = target.find('?');
  *raw_path = std::string(target.substr(0, qmark));
  if (qmark == std::string_view::npos) return;
  std::string_view qs = target.substr(qmark + 1);
  size_t hash = qs.find('#');
  if (hash != std::string_view::npos) qs = qs.substr(0, hash);
  while (!qs.empty()) {
    size_t amp = qs.find('&');
    std::string_view pair = qs.substr(0, amp);
    qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key(pair.substr(0, eq));
    std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    for (char& c : key) c = c == '+' ? ' ' : c;
    for (char& c : value) c = c == '+' ? ' ' : c;
    (*query)[UrlDecode(key)] = UrlDecode(value);
  }
}

std::string NewRequestId() {
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   (static_cast<uint64_t>(std::hash<std::thread::id>{}(
                                        std::this_thread::get_id()))
                                    << 1));
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = rng();
  std::string id(16, '0');
  for (int idx = 15; idx >= 0; --idx, v >>= 4) id[idx] = kHex[v & 15];
  return id;
}

void InvokeHandler(const Handler& handler, Request& req, Responder respond) {
  // Shared flag so that a throw after the handler already answered does not answer twice.
  auto answered = std::make_shared<std::atomic<bool>>(false);
  Responder once = [answered, respond](Response r) {
    if (answered->exchange(true)) return;
    respond(std::move(r));
  };
  try {
    handler(req, once);
  } catch (const std::exception& e) {
    SSKAI_LOG_ERROR("http handler for {} {} threw: {}", req.method, req.path, e.what());
    once(ErrorResponse(Status::Internal("internal error")));
  } catch (...) {
    SSKAI_LOG_ERROR("http handler for {} {} threw a non-exception", req.method, req.path);
    once(ErrorResponse(Status::Internal("internal error")));
  }
}

}  // namespace internal
}  // namespace sskai::http
