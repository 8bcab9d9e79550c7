#include <sqlite3.h>

#include "store/store_fixture.h"

namespace sskai::store {
namespace {

TEST_F(StoreTest, OpenAppliesAllMigrations) {
  EXPECT_EQ(store_->SchemaVersion(), Store::LatestSchemaVersion());
  EXPECT_GE(Store::LatestSchemaVersion(), 3);
}

TEST_F(StoreTest, ReopenKeepsDataAndSchemaVersion) {
  AddDataset(alice_, "iris", std::string(64, 'a'));
  Reopen();
  EXPECT_EQ(store_->SchemaVersion(), Store::LatestSchemaVersion());
  auto user = store_->GetUserByName("alice");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->id, alice_);
  auto dataset = store_->GetDataset(alice_, "iris");
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_EQ(dataset->latest_version, 1);
}

TEST_F(StoreTest, OpeningOldSchemaAppliesOnlyNewMigrations) {
  const std::string old_path = dir_ + "/old.db";
  {
    auto old = Store::OpenForTesting(old_path, 1);
    ASSERT_TRUE(old.ok()) << old.status().ToString();
    EXPECT_EQ((*old)->SchemaVersion(), 1);
    ASSERT_TRUE((*old)->CreateUser("carol", true, 5.0).ok());
  }
  auto store = Store::Open(old_path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->SchemaVersion(), Store::LatestSchemaVersion());
  auto carol = (*store)->GetUserByName("carol");
  ASSERT_TRUE(carol.ok());
  EXPECT_TRUE(carol->is_admin);
  // Tables from later migrations now exist.
  Job job;
  job.owner_id = carol->id;
  EXPECT_TRUE((*store)->CreateJob(job).ok());
  // One row per migration, none applied twice.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(old_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), Store::LatestSchemaVersion());
  EXPECT_EQ(sqlite3_column_int(stmt, 1), Store::LatestSchemaVersion());
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(StoreTest, RefusesDatabaseFromNewerBinary) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (999, 0)", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto opened = Store::Open(path_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(opened.status().message().find("999"), std::string::npos);
}

TEST_F(StoreTest, UsesWalAndForeignKeys) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  // Foreign keys: a token for a missing user is refused.
  ApiToken token;
  token.user_id = 12345;
  token.token_hash = std::string(64, 'f');
  auto created = store_->CreateToken(token);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), StatusCode::kFailedPrecondition);
}

TEST(StoreOpenTest, UnwritablePathIsInternal) {
  auto opened = Store::Open("/nonexistent-dir-sskai/x/meta.db");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace sskai::store
