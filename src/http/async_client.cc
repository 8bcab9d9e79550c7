// AsyncClient: asynchronous keep-alive HTTP/1.1 requests, with a pool of idle connections per
// io context and host:port. One request runs as one chain of async operations (connect?,
// write, read) on the caller's http::Server io context when there is one (no thread hand-off),
// else on the client's own io thread; nothing blocks a thread while a peer works.
#include <sys/un.h>

#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "http/beast.h"
#include "http/client_impl.h"
#include "http/io_thread.h"

namespace sskai::http {

namespace {

// One keep-alive connection; its own strand, so a server io context with several threads never
// runs two of its handlers (or its timer's) at once.
// "http://host:port" or "unix:/path/to.sock" → where to connect and the idle pool's key
// ("host:port" or the url itself). False for anything else.
bool PoolKey(const std::string& base_url, std::string* host, std::string* port,
             std::string* unix_path, std::string* key) {
  constexpr std::string_view kUnix = "unix:";
  if (base_url.compare(0, kUnix.size(), kUnix) == 0) {
    *unix_path = base_url.substr(kUnix.size());
    *key = base_url;
    return unix_path->size() > 1 && unix_path->front() == '/' &&
           unix_path->size() < sizeof(sockaddr_un::sun_path);
  }
  if (!internal::ParseBaseUrl(base_url, host, port)) return false;
  *key = *host + ":" + *port;
  return true;
}

struct Conn {
  // Room for a 16 KiB answer in one read (a buffer that starts empty reads 512 bytes at a time
  // and never grows, see ReserveForBody).
  explicit Conn(net::io_context& ioc) : stream(net::make_strand(ioc)) { buffer.reserve(16 * 1024); }
  AnyStream stream;  // TCP, or a Unix socket for "unix:" base urls
  beast::flat_buffer buffer;
};

// The idle connections made on one io context (the client's own, or a server's).
struct IoPool {
  std::shared_ptr<net::io_context> keep_alive;  // null for the client's own (ClientState owns it)
  std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> idle;  // by host:port
};

}  // namespace

// The client's state; in-flight ops on a server's io context hold only a weak reference, so the
// client can go away while they wait.
struct ClientState {
  AsyncClient::Options options;
  net::io_context ioc;  // the client's own, for callers on other threads
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;

  // Callbacks run under a shared lock; the destructor takes it exclusively and sets `closed`.
  std::shared_mutex callback_mu;
  bool closed = false;  // guarded by callback_mu

  mutable std::mutex mu;
  std::unordered_map<net::io_context*, IoPool> pools;  // guarded by mu

  std::unique_ptr<Conn> TakeIdle(net::io_context* ioc, const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    auto pool = pools.find(ioc);
    if (pool == pools.end()) return nullptr;
    auto it = pool->second.idle.find(key);
    if (it == pool->second.idle.end() || it->second.empty()) return nullptr;
    std::unique_ptr<Conn> conn = std::move(it->second.back());
    it->second.pop_back();
    return conn;
  }
  void GiveBack(const std::shared_ptr<net::io_context>& owner, net::io_context* ioc,
                const std::string& key, std::unique_ptr<Conn> conn) {
    conn->stream.expires_never();
    std::lock_guard<std::mutex> lock(mu);
    IoPool& pool = pools[ioc];
    if (!pool.keep_alive) pool.keep_alive = owner;
    auto& list = pool.idle[key];
    if (list.size() < options.max_idle_per_host) list.push_back(std::move(conn));
  }
  void DropIdle(const std::string& key) {  // the peer restarted or timed its connections out
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [ioc, pool] : pools) pool.idle.erase(key);
  }
};

struct AsyncClient::Impl {
  std::shared_ptr<ClientState> state = std::make_shared<ClientState>();
};

// One request in flight. Owns itself through the shared_ptr captured by its handlers.
struct AsyncClient::Op : std::enable_shared_from_this<AsyncClient::Op> {
  std::weak_ptr<ClientState> impl;
  std::shared_ptr<net::io_context> owner;  // a server's io context (null: the client's own)
  net::io_context* ioc = nullptr;
  std::string key, base_url, host, port;
  bhttp::request<bhttp::string_body> req;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  std::unique_ptr<Conn> conn;
  std::string unix_path;  // set for a "unix:<path>" base url (host and port unused)
  std::vector<any_stream_protocol::endpoint> endpoints;  // kept alive for async_connect
  bool reused = false, retried = false;
  std::chrono::milliseconds timeout{0}, connect_timeout{0};
  Callback done;

