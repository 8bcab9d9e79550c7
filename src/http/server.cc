// Server: binds, accepts on its io threads, hands sockets to Sessions; Stop() tears down.
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <type_traits>

#include "common/log.h"
#include "http/io_thread.h"
#include "http/session.h"

namespace sskai::http {

namespace internal {
namespace {
thread_local std::shared_ptr<net::io_context> tls_server_io;
}  // namespace
const std::shared_ptr<net::io_context>& CurrentServerIo() { return tls_server_io; }
void SetCurrentServerIo(std::shared_ptr<net::io_context> ioc) { tls_server_io = std::move(ioc); }
}  // namespace internal

struct Server::Impl {
  // One io context per io thread (concurrency hint 1: no cross-thread hand-offs within a
  // request). The contexts are shared: an AsyncClient that pooled connections on one keeps it
  // alive. The acceptors and their retry timers live on the first.
  explicit Impl(int threads)
      : iocs(MakeIoContexts(threads)),
        ioc(*iocs.front()),
        acceptor(ioc),
        unix_acceptor(ioc),
        accept_retry(ioc),
        unix_accept_retry(ioc) {}

  static std::vector<std::shared_ptr<net::io_context>> MakeIoContexts(int threads) {
    std::vector<std::shared_ptr<net::io_context>> out;
    for (int idx = 0; idx < threads; ++idx) out.push_back(std::make_shared<net::io_context>(1));
    return out;
  }

  // Accepts on `acc` (TCP or Unix) forever; each socket becomes a Session on the next io
  // context in turn.
  template <class Acceptor>
  void Accept(Acceptor& acc, net::steady_timer& retry) {
    using Socket = typename Acceptor::protocol_type::socket;
    net::io_context& target = *iocs[next_io++ % iocs.size()];
    acc.async_accept(target, [this, &acc, &retry](beast::error_code ec, Socket socket) {
      if (ec == net::error::operation_aborted || !acc.is_open()) return;
      if (ec) {
        // E.g. out of file descriptors: back off a little instead of spinning.
        SSKAI_LOG_WARN("http accept failed: {}", ec.message());
        retry.expires_after(std::chrono::milliseconds(50));
        retry.async_wait([this, &acc, &retry](beast::error_code) { Accept(acc, retry); });
        return;
      }
      std::string remote = "unix";
      if constexpr (std::is_same_v<Socket, tcp::socket>) {
        beast::error_code ignored;
        auto ep = socket.remote_endpoint(ignored);
        if (!ignored) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
        socket.set_option(tcp::no_delay(true), ignored);
      }
      std::make_shared<Session>(any_stream_protocol::socket(std::move(socket)), std::move(remote), ctx)
          ->Start();
      Accept(acc, retry);
    });
  }

  std::vector<std::shared_ptr<net::io_context>> iocs;
  net::io_context& ioc;
  size_t next_io = 0;  // only touched by accept handlers (the first context's thread)
  tcp::acceptor acceptor;
  local_stream::acceptor unix_acceptor;  // open when Options::unix_path is set
  net::steady_timer accept_retry;
  net::steady_timer unix_accept_retry;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  std::shared_ptr<ServerContext> ctx;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::mutex stop_mu;
  bool stopped = false;
};

namespace {

// Binds `acceptor` to a fresh socket file at `path` (a stale file from a crashed process is
// replaced). Errors: kInvalidArgument (path too long), kUnavailable (cannot bind or listen).
Status ListenUnix(const std::string& path, local_stream::acceptor& acceptor) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Status::InvalidArgument("unix socket path too long (max " +
                                   std::to_string(sizeof(sockaddr_un::sun_path) - 1) + "): " + path);
  }
  ::unlink(path.c_str());
  beast::error_code ec;
  local_stream::endpoint endpoint(path);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on unix socket " + path + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

uint16_t Server::port() const { return impl_->port; }

int Server::IoThreadsFor(int requested, int cores) { return requested > 0 ? requested : std::max(1, cores / 2); }

Result<std::unique_ptr<Server>> Server::Create(Options options, std::shared_ptr<Router> router) {
  if (!router) return Status::InvalidArgument("http server needs a router");
  if (options.io_threads < 1) return Status::InvalidArgument("io_threads must be >= 1");
  if (options.blocking_threads < 1) return Status::InvalidArgument("blocking_threads must be >= 1");
  if (options.temp_dir.empty()) {
    for (const auto& route : router->routes()) {
      if (route.stream_body) {
        return Status::InvalidArgument("route " + route.pattern + " streams its body: temp_dir is required");
      }
    }
  }
  beast::error_code ec;
  auto address = net::ip::make_address(options.host, ec);
  if (ec) return Status::InvalidArgument("bad listen address '" + options.host + "': " + ec.message());
  tcp::endpoint endpoint(address, options.port);
  std::string where = options.host + ":" + std::to_string(options.port);

  auto impl = std::make_unique<Impl>(options.io_threads);
  auto& acceptor = impl->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return Status::Unavailable("cannot open socket for " + where + ": " + ec.message());
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) return Status::Unavailable("cannot bind " + where + ": " + ec.message());
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  impl->port = acceptor.local_endpoint(ec).port();
  if (!options.unix_path.empty()) SSKAI_RETURN_IF_ERROR(ListenUnix(options.unix_path, impl->unix_acceptor));

  impl->ctx = std::make_shared<ServerContext>();
  impl->ctx->blocking = std::make_shared<net::thread_pool>(options.blocking_threads);
  impl->ctx->options = std::move(options);
  impl->ctx->router = std::move(router);
  for (auto& ioc : impl->iocs) impl->work.emplace_back(ioc->get_executor());
  impl->Accept(impl->acceptor, impl->accept_retry);
  if (impl->unix_acceptor.is_open()) impl->Accept(impl->unix_acceptor, impl->unix_accept_retry);
  for (const auto& shared : impl->iocs) {
    impl->threads.emplace_back([shared] {
      internal::SetCurrentServerIo(shared);
      while (true) {
        try {
          shared->run();
          internal::SetCurrentServerIo(nullptr);
          return;
        } catch (const std::exception& e) {  // last resort: keep the io thread alive
          SSKAI_LOG_ERROR("http io thread caught: {}", e.what());
        }
      }
    });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::Stop() {
  if (!impl_) return;
  std::lock_guard<std::mutex> stop_lock(impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions;
  {
    std::lock_guard<std::mutex> lock(impl_->ctx->mu);
    impl_->ctx->stopped = true;
  }
  impl_->work.clear();
  for (auto& ioc : impl_->iocs) ioc->stop();
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();
  // Blocking handlers still running finish (their answers are dropped: ctx->stopped).
  impl_->ctx->blocking->join();
  beast::error_code ec;
  impl_->acceptor.close(ec);
  if (impl_->unix_acceptor.is_open()) {
    impl_->unix_acceptor.close(ec);
    ::unlink(impl_->ctx->options.unix_path.c_str());
  }
  {
    std::lock_guard<std::mutex> lock(impl_->ctx->mu);
    sessions.swap(impl_->ctx->sessions);
  }
  for (auto& [ptr, session] : sessions) session->CloseSocketNow();
  sessions.clear();  // sessions still referenced by queued handlers go with the io_context
}

}  // namespace sskai::http
