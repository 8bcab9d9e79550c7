// Client over HTTPS: URL forms, a CA bundle that cannot load, the async client refusing https, a
// TLS client meeting a plain server, and real TLS exchanges (Request, Stream, DownloadToFile,
// keep-alive) against tests/api/fake_hub.py serving a certificate of a throwaway CA.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <future>
#include <sstream>

#include "http/test_util.h"

extern char** environ;

namespace sskai::http {
namespace {

using testing::StartServer;
using testing::TempDir;

TEST(TlsClientTest, AcceptsHttpsUrls) {
  auto c = Client::Create("https://example.com");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ((*c)->base_url(), "https://example.com:443");
  c = Client::Create("https://example.com:8443/");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ((*c)->base_url(), "https://example.com:8443");
  EXPECT_EQ(Client::Create("ftp://example.com").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Client::Create("https://").status().code(), StatusCode::kInvalidArgument);
}

TEST(TlsClientTest, UnreadableCaBundleIsInvalidArgument) {
  ClientOptions o;
  o.ca_file = "/nonexistent/ca.pem";
  auto c = Client::Create("https://example.com", o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("/nonexistent/ca.pem"), std::string::npos) << c.status().ToString();
  // Plain http never loads a bundle.
  EXPECT_TRUE(Client::Create("http://127.0.0.1:1", o).ok());
}

TEST(TlsClientTest, AsyncClientRefusesHttps) {
  AsyncClient client(AsyncClient::Options{});
  std::promise<Result<ClientResponse>> promise;
  client.Request("https://127.0.0.1:1", "GET", "/", "", {},
                 [&promise](Result<ClientResponse> r) { promise.set_value(std::move(r)); });
  EXPECT_EQ(promise.get_future().get().status().code(), StatusCode::kInvalidArgument);
}

TEST(TlsClientTest, HttpsToAPlainServerFailsCleanly) {
  auto router = std::make_shared<Router>();
  router->AddSync("GET", "/x", [](Request&) { return Response::Text(200, "plain"); });
  auto server = StartServer(router);
  ASSERT_NE(server, nullptr);
  const std::string port = std::to_string(server->port());
  auto tls = Client::Create("https://127.0.0.1:" + port);
  ASSERT_TRUE(tls.ok());
  auto r = (*tls)->Request("GET", "/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("TLS handshake with 127.0.0.1 failed"), std::string::npos)
      << r.status().ToString();
  auto plain = testing::MakeClient(server->port());
  auto ok = plain->Request("GET", "/x");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->body, "plain");
}

// fake_hub.py over TLS serving a 100 kB "blob.bin" of repo org/r at /cdn/org/r/blob.bin.
class TlsHubTest : public ::testing::Test {
 protected:
  // `cert`: "server" (for localhost and 127.0.0.1) or "wrong" (for wrong.example), both signed
  // by the test CA certs_/ca.pem.
  void StartHub(const std::string& cert) {
    if (::access("/usr/bin/python3", X_OK) != 0 || ::access("/usr/bin/openssl", X_OK) != 0) {
      GTEST_SKIP() << "needs /usr/bin/python3 and /usr/bin/openssl";
    }
    certs_ = dir_.path() + "/certs";
    ASSERT_EQ(std::system((std::string(SSKAI_MAKE_TLS_CERTS) + " " + certs_).c_str()), 0);
    const std::string repo = dir_.path() + "/repo";
    std::filesystem::create_directories(repo);
    for (int i = 0; i < 100000; ++i) blob_ += static_cast<char>('a' + i % 26);
    std::ofstream(repo + "/blob.bin", std::ios::binary) << blob_;
    const std::string config = dir_.path() + "/hub.json";
    std::ofstream(config) << R"({"repos":{"org/r":{"dir":")" << repo << R"("}}})";
    const std::string port_file = dir_.path() + "/port";
    std::vector<std::string> args = {"/usr/bin/python3", SSKAI_FAKE_HUB, config, port_file,
                                     certs_ + "/" + cert + ".pem", certs_ + "/" + cert + ".key"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    for (int i = 0; i < 500 && !std::filesystem::exists(port_file); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::ifstream in(port_file);
    in >> port_;
    ASSERT_GT(port_, 0) << "fake hub did not start";
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::unique_ptr<Client> Connect(const std::string& host, const std::string& ca_file) {
    ClientOptions o;
    o.ca_file = ca_file;
    auto c = Client::Create("https://" + host + ":" + std::to_string(port_), o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  TempDir dir_;
  std::string certs_, blob_;
  pid_t pid_ = 0;
  int port_ = 0;
};

TEST_F(TlsHubTest, RequestStreamAndRangeDownloadOverTls) {
  StartHub("server");
  if (HasFatalFailure() || IsSkipped()) return;
  auto c = Connect("localhost", certs_ + "/ca.pem");
  ASSERT_NE(c, nullptr);
  auto whole = c->Request("GET", "/cdn/org/r/blob.bin");
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body, blob_);
  // Keep-alive: the next requests reuse the TLS connection.
  std::string streamed;
  auto s = c->Stream("GET", "/cdn/org/r/blob.bin", "", {}, nullptr, [&](std::string_view d) {
    streamed.append(d);
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(streamed, blob_);
  const std::string path = dir_.path() + "/part";
  auto d = c->DownloadToFile("/cdn/org/r/blob.bin", path, {{"range", "bytes=4096-8191"}});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->status, 206);
  std::stringstream got;
  got << std::ifstream(path, std::ios::binary).rdbuf();
  EXPECT_EQ(got.str(), blob_.substr(4096, 4096));
  // By address: the certificate's IP SAN matches too.
  auto by_ip = Connect("127.0.0.1", certs_ + "/ca.pem");
  auto r = by_ip->Request("GET", "/cdn/org/r/blob.bin", "", {{"range", "bytes=0-9"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, blob_.substr(0, 10));
}

TEST_F(TlsHubTest, UntrustedCertificateNamesHostAndReason) {
  StartHub("server");
  if (HasFatalFailure() || IsSkipped()) return;
  auto c = Connect("localhost", "/etc/ssl/certs/ca-certificates.crt");  // public CAs only
  if (c == nullptr) GTEST_SKIP() << "no system CA bundle";
  auto r = c->Request("GET", "/cdn/org/r/blob.bin");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("the TLS certificate of localhost is not trusted ("), std::string::npos)
      << r.status().ToString();
}

TEST_F(TlsHubTest, CertificateForAnotherNameFails) {
  StartHub("wrong");  // a trusted CA, but the certificate names wrong.example only
  if (HasFatalFailure() || IsSkipped()) return;
  for (const std::string host : {"localhost", "127.0.0.1"}) {
    auto c = Connect(host, certs_ + "/ca.pem");
    ASSERT_NE(c, nullptr);
    auto r = c->Request("GET", "/cdn/org/r/blob.bin");
    ASSERT_FALSE(r.ok()) << host;
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
    EXPECT_NE(r.status().message().find("the TLS certificate of " + host + " is not valid for that name"),
              std::string::npos)
        << r.status().ToString();
  }
}

}  // namespace
}  // namespace sskai::http
