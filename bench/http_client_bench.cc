// Sync http::Client::Request round trips (keep-alive, plain HTTP) against an http::Server on loopback:
// the per-request cost of the client path the gateway's ClientPool and the CLI use.
// Usage: http_client_bench [N=20000]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "http/http.h"

using namespace sskai::http;

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  auto router = std::make_shared<Router>();
  router->AddSync("GET", "/ping", [](Request&) { return Response::Json(200, "{\"ok\":true}"); });
  Server::Options o;
  o.io_threads = 1;
  auto server = Server::Create(o, router);
  if (!server.ok()) return 1;
  auto client = Client::Create("http://127.0.0.1:" + std::to_string((*server)->port()));
  for (int i = 0; i < 500; ++i) (void)(*client)->Request("GET", "/ping");
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    auto r = (*client)->Request("GET", "/ping");
    if (!r.ok() || r->status != 200) return 2;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%d requests: %.0f req/s, %.1f us/request\n", n, n / s, s / n * 1e6);
  (*server)->Stop();
}
