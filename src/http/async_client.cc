// AsyncClient: asynchronous keep-alive HTTP/1.1 requests on the client's own io threads, with a
// pool of idle connections per host:port. One request runs as one chain of async operations
// (connect?, write, read); nothing blocks a thread while a peer works.
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "http/beast.h"
#include "http/http.h"
#include "http/internal.h"

namespace sskai::http {

namespace {

bool IsStale(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == bhttp::error::partial_message;
}

struct Conn {
  explicit Conn(net::io_context& ioc) : stream(ioc) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
};

}  // namespace

struct AsyncClient::Impl {
  Options options;
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> idle;  // guarded by mu

  std::unique_ptr<Conn> TakeIdle(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = idle.find(key);
    if (it == idle.end() || it->second.empty()) return nullptr;
    std::unique_ptr<Conn> conn = std::move(it->second.back());
    it->second.pop_back();
    return conn;
  }
  void GiveBack(const std::string& key, std::unique_ptr<Conn> conn) {
    conn->stream.expires_never();
    std::lock_guard<std::mutex> lock(mu);
    auto& list = idle[key];
    if (list.size() < options.max_idle_per_host) list.push_back(std::move(conn));
  }
};

// One request in flight. Owns itself through the shared_ptr captured by its handlers.
struct AsyncClient::Op : std::enable_shared_from_this<AsyncClient::Op> {
  Impl* impl = nullptr;
  std::string key, base_url, host, port;
  bhttp::request<bhttp::string_body> req;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  std::unique_ptr<Conn> conn;
  std::vector<tcp::endpoint> endpoints;  // kept alive for async_connect
  bool reused = false, retried = false;
  std::chrono::milliseconds timeout{0};
  Callback done;

  void Start() {
    conn = impl->TakeIdle(key);
    reused = conn != nullptr;
    if (conn) return Write();
    conn = std::make_unique<Conn>(impl->ioc);
    beast::error_code ec;
    auto address = net::ip::make_address(host, ec);
    endpoints.clear();
    if (!ec) {
      endpoints.emplace_back(address, static_cast<uint16_t>(std::stoi(port)));
    } else {
      tcp::resolver resolver(impl->ioc);
      auto results = resolver.resolve(host, port, ec);
      if (ec) return Fail(Status::Unavailable("cannot connect to " + base_url + ": " + ec.message()));
      for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    }
    conn->stream.expires_after(impl->options.connect_timeout);
    conn->stream.async_connect(endpoints, [self = shared_from_this()](beast::error_code ec,
                                                                       const tcp::endpoint&) {
      if (ec == beast::error::timeout) {
        return self->Fail(Status::DeadlineExceeded("cannot connect to " + self->base_url + ": timed out"));
      }
      if (ec) return self->Fail(Status::Unavailable("cannot connect to " + self->base_url + ": " + ec.message()));
      beast::error_code ignored;
      self->conn->stream.socket().set_option(tcp::no_delay(true), ignored);
      self->Write();
    });
  }

  void Write() {
    conn->stream.expires_after(timeout);
    bhttp::async_write(conn->stream, req, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->IoFailed(ec, IsStale(ec), "sending a request to");
      self->Read();
    });
  }

  void Read() {
    parser.emplace();
    parser->body_limit(kNoBodyLimit);
    bhttp::async_read(conn->stream, conn->buffer, *parser,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        return self->IoFailed(ec, !self->parser->got_some() && IsStale(ec),
                              "reading the response from");
      }
      self->Succeed();
    });
  }

  // A reused keep-alive connection the peer had closed: once more. The other idle connections
  // to that peer are likely stale too (it restarted or timed them out): drop them.
  void IoFailed(const beast::error_code& ec, bool stale, const char* what) {
    if (reused && stale && !retried) {
      retried = true;
      conn.reset();
      {
        std::lock_guard<std::mutex> lock(impl->mu);
        auto it = impl->idle.find(key);
        if (it != impl->idle.end()) it->second.clear();
      }
      return Start();
    }
    if (ec == beast::error::timeout) {
      return Fail(Status::DeadlineExceeded(std::string(what) + " " + base_url + ": timed out"));
    }
    Fail(Status::Unavailable(std::string(what) + " " + base_url + ": " + ec.message()));
  }

  void Succeed() {
    auto& msg = parser->get();
    ClientResponse out;
    out.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(field.value());
    }
    out.body = std::move(msg.body());
    if (msg.keep_alive()) impl->GiveBack(key, std::move(conn));
    conn.reset();
    Callback cb = std::move(done);
    cb(std::move(out));
  }

  void Fail(Status status) {
    if (conn) {
      beast::error_code ignored;
      conn->stream.socket().close(ignored);
      conn.reset();
    }
    Callback cb = std::move(done);
    cb(std::move(status));
  }
};

AsyncClient::AsyncClient(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->work.emplace(impl_->ioc.get_executor());
  int threads = options.io_threads < 1 ? 1 : options.io_threads;
  for (int idx = 0; idx < threads; ++idx) {
    impl_->threads.emplace_back([impl = impl_.get()] { impl->ioc.run(); });
  }
}

AsyncClient::~AsyncClient() {
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  // Ops still queued die with the io_context; their callbacks are not called.
}

void AsyncClient::Request(const std::string& base_url, const std::string& method,
                          const std::string& target, std::string body,
                          std::vector<std::pair<std::string, std::string>> headers, Callback done,
                          std::chrono::milliseconds timeout) {
  auto op = std::make_shared<Op>();
  op->impl = impl_.get();
  if (!internal::ParseBaseUrl(base_url, &op->host, &op->port)) {
    done(Status::InvalidArgument("base url must look like http://host:port, got '" + base_url + "'"));
    return;
  }
  op->key = op->host + ":" + op->port;
  op->base_url = base_url;
  op->timeout = timeout.count() > 0 ? timeout : impl_->options.timeout;
  op->done = std::move(done);
  bhttp::verb verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) {
    op->req.method_string(method);
  } else {
    op->req.method(verb);
  }
  op->req.target(target);
  op->req.version(11);
  op->req.set(bhttp::field::host, op->key);
  for (const auto& [name, value] : headers) op->req.set(name, value);
  op->req.keep_alive(true);
  op->req.body() = std::move(body);
  op->req.prepare_payload();
  net::post(impl_->ioc, [op] { op->Start(); });
}

size_t AsyncClient::idle_count(const std::string& base_url) const {
  std::string host, port;
  if (!internal::ParseBaseUrl(base_url, &host, &port)) return 0;
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->idle.find(host + ":" + port);
  return it == impl_->idle.end() ? 0 : it->second.size();
}

}  // namespace sskai::http
