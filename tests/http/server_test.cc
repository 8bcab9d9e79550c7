// Server + Client over real loopback sockets: handlers, keep-alive, limits, errors, concurrency.
#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "http/beast.h"
#include "http/test_util.h"

namespace sskai::http {
namespace {

using testing::MakeClient;
using testing::RawSocket;
using testing::StartServer;

std::shared_ptr<Router> DemoRouter() {
  auto router = std::make_shared<Router>();
  router->AddSync("GET", "/hello", [](Request&) { return Response::Json(200, R"({"hello":"world"})"); });
  router->AddSync("POST", "/echo", [](Request& req) {
    Response r = Response::Text(200, req.body, req.Header("content-type"));
    r.headers.emplace_back("X-Body-Size", std::to_string(req.body_size));
    return r;
  });
  router->AddSync("GET", "/peer", [](Request& req) { return Response::Text(200, req.remote_addr); });
  router->AddSync("GET", "/items/{id}", [](Request& req) {
    return Response::Text(200, req.params["id"] + "," + req.Query("q"));
  });
  // Answers later from another thread.
  router->Add("GET", "/async", [](Request& req, Responder respond) {
    std::string value = req.Query("v");
    std::thread([value, respond] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      respond(Response::Text(200, "async:" + value));
    }).detach();
  });
  router->AddSync("GET", "/boom", [](Request&) -> Response { throw std::runtime_error("boom"); });
  router->Add("GET", "/forgets", [](Request&, Responder) {});
  router->AddSync("DELETE", "/items/{id}", [](Request&) { return Response::Json(204, "{}"); });
  router->AddSync("GET", "/badstatus", [](Request&) { return Response::Json(42, "{}"); });
  return router;
}

TEST(ServerTest, SyncAndAsyncHandlersAnswer) {
  auto server = StartServer(DemoRouter());
  auto client = MakeClient(server->port());
  auto hello = client->Request("GET", "/hello");
  ASSERT_TRUE(hello.ok()) << hello.status().ToString();
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(hello->body, R"({"hello":"world"})");
  EXPECT_EQ(hello->headers["content-type"], "application/json");
  EXPECT_EQ(hello->headers["content-length"], "17");

  auto async = client->Request("GET", "/async?v=7");
  ASSERT_TRUE(async.ok());
  EXPECT_EQ(async->body, "async:7");

  auto item = client->Request("GET", "/items/a%2Fb?q=x%20y");
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->body, "a/b,x y");

  auto echo = client->Request("POST", "/echo", "payload", {{"Content-Type", "text/x-test"}});
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->body, "payload");
  EXPECT_EQ(echo->headers["content-type"], "text/x-test");
  EXPECT_EQ(echo->headers["x-body-size"], "7");
}

TEST(ServerTest, IoThreadsDefaultToHalfTheCores) {
  EXPECT_EQ(Server::IoThreadsFor(0, 1), 1);
  EXPECT_EQ(Server::IoThreadsFor(0, 2), 1);
  EXPECT_EQ(Server::IoThreadsFor(0, 16), 8);
  EXPECT_EQ(Server::IoThreadsFor(0, 0), 1);  // hardware_concurrency() may not know
  EXPECT_EQ(Server::IoThreadsFor(3, 2), 3);  // an explicit count wins
}

TEST(ServerTest, KeepAliveReusesTheConnection) {
  auto server = StartServer(DemoRouter());
  auto client = MakeClient(server->port());
  auto first = client->Request("GET", "/peer");
  auto second = client->Request("GET", "/peer");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->body, second->body);  // same client port = same connection
  auto other = MakeClient(server->port())->Request("GET", "/peer");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->body, first->body);
}

// Bodies of every size around the read sizes (512 bytes, 64 KiB) arrive whole and in order over
// one keep-alive connection, also after a large one shrank the connection's buffer.
TEST(ServerTest, BodiesAroundTheReadSizesArriveWhole) {
  auto server = StartServer(DemoRouter());
  auto client = MakeClient(server->port());
  std::string previous_peer;
  for (size_t size : {0, 1, 511, 512, 513, 3000, 65535, 65536, 65537, 300000, 2800, 70000, 5}) {
    std::string body(size, '\0');
    for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>('a' + (i * 7 + size) % 26);
    auto r = client->Request("POST", "/echo", body);
    ASSERT_TRUE(r.ok()) << size << ": " << r.status().ToString();
    EXPECT_EQ(r->status, 200) << size;
    EXPECT_EQ(r->body.size(), size);
    EXPECT_TRUE(r->body == body) << "body of " << size << " bytes came back changed";
  }
  auto peer = client->Request("GET", "/peer");
  auto again = client->Request("GET", "/peer");
  ASSERT_TRUE(peer.ok() && again.ok());
  EXPECT_EQ(peer->body, again->body);  // still the one connection
}

