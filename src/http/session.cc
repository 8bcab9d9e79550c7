// One server connection: header-first reading, route resolution, body reading (memory or temp
// file), handler dispatch (response writing is in session_write.cc).
#include "http/session.h"

#include <unistd.h>

#include <boost/algorithm/string/predicate.hpp>

#include "common/log.h"
#include "http/internal.h"

namespace sskai::http {

namespace {

constexpr size_t kHeaderLimitBytes = 64 * 1024;
constexpr size_t kKeptBufferBytes = 16 * 1024;

// The Responder's shared state: answers at most once, 500 if never called.
struct ResponderState {
  std::weak_ptr<Session> session;
  std::shared_ptr<ServerContext> ctx;
  std::atomic<bool> done{false};

  ResponderState(std::weak_ptr<Session> s, std::shared_ptr<ServerContext> c)
      : session(std::move(s)), ctx(std::move(c)) {}
  ~ResponderState() {
    if (!done.load()) Send(ErrorResponse(Status::Internal("the handler did not respond")));
  }
  void Send(Response response) {
    if (done.exchange(true)) return;
    std::lock_guard<std::mutex> lock(ctx->mu);
    if (ctx->stopped) return;
    if (auto s = session.lock()) s->PostResponse(std::move(response));
  }
};

// Keeps [A-Za-z0-9_-], at most 32 characters (the request id is client-controlled).
std::string SafeName(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (out.size() >= 32) break;
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') out.push_back(c);
  }
  return out;
}

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

}  // namespace

Session::Session(any_stream_protocol::socket socket, std::string remote_addr,
                 std::shared_ptr<ServerContext> ctx)
    : stream_(std::move(socket)), ctx_(std::move(ctx)), remote_addr_(std::move(remote_addr)) {}

Session::~Session() { RemoveTempFile(); }

void Session::Start() {
  {
    std::lock_guard<std::mutex> lock(ctx_->mu);
    if (ctx_->stopped) return;
    ctx_->sessions[this] = shared_from_this();
  }
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
}

void Session::CloseSocketNow() {
  closed_ = true;
  if (out_stream_) out_stream_->Cancel();
  beast::error_code ec;
  stream_.socket().close(ec);
}

void Session::PostResponse(Response response) {
  net::post(stream_.get_executor(), [self = shared_from_this(), r = std::move(response)]() mutable {
    self->SendResponse(std::move(r));
  });
}

void Session::ReadHeader() {
  header_parser_.emplace();
  header_parser_->header_limit(kHeaderLimitBytes);
  header_parser_->body_limit(kNoBodyLimit);  // checked per route once the header is known
  force_close_ = false;
  body_pending_ = false;
  status_ = 0;
  stream_.expires_after(ctx_->options.idle_timeout);
  bhttp::async_read_header(stream_, buffer_, *header_parser_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             self->OnHeader(ec);
                           });
}

void Session::OnHeader(beast::error_code ec) {
  start_ = Clock::now();
  if (ec) {
    if (!IsHttpParseError(ec)) return Finish();  // EOF, reset, idle timeout
    req_ = std::make_unique<Request>();
    req_->remote_addr = remote_addr_;
    body_pending_ = true;
    return Reply(ErrorResponse(Status::InvalidArgument("malformed HTTP request: " + ec.message())),
                 /*close=*/true);
  }
  stream_.expires_never();
  auto& msg = header_parser_->get();
  req_ = std::make_unique<Request>();
  req_->method = std::string(msg.method_string());
  req_->target = std::string(msg.target());
  req_->remote_addr = remote_addr_;
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto [it, inserted] = req_->headers.emplace(name, std::string(field.value()));
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  if (req_->Header("x-request-id").empty()) req_->headers["x-request-id"] = internal::NewRequestId();
  keep_alive_ = msg.keep_alive();
  body_pending_ = !header_parser_->is_done();
  Route();
}

void Session::Route() {
  std::string raw_path;
  internal::ParseTarget(req_->target, &raw_path, &req_->query);
  req_->path = UrlDecode(raw_path);
  match_ = ctx_->router->Resolve(req_->method, raw_path);
  if (match_.outcome == Router::Match::Outcome::kNotFound) {
    return Reply(ErrorResponse(Status::NotFound("no route for " + req_->method + " " + req_->path)),
                 body_pending_);
  }
  if (match_.outcome == Router::Match::Outcome::kMethodNotAllowed) {
    return Reply(internal::MethodNotAllowed(req_->method, req_->path, match_.allow), body_pending_);
  }
  req_->params = match_.params;
  if (ctx_->options.middleware) {
    std::optional<Response> early;
    try {
      early = ctx_->options.middleware(*req_, *match_.info);
    } catch (...) {
      SSKAI_LOG_ERROR("http middleware threw for {} {}", req_->method, req_->path);
      early = ErrorResponse(Status::Internal("internal error"));
    }
    if (early) return Reply(std::move(*early), body_pending_);
  }
  const RouteOptions& route = *match_.options;
  body_limit_ = route.max_body_bytes != 0 ? route.max_body_bytes
                : route.stream_body       ? ctx_->options.max_stream_body_bytes
                                          : ctx_->options.max_body_bytes;
  auto length = header_parser_->content_length();
  if (length && *length > body_limit_) {
    return Reply(ErrorResponse(Status::PayloadTooLarge("request body of " + std::to_string(*length) +
                                                       " bytes exceeds the limit of " +
                                                       std::to_string(body_limit_) + " bytes")),
                 /*close=*/true);
  }
  auto expect = header_parser_->get()[bhttp::field::expect];
  if (body_pending_ && boost::iequals(expect, "100-continue")) {
    auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, 11);
    stream_.expires_after(ctx_->options.idle_timeout);
    bhttp::async_write(stream_, *cont,
                       [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
                         if (ec) return self->Finish();
                         self->BeginBody();
                       });
    return;
  }
  BeginBody();
}