  void Start() {
    if (auto client = impl.lock()) conn = client->TakeIdle(ioc, key);
    reused = conn != nullptr;
    if (conn) return Write();
    conn = std::make_unique<Conn>(*ioc);
    beast::error_code ec;
    endpoints.clear();
    if (!unix_path.empty()) {
      endpoints.emplace_back(local_stream::endpoint(unix_path));
    } else if (auto address = net::ip::make_address(host, ec); !ec) {
      endpoints.emplace_back(tcp::endpoint(address, static_cast<uint16_t>(std::stoi(port))));
    } else {
      tcp::resolver resolver(*ioc);
      auto results = resolver.resolve(host, port, ec);
      if (ec) return Fail(Status::Unavailable("cannot connect to " + base_url + ": " + ec.message()));
      for (const auto& entry : results) endpoints.emplace_back(entry.endpoint());
    }
    conn->stream.expires_after(connect_timeout);
    conn->stream.async_connect(endpoints, [self = shared_from_this()](
                                              beast::error_code ec, const any_stream_protocol::endpoint&) {
      if (ec == beast::error::timeout) {
        return self->Fail(Status::DeadlineExceeded("cannot connect to " + self->base_url + ": timed out"));
      }
      if (ec) return self->Fail(Status::Unavailable("cannot connect to " + self->base_url + ": " + ec.message()));
      if (self->unix_path.empty()) {
        beast::error_code ignored;
        self->conn->stream.socket().set_option(tcp::no_delay(true), ignored);
      }
      self->Write();
    });
  }

  void Write() {
    conn->stream.expires_after(timeout);
    bhttp::async_write(conn->stream, req, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->IoFailed(ec, internal::IsStaleConnectionError(ec), "sending a request to");
      self->Read();
    });
  }

  void Read() {
    parser.emplace();
    parser->body_limit(kNoBodyLimit);
    bhttp::async_read(conn->stream, conn->buffer, *parser,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        return self->IoFailed(ec, !self->parser->got_some() && internal::IsStaleConnectionError(ec),
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
      if (auto client = impl.lock()) client->DropIdle(key);
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
    out.headers = internal::LowerHeaders(msg);
    out.body = std::move(msg.body());
    auto client = impl.lock();
    if (client && msg.keep_alive()) client->GiveBack(owner, ioc, key, std::move(conn));
    conn.reset();
    Deliver(client, std::move(out));
  }

  void Fail(Status status) {
    if (conn) {
      beast::error_code ignored;
      conn->stream.socket().close(ignored);
      conn.reset();
    }
    Deliver(impl.lock(), std::move(status));
  }

  void Deliver(const std::shared_ptr<ClientState>& client, Result<ClientResponse> result) {
    Callback cb = std::move(done);
    if (!client) return;
    std::shared_lock<std::shared_mutex> lock(client->callback_mu);
    if (client->closed) return;
    cb(std::move(result));
  }
};

AsyncClient::AsyncClient(Options options) : impl_(std::make_unique<Impl>()) {
  ClientState& st = *impl_->state;
  st.options = options;
  st.work.emplace(st.ioc.get_executor());
  int threads = options.io_threads < 1 ? 1 : options.io_threads;
  for (int idx = 0; idx < threads; ++idx) {
    st.threads.emplace_back([state = &st] { state->ioc.run(); });
  }
}

AsyncClient::~AsyncClient() {
  ClientState& st = *impl_->state;
  {
    std::unique_lock<std::shared_mutex> lock(st.callback_mu);  // waits for a running callback
    st.closed = true;
  }
  st.work.reset();
  st.ioc.stop();
  for (auto& t : st.threads) t.join();
  // Ops still queued on the own io context die with it; ops on a server's io context hold only
  // a weak reference and drop their result.
}

void AsyncClient::Request(const std::string& base_url, const std::string& method,
                          const std::string& target, std::string body,
                          std::vector<std::pair<std::string, std::string>> headers, Callback done,
                          std::chrono::milliseconds timeout) {
  ClientState& st = *impl_->state;
  auto op = std::make_shared<Op>();
  op->impl = impl_->state;
  if (!PoolKey(base_url, &op->host, &op->port, &op->unix_path, &op->key)) {
    done(Status::InvalidArgument("base url must look like http://host:port or unix:/path, got '" +
                                 base_url + "'"));
    return;
  }
  op->owner = internal::CurrentServerIo();
  op->ioc = op->owner ? op->owner.get() : &st.ioc;
  op->base_url = base_url;
  op->timeout = timeout.count() > 0 ? timeout : st.options.timeout;
  op->connect_timeout = st.options.connect_timeout;
  op->done = std::move(done);
  bhttp::verb verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) {
    op->req.method_string(method);
  } else {
    op->req.method(verb);
  }
  op->req.target(target);
  op->req.version(11);
  op->req.set(bhttp::field::host, op->unix_path.empty() ? op->key : "localhost");
  for (const auto& [name, value] : headers) op->req.set(name, value);
  op->req.keep_alive(true);
  op->req.body() = std::move(body);
  op->req.prepare_payload();
  // Never inline: `done` must not run inside Request(). A server io context has one thread, so
  // the op stays on the caller's thread.
  net::post(*op->ioc, [op] { op->Start(); });
}

size_t AsyncClient::idle_count(const std::string& base_url) const {
  std::string host, port, unix_path, key;
  if (!PoolKey(base_url, &host, &port, &unix_path, &key)) return 0;
  const ClientState& st = *impl_->state;
  std::lock_guard<std::mutex> lock(st.mu);
  size_t n = 0;
  for (const auto& [ioc, pool] : st.pools) {
    auto it = pool.idle.find(key);
    if (it != pool.idle.end()) n += it->second.size();
  }
  return n;
}

}  // namespace sskai::http