// ReserveForBody: room for what the body still needs beyond the buffered bytes, at most 64 KiB;
// 64 KiB when the length is unknown; nothing when the buffer already holds the rest.
TEST(ServerTest, BodyReadsMakeRoomForTheRestOfTheBody) {
  auto header_done = [](const std::string& head) {
    auto parser = std::make_unique<bhttp::request_parser<bhttp::string_body>>();
    parser->body_limit(kNoBodyLimit);
    beast::error_code ec;
    parser->put(net::buffer(head), ec);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(parser->is_header_done());
    return parser;
  };
  auto buffered = [](size_t n) {
    auto buffer = std::make_unique<beast::flat_buffer>();
    buffer->commit(net::buffer_copy(buffer->prepare(n), net::buffer(std::string(n, 'x'))));
    return buffer;
  };
  {  // 3,000-byte body, 100 bytes already here: one read takes the other 2,900
    auto parser = header_done("POST /x HTTP/1.1\r\nContent-Length: 3000\r\n\r\n");
    auto buffer = buffered(100);
    ReserveForBody(*buffer, *parser);
    EXPECT_GE(buffer->capacity() - buffer->size(), 2900u);
    EXPECT_EQ(buffer->size(), 100u);  // the buffered bytes stay
  }
  {  // 10 MB body: 64 KiB per read, not the whole body
    auto parser = header_done("POST /x HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n");
    auto buffer = buffered(10);
    ReserveForBody(*buffer, *parser);
    EXPECT_GE(buffer->capacity() - buffer->size(), kBodyReadBytes);
    EXPECT_LT(buffer->capacity(), 2 * kBodyReadBytes);
  }
  {  // chunked: the length is unknown
    auto parser = header_done("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    beast::flat_buffer buffer;
    ReserveForBody(buffer, *parser);
    EXPECT_GE(buffer.capacity(), kBodyReadBytes);
  }
  {  // the rest is already buffered: no new room
    auto parser = header_done("POST /x HTTP/1.1\r\nContent-Length: 50\r\n\r\n");
    auto buffer = buffered(50);
    size_t before = buffer->capacity();
    ReserveForBody(*buffer, *parser);
    EXPECT_EQ(buffer->capacity(), before);
  }
}

TEST(ServerTest, ClientReconnectsAfterServerClosedKeepAlive) {
  auto router = DemoRouter();
  Server::Options o;
  o.idle_timeout = std::chrono::seconds(1);
  auto server = StartServer(router, o);
  auto client = MakeClient(server->port());
  ASSERT_TRUE(client->Request("GET", "/hello").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));  // server drops the idle connection
  auto again = client->Request("GET", "/hello");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, 200);
}

TEST(ServerTest, RequestIdIsEchoedOrGenerated) {
  auto server = StartServer(DemoRouter());
  auto client = MakeClient(server->port());
  auto given = client->Request("GET", "/hello", "", {{"X-Request-Id", "abc123"}});
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(given->headers["x-request-id"], "abc123");
  auto generated = client->Request("GET", "/nope");
  ASSERT_TRUE(generated.ok());
  EXPECT_EQ(generated->headers["x-request-id"].size(), 16u);
}

TEST(ServerTest, NotFoundAndMethodNotAllowedUseTheErrorShape) {
  auto server = StartServer(DemoRouter());
  auto client = MakeClient(server->port());
  auto missing = client->Request("GET", "/nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing->body)["error"]["code"], "not_found");
  auto wrong = client->Request("DELETE", "/hello");
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->headers["allow"], "GET");
  // 404 with a body pending closes the connection; the client reconnects transparently.
  auto with_body = client->Request("POST", "/nope", std::string(1000, 'x'));
  ASSERT_TRUE(with_body.ok());
  EXPECT_EQ(with_body->status, 404);
  EXPECT_EQ(client->Request("GET", "/hello")->status, 200);
}

