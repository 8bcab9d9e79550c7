// Server: binds, accepts on its io threads, hands sockets to Sessions; Stop() tears down.
#include <thread>

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
  // The io context is shared: an AsyncClient that pooled connections on it keeps it alive.
  explicit Impl(int threads)
      : ioc_ptr(std::make_shared<net::io_context>(threads)),
        ioc(*ioc_ptr),
        acceptor(ioc),
        accept_retry(ioc) {}

  void Accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {
        // E.g. out of file descriptors: back off a little instead of spinning.
        SSKAI_LOG_WARN("http accept failed: {}", ec.message());
        accept_retry.expires_after(std::chrono::milliseconds(50));
        accept_retry.async_wait([this](beast::error_code) { Accept(); });
        return;
      }
      std::make_shared<Session>(std::move(socket), ctx)->Start();
      Accept();
    });
  }

  std::shared_ptr<net::io_context> ioc_ptr;
  net::io_context& ioc;
  tcp::acceptor acceptor;
  net::steady_timer accept_retry;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::shared_ptr<ServerContext> ctx;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::mutex stop_mu;
  bool stopped = false;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

uint16_t Server::port() const { return impl_->port; }

Result<std::unique_ptr<Server>> Server::Create(Options options, std::shared_ptr<Router> router) {
  if (!router) return Status::InvalidArgument("http server needs a router");
  if (options.io_threads < 1) return Status::InvalidArgument("io_threads must be >= 1");
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

  impl->ctx = std::make_shared<ServerContext>();
  impl->ctx->options = std::move(options);
  impl->ctx->router = std::move(router);
  impl->work.emplace(impl->ioc.get_executor());
  impl->Accept();
  int threads = impl->ctx->options.io_threads;
  for (int idx = 0; idx < threads; ++idx) {
    impl->threads.emplace_back([ioc = &impl->ioc, shared = impl->ioc_ptr] {
      internal::SetCurrentServerIo(shared);
      while (true) {
        try {
          ioc->run();
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
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();
  beast::error_code ec;
  impl_->acceptor.close(ec);
  {
    std::lock_guard<std::mutex> lock(impl_->ctx->mu);
    sessions.swap(impl_->ctx->sessions);
  }
  for (auto& [ptr, session] : sessions) session->CloseSocketNow();
  sessions.clear();  // sessions still referenced by queued handlers go with the io_context
}

}  // namespace sskai::http
