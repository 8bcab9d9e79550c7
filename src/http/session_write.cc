// One server connection, the writing half: responses (string, file, chunked stream), keep-alive
// and lingering close.
#include <boost/algorithm/string/predicate.hpp>

#include "common/log.h"
#include "http/internal.h"
#include "http/session.h"

namespace sskai::http {

namespace {

constexpr size_t kDiscardBufferBytes = 64 * 1024;
constexpr std::chrono::seconds kLingerTimeout{3};

template <class Body>
void FillHeaders(bhttp::response<Body>& msg, const Response& response, const Request* req,
                 bool close) {
  msg.version(11);
  msg.result(static_cast<unsigned>(response.status));
  if (!response.content_type.empty()) msg.set(bhttp::field::content_type, response.content_type);
  bool has_request_id = false;
  for (const auto& [name, value] : response.headers) {
    if (boost::iequals(name, "x-request-id")) has_request_id = true;
    msg.insert(name, value);
  }
  if (!has_request_id) {
    std::string id = req ? req->Header("x-request-id") : std::string();
    msg.set("X-Request-Id", id.empty() ? internal::NewRequestId() : id);
  }
  msg.keep_alive(!close);
}

}  // namespace

void Session::Reply(Response response, bool close) {
  force_close_ = force_close_ || close;
  awaiting_response_ = true;
  SendResponse(std::move(response));
}

void Session::SendResponse(Response response) {
  if (closed_ || !awaiting_response_) return;
  awaiting_response_ = false;
  // Beast throws on these; never let a handler's mistake escape onto the io thread.
  if (response.status < 200 || response.status > 999) {
    SSKAI_LOG_ERROR("http handler for {} {} returned status {}", req_->method, req_->path,
                    response.status);
    response = ErrorResponse(Status::Internal("handler returned an invalid status"));
  }
  if (response.status == 204 || response.status == 304) {
    response.body.clear();
    response.file_path.clear();
  }
  bool close = force_close_ || !keep_alive_ || body_pending_;
  if (response.stream) return StartStream(std::move(response), close);
  if (!response.file_path.empty()) {
    auto msg = std::make_shared<bhttp::response<bhttp::file_body>>();
    beast::error_code ec;
    msg->body().open(response.file_path.c_str(), beast::file_mode::scan, ec);
    if (!ec) {
      FillHeaders(*msg, response, req_.get(), close);
      msg->prepare_payload();
      status_ = response.status;
      return WriteSome(msg, std::make_shared<bhttp::response_serializer<bhttp::file_body>>(*msg),
                       close);
    }
    response = ErrorResponse(Status::NotFound("file not found"));
  }
  auto msg = std::make_shared<bhttp::response<bhttp::string_body>>();
  FillHeaders(*msg, response, req_.get(), close);
  msg->body() = std::move(response.body);
  msg->prepare_payload();
  status_ = response.status;
  WriteSome(msg, std::make_shared<bhttp::response_serializer<bhttp::string_body>>(*msg), close);
}

template <class Body>
void Session::WriteSome(std::shared_ptr<bhttp::response<Body>> msg,
                        std::shared_ptr<bhttp::response_serializer<Body>> serializer, bool close) {
  stream_.expires_after(ctx_->options.idle_timeout);
  auto& sr = *serializer;
  bhttp::async_write_some(
      stream_, sr,
      [self = shared_from_this(), msg = std::move(msg), serializer = std::move(serializer), close](
          beast::error_code ec, std::size_t) mutable {
        if (ec) return self->Finish();
        if (!serializer->is_done()) return self->WriteSome(std::move(msg), std::move(serializer), close);
        self->OnWritten(close);
      });
}

void Session::StartStream(Response response, bool close) {
  out_stream_ = response.stream->impl();
  response.stream.reset();
  stream_close_ = close;
  auto msg = std::make_shared<bhttp::response<bhttp::empty_body>>();
  FillHeaders(*msg, response, req_.get(), close);
  msg->chunked(true);
  status_ = response.status;
  auto sr = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*msg);
  stream_writing_ = true;
  stream_.expires_after(ctx_->options.idle_timeout);
  bhttp::async_write_header(stream_, *sr, [self = shared_from_this(), msg, sr](beast::error_code ec, std::size_t) {
    self->stream_writing_ = false;
    if (ec) return self->Finish();
    self->stream_.expires_never();
    std::weak_ptr<Session> weak = self;
    auto ctx = self->ctx_;
    self->out_stream_->SetNotify([weak, ctx] {
      std::lock_guard<std::mutex> lock(ctx->mu);
      if (ctx->stopped) return;
      if (auto s = weak.lock()) {
        net::post(s->stream_.get_executor(), [s] { s->PumpStream(); });
      }
    });
    self->PumpStream();
  });
}

void Session::PumpStream() {
  if (closed_ || stream_writing_ || !out_stream_) return;
  std::string data;
  bool done = false;
  out_stream_->Take(&data, &done);
  if (data.empty() && !done) return;  // the producer's next Write schedules another pump
  stream_writing_ = true;
  stream_.expires_after(ctx_->options.idle_timeout);
  if (!data.empty()) {
    auto buf = std::make_shared<std::string>(std::move(data));
    auto chunk = std::make_shared<bhttp::chunk_body<net::const_buffer>>(
        bhttp::make_chunk(net::const_buffer(buf->data(), buf->size())));
    // If the producer closed too, the next pump finds nothing queued and writes the last chunk.
    net::async_write(stream_, *chunk, [self = shared_from_this(), buf, chunk](beast::error_code ec, std::size_t) {
      self->stream_writing_ = false;
      if (ec) return self->Finish();
      self->stream_.expires_never();
      self->PumpStream();
    });
    return;
  }
  auto last = std::make_shared<decltype(bhttp::make_chunk_last())>(bhttp::make_chunk_last());
  net::async_write(stream_, *last, [self = shared_from_this(), last](beast::error_code ec, std::size_t) {
    self->stream_writing_ = false;
    if (ec) return self->Finish();
    self->out_stream_.reset();
    self->OnWritten(self->stream_close_);
  });
}

void Session::OnWritten(bool close) {
  stream_.expires_never();
  if (ctx_->options.on_response && req_) {
    const RouteInfo* route =
        match_.outcome == Router::Match::Outcome::kFound ? match_.info : nullptr;
    double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    try {
      ctx_->options.on_response(*req_, route, status_, seconds);
    } catch (...) {
      SSKAI_LOG_ERROR("http on_response callback threw");
    }
  }
  RemoveTempFile();
  req_.reset();
  match_ = Router::Match();
  string_parser_.reset();
  file_parser_.reset();
  if (!close) return ReadHeader();
  if (body_pending_) return LingerAndFinish();
  beast::error_code ec;
  stream_.socket().shutdown(net::socket_base::shutdown_send, ec);
  Finish();
}

// After an early answer (413, 404 with a body on the way) the client may still be sending:
// closing at once would reset the connection and could destroy our answer in flight, so stop
// sending and read-and-drop for a short while first.
void Session::LingerAndFinish() {
  if (!discard_) {
    header_parser_.reset();
    beast::error_code ec;
    stream_.socket().shutdown(net::socket_base::shutdown_send, ec);
    if (ec) return Finish();
    discard_ = std::make_unique<char[]>(kDiscardBufferBytes);
    stream_.expires_after(kLingerTimeout);
  }
  stream_.async_read_some(net::buffer(discard_.get(), kDiscardBufferBytes),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (ec) return self->Finish();
                            self->LingerAndFinish();
                          });
}

}  // namespace sskai::http
