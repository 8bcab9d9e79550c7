// `models pull` against a local server laid out like the Hugging Face hub (fake_hub.py):
// a 2-shard model, a gated repo, connections dropped half way (resumed with Range, within a pull
// and across pulls), a checksum mismatch; over HTTPS with a throwaway CA (make_tls_certs.sh): the
// CDN redirect and resume, an untrusted certificate, a certificate for another host.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "api_fixture.h"
#include "api/lm_internal.h"
#include "testing/lm_fixture.h"

extern char** environ;

namespace sskai::api {
namespace {

namespace fs = std::filesystem;

class LmPullTest : public ApiRouterTest {
 protected:
  void TearDown() override {
    if (hub_pid_ > 0) {
      ::kill(hub_pid_, SIGTERM);
      ::waitpid(hub_pid_, nullptr, 0);
    }
    ApiRouterTest::TearDown();
  }

  // Starts the fake hub with `repos` (repo id -> options; "dir" is filled in per repo). With
  // `cert` ("server": for localhost and 127.0.0.1; "wrong": for wrong.example) it speaks HTTPS
  // with a certificate of a fresh test CA, which the pulls trust (hub_ca_file).
  void StartHub(json repos, const std::string& cert = "") {
    if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/python3";
    std::vector<std::string> tls_args;
    if (!cert.empty()) {
      if (::access("/usr/bin/openssl", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/openssl";
      const std::string certs = dir_.Sub("certs");
      ASSERT_EQ(std::system((std::string(SSKAI_MAKE_TLS_CERTS) + " " + certs).c_str()), 0);
      tls_args = {certs + "/" + cert + ".pem", certs + "/" + cert + ".key"};
      ctx_->hub_ca_file = certs + "/ca.pem";
    }
    for (auto& [name, opts] : repos.items()) {
      std::string dir = dir_.Sub("hub-" + std::to_string(std::hash<std::string>()(name)));
      sskai::testing::WriteTinyLm(dir, {.shards = 2});
      opts["dir"] = dir;
    }
    const std::string config = dir_.path() + "/hub.json";
    sskai::testing::WriteTextFile(config, json{{"repos", repos}, {"token", "hf_secret"}}.dump());
    port_file_ = dir_.path() + "/hub.port";
    std::vector<std::string> args = {"/usr/bin/python3", SSKAI_FAKE_HUB, config, port_file_};
    args.insert(args.end(), tls_args.begin(), tls_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(::posix_spawn(&hub_pid_, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    for (int i = 0; i < 500 && !fs::exists(port_file_); ++i) std::this_thread::sleep_for(20ms);
    std::ifstream in(port_file_);
    int port = 0;
    in >> port;
    ASSERT_GT(port, 0) << "fake hub did not start";
    ctx_->hub_endpoint = (cert.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(port);
    ctx_->hub_chunk_bytes = 4096;
  }

  // Starts a pull and polls it to the end (the download runs on its own thread).
  json Pull(const std::string& name, const json& body) {
    http::Response r = Call("POST", "/v1/models/" + name + "/pull", admin_token_, body.dump());
    EXPECT_EQ(r.status, 202) << r.body;
    json p = Body(r);
    for (int i = 0; i < 1500 && p.value("state", "") == "running"; ++i) {
      std::this_thread::sleep_for(20ms);
      p = Body(Call("GET", "/v1/pulls/" + p.value("id", ""), admin_token_));
    }
    return p;
  }

  std::vector<json> HubLog() {
    std::vector<json> out;
    std::ifstream in(port_file_ + ".log");
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }

  pid_t hub_pid_ = 0;
  std::string port_file_;
};

TEST_F(LmPullTest, PullsShardedModelWithVerifiedChecksums) {
  StartHub({{"org/tiny", json::object()}});
  json p = Pull("tiny", {{"repo", "org/tiny"}});
  ASSERT_EQ(p["state"], "succeeded") << p.dump();
  const json& v = p["result"];
  EXPECT_EQ(v["model"], "tiny");
  EXPECT_EQ(v["version"], 1);
  EXPECT_EQ(v["source"]["kind"], "pull");
  EXPECT_EQ(v["source"]["repo"], "org/tiny");
  EXPECT_EQ(v["source"]["commit"], "0123456789abcdef0123456789abcdef01234567");
  // Every file checked: shards against the LFS sha256, small files against the git blob sha1.
  std::set<std::string> verified = v["source"]["verified"].get<std::set<std::string>>();
  EXPECT_TRUE(verified.count("model-00001-of-00002.safetensors"));
  EXPECT_TRUE(verified.count("model-00002-of-00002.safetensors"));
  EXPECT_TRUE(verified.count("config.json"));
  EXPECT_EQ(verified.size(), v["files"].size());
  EXPECT_TRUE(v["files"].contains("model-00001-of-00002.safetensors"));
  EXPECT_TRUE(v["files"].contains("model.safetensors.index.json"));
  EXPECT_TRUE(v["files"].contains("tokenizer.json"));
  EXPECT_FALSE(v["files"].contains("pytorch_model.bin"));
  EXPECT_FALSE(v["files"].contains("README.md"));
  EXPECT_GT(p["bytes_done"].get<double>(), 0);
  // Files came by commit sha, through the CDN redirect, in Range chunks; never the pickle.
  bool chunked = false;
  for (const auto& entry : HubLog()) {
    const std::string path = entry["path"];
    EXPECT_EQ(path.find("pytorch_model.bin"), std::string::npos);
    EXPECT_EQ(path.find("consolidated"), std::string::npos);
    if (path.find("/cdn/") == 0 && entry["range"] == "bytes=4096-8191") chunked = true;
  }
  EXPECT_TRUE(chunked);
  // Temp files are gone; the gallery-style listing shows it.
  EXPECT_FALSE(fs::exists(blobs_->temp_dir() + "/hub") && !fs::is_empty(blobs_->temp_dir() + "/hub"));
}

TEST_F(LmPullTest, GatedRepoNeedsToken) {
  StartHub({{"meta/gated", {{"gated", true}}}});
  json p = Pull("gated", {{"repo", "meta/gated"}});
  EXPECT_EQ(p["state"], "failed");
  EXPECT_NE(p.value("error", "").find("gated repo"), std::string::npos) << p.dump();
  EXPECT_NE(p.value("error", "").find("HF_TOKEN"), std::string::npos) << p.dump();
  EXPECT_EQ(Call("GET", "/v1/models/gated", admin_token_).status, 404);

  p = Pull("gated", {{"repo", "meta/gated"}, {"token", "hf_secret"}});
  ASSERT_EQ(p["state"], "succeeded") << p.dump();
  // The token went to the hub, never to the CDN.
  for (const auto& entry : HubLog()) {
    if (entry["path"].get<std::string>().find("/cdn/") == 0) EXPECT_EQ(entry["auth"], "");
  }
}

TEST_F(LmPullTest, DroppedConnectionsResumeWithRange) {
  // The first answers for shard 1 break half way: the pull retries from the bytes it has.
  StartHub({{"org/flaky", {{"drop", {{"model-00001-of-00002.safetensors", 2}}}}}});
  json p = Pull("flaky", {{"repo", "org/flaky"}});
  ASSERT_EQ(p["state"], "succeeded") << p.dump();
  EXPECT_EQ(p["result"]["source"]["verified"].size(), p["result"]["files"].size());
}

TEST_F(LmPullTest, FailedPullContinuesWhereItStopped) {
  // Two good chunks of shard 1, then more broken answers than a pull retries.
  StartHub({{"org/resume", {{"drop", {{"model-00001-of-00002.safetensors", {2, 6}}}}}}});
  json p = Pull("resume", {{"repo", "org/resume"}});
  ASSERT_EQ(p["state"], "failed") << p.dump();
  EXPECT_NE(p.value("error", "").find("model-00001-of-00002.safetensors"), std::string::npos) << p.dump();
  const size_t before = HubLog().size();
  p = Pull("resume", {{"repo", "org/resume"}});
  ASSERT_EQ(p["state"], "succeeded") << p.dump();
  // The second pull asked shard 1 from byte 8192 on, and did not fetch finished files again.
  std::vector<json> log = HubLog();
  std::string first_range;
  for (size_t i = before; i < log.size(); ++i) {
    const std::string path = log[i]["path"];
    EXPECT_EQ(path.find("config.json"), std::string::npos) << path;
    if (path.find("/cdn/org/resume/model-00001") == 0 && first_range.empty()) first_range = log[i]["range"];
  }
  EXPECT_EQ(first_range, "bytes=8192-12287");
}

TEST_F(LmPullTest, ChecksumMismatchRegistersNothing) {
  StartHub({{"org/bad", {{"bad_sha", {"model-00002-of-00002.safetensors"}}}}});
  json p = Pull("bad", {{"repo", "org/bad"}});
  EXPECT_EQ(p["state"], "failed");
  EXPECT_NE(p.value("error", "").find("checksum mismatch"), std::string::npos) << p.dump();
  EXPECT_EQ(Call("GET", "/v1/models/bad", admin_token_).status, 404);
  auto refs = store_->ReferencedBlobs();
  ASSERT_TRUE(refs.ok());
  EXPECT_TRUE(refs->empty());
}

TEST_F(LmPullTest, BadRequestsAnswer4xx) {
  EXPECT_EQ(Call("POST", "/v1/models/x/pull", admin_token_, "{}").status, 400);
  EXPECT_EQ(Call("POST", "/v1/models/x/pull", admin_token_, R"({"repo":"../etc"})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/models/x/pull", admin_token_, R"({"repo":"a/b/c"})").status, 400);
  EXPECT_EQ(Call("GET", "/v1/pulls/nope", admin_token_).status, 404);
  ctx_->hub_endpoint = "ftp://hub.example";
  json p = Pull("x", {{"repo", "org/x"}});
  EXPECT_EQ(p["state"], "failed");
  EXPECT_NE(p.value("error", "").find("is not an http(s) URL"), std::string::npos) << p.dump();
}

TEST_F(LmPullTest, HttpsPullFollowsCdnRedirectAndResumes) {
  // Over TLS: the hub at https://127.0.0.1 redirects shards to https://localhost (another host,
  // verified by name), whose first answers for shard 1 break half way.
  StartHub({{"org/tls", {{"drop", {{"model-00001-of-00002.safetensors", 2}}}}}}, "server");
  json p = Pull("tls", {{"repo", "org/tls"}});
  ASSERT_EQ(p["state"], "succeeded") << p.dump();
  EXPECT_EQ(p["result"]["source"]["endpoint"].get<std::string>().rfind("https://", 0), 0u);
  EXPECT_EQ(p["result"]["source"]["verified"].size(), p["result"]["files"].size());
  int cdn_ranges = 0;
  for (const auto& entry : HubLog()) {
    if (entry["path"].get<std::string>().find("/cdn/org/tls/model-00001") == 0 && entry["range"] == "bytes=4096-8191") {
      ++cdn_ranges;
    }
  }
  EXPECT_GE(cdn_ranges, 1);
}

TEST_F(LmPullTest, HttpsUntrustedCertificateIsAClearError) {
  StartHub({{"org/tls", json::object()}}, "server");
  ctx_->hub_ca_file = "/etc/ssl/certs/ca-certificates.crt";  // the public CAs: not our test CA
  if (::access(ctx_->hub_ca_file.c_str(), R_OK) != 0) GTEST_SKIP() << "needs the ca-certificates bundle";
  json p = Pull("tls", {{"repo", "org/tls"}});
  EXPECT_EQ(p["state"], "failed");
  const std::string error = p.value("error", "");
  EXPECT_NE(error.find("TLS certificate of 127.0.0.1 is not trusted"), std::string::npos) << error;
  EXPECT_NE(error.find("SSKAI_CA_BUNDLE"), std::string::npos) << error;
  EXPECT_EQ(Call("GET", "/v1/models/tls", admin_token_).status, 404);
}

TEST_F(LmPullTest, HttpsHostNameMismatchFails) {
  StartHub({{"org/tls", json::object()}}, "wrong");  // trusted CA, certificate for wrong.example
  json p = Pull("tls", {{"repo", "org/tls"}});
  EXPECT_EQ(p["state"], "failed");
  const std::string error = p.value("error", "");
  EXPECT_NE(error.find("TLS certificate of 127.0.0.1 is not valid for that name"), std::string::npos) << error;
  EXPECT_NE(error.find("mismatch"), std::string::npos) << error;
}

TEST(SelectHubFilesTest, KeepsLmFilesOnly) {
  EXPECT_EQ(SelectHubFiles({"config.json", "pytorch_model.bin", "model.safetensors", "original/params.json",
                            "README.md", "tokenizer.model", ".gitattributes"}),
            (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.model"}));
}

}  // namespace
}  // namespace sskai::api