TEST(ServerTest, OversizeBodyIs413) {
  Server::Options o;
  o.max_body_bytes = 1000;
  auto server = StartServer(DemoRouter(), o);
  auto client = MakeClient(server->port());
  auto ok = client->Request("POST", "/echo", std::string(1000, 'a'));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200);
  auto big = client->Request("POST", "/echo", std::string(200000, 'a'));
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(nlohmann::json::parse(big->body)["error"]["code"], "payload_too_large");
  EXPECT_EQ(client->Request("GET", "/hello")->status, 200);
}

TEST(ServerTest, ChunkedBodyIsReadAndLimited) {
  Server::Options o;
  o.max_body_bytes = 10;
  auto server = StartServer(DemoRouter(), o);
  {
    RawSocket sock(server->port());
    ASSERT_TRUE(sock.connected());
    sock.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              "4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n");
    std::string reply = sock.ReadUntil("abcdefg");
    EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply;
    EXPECT_NE(reply.find("abcdefg"), std::string::npos) << reply;
  }
  RawSocket sock(server->port());
  sock.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "8\r\nabcdefgh\r\n8\r\nabcdefgh\r\n0\r\n\r\n");
  std::string reply = sock.ReadAll();
  EXPECT_NE(reply.find("HTTP/1.1 413"), std::string::npos) << reply;
}

TEST(ServerTest, ExpectContinueGets100First) {
  auto server = StartServer(DemoRouter());
  RawSocket sock(server->port());
  sock.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  std::string interim = sock.ReadUntil("\r\n\r\n");
  EXPECT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n", 0), 0u) << interim;
  sock.Send("hello");
  std::string reply = sock.ReadUntil("hello");
  EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply;
}

TEST(ServerTest, MalformedRequestIs400AndClosed) {
  auto server = StartServer(DemoRouter());
  RawSocket sock(server->port());
  sock.Send("GARBAGE\x01 / HTTP/1.1\r\n\r\n");
  std::string reply = sock.ReadAll();  // returns on close
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  EXPECT_NE(reply.find("invalid_argument"), std::string::npos);
  EXPECT_EQ(MakeClient(server->port())->Request("GET", "/hello")->status, 200);
}

TEST(ServerTest, ThrowingHandlerGives500AndServerKeepsServing) {
  auto server = StartServer(DemoRouter());
  auto client = MakeClient(server->port());
  for (int round = 0; round < 3; ++round) {
    auto boom = client->Request("GET", "/boom");
    ASSERT_TRUE(boom.ok());
    EXPECT_EQ(boom->status, 500);
    EXPECT_EQ(nlohmann::json::parse(boom->body)["error"]["code"], "internal");
    EXPECT_EQ(client->Request("GET", "/hello")->status, 200);
  }
  auto forgot = client->Request("GET", "/forgets");  // responder dropped without a call
  ASSERT_TRUE(forgot.ok());
  EXPECT_EQ(forgot->status, 500);
}

TEST(ServerTest, NoContentHasNoBodyAndBadStatusIs500) {
  auto server = StartServer(DemoRouter());
  auto client = MakeClient(server->port());
  auto deleted = client->Request("DELETE", "/items/3");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->status, 204);
  EXPECT_EQ(deleted->body, "");
  auto bad = client->Request("GET", "/badstatus");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 500);
  EXPECT_EQ(client->Request("GET", "/hello")->status, 200);
}

TEST(ServerTest, MiddlewareCanShortCircuitAndSeesTheRoute) {
  Server::Options o;
  std::atomic<int> responses{0};
  std::string last_pattern;
  std::mutex mu;
  o.middleware = [](Request& req, const RouteInfo& route) -> std::optional<Response> {
    if (route.pattern == "/items/{id}" && req.Header("authorization") != "Bearer ok") {
      return ErrorResponse(Status::Unauthenticated("missing token"));
    }
    return std::nullopt;
  };
  o.on_response = [&](const Request&, const RouteInfo* route, int status, double seconds) {
    std::lock_guard<std::mutex> lock(mu);
    last_pattern = route ? route->pattern + ":" + std::to_string(status) : "none";
    EXPECT_GE(seconds, 0.0);
    ++responses;
  };
  auto server = StartServer(DemoRouter(), o);
  auto client = MakeClient(server->port());
  EXPECT_EQ(client->Request("GET", "/items/1")->status, 401);
  auto authed = client->Request("GET", "/items/1", "", {{"Authorization", "Bearer ok"}});
  EXPECT_EQ(authed->status, 200);
  EXPECT_EQ(client->Request("GET", "/hello")->status, 200);
  EXPECT_EQ(client->Request("GET", "/missing")->status, 404);
  // on_response runs after the write completed, so possibly after the client saw the answer.
  for (int spin = 0; spin < 200 && responses.load() < 4; ++spin) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  server->Stop();
  EXPECT_EQ(responses.load(), 4);
  EXPECT_EQ(last_pattern, "none");
}

