// AsyncClient against a real Server: answers, keep-alive reuse, errors, a restarted peer.
#include <future>
#include <thread>

#include "http/test_util.h"

namespace sskai::http {
namespace {

using testing::StartServer;

Result<ClientResponse> Call(AsyncClient& client, const std::string& url, const std::string& target,
                            std::string body = "") {
  std::promise<Result<ClientResponse>> promise;
  auto future = promise.get_future();
  client.Request(url, "POST", target, std::move(body), {{"x-test", "1"}},
                 [&promise](Result<ClientResponse> r) { promise.set_value(std::move(r)); });
  return future.get();
}

std::shared_ptr<Router> EchoRouter() {
  auto router = std::make_shared<Router>();
  router->AddSync("POST", "/echo", [](Request& req) {
    return Response::Json(201, "{\"body\":\"" + req.body + "\",\"x\":\"" + req.Header("x-test") + "\"}");
  });
  return router;
}

TEST(AsyncClientTest, AnswersAndReusesConnections) {
  auto server = StartServer(EchoRouter());
  ASSERT_NE(server, nullptr);
  std::string url = "http://127.0.0.1:" + std::to_string(server->port());
  AsyncClient client(AsyncClient::Options{});
  for (int idx = 0; idx < 5; ++idx) {
    auto r = Call(client, url, "/echo", "hi" + std::to_string(idx));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "{\"body\":\"hi" + std::to_string(idx) + "\",\"x\":\"1\"}");
    EXPECT_EQ(r->headers["content-type"], "application/json");
  }
  EXPECT_EQ(client.idle_count(url), 1u);  // sequential requests share one connection
}

// Bodies around the read sizes (512 bytes; the pooled connection's 16 KiB; 64 KiB) go out and
// come back whole over one pooled connection.
TEST(AsyncClientTest, LargeBodiesBothWaysOverOnePooledConnection) {
  auto router = std::make_shared<Router>();
  router->AddSync("POST", "/raw", [](Request& req) { return Response::Text(200, req.body); });
  auto server = StartServer(router);
  ASSERT_NE(server, nullptr);
  std::string url = "http://127.0.0.1:" + std::to_string(server->port());
  AsyncClient client(AsyncClient::Options{});
  for (size_t size : {511, 513, 16383, 16385, 65537, 300000, 7}) {
    std::string body(size, '\0');
    for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>('A' + (i * 13 + size) % 26);
    auto r = Call(client, url, "/raw", body);
    ASSERT_TRUE(r.ok()) << size << ": " << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.size(), size);
    EXPECT_TRUE(r->body == body) << "answer of " << size << " bytes came back changed";
  }
  EXPECT_EQ(client.idle_count(url), 1u);
}

TEST(AsyncClientTest, ManyConcurrentRequests) {
  auto server = StartServer(EchoRouter());
  ASSERT_NE(server, nullptr);
  std::string url = "http://127.0.0.1:" + std::to_string(server->port());
  AsyncClient client(AsyncClient::Options{});
  constexpr int kRequests = 200;
  std::atomic<int> ok{0}, answered{0};
  std::promise<void> all;
  for (int idx = 0; idx < kRequests; ++idx) {
    client.Request(url, "POST", "/echo", "x", {}, [&](Result<ClientResponse> r) {
      if (r.ok() && r->status == 201) ok += 1;
      if (++answered == kRequests) all.set_value();
    });
  }
  all.get_future().wait();
  EXPECT_EQ(ok.load(), kRequests);
}

TEST(AsyncClientTest, RefusedConnectionIsUnavailableAndBadUrlInvalid) {
  uint16_t port;
  {
    auto server = StartServer(EchoRouter());
    ASSERT_NE(server, nullptr);
    port = server->port();
  }
  AsyncClient client(AsyncClient::Options{});
  auto r = Call(client, "http://127.0.0.1:" + std::to_string(port), "/echo");
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  auto bad = Call(client, "ftp://nowhere", "/echo");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(AsyncClientTest, StalePooledConnectionIsRetriedOnAFreshOne) {
  auto server = StartServer(EchoRouter());
  ASSERT_NE(server, nullptr);
  uint16_t port = server->port();
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  AsyncClient client(AsyncClient::Options{});
  ASSERT_TRUE(Call(client, url, "/echo", "a").ok());
  ASSERT_EQ(client.idle_count(url), 1u);
  server->Stop();  // closes the pooled connection from the server side
  server.reset();
  Server::Options o;
  o.port = port;
  auto again = StartServer(EchoRouter(), o);
  ASSERT_NE(again, nullptr);
  auto r = Call(client, url, "/echo", "b");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 201);
}

