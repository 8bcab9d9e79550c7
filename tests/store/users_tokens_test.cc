#include "store/store_fixture.h"

namespace sskai::store {
namespace {

TEST_F(StoreTest, CreatesAndGetsUsers) {
  auto admin = store_->CreateUser("root", true, 3.5);
  ASSERT_TRUE(admin.ok());
  EXPECT_GT(admin->id, bob_);
  auto by_id = store_->GetUser(admin->id);
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->name, "root");
  EXPECT_TRUE(by_id->is_admin);
  EXPECT_DOUBLE_EQ(by_id->created_at, 3.5);
  auto by_name = store_->GetUserByName("alice");
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(by_name->id, alice_);
  EXPECT_FALSE(by_name->is_admin);
  EXPECT_EQ(*store_->CountUsers(), 3);
}

TEST_F(StoreTest, DuplicateUserIsAlreadyExists) {
  auto dup = store_->CreateUser("alice", true, 9);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(dup.status().message().find("alice"), std::string::npos);
}

TEST_F(StoreTest, MissingUserIsNotFound) {
  EXPECT_EQ(store_->GetUser(999).status().code(), StatusCode::kNotFound);
  auto missing = store_->GetUserByName("zed");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "user 'zed' not found");
}

TEST_F(StoreTest, ListsUsersInPages) {
  for (int idx = 0; idx < 5; ++idx) {
    ASSERT_TRUE(store_->CreateUser("u" + std::to_string(idx), false, idx).ok());
  }
  std::vector<std::string> names;
  Page page{.limit = 3};
  int pages = 0;
  while (true) {
    auto list = store_->ListUsers(page);
    ASSERT_TRUE(list.ok());
    ++pages;
    for (const User& user : list->items) names.push_back(user.name);
    if (list->next_after_id == 0) break;
    page.after_id = list->next_after_id;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names, (std::vector<std::string>{"alice", "bob", "u0", "u1", "u2", "u3", "u4"}));
}

TEST_F(StoreTest, ExactPageHasNoNextCursor) {
  auto list = store_->ListUsers(Page{.limit = 2});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->items.size(), 2u);
  EXPECT_EQ(list->next_after_id, 0);
}

TEST_F(StoreTest, TokensRoundTripAndAreScopedToTheirUser) {
  ApiToken token{0, alice_, "laptop", std::string(64, 'a'), 1.0, 0};
  auto created = store_->CreateToken(token);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_GT(created->id, 0);
  auto found = store_->FindTokenByHash(std::string(64, 'a'));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->user_id, alice_);
  EXPECT_EQ(found->name, "laptop");
  EXPECT_EQ(store_->FindTokenByHash(std::string(64, 'b')).status().code(),
            StatusCode::kNotFound);

  auto dup = store_->CreateToken(ApiToken{0, bob_, "x", std::string(64, 'a'), 1.0, 0});
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);

  ASSERT_TRUE(store_->CreateToken(ApiToken{0, alice_, "ci", std::string(64, 'c'), 2.0, 99}).ok());
  auto alice_tokens = store_->ListTokens(alice_, Page{});
  ASSERT_TRUE(alice_tokens.ok());
  ASSERT_EQ(alice_tokens->items.size(), 2u);
  EXPECT_DOUBLE_EQ(alice_tokens->items[1].expires_at, 99);
  EXPECT_TRUE(store_->ListTokens(bob_, Page{})->items.empty());

  // Bob cannot delete Alice's token.
  EXPECT_EQ(store_->DeleteToken(bob_, created->id).code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->DeleteToken(alice_, created->id).ok());
  EXPECT_EQ(store_->DeleteToken(alice_, created->id).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FindTokenByHash(std::string(64, 'a')).status().code(),
            StatusCode::kNotFound);
}

// FindTokenByHash/GetUser answer from a cache: a revoke must still take effect at once.
TEST_F(StoreTest, CachedTokenLookupsSeeRevokes) {
  ASSERT_TRUE(store_->CreateToken(ApiToken{0, alice_, "worker", std::string(64, 'd'), 1.0, 0}).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->FindTokenByHash(std::string(64, 'd')).ok());
  ASSERT_TRUE(store_->GetUser(alice_).ok());
  auto deleted = store_->DeleteTokensByName(alice_, "worker");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ(store_->FindTokenByHash(std::string(64, 'd')).status().code(),
            StatusCode::kNotFound);
  // A token created after a miss is found (misses are not cached).
  ASSERT_TRUE(store_->CreateToken(ApiToken{0, alice_, "late", std::string(64, 'd'), 1.0, 0}).ok());
  auto found = store_->FindTokenByHash(std::string(64, 'd'));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->name, "late");
  EXPECT_EQ(store_->GetUser(alice_)->id, alice_);
}

}  // namespace
}  // namespace sskai::store
