// FetchReplicaModel over real HTTP: a replica on another node (Slurm) fetches a single model file
// or a language model's file set from a server laid out like the API's model routes, verifies
// every file against its sha256, caches by hash, and never leaves a half-fetched model behind.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "common/sha256.h"
#include "http/test_util.h"
#include "serving/serving.h"

namespace sskai::serving {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kManifestSha[] = "1111111111111111111111111111111111111111111111111111111111111111";

class ReplicaFetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    files_ = {{"config.json", R"({"model_type":"llama"})"}, {"model.safetensors", std::string(5000, 'w')}};
    for (const auto& [name, body] : files_) shas_[name] = Sha256Hex(body);
    router_ = std::make_shared<http::Router>();
    router_->AddSync("GET", "/v/files", [this](http::Request&) {
      json out = {{"files", shas_}, {"manifest_sha256", kManifestSha}};
      return http::Response::Json(200, out.dump());
    });
    router_->AddSync("GET", "/v/files/{file}", [this](http::Request& req) {
      ++downloads_;
      auto it = files_.find(req.params["file"]);
      if (it == files_.end()) return http::Response::Json(404, R"({"error":"no such file"})");
      http::Response r;
      r.content_type = "application/octet-stream";
      r.body = it->second;
      return r;
    });
    server_ = http::testing::StartServer(router_);
    ASSERT_NE(server_, nullptr);
    options_.model_url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/v/files";
    options_.model_sha256 = kManifestSha;
    options_.model_files = true;
    options_.cache_dir = cache_.path();
  }
  // Whatever is left in the cache besides complete model directories.
  std::vector<std::string> Leftovers() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(cache_.path())) {
      if (e.path().filename() != kManifestSha) out.push_back(e.path().filename().string());
    }
    return out;
  }

  std::map<std::string, std::string> files_;
  json shas_ = json::object();
  std::atomic<int> downloads_{0};
  http::testing::TempDir cache_;
  std::shared_ptr<http::Router> router_;
  std::unique_ptr<http::Server> server_;
  ReplicaOptions options_;
};

TEST_F(ReplicaFetchTest, LanguageModelFileSetIsFetchedVerifiedAndCached) {
  auto dir = FetchReplicaModel(options_, "tok");
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(*dir, cache_.path() + "/" + kManifestSha);
  for (const auto& [name, body] : files_) {
    auto sum = Sha256File(*dir + "/" + name);
    ASSERT_TRUE(sum.ok()) << name;
    EXPECT_EQ(*sum, Sha256Hex(body)) << name;
  }
  EXPECT_EQ(downloads_.load(), 2);
  EXPECT_TRUE(Leftovers().empty());
  // A second replica on this node reuses the complete directory.
  auto again = FetchReplicaModel(options_, "tok");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(downloads_.load(), 2);
}

TEST_F(ReplicaFetchTest, ATamperedFileIsRefusedAndNothingIsLeftBehind) {
  files_["model.safetensors"][10] = 'x';  // served bytes no longer match the listed sha256
  auto dir = FetchReplicaModel(options_, "");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), StatusCode::kInternal);
  EXPECT_NE(dir.status().message().find("model.safetensors"), std::string::npos) << dir.status().ToString();
  EXPECT_FALSE(fs::exists(cache_.path() + "/" + kManifestSha));
  EXPECT_TRUE(Leftovers().empty());
}

TEST_F(ReplicaFetchTest, AnotherVersionsListOrABadEntryIsRefused) {
  options_.model_sha256 = std::string(64, '2');
  auto other = FetchReplicaModel(options_, "");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("is not"), std::string::npos) << other.status().ToString();

  options_.model_sha256 = kManifestSha;
  shas_["../escape"] = shas_["config.json"];
  auto bad = FetchReplicaModel(options_, "");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad entry '../escape'"), std::string::npos) << bad.status().ToString();
  EXPECT_TRUE(Leftovers().empty());
  EXPECT_FALSE(fs::exists(cache_.path() + "/" + kManifestSha));
}

TEST_F(ReplicaFetchTest, ASingleModelFileIsVerifiedToo) {
  options_.model_files = false;
  options_.model_url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/v/files/model.safetensors";
  options_.model_sha256 = shas_["model.safetensors"];
  auto path = FetchReplicaModel(options_, "");
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, cache_.path() + "/" + shas_["model.safetensors"].get<std::string>());
  options_.model_sha256 = std::string(64, '3');
  auto wrong = FetchReplicaModel(options_, "");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kInternal);
  EXPECT_FALSE(fs::exists(cache_.path() + "/" + options_.model_sha256));
}

}  // namespace
}  // namespace sskai::serving
