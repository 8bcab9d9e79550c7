// Internal: the synchronous Client's state (client.cc, client_transfer.cc) and helpers shared
// with AsyncClient.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "http/beast.h"
#include "http/http.h"
#include "http/internal.h"
#include "http/tls.h"

namespace sskai::http {

namespace internal {

inline constexpr size_t kUploadChunkBytes = 256 * 1024;
inline constexpr std::chrono::seconds kEarlyResponseWait{5};

// A keep-alive connection the peer had closed (or reset) before answering.
inline bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == bhttp::error::partial_message || ec == net::ssl::error::stream_truncated;
}

template <class Fields>
inline std::map<std::string, std::string> LowerHeaders(const Fields& fields) {
  std::map<std::string, std::string> out;
  for (const auto& field : fields) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto [it, inserted] = out.emplace(name, std::string(field.value()));
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  return out;
}

template <class Message>
inline void SetRequestLine(Message& req, const std::string& method, const std::string& target,
                           const std::string& host_header,
                           const std::map<std::string, std::string>& headers) {
  bhttp::verb verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, host_header);
  req.set(bhttp::field::user_agent, "sskai");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.keep_alive(true);
}

}  // namespace internal

struct Client::Impl {
  std::string base_url, host, port;
  std::string host_header;  // "host" or "host:port" (a non-default port)
  Options options;
  net::io_context ioc{1};
  // One connection: `stream` for http, `tls` (TLS over a tcp_stream) for https.
  std::shared_ptr<internal::ssl::context> tls_context;  // https only
  std::optional<beast::tcp_stream> stream;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;

  bool connected() const { return stream.has_value() || tls.has_value(); }
  // The TCP layer (timeouts, socket options). Requires connected().
  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *stream; }

  // Starts one async operation with a completion handler (ec, ...) and runs it to completion.
  template <class Start>
  beast::error_code Run(Start&& start) {
    beast::error_code result = net::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }
  // Run() for an operation on the connection's stream: start(stream, handler), where stream is
  // the plain or the TLS stream. Requires connected().
  template <class Start>
  beast::error_code RunIo(Start&& start) {
    return Run([&](auto handler) {
      if (tls) {
        start(*tls, std::move(handler));
      } else {
        start(*stream, std::move(handler));
      }
    });
  }

  void Disconnect() {
    if (!connected()) return;
    beast::error_code ec;
    // No TLS close_notify: the connection is dropped either way, and waiting for the peer's
    // answer could block.
    tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp().socket().close(ec);
    stream.reset();
    tls.reset();
    buffer.clear();
  }

  Status Connect() {
    Disconnect();
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(host, port, ec);
    if (ec) return Status::Unavailable("cannot connect to " + base_url + ": " + ec.message());
    if (tls_context) {
      tls.emplace(ioc, *tls_context);
    } else {
      stream.emplace(ioc);
    }
    tcp().expires_after(options.connect_timeout);
    ec = Run([&](auto handler) { tcp().async_connect(results, handler); });
    if (ec == beast::error::timeout) {
      Disconnect();
      return Status::DeadlineExceeded("cannot connect to " + base_url + ": timed out");
    }
    if (ec) {
      Disconnect();
      return Status::Unavailable("cannot connect to " + base_url + ": " + ec.message());
    }
    tcp().socket().set_option(tcp::no_delay(true), ec);
    if (tls) SSKAI_RETURN_IF_ERROR(Handshake());
    tcp().expires_never();
    return Status::Ok();
  }

  // TLS handshake within the connect timeout, verifying the certificate chain and host name.
  // Errors: kFailedPrecondition (certificate not trusted / not for this host), kDeadlineExceeded,
  // kUnavailable.
  Status Handshake() {
    Status prepared = internal::PrepareTlsClient(tls->native_handle(), host);
    if (!prepared.ok()) {
      Disconnect();
      return prepared;
    }
    beast::error_code ec =
        Run([&](auto handler) { tls->async_handshake(internal::ssl::stream_base::client, handler); });
    if (!ec) return Status::Ok();
    bool certificate = false;
    std::string why = internal::DescribeTlsFailure(tls->native_handle(), host, ec, &certificate);
    Disconnect();
    if (ec == beast::error::timeout) {
      return Status::DeadlineExceeded("cannot connect to " + base_url + ": TLS handshake timed out");
    }
    if (certificate) return Status::FailedPrecondition("cannot connect to " + base_url + ": " + why);
    return Status::Unavailable("cannot connect to " + base_url + ": " + why);
  }

  Status IoError(const beast::error_code& ec, const std::string& what) {
    Disconnect();
    if (ec == beast::error::timeout) {
      return Status::DeadlineExceeded(what + " " + base_url + ": timed out");
    }
    return Status::Unavailable(what + " " + base_url + ": " + ec.message());
  }

  // Writes one request; the response timeout starts now. `stale` when a reused keep-alive
  // connection turned out to be closed already.
  Status WriteRequest(const std::string& method, const std::string& target, const std::string& body,
                      const std::map<std::string, std::string>& headers, bool* stale) {
    bhttp::request<bhttp::string_body> req;
    internal::SetRequestLine(req, method, target, host_header, headers);
    req.body() = body;
    req.prepare_payload();
    tcp().expires_after(options.timeout);
    beast::error_code ec = RunIo([&](auto& s, auto handler) { bhttp::async_write(s, req, handler); });
    if (ec) {
      *stale = internal::IsStaleConnectionError(ec);
      return IoError(ec, "sending a request to");
    }
    return Status::Ok();
  }

  // Runs `once(&stale)` on a connection; when a reused keep-alive connection fails before any
  // response byte arrived (`stale`), reconnects and tries once more.
  template <class Once>
  Result<ClientResponse> WithRetry(Once&& once) {
    for (int attempt = 0;; ++attempt) {
      bool reused = connected();
      if (!reused) SSKAI_RETURN_IF_ERROR(Connect());
      bool stale = false;
      Result<ClientResponse> result = once(&stale);
      if (result.ok() || !(reused && stale) || attempt > 0) return result;
      Disconnect();
    }
  }

  // Reads a whole response with a string body; `stale` when the peer closed before answering.
  Result<ClientResponse> ReadResponse(bool head, bool* stale) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kNoBodyLimit);
    if (head) parser.skip(true);
    // Room for 64 KiB per read, once per client (see ReserveForBody).
    if (buffer.capacity() < kBodyReadBytes) buffer.reserve(kBodyReadBytes);
    beast::error_code ec =
        RunIo([&](auto& s, auto handler) { bhttp::async_read(s, buffer, parser, handler); });
    if (ec) {
      if (stale) *stale = !parser.got_some() && internal::IsStaleConnectionError(ec);
      return IoError(ec, "reading the response from");
    }
    ClientResponse out;
    auto& msg = parser.get();
    out.status = static_cast<int>(msg.result_int());
    out.headers = internal::LowerHeaders(msg);
    out.body = std::move(msg.body());
    if (!msg.keep_alive()) Disconnect();
    return out;
  }
};

}  // namespace sskai::http
