// Replica keys, the pure parts: the server secret file (created once, 0600, reused, a malformed
// one refused), the derivation (stable per row, different per row, creation time and secret),
// the constant-time comparison, and the replica middleware on a real loopback server.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "http/http.h"
#include "serving/internal.h"
#include "testing/scratch_dir.h"

namespace sskai::serving {
namespace {

TEST(ReplicaKeyTest, TheSecretFileIsCreatedOncePrivateAndReused) {
  sskai::testing::ScratchDir dir;
  const std::string path = dir.path() + "/replica-key.secret";
  auto first = LoadOrCreateReplicaSecret(path);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->size(), 64u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = LoadOrCreateReplicaSecret(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);

  std::ofstream(path, std::ios::trunc) << "short\n";
  auto bad = LoadOrCreateReplicaSecret(path);
  EXPECT_EQ(bad.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(LoadOrCreateReplicaSecret(dir.path() + "/missing-dir/secret").ok());
}

TEST(ReplicaKeyTest, KeysAreStablePerRowAndDifferAcrossRowsTimesAndSecrets) {
  const std::string secret(64, 'a'), other_secret(64, 'b');
  const std::string key = DeriveReplicaKey(secret, 7, 1764400000.123456);
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos) << key;
  EXPECT_EQ(DeriveReplicaKey(secret, 7, 1764400000.123456), key);
  EXPECT_NE(DeriveReplicaKey(secret, 8, 1764400000.123456), key);
  EXPECT_NE(DeriveReplicaKey(secret, 7, 1764400001.0), key);  // a reused row id
  EXPECT_NE(DeriveReplicaKey(other_secret, 7, 1764400000.123456), key);
}

TEST(ReplicaKeyTest, MatchesOnlyTheExactKey) {
  EXPECT_TRUE(ReplicaKeyMatches("abc123", "abc123"));
  EXPECT_FALSE(ReplicaKeyMatches("abc123", "abc124"));
  EXPECT_FALSE(ReplicaKeyMatches("abc123", "abc12"));
  EXPECT_FALSE(ReplicaKeyMatches("abc123", ""));
  EXPECT_FALSE(ReplicaKeyMatches("abc123", "abc1234"));
}

TEST(ReplicaKeyTest, TheMiddlewareGuardsEveryRouteButHealthz) {
  EXPECT_EQ(ReplicaKeyMiddleware(""), nullptr);  // no key: a local replica, nothing checked
  auto router = std::make_shared<http::Router>();
  router->AddSync("GET", "/healthz", [](http::Request&) {
    return http::Response::Json(200, R"({"status":"ok"})");
  });
  for (const char* route : {"/predict", "/load", "/v1/chat/completions"}) {
    router->AddSync("POST", route, [](http::Request&) { return http::Response::Json(200, "{}"); });
  }
  router->AddSync("GET", "/metadata", [](http::Request&) { return http::Response::Json(200, "{}"); });
  http::Server::Options options;
  options.io_threads = 1;
  options.middleware = ReplicaKeyMiddleware("k3y");
  auto server = http::Server::Create(options, router);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto client = http::Client::Create("http://127.0.0.1:" + std::to_string((*server)->port()));
  ASSERT_TRUE(client.ok());
  auto status = [&](const std::string& method, const std::string& target,
                    const std::map<std::string, std::string>& headers) {
    auto r = (*client)->Request(method, target, method == "POST" ? "{}" : "", headers);
    return r.ok() ? r->status : -1;
  };
  EXPECT_EQ(status("GET", "/healthz", {}), 200);
  for (const char* route : {"/predict", "/load", "/v1/chat/completions"}) {
    EXPECT_EQ(status("POST", route, {}), 401) << route;
    EXPECT_EQ(status("POST", route, {{kReplicaKeyHeader, "k3y-"}}), 401) << route;
    EXPECT_EQ(status("POST", route, {{kReplicaKeyHeader, "k3y"}}), 200) << route;
  }
  EXPECT_EQ(status("GET", "/metadata", {}), 401);
  EXPECT_EQ(status("GET", "/metadata", {{"X-Sskai-Replica-Key", "k3y"}}), 200);  // any case
}

}  // namespace
}  // namespace sskai::serving