void Session::BeginBody() {
  if (match_.options->stream_body) {
    if (ctx_->options.temp_dir.empty()) {
      return Reply(ErrorResponse(Status::Internal("server has no temp_dir for uploads")),
                   body_pending_);
    }
    file_parser_.emplace(std::move(*header_parser_));
    header_parser_.reset();
    file_parser_->body_limit(body_limit_);
    temp_path_ = ctx_->options.temp_dir + "/upload-" + SafeName(req_->Header("x-request-id")) + "-" +
                 std::to_string(ctx_->temp_counter.fetch_add(1)) + ".part";
    beast::error_code ec = file_parser_->get().body().Open(temp_path_);
    if (ec) {
      SSKAI_LOG_ERROR("http: cannot create temp file {}: {}", temp_path_, ec.message());
      temp_path_.clear();
      return Reply(ErrorResponse(Status::Internal("cannot create a temp file for the upload")),
                   body_pending_);
    }
    if (!body_pending_) return Dispatch();
    return ReadBody(*file_parser_);
  }
  string_parser_.emplace(std::move(*header_parser_));
  header_parser_.reset();
  string_parser_->body_limit(body_limit_);
  if (!body_pending_) return Dispatch();
  ReadBody(*string_parser_);
}

template <class Parser>
void Session::ReadBody(Parser& parser) {
  ReserveForBody(buffer_, parser);
  stream_.expires_after(ctx_->options.idle_timeout);
  bhttp::async_read_some(stream_, buffer_, parser,
                         [self = shared_from_this(), &parser](beast::error_code ec, std::size_t) {
                           if (ec) return self->OnBodyError(ec);
                           if (!parser.is_done()) return self->ReadBody(parser);
                           self->stream_.expires_never();
                           self->body_pending_ = false;
                           self->Dispatch();
                         });
}

void Session::OnBodyError(beast::error_code ec) {
  if (ec == bhttp::error::body_limit) {
    RemoveTempFile();
    return Reply(ErrorResponse(Status::PayloadTooLarge("request body exceeds the limit of " +
                                                       std::to_string(body_limit_) + " bytes")),
                 /*close=*/true);
  }
  if (IsHttpParseError(ec)) {
    RemoveTempFile();
    return Reply(ErrorResponse(Status::InvalidArgument("malformed HTTP body: " + ec.message())),
                 /*close=*/true);
  }
  Finish();  // client went away or idle timeout: the temp file goes with the connection
}

void Session::Dispatch() {
  if (file_parser_) {
    auto& body = file_parser_->get().body();
    body.Close();
    req_->body_file = temp_path_;
    req_->body_size = body.size();
    req_->body_sha256 = body.HexDigest();
    file_parser_.reset();
  } else if (string_parser_) {
    req_->body = std::move(string_parser_->get().body());
    req_->body_size = req_->body.size();
    string_parser_.reset();
  }
  // An idle keep-alive connection keeps at most kKeptBufferBytes of read buffer.
  if (buffer_.capacity() > kKeptBufferBytes && buffer_.size() == 0) buffer_.shrink_to_fit();
  awaiting_response_ = true;
  auto state = std::make_shared<ResponderState>(weak_from_this(), ctx_);
  if (match_.options->blocking) {
    // No read is pending while the handler runs, so req_ and match_ stay put; `self` keeps
    // the session alive until the handler returns.
    net::post(*ctx_->blocking, [self = shared_from_this(), state] {
      internal::InvokeHandler(*self->match_.handler, *self->req_,
                              [state](Response r) { state->Send(std::move(r)); });
    });
    return;
  }
  internal::InvokeHandler(*match_.handler, *req_,
                          [state](Response r) { state->Send(std::move(r)); });
}

void Session::Finish() {
  std::shared_ptr<Session> self;  // dropped last, after the lock is released
  if (closed_) return;
  closed_ = true;
  if (out_stream_) out_stream_->Cancel();
  beast::error_code ec;
  stream_.socket().close(ec);
  RemoveTempFile();
  std::lock_guard<std::mutex> lock(ctx_->mu);
  auto it = ctx_->sessions.find(this);
  if (it != ctx_->sessions.end()) {
    self = std::move(it->second);
    ctx_->sessions.erase(it);
  }
}

void Session::RemoveTempFile() {
  if (temp_path_.empty()) return;
  ::unlink(temp_path_.c_str());  // ENOENT when the handler renamed it away
  temp_path_.clear();
}

}  // namespace sskai::http
