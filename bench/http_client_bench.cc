// Sync http::Client round trips (keep-alive, plain HTTP) against an http::Server on loopback:
// the per-request cost of the client path the gateway's ClientPool and the CLI use; then bulk
// transfers through the same pair: a download to a file (Client::DownloadToFile, as `models pull`
// fetches shards), a streamed upload of that file (as dataset and model uploads arrive: the server
// writes a temp file and hashes it on the way) and an upload read by the server into memory (a
// request body, as predict and the control-plane calls receive them).
// Usage: http_client_bench [N=20000] [MiB=256]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "http/http.h"

using namespace sskai::http;

namespace {
double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  int mib = argc > 2 ? std::atoi(argv[2]) : 256;
  const std::string blob(static_cast<size_t>(mib) << 20, 'x');
  auto router = std::make_shared<Router>();
  router->AddSync("GET", "/ping", [](Request&) { return Response::Json(200, "{\"ok\":true}"); });
  router->AddSync("GET", "/blob", [&blob](Request&) { return Response::Text(200, blob); });
  router->AddSync("POST", "/sink", [](Request& req) {
    return Response::Json(200, "{\"bytes\":" + std::to_string(req.body.size()) + "}");
  });
  router->AddSync("PUT", "/file", [](Request& req) {  // streamed to a temp file, hashed on the way
    std::filesystem::remove(req.body_file);
    return Response::Json(200, "{\"sha256\":\"" + req.body_sha256 + "\"}");
  }, {.stream_body = true});
  Server::Options o;
  o.io_threads = 1;
  o.max_body_bytes = (static_cast<uint64_t>(mib) + 1) << 20;
  o.temp_dir = std::filesystem::temp_directory_path();
  auto server = Server::Create(o, router);
  if (!server.ok()) return 1;
  auto client = Client::Create("http://127.0.0.1:" + std::to_string((*server)->port()));
  for (int i = 0; i < 500; ++i) (void)(*client)->Request("GET", "/ping");
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    auto r = (*client)->Request("GET", "/ping");
    if (!r.ok() || r->status != 200) return 2;
  }
  double s = Since(t0);
  std::printf("%d requests: %.0f req/s, %.1f us/request\n", n, n / s, s / n * 1e6);
  if (mib > 0) {
    std::string path = std::filesystem::temp_directory_path() / ("http_client_bench." + std::to_string(::getpid()));
    t0 = std::chrono::steady_clock::now();
    auto d = (*client)->DownloadToFile("/blob", path);
    s = Since(t0);
    if (!d.ok() || d->status != 200 || std::filesystem::file_size(path) != blob.size()) return 3;
    std::printf("download %d MiB to a file: %.2f s, %.0f MiB/s\n", mib, s, mib / s);
    t0 = std::chrono::steady_clock::now();
    auto f = (*client)->UploadFile("PUT", "/file", path);
    s = Since(t0);
    std::filesystem::remove(path);
    if (!f.ok() || f->status != 200) return 5;
    std::printf("upload %d MiB from a file to the server's temp file (sha256 on the way): %.2f s, %.0f MiB/s\n",
                mib, s, mib / s);
    t0 = std::chrono::steady_clock::now();
    auto u = (*client)->Request("POST", "/sink", blob);
    s = Since(t0);
    if (!u.ok() || u->status != 200) return 4;
    std::printf("upload %d MiB as a request body: %.2f s, %.0f MiB/s\n", mib, s, mib / s);
  }
  (*server)->Stop();
}
