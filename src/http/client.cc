// Client: a synchronous keep-alive HTTP/1.1 client built on async Beast operations run on a
// private io_context (so that every step has a timeout).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "http/beast.h"
#include "http/http.h"
#include "http/internal.h"

namespace sskai::http {

namespace {

constexpr size_t kUploadChunkBytes = 256 * 1024;
constexpr std::chrono::seconds kEarlyResponseWait{5};

bool ParseBaseUrlImpl(const std::string& url, std::string* host, std::string* port) {
  constexpr std::string_view kScheme = "http://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) return false;
  std::string rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos) return false;
  size_t colon;
  if (rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return false;
    *host = rest.substr(1, close - 1);
    colon = close + 1 < rest.size() ? close + 1 : std::string::npos;
    if (colon != std::string::npos && rest[colon] != ':') return false;
  } else {
    colon = rest.rfind(':');
    *host = rest.substr(0, colon);
  }
  if (host->empty()) return false;
  *port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
  if (port->empty() || port->size() > 5) return false;
  for (char c : *port) {
    if (c < '0' || c > '9') return false;
  }
  int value = std::stoi(*port);
  return value > 0 && value < 65536;
}

bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == bhttp::error::partial_message;
}

template <class Fields>
std::map<std::string, std::string> LowerHeaders(const Fields& fields) {
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
void SetRequestLine(Message& req, const std::string& method, const std::string& target,
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

}  // namespace

namespace internal {
bool ParseBaseUrl(const std::string& url, std::string* host, std::string* port) {
  return ParseBaseUrlImpl(url, host, port);
}
}  // namespace internal

struct Client::Impl {
  std::string base_url, host, port;
  Options options;
  net::io_context ioc{1};
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  // Starts one async operation with a completion handler (ec, ...) and runs it to completion.
  template <class Start>
  beast::error_code Run(Start&& start) {
    beast::error_code result = net::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  void Disconnect() {
    if (!stream) return;
    beast::error_code ec;
    stream->socket().shutdown(tcp::socket::shutdown_both, ec);
    stream->socket().close(ec);
    stream.reset();
    buffer.clear();
  }

  Status Connect() {
    Disconnect();
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(host, port, ec);
    if (ec) return Status::Unavailable("cannot connect to " + base_url + ": " + ec.message());
    stream.emplace(ioc);
    stream->expires_after(options.connect_timeout);
    ec = Run([&](auto handler) { stream->async_connect(results, handler); });
    if (ec == beast::error::timeout) {
      Disconnect();
      return Status::DeadlineExceeded("cannot connect to " + base_url + ": timed out");
    }
    if (ec) {
      Disconnect();
      return Status::Unavailable("cannot connect to " + base_url + ": " + ec.message());
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    stream->expires_never();
    return Status::Ok();
  }

  Status IoError(const beast::error_code& ec, const std::string& what) {
    Disconnect();
    if (ec == beast::error::timeout) {
      return Status::DeadlineExceeded(what + " " + base_url + ": timed out");
    }
    return Status::Unavailable(what + " " + base_url + ": " + ec.message());
  }

  // Runs `once(&stale)` on a connection; when a reused keep-alive connection fails before any
  // response byte arrived (`stale`), reconnects and tries once more.
  template <class Once>
  Result<ClientResponse> WithRetry(Once&& once) {
    for (int attempt = 0;; ++attempt) {
      bool reused = stream.has_value();
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
    beast::error_code ec =
        Run([&](auto handler) { bhttp::async_read(*stream, buffer, parser, handler); });
    if (ec) {
      if (stale) *stale = !parser.got_some() && IsStaleConnectionError(ec);
      return IoError(ec, "reading the response from");
    }
    ClientResponse out;
    auto& msg = parser.get();
    out.status = static_cast<int>(msg.result_int());
    out.headers = LowerHeaders(msg);
    out.body = std::move(msg.body());
    if (!msg.keep_alive()) Disconnect();
    return out;
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() { impl_->Disconnect(); }

const std::string& Client::base_url() const { return impl_->base_url; }

Result<std::unique_ptr<Client>> Client::Create(const std::string& base_url, Options o) {
  auto impl = std::make_unique<Impl>();
  if (!internal::ParseBaseUrl(base_url, &impl->host, &impl->port)) {
    return Status::InvalidArgument("base url must look like http://host:port, got '" + base_url + "'");
  }
  impl->base_url = "http://" + (impl->host.find(':') != std::string::npos ? "[" + impl->host + "]"
                                                                          : impl->host) +
                   ":" + impl->port;
  impl->options = o;
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<ClientResponse> Client::Request(const std::string& method, const std::string& target,
                                       const std::string& body,
                                       const std::map<std::string, std::string>& headers) {
  Impl& c = *impl_;
  return c.WithRetry([&](bool* stale) -> Result<ClientResponse> {
    bhttp::request<bhttp::string_body> req;
    SetRequestLine(req, method, target, c.host + ":" + c.port, headers);
    req.body() = body;
    req.prepare_payload();
    c.stream->expires_after(c.options.timeout);
    beast::error_code ec = c.Run([&](auto handler) { bhttp::async_write(*c.stream, req, handler); });
    if (ec) {
      *stale = IsStaleConnectionError(ec);
      return c.IoError(ec, "sending a request to");
    }
    auto result = c.ReadResponse(method == "HEAD", stale);
    if (c.stream) c.stream->expires_never();
    return result;
  });
}

Result<ClientResponse> Client::Stream(const std::string& method, const std::string& target,
                                      const std::string& body,
                                      const std::map<std::string, std::string>& headers,
                                      const std::function<bool(const ClientResponse&)>& on_header,
                                      const std::function<bool(std::string_view)>& on_data) {
  Impl& c = *impl_;
  return c.WithRetry([&](bool* stale) -> Result<ClientResponse> {
    bhttp::request<bhttp::string_body> req;
    SetRequestLine(req, method, target, c.host + ":" + c.port, headers);
    req.body() = body;
    req.prepare_payload();
    c.stream->expires_after(c.options.timeout);
    beast::error_code ec = c.Run([&](auto handler) { bhttp::async_write(*c.stream, req, handler); });
    if (ec) {
      *stale = IsStaleConnectionError(ec);
      return c.IoError(ec, "sending a request to");
    }
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(kNoBodyLimit);
    ec = c.Run([&](auto handler) { bhttp::async_read_header(*c.stream, c.buffer, parser, handler); });
    if (ec) {
      *stale = !parser.got_some() && IsStaleConnectionError(ec);
      return c.IoError(ec, "reading the response from");
    }
    ClientResponse out;
    out.status = static_cast<int>(parser.get().result_int());
    out.headers = LowerHeaders(parser.get());
    if (on_header && !on_header(out)) {
      c.Disconnect();
      return out;
    }
    char buf[16 * 1024];
    while (!parser.is_done()) {
      parser.get().body().data = buf;
      parser.get().body().size = sizeof(buf);
      c.stream->expires_after(c.options.timeout);
      ec = c.Run([&](auto handler) { bhttp::async_read_some(*c.stream, c.buffer, parser, handler); });
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) return c.IoError(ec, "reading the response from");
      size_t n = sizeof(buf) - parser.get().body().size;
      if (n > 0 && on_data && !on_data(std::string_view(buf, n))) {
        c.Disconnect();
        return out;
      }
    }
    if (!parser.get().keep_alive()) c.Disconnect();
    if (c.stream) c.stream->expires_never();
    return out;
  });
}

Result<ClientResponse> Client::UploadFile(const std::string& method, const std::string& target,
                                          const std::string& path,
                                          const std::map<std::string, std::string>& headers,
                                          std::function<void(uint64_t, uint64_t)> progress) {
  Impl& c = *impl_;
  return c.WithRetry([&](bool* stale) -> Result<ClientResponse> {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::NotFound("cannot open " + path);
    struct stat st {};
    ::fstat(fd, &st);
    uint64_t total = static_cast<uint64_t>(st.st_size);
    std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });

    bhttp::request<bhttp::empty_body> req;
    SetRequestLine(req, method, target, c.host + ":" + c.port, headers);
    req.content_length(total);
    bhttp::request_serializer<bhttp::empty_body> sr(req);
    c.stream->expires_after(c.options.timeout);
    beast::error_code ec =
        c.Run([&](auto handler) { bhttp::async_write_header(*c.stream, sr, handler); });
    if (ec) {
      *stale = IsStaleConnectionError(ec);
      return c.IoError(ec, "sending a request to");
    }
    std::vector<char> chunk(kUploadChunkBytes);
    uint64_t sent = 0;
    while (sent < total) {
      ssize_t n = ::read(fd, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        c.Disconnect();
        return Status::Internal("reading " + path + " failed or it shrank while uploading");
      }
      c.stream->expires_after(c.options.timeout);
      ec = c.Run([&](auto handler) {
        net::async_write(*c.stream, net::buffer(chunk.data(), static_cast<size_t>(n)), handler);
      });
      if (ec) {
        // The server may have answered early (413, 401) and stopped reading: take its answer.
        c.stream->expires_after(std::min<std::chrono::milliseconds>(c.options.timeout, kEarlyResponseWait));
        auto early = c.ReadResponse(false, nullptr);
        c.Disconnect();
        if (early.ok()) return early;
        return c.IoError(ec, "uploading to");
      }
      sent += static_cast<uint64_t>(n);
      if (progress) progress(sent, total);
    }
    c.stream->expires_after(c.options.timeout);
    auto result = c.ReadResponse(false, nullptr);
    if (c.stream) c.stream->expires_never();
    return result;
  });
}

Result<ClientResponse> Client::DownloadToFile(const std::string& target, const std::string& path,
                                              const std::map<std::string, std::string>& headers) {
  Impl& c = *impl_;
  return c.WithRetry([&](bool* stale) -> Result<ClientResponse> {
    bhttp::request<bhttp::empty_body> req;
    SetRequestLine(req, "GET", target, c.host + ":" + c.port, headers);
    c.stream->expires_after(c.options.timeout);
    beast::error_code ec = c.Run([&](auto handler) { bhttp::async_write(*c.stream, req, handler); });
    if (ec) {
      *stale = IsStaleConnectionError(ec);
      return c.IoError(ec, "sending a request to");
    }
    bhttp::response_parser<bhttp::empty_body> header_parser;
    header_parser.body_limit(kNoBodyLimit);
    ec = c.Run([&](auto handler) { bhttp::async_read_header(*c.stream, c.buffer, header_parser, handler); });
    if (ec) {
      *stale = !header_parser.got_some() && IsStaleConnectionError(ec);
      return c.IoError(ec, "reading the response from");
    }
    int status = static_cast<int>(header_parser.get().result_int());
    if (status < 200 || status >= 300) {
      bhttp::response_parser<bhttp::string_body> parser(std::move(header_parser));
      parser.body_limit(kNoBodyLimit);
      ec = c.Run([&](auto handler) { bhttp::async_read(*c.stream, c.buffer, parser, handler); });
      if (ec) return c.IoError(ec, "reading the response from");
      ClientResponse out{status, std::move(parser.get().body()), LowerHeaders(parser.get())};
      if (!parser.get().keep_alive()) c.Disconnect();
      if (c.stream) c.stream->expires_never();
      return out;
    }
    std::string part = path + ".part";
    bhttp::response_parser<bhttp::file_body> parser(std::move(header_parser));
    parser.body_limit(kNoBodyLimit);
    parser.get().body().open(part.c_str(), beast::file_mode::write, ec);
    if (ec) {
      c.Disconnect();
      return Status::Internal("cannot write " + part + ": " + ec.message());
    }
    while (!parser.is_done()) {
      c.stream->expires_after(c.options.timeout);
      ec = c.Run([&](auto handler) { bhttp::async_read_some(*c.stream, c.buffer, parser, handler); });
      if (ec) {
        parser.get().body().close();
        std::remove(part.c_str());
        return c.IoError(ec, "downloading from");
      }
    }
    ClientResponse out{status, "", LowerHeaders(parser.get())};
    bool keep_alive = parser.get().keep_alive();
    parser.get().body().close();
    if (std::rename(part.c_str(), path.c_str()) != 0) {
      std::remove(part.c_str());
      c.Disconnect();
      return Status::Internal("cannot rename " + part + " to " + path);
    }
    if (!keep_alive) c.Disconnect();
    if (c.stream) c.stream->expires_never();
    return out;
  });
}

}  // namespace sskai::http