TEST(ServerTest, TwoHundredConcurrentConnections) {
  auto router = std::make_shared<Router>();
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  // Async handler that holds the request a little, so all connections are open at once.
  router->Add("GET", "/slow", [&](Request& req, Responder respond) {
    int now = ++in_flight;
    int prev = max_in_flight.load();
    while (now > prev && !max_in_flight.compare_exchange_weak(prev, now)) {
    }
    std::string id = req.Query("id");
    std::thread([&, id, respond] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      --in_flight;
      respond(Response::Text(200, id));
    }).detach();
  });
  auto server = StartServer(router);
  constexpr int kClients = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int idx = 0; idx < kClients; ++idx) {
    threads.emplace_back([&, idx] {
      auto client = Client::Create("http://127.0.0.1:" + std::to_string(server->port()));
      auto r = (*client)->Request("GET", "/slow?id=" + std::to_string(idx));
      if (r.ok() && r->status == 200 && r->body == std::to_string(idx)) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients);
  EXPECT_GT(max_in_flight.load(), 100);  // not serialized per connection
}

TEST(ServerTest, ClientPoolFromSeveralThreads) {
  auto server = StartServer(DemoRouter());
  ClientPool pool("http://127.0.0.1:" + std::to_string(server->port()), 4);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < 25; ++n) {
        std::string body = std::to_string(t) + "-" + std::to_string(n);
        auto r = pool.Request("POST", "/echo", body);
        if (r.ok() && r->body == body) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_GE(pool.idle_count(), 1u);
  EXPECT_LE(pool.idle_count(), 4u);
}

TEST(ClientTest, UnavailableWhenNothingListens) {
  uint16_t port;
  {
    auto server = StartServer(DemoRouter());
    port = server->port();
  }
  auto client = MakeClient(port);
  auto r = client->Request("GET", "/hello");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("cannot connect to http://127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("refused"), std::string::npos);
}

TEST(ClientTest, TimeoutIsDeadlineExceeded) {
  auto router = std::make_shared<Router>();
  router->Add("GET", "/never", [](Request&, Responder respond) {
    std::thread([respond] {
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      respond(Response::Text(200, "late"));
    }).detach();
  });
  auto server = StartServer(router);
  auto client = MakeClient(server->port(), ClientOptions{.timeout = std::chrono::milliseconds(150)});
  auto r = client->Request("GET", "/never");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
}

TEST(ClientTest, RejectsBadBaseUrls) {
  EXPECT_EQ(Client::Create("ftp://x:1").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Client::Create("http://:80").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Client::Create("http://h:99999").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Client::Create("http://h:80/path").status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Client::Create("http://localhost:8080/").ok());
  EXPECT_TRUE(Client::Create("http://localhost").ok());
}

TEST(ServerTest, AddressInUseIsUnavailable) {
  auto first = StartServer(DemoRouter());
  Server::Options o;
  o.port = first->port();
  auto second = Server::Create(o, DemoRouter());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
}

TEST(ServerTest, StopIsIdempotentAndLateRespondersAreIgnored) {
  auto router = std::make_shared<Router>();
  std::shared_ptr<Responder> held = std::make_shared<Responder>();
  std::atomic<bool> got{false};
  router->Add("GET", "/hold", [&](Request&, Responder respond) {
    *held = respond;
    got = true;
  });
  auto server = StartServer(router);
  std::thread caller([&] {
    auto client = MakeClient(server->port());
    auto r = client->Request("GET", "/hold");
    EXPECT_FALSE(r.ok());  // the server closed the connection
  });
  while (!got) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server->Stop();
  server->Stop();
  (*held)(Response::Text(200, "too late"));  // no crash, ignored
  caller.join();
  server.reset();
  held.reset();
}

}  // namespace
}  // namespace sskai::http
