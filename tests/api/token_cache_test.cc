// Bearer token cache (api/token_cache.h): hits, invalidation by the store's auth generation, TTL,
// token expiry, the bound, and through the router: a revoked token fails on the next request.
#include "api/token_cache.h"

#include <gtest/gtest.h>

#include "api_fixture.h"
#include "common/sha256.h"

namespace sskai::api {
namespace {

store::User UserNamed(int64_t id, const std::string& name) {
  store::User user;
  user.id = id;
  user.name = name;
  return user;
}

TEST(TokenCacheTest, HitsOnlyWhileGenerationTtlAndExpiryHold) {
  TokenCache cache(TokenCache::Options{.max_entries = 8, .ttl_seconds = 10});
  EXPECT_FALSE(cache.Find("sk_a", 1, 100).has_value());
  cache.Put("sk_a", UserNamed(7, "ann"), /*token_expires_at=*/0, /*generation=*/1, /*now=*/100);
  auto hit = cache.Find("sk_a", 1, 105);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->id, 7);
  EXPECT_EQ(hit->name, "ann");
  EXPECT_FALSE(cache.Find("sk_b", 1, 105).has_value());
  // The store's tokens/users changed: the entry is dropped, not just skipped.
  EXPECT_FALSE(cache.Find("sk_a", 2, 105).has_value());
  EXPECT_FALSE(cache.Find("sk_a", 1, 105).has_value());

  cache.Put("sk_a", UserNamed(7, "ann"), 0, 2, 100);
  EXPECT_TRUE(cache.Find("sk_a", 2, 110).has_value());   // exactly the TTL
  EXPECT_FALSE(cache.Find("sk_a", 2, 110.5).has_value());  // past it

  cache.Put("sk_e", UserNamed(8, "eve"), /*token_expires_at=*/103, 2, 100);
  EXPECT_TRUE(cache.Find("sk_e", 2, 103).has_value());
  EXPECT_FALSE(cache.Find("sk_e", 2, 103.5).has_value());  // the token itself expired

  cache.Put("sk_c", UserNamed(9, "cy"), 0, 2, 100);
  EXPECT_FALSE(cache.Find("sk_c", 2, 99).has_value());  // clock went backwards: no trust
}

TEST(TokenCacheTest, StaysWithinItsBound) {
  TokenCache cache(TokenCache::Options{.max_entries = 4, .ttl_seconds = 10});
  for (int idx = 0; idx < 50; ++idx) {
    cache.Put("sk_" + std::to_string(idx), UserNamed(idx, "u"), 0, 1, 100);
    EXPECT_LE(cache.size(), 4u);
  }
  EXPECT_TRUE(cache.Find("sk_49", 1, 100).has_value());
}

TEST(TokenCacheTest, StoreWritesToTokensOrUsersMoveTheAuthGeneration) {
  sskai::testing::ScratchDir dir;
  auto opened = store::Store::Open(dir.path() + "/meta.db");
  ASSERT_TRUE(opened.ok());
  store::Store& store = **opened;
  uint64_t before = store.AuthGeneration();
  auto user = store.CreateUser("gen", false, 1);
  ASSERT_TRUE(user.ok());
  uint64_t after_user = store.AuthGeneration();
  EXPECT_NE(after_user, before);
  EXPECT_TRUE(store.ListUsers(store::Page{}).ok());  // reads leave it alone
  EXPECT_EQ(store.AuthGeneration(), after_user);
  auto deleted = store.DeleteTokensByName(user->id, "none");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0);
  EXPECT_NE(store.AuthGeneration(), after_user);
}

using TokenCacheRouterTest = ApiRouterTest;

TEST_F(TokenCacheRouterTest, RevokedTokenFailsOnTheNextRequestAfterCachedHits) {
  ASSERT_NE(ctx_->token_cache, nullptr);  // BuildRouter made one
  auto [uid, token] = AddUser("carol");
  http::Response made = Call("POST", "/v1/tokens", token, R"({"name":"second"})");
  ASSERT_EQ(made.status, 201) << made.body;
  std::string second = Body(made)["token"];
  for (int idx = 0; idx < 3; ++idx) {
    ASSERT_EQ(Call("GET", "/v1/tokens", second).status, 200);  // cached after the first
  }
  json list = Body(Call("GET", "/v1/tokens", token));
  int64_t second_id = 0;
  for (const auto& row : list["items"]) {
    if (row["name"] == "second") second_id = row["id"];
  }
  ASSERT_GT(second_id, 0) << list.dump();
  ASSERT_EQ(Call("DELETE", "/v1/tokens/" + std::to_string(second_id), token).status, 200);
  http::Response after = Call("GET", "/v1/tokens", second);
  EXPECT_EQ(after.status, 401) << after.body;
  EXPECT_EQ(Call("GET", "/v1/tokens", token).status, 200);  // other tokens unaffected
  EXPECT_EQ(Call("GET", "/v1/tokens", second).status, 401);
}

TEST_F(TokenCacheRouterTest, ExpiredTokenFailsEvenWhenCached) {
  store::ApiToken row;
  row.user_id = admin_id_;
  row.name = "short";
  row.token_hash = Sha256Hex("sk_short_lived");
  row.created_at = clock_.NowSeconds();
  row.expires_at = clock_.NowSeconds() + 5;
  ASSERT_TRUE(store_->CreateToken(row).ok());
  EXPECT_EQ(Call("GET", "/v1/tokens", "sk_short_lived").status, 200);
  EXPECT_EQ(Call("GET", "/v1/tokens", "sk_short_lived").status, 200);  // from the cache
  clock_.Advance(std::chrono::milliseconds(6000));
  http::Response expired = Call("GET", "/v1/tokens", "sk_short_lived");
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(Message(expired).find("expired"), std::string::npos) << expired.body;
}

}  // namespace
}  // namespace sskai::api
