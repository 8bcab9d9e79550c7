// Streamed uploads to temp files (sha256, limits, cleanup) and file downloads.
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "common/sha256.h"
#include "http/test_util.h"

namespace sskai::http {
namespace {

using testing::MakeClient;
using testing::RawSocket;
using testing::StartServer;
using testing::TempDir;

void WriteRandomFile(const std::string& path, size_t bytes) {
  std::ofstream out(path, std::ios::binary);
  std::mt19937_64 rng(42);
  std::vector<uint64_t> block(8192);
  size_t written = 0;
  while (written < bytes) {
    for (auto& v : block) v = rng();
    size_t n = std::min(bytes - written, block.size() * sizeof(uint64_t));
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    written += n;
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class UploadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_ = std::make_shared<Router>();
    // Reports what arrived; leaves the temp file for the server to remove.
    router_->AddSync("PUT", "/upload", [this](Request& req) {
      nlohmann::json j = {{"body_empty", req.body.empty()},
                          {"size", req.body_size},
                          {"sha256", req.body_sha256},
                          {"in_temp_dir", req.body_file.rfind(temp_.path() + "/", 0) == 0},
                          {"file_size", std::filesystem::file_size(req.body_file)}};
      return Response::Json(200, j.dump());
    }, {.stream_body = true});
    // Takes ownership of the upload by renaming it.
    router_->AddSync("PUT", "/keep/{name}", [this](Request& req) {
      std::filesystem::rename(req.body_file, kept_.path() + "/" + req.params["name"]);
      return Response::Json(201, "{}");
    }, {.stream_body = true});
    router_->AddSync("PUT", "/small", [](Request&) { return Response::Json(200, "{}"); },
                     {.stream_body = true, .max_body_bytes = 1 << 20});
    router_->AddSync("GET", "/download/{name}", [this](Request& req) {
      Response r;
      r.content_type = "application/octet-stream";
      r.file_path = files_.path() + "/" + req.params["name"];
      return r;
    });
    Server::Options o;
    o.temp_dir = temp_.path();
    server_ = StartServer(router_, o);
  }

  TempDir temp_, kept_, files_;
  std::shared_ptr<Router> router_;
  std::unique_ptr<Server> server_;
};

TEST_F(UploadTest, FiftyMegabyteUploadArrivesAsHashedTempFile) {
  constexpr size_t kBytes = 50u << 20;
  std::string src = files_.path() + "/big.bin";
  WriteRandomFile(src, kBytes);
  auto expected_sha = Sha256File(src);
  ASSERT_TRUE(expected_sha.ok());

  auto client = MakeClient(server_->port());
  uint64_t last_sent = 0, last_total = 0;
  auto r = client->UploadFile("PUT", "/upload", src, {{"Content-Type", "application/octet-stream"}},
                              [&](uint64_t sent, uint64_t total) {
                                EXPECT_GE(sent, last_sent);
                                last_sent = sent;
                                last_total = total;
                              });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = nlohmann::json::parse(r->body);
  EXPECT_TRUE(j["body_empty"].get<bool>());
  EXPECT_EQ(j["size"], kBytes);
  EXPECT_EQ(j["file_size"], kBytes);
  EXPECT_EQ(j["sha256"], *expected_sha);
  EXPECT_TRUE(j["in_temp_dir"].get<bool>());
  EXPECT_EQ(last_sent, kBytes);
  EXPECT_EQ(last_total, kBytes);
  EXPECT_TRUE(temp_.WaitEmpty()) << "temp file leaked";
  // The connection stays usable.
  EXPECT_EQ(client->Request("GET", "/download/none")->status, 404);
}

TEST_F(UploadTest, HandlerCanRenameTheUploadAway) {
  std::string src = files_.path() + "/a.bin";
  WriteRandomFile(src, 100000);
  auto client = MakeClient(server_->port());
  auto r = client->UploadFile("PUT", "/keep/copy.bin", src);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(ReadFile(kept_.path() + "/copy.bin"), ReadFile(src));
  EXPECT_TRUE(temp_.WaitEmpty());
}

TEST_F(UploadTest, EmptyStreamedBodyGivesEmptyTempFile) {
  auto client = MakeClient(server_->port());
  auto r = client->Request("PUT", "/upload", "");
  ASSERT_TRUE(r.ok());
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["size"], 0);
  EXPECT_EQ(j["sha256"], Sha256Hex(""));
  EXPECT_TRUE(temp_.WaitEmpty());
}

TEST_F(UploadTest, OversizeStreamedUploadIs413AndLeavesNoTempFile) {
  std::string src = files_.path() + "/big.bin";
  WriteRandomFile(src, 3u << 20);
  auto client = MakeClient(server_->port());
  auto r = client->UploadFile("PUT", "/small", src);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(nlohmann::json::parse(r->body)["error"]["code"], "payload_too_large");
  EXPECT_TRUE(temp_.WaitEmpty());
  EXPECT_EQ(client->Request("PUT", "/small", "x")->status, 200);  // reconnects
}

TEST_F(UploadTest, OversizeChunkedStreamedUploadIs413AndLeavesNoTempFile) {
  RawSocket sock(server_->port());
  sock.Send("PUT /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string chunk(64 * 1024, 'z');
  char size_line[32];
  std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
  for (int idx = 0; idx < 40; ++idx) {  // 2.5 MB > 1 MB limit
    if (!sock.Send(size_line + chunk + "\r\n")) break;
  }
  std::string reply = sock.ReadAll();
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply.substr(0, 200);
  EXPECT_TRUE(temp_.WaitEmpty());
}

TEST_F(UploadTest, ClientDisconnectMidUploadLeavesNoTempFile) {
  {
    RawSocket sock(server_->port());
    sock.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n");
    sock.Send(std::string(1 << 20, 'q'));
    // Wait until the server has started writing the temp file.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (temp_.FileCount() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(temp_.FileCount(), 1u);
  }  // socket closed mid-body
  EXPECT_TRUE(temp_.WaitEmpty()) << "temp file leaked after disconnect";
}

TEST_F(UploadTest, StopRemovesTempFileOfUnfinishedUpload) {
  RawSocket sock(server_->port());
  sock.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n");
  sock.Send(std::string(1000, 'q'));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (temp_.FileCount() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(temp_.FileCount(), 1u);
  server_.reset();
  EXPECT_EQ(temp_.FileCount(), 0u);
}

TEST_F(UploadTest, DownloadStreamsFileIntoPath) {
  std::string src = files_.path() + "/model.bin";
  WriteRandomFile(src, 3u << 20);
  auto client = MakeClient(server_->port());
  std::string dest = kept_.path() + "/out.bin";
  auto r = client->DownloadToFile("/download/model.bin", dest);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(r->headers["content-length"], std::to_string(3u << 20));
  EXPECT_EQ(r->headers["content-type"], "application/octet-stream");
  EXPECT_EQ(ReadFile(dest), ReadFile(src));
  EXPECT_FALSE(std::filesystem::exists(dest + ".part"));

  // Missing file: 404 in memory, nothing written; the connection is still usable.
  auto missing = client->DownloadToFile("/download/nope.bin", kept_.path() + "/nope.bin");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing->body)["error"]["code"], "not_found");
  EXPECT_FALSE(std::filesystem::exists(kept_.path() + "/nope.bin"));
  EXPECT_FALSE(std::filesystem::exists(kept_.path() + "/nope.bin.part"));
  EXPECT_EQ(client->DownloadToFile("/download/model.bin", dest)->status, 200);
}

TEST_F(UploadTest, UploadOfMissingFileIsNotFound) {
  auto client = MakeClient(server_->port());
  auto r = client->UploadFile("PUT", "/upload", files_.path() + "/does-not-exist");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(ServerCreateTest, StreamingRouteNeedsTempDir) {
  auto router = std::make_shared<Router>();
  router->AddSync("PUT", "/u", [](Request&) { return Response::Json(200, "{}"); },
                  {.stream_body = true});
  auto server = Server::Create(Server::Options{}, router);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sskai::http
