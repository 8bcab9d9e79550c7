// AsyncClient against a real Server: answers, keep-alive reuse, errors, a restarted peer.
#include <future>

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

}  // namespace
}  // namespace sskai::http
