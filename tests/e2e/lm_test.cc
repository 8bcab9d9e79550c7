// Black-box: `sskai models import|pull|gallery` against the real server binary (LM storage,
// docs/llm.md). The hub is tests/api/fake_hub.py.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "testing/lm_fixture.h"
#include "testing/server_harness.h"

extern char** environ;

namespace sskai::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The fake hub with one open and one gated 2-shard repo; killed by the destructor.
class FakeHub {
 public:
  explicit FakeHub(const std::string& dir) {
    json repos = json::object();
    for (const char* name : {"org/tiny", "meta/gated"}) {
      std::string repo_dir = dir + "/" + std::string(name).substr(0, 4);
      fs::create_directories(repo_dir);
      WriteTinyLm(repo_dir, {.shards = 2});
      repos[name] = {{"dir", repo_dir}, {"gated", std::string(name) == "meta/gated"}};
    }
    const std::string config = dir + "/hub.json";
    WriteFile(config, json{{"repos", repos}, {"token", "hf_secret"}}.dump());
    const std::string port_file = dir + "/hub.port";
    std::vector<std::string> args = {"/usr/bin/python3", SSKAI_FAKE_HUB, config, port_file};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid_ = 0;
    for (int i = 0; i < 500 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(20ms);
    std::ifstream in(port_file);
    int port = 0;
    in >> port;
    if (port > 0) url_ = "http://127.0.0.1:" + std::to_string(port);
  }
  ~FakeHub() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  const std::string& url() const { return url_; }

 private:
  pid_t pid_ = 0;
  std::string url_;
};

TEST(LmE2eTest, ImportPullGallery) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/python3";
  TempDir tmp;
  FakeHub hub(tmp.path());
  ASSERT_FALSE(hub.url().empty());
  const std::string data = tmp.path() + "/data";
  fs::create_directories(data);
  TestServer server(data, {"--hub-endpoint", hub.url()});
  ASSERT_TRUE(server.Start().ok());

  // Import a local checkpoint directory.
  const std::string model_dir = tmp.path() + "/my-model";
  fs::create_directories(model_dir);
  WriteTinyLm(model_dir);
  std::string out, err;
  ASSERT_EQ(server.RunCli({"models", "import", model_dir}, &out, &err), 0) << err;
  EXPECT_NE(out.find("Imported language model 'my-model' version 1"), std::string::npos) << out;
  json files = server.CallJson("GET", "/v1/models/my-model/versions/1/files");
  ASSERT_TRUE(files.contains("files")) << files.dump();
  auto config = server.Call("GET", "/v1/models/my-model/versions/1/files/config.json");
  EXPECT_EQ(config.status, 200);
  EXPECT_EQ(config.body, ReadFile(model_dir + "/config.json"));

  // A broken checkpoint: 400 naming the file, nothing registered, the server keeps running.
  const std::string bad_dir = tmp.path() + "/bad";
  fs::create_directories(bad_dir);
  WriteTinyLm(bad_dir);
  fs::resize_file(bad_dir + "/model.safetensors", 100);
  EXPECT_NE(server.RunCli({"models", "import", bad_dir, "--name", "bad"}, &out, &err), 0);
  EXPECT_NE(err.find("model.safetensors"), std::string::npos) << err;
  int status = 0;
  server.CallJson("GET", "/v1/models/bad", nullptr, &status);
  EXPECT_EQ(status, 404);
  EXPECT_TRUE(server.Alive());

  // Pull: open repo, gated without and with a token.
  ASSERT_EQ(server.RunCli({"models", "pull", "org/tiny"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("Pulled language model 'tiny' version 1"), std::string::npos) << out;
  EXPECT_NE(server.RunCli({"models", "pull", "meta/gated"}, &out, &err), 0);
  EXPECT_NE(err.find("gated repo"), std::string::npos) << err;
  ASSERT_EQ(server.RunCli({"models", "pull", "meta/gated", "--hf-token", "hf_secret", "--name", "g"}, &out, &err), 0)
      << err;
  // Pulled by the admin: shared with every user, unless asked otherwise; an import stays private.
  EXPECT_EQ(server.CallJson("GET", "/v1/models/tiny")["visibility"], "public");
  EXPECT_EQ(server.CallJson("GET", "/v1/models/my-model")["visibility"], "private");
  ASSERT_EQ(server.RunCli({"models", "pull", "org/tiny", "--name", "tiny-own", "--visibility", "private"}, &out, &err), 0)
      << err;
  EXPECT_EQ(server.CallJson("GET", "/v1/models/tiny-own")["visibility"], "private");

  // Gallery.
  ASSERT_EQ(server.RunCli({"models", "gallery"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("Qwen2.5-0.5B-Instruct"), std::string::npos) << out;
  EXPECT_NE(out.find("sskai models pull meta-llama/Llama-3.2-1B-Instruct"), std::string::npos) << out;
  EXPECT_NE(out.find("sskai-demo"), std::string::npos) << out;
}

}  // namespace
}  // namespace sskai::testing
