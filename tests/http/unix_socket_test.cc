// Server::Options::unix_path and AsyncClient's "unix:" base urls: the same routes over a Unix
// socket as over TCP, keep-alive reuse, a proxy hop (the gateway's path), errors, cleanup.
#include <fcntl.h>
#include <sys/stat.h>

#include <future>

#include "http/test_util.h"

namespace sskai::http {
namespace {

using testing::StartServer;
using testing::TempDir;

Result<ClientResponse> Call(AsyncClient& client, const std::string& url, const std::string& body) {
  std::promise<Result<ClientResponse>> promise;
  auto future = promise.get_future();
  client.Request(url, "POST", "/echo", body, {{"x-test", "1"}},
                 [&promise](Result<ClientResponse> r) { promise.set_value(std::move(r)); });
  return future.get();
}

std::shared_ptr<Router> EchoRouter() {
  auto router = std::make_shared<Router>();
  router->AddSync("POST", "/echo", [](Request& req) {
    return Response::Json(201, "{\"body\":\"" + req.body + "\",\"peer\":\"" + req.remote_addr + "\"}");
  });
  return router;
}

// An echo server that also listens on the Unix socket `path`.
std::unique_ptr<Server> StartOnSocket(const std::string& path) {
  Server::Options o;
  o.unix_path = path;
  return StartServer(EchoRouter(), o);
}

bool IsSocket(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

TEST(UnixSocketTest, ServesTheSameRoutesOnTheSocketAndOnTcp) {
  TempDir dir;
  std::string path = dir.path() + "/r1.sock";
  auto server = StartOnSocket(path);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(IsSocket(path));
  AsyncClient client(AsyncClient::Options{});
  std::string unix_url = "unix:" + path;
  for (int idx = 0; idx < 3; ++idx) {
    auto r = Call(client, unix_url, "u" + std::to_string(idx));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "{\"body\":\"u" + std::to_string(idx) + "\",\"peer\":\"unix\"}");
  }
  EXPECT_EQ(client.idle_count(unix_url), 1u);  // keep-alive over the socket too
  std::string tcp_url = "http://127.0.0.1:" + std::to_string(server->port());
  auto over_tcp = Call(client, tcp_url, "t");
  ASSERT_TRUE(over_tcp.ok()) << over_tcp.status().ToString();
  EXPECT_NE(over_tcp->body.find("127.0.0.1:"), std::string::npos) << over_tcp->body;
  EXPECT_EQ(client.idle_count(tcp_url), 1u);  // separate pools per transport
  server->Stop();
  EXPECT_FALSE(IsSocket(path));  // Stop removes the file
}

TEST(UnixSocketTest, AStaleSocketFileIsReplacedAndAPooledConnectionRetried) {
  TempDir dir;
  std::string path = dir.path() + "/r.sock";
  auto first = StartOnSocket(path);
  ASSERT_NE(first, nullptr);
  AsyncClient client(AsyncClient::Options{});
  std::string url = "unix:" + path;
  ASSERT_TRUE(Call(client, url, "a").ok());
  ASSERT_EQ(client.idle_count(url), 1u);
  // A replica killed without Stop leaves its file behind: the next one binds anyway.
  first->Stop();
  first.reset();
  ASSERT_EQ(::close(::open(path.c_str(), O_CREAT | O_WRONLY, 0600)), 0);  // stale file
  auto second = StartOnSocket(path);
  ASSERT_NE(second, nullptr);
  auto r = Call(client, url, "b");  // the pooled connection is dead: retried on a fresh one
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 201);
}

TEST(UnixSocketTest, ErrorsNameTheProblem) {
  TempDir dir;
  AsyncClient client(AsyncClient::Options{});
  auto missing = Call(client, "unix:" + dir.path() + "/none.sock", "x");
  EXPECT_EQ(missing.status().code(), StatusCode::kUnavailable) << missing.status().ToString();
  EXPECT_EQ(Call(client, "unix:relative.sock", "x").status().code(), StatusCode::kInvalidArgument);
  Server::Options o;
  o.unix_path = dir.path() + "/" + std::string(120, 'x') + ".sock";
  auto server = Server::Create(o, EchoRouter());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument) << server.status().ToString();
  o.unix_path = dir.path() + "/no/such/dir/r.sock";
  server = Server::Create(o, EchoRouter());
  EXPECT_EQ(server.status().code(), StatusCode::kUnavailable) << server.status().ToString();
}

TEST(UnixSocketTest, AProxyHandlerForwardsOverTheSocket) {
  TempDir dir;
  auto upstream = StartOnSocket(dir.path() + "/up.sock");
  ASSERT_NE(upstream, nullptr);
  AsyncClient client(AsyncClient::Options{});
  auto router = std::make_shared<Router>();
  std::string url = "unix:" + dir.path() + "/up.sock";
  router->Add("POST", "/fwd", [&client, url](Request& req, Responder respond) {
    client.Request(url, "POST", "/echo", std::move(req.body), {},
                   [respond](Result<ClientResponse> r) {
                     if (!r.ok()) return respond(ErrorResponse(r.status()));
                     respond(Response::Json(r->status, std::move(r->body)));
                   });
  });
  auto proxy = StartServer(router);
  ASSERT_NE(proxy, nullptr);
  auto c = testing::MakeClient(proxy->port());
  for (int idx = 0; idx < 3; ++idx) {
    auto r = c->Request("POST", "/fwd", "p" + std::to_string(idx));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "{\"body\":\"p" + std::to_string(idx) + "\",\"peer\":\"unix\"}");
  }
}

}  // namespace
}  // namespace sskai::http
