// tests/store/store_fixture.h — a fresh Store in a temp directory per test.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "store/store.h"

namespace sskai::store {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "sskai-store-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    path_ = dir_ + "/meta.db";
    Reopen();
    auto alice = store_->CreateUser("alice", false, 1.0);
    auto bob = store_->CreateUser("bob", false, 2.0);
    ASSERT_TRUE(alice.ok() && bob.ok());
    alice_ = alice->id;
    bob_ = bob->id;
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    auto opened = Store::Open(path_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }
  // A dataset version for `owner` in dataset `name` with blob `sha`.
  DatasetVersion AddDataset(int64_t owner, const std::string& name, const std::string& sha) {
    DatasetVersion v;
    v.blob_sha256 = sha;
    v.format = "csv";
    v.created_at = 10;
    auto added = store_->AddDatasetVersion(owner, name, v);
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    return added.ok() ? *added : DatasetVersion{};
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
  int64_t alice_ = 0;
  int64_t bob_ = 0;
};

}  // namespace sskai::store