TEST(AsyncClientTest, TimeoutIsDeadlineExceeded) {
  auto router = std::make_shared<Router>();
  std::promise<void> release;
  auto released = release.get_future().share();
  router->Add("POST", "/slow", [released](Request&, Responder respond) {
    std::thread([released, respond] {
      released.wait();
      respond(Response::Json(200, "{}"));
    }).detach();
  });
  auto server = StartServer(router);
  ASSERT_NE(server, nullptr);
  std::string url = "http://127.0.0.1:" + std::to_string(server->port());
  AsyncClient client(AsyncClient::Options{});
  std::promise<Result<ClientResponse>> promise;
  client.Request(url, "POST", "/slow", "", {}, [&](Result<ClientResponse> r) {
    promise.set_value(std::move(r));
  }, std::chrono::milliseconds(100));
  auto r = promise.get_future().get();
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  release.set_value();
}

// A proxy server (one io thread) whose handler forwards to the echo server through `client`.
// Records the thread of the handler and of the forwarded answer's callback.
struct Proxy {
  std::thread::id handler_thread, callback_thread;
  std::unique_ptr<Server> server;
};
std::unique_ptr<Proxy> StartProxy(AsyncClient& client, const std::string& upstream) {
  auto proxy = std::make_unique<Proxy>();
  auto router = std::make_shared<Router>();
  Proxy* p = proxy.get();
  router->Add("POST", "/fwd", [p, &client, upstream](Request& req, Responder respond) {
    p->handler_thread = std::this_thread::get_id();
    client.Request(upstream, "POST", "/echo", std::move(req.body), {{"x-test", "via"}},
                   [p, respond](Result<ClientResponse> r) {
                     p->callback_thread = std::this_thread::get_id();
                     if (!r.ok()) return respond(ErrorResponse(r.status()));
                     respond(Response::Json(r->status, std::move(r->body)));
                   });
  });
  Server::Options o;
  o.io_threads = 1;
  proxy->server = StartServer(router, o);
  return proxy->server ? std::move(proxy) : nullptr;
}

TEST(AsyncClientTest, RequestFromAServerHandlerStaysOnThatIoThread) {
  auto upstream = StartServer(EchoRouter());
  ASSERT_NE(upstream, nullptr);
  std::string url = "http://127.0.0.1:" + std::to_string(upstream->port());
  AsyncClient client(AsyncClient::Options{});
  auto proxy = StartProxy(client, url);
  ASSERT_NE(proxy, nullptr);
  auto c = testing::MakeClient(proxy->server->port());
  for (int idx = 0; idx < 3; ++idx) {
    auto r = c->Request("POST", "/fwd", "p" + std::to_string(idx));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "{\"body\":\"p" + std::to_string(idx) + "\",\"x\":\"via\"}");
    // The answer was handled by the proxy's own io thread: no hand-off to the client's.
    EXPECT_EQ(proxy->callback_thread, proxy->handler_thread);
  }
  EXPECT_EQ(client.idle_count(url), 1u);  // the server-side pool kept one connection
  // A request from another thread uses the client's own io thread and its own pool.
  auto direct = Call(client, url, "/echo", "d");
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(client.idle_count(url), 2u);
}

TEST(AsyncClientTest, ClientDestroyedWhileAServerSideRequestIsInFlight) {
  auto router = std::make_shared<Router>();
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> arrived;
  router->Add("POST", "/echo", [released, &arrived](Request&, Responder respond) {
    arrived.set_value();
    std::thread([released, respond] {
      released.wait();
      respond(Response::Json(201, "{}"));
    }).detach();
  });
  auto upstream = StartServer(router);
  ASSERT_NE(upstream, nullptr);
  std::string url = "http://127.0.0.1:" + std::to_string(upstream->port());
  auto client = std::make_unique<AsyncClient>(AsyncClient::Options{});
  auto proxy = StartProxy(*client, url);
  ASSERT_NE(proxy, nullptr);
  std::thread caller([&] {
    auto c = testing::MakeClient(proxy->server->port());
    auto r = c->Request("POST", "/fwd", "x");  // the proxy answers 500: its callback never ran
    EXPECT_TRUE(!r.ok() || r->status == 500);
  });
  arrived.get_future().wait();
  client.reset();  // the forwarded request is still waiting upstream
  release.set_value();
  proxy->server->Stop();
  caller.join();
  EXPECT_EQ(proxy->callback_thread, std::thread::id());
}

}  // namespace
}  // namespace sskai::http
