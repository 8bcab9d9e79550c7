#include <gtest/gtest.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "artifacts/artifacts.h"
#include "common/sha256.h"

namespace sskai::artifacts {
namespace {

namespace fs = std::filesystem;

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "sskai-blobs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    auto opened = OpenLocalBlobStore(dir_ + "/root", clock_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  size_t CountFiles(const std::string& sub) {
    size_t count = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir_ + "/root/" + sub)) {
      if (entry.is_regular_file()) ++count;
    }
    return count;
  }
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = store_->temp_dir() + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  // Sets the mtime of blob `sha` to `seconds` since the epoch.
  void SetBlobMtime(const std::string& sha, double seconds) {
    auto path = store_->LocalPath(sha);
    ASSERT_TRUE(path.ok());
    SetMtime(*path, seconds);
  }
  static void SetMtime(const std::string& path, double seconds) {
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(seconds);
    times[0].tv_nsec = times[1].tv_nsec = 0;
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }

  FakeClock clock_{1'700'000'000'000};  // now = 1.7e9 s
  std::string dir_;
  std::unique_ptr<BlobStore> store_;
};

TEST_F(BlobStoreTest, WriterCommitsContentAddressedBlob) {
  auto writer = store_->NewWriter();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("hello ").ok());
  ASSERT_TRUE((*writer)->Write("world").ok());
  EXPECT_EQ((*writer)->bytes_written(), 11u);
  auto sha = (*writer)->Commit();
  ASSERT_TRUE(sha.ok()) << sha.status().ToString();
  EXPECT_EQ(*sha, Sha256Hex("hello world"));
  EXPECT_TRUE(store_->Exists(*sha));
  EXPECT_EQ(*store_->Size(*sha), 11u);
  EXPECT_EQ(*store_->ReadString(*sha, 100), "hello world");
  auto path = store_->LocalPath(*sha);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, dir_ + "/root/blobs/" + sha->substr(0, 2) + "/" + *sha);
  EXPECT_EQ(CountFiles("tmp"), 0u);
  // A second commit on the same writer is refused.
  EXPECT_EQ((*writer)->Commit().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*writer)->Write("x").code(), StatusCode::kFailedPrecondition);
}

TEST_F(BlobStoreTest, IdenticalContentIsStoredOnce) {
  auto first = store_->PutString("same bytes");
  auto second = store_->PutString("same bytes");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(CountFiles("blobs"), 1u);
  EXPECT_EQ(CountFiles("tmp"), 0u);
  auto list = store_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, std::vector<std::string>{*first});
}

TEST_F(BlobStoreTest, EmptyBlobIsValid) {
  auto sha = store_->PutString("");
  ASSERT_TRUE(sha.ok());
  EXPECT_EQ(*sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(*store_->ReadString(*sha, 0), "");
}

TEST_F(BlobStoreTest, AbortAndDestructorLeaveNothing) {
  {
    auto writer = store_->NewWriter();
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write("partial").ok());
    EXPECT_EQ(CountFiles("tmp"), 1u);
    (*writer)->Abort();
    EXPECT_EQ(CountFiles("tmp"), 0u);
    (*writer)->Abort();  // idempotent
  }
  {
    auto writer = store_->NewWriter();
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write("dropped").ok());
  }  // destroyed without commit
  EXPECT_EQ(CountFiles("tmp"), 0u);
  EXPECT_EQ(CountFiles("blobs"), 0u);
  EXPECT_TRUE(store_->List()->empty());
}

TEST_F(BlobStoreTest, AdoptMovesVerifiedFileIntoPlace) {
  const std::string content(100000, 'z');
  const std::string path = WriteFile("upload-1", content);
  auto sha = store_->Adopt(path, Sha256Hex(content));
  ASSERT_TRUE(sha.ok()) << sha.status().ToString();
  EXPECT_EQ(*sha, Sha256Hex(content));
  EXPECT_FALSE(fs::exists(path));  // consumed
  EXPECT_EQ(*store_->ReadString(*sha, content.size()), content);
  // Adopting a duplicate with "" (compute) consumes the file and keeps one blob.
  const std::string dup = WriteFile("upload-2", content);
  EXPECT_EQ(*store_->Adopt(dup, ""), *sha);
  EXPECT_FALSE(fs::exists(dup));
  EXPECT_EQ(CountFiles("blobs"), 1u);
  EXPECT_EQ(CountFiles("tmp"), 0u);
}

TEST_F(BlobStoreTest, AdoptWithWrongHashIsRefusedAndFileKeptOut) {
  const std::string path = WriteFile("upload", "real content");
  const std::string claimed = Sha256Hex("other content");
  auto adopted = store_->Adopt(path, claimed);
  ASSERT_FALSE(adopted.ok());
  EXPECT_EQ(adopted.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(adopted.status().message().find("mismatch"), std::string::npos);
  EXPECT_TRUE(fs::exists(path));  // left for the caller
  EXPECT_FALSE(store_->Exists(claimed));
  EXPECT_FALSE(store_->Exists(Sha256Hex("real content")));
  EXPECT_EQ(CountFiles("blobs"), 0u);
  EXPECT_EQ(store_->Adopt(dir_ + "/missing", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Adopt(path, "XYZ").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(BlobStoreTest, InvalidShaIsRejectedEverywhere) {
  ASSERT_TRUE(store_->PutString("x").ok());
  const std::vector<std::string> bad = {
      "",
      "abc",
      "../../../../etc/passwd",
      std::string(64, 'G'),
      std::string(64, 'A'),  // upper case
      std::string(62, 'a') + "/.",
      "../" + std::string(61, 'a'),
      std::string(63, 'a'),
      std::string(65, 'a'),
  };
  for (const std::string& sha : bad) {
    EXPECT_FALSE(store_->Exists(sha)) << sha;
    EXPECT_EQ(store_->Size(sha).status().code(), StatusCode::kInvalidArgument) << sha;
    EXPECT_EQ(store_->LocalPath(sha).status().code(), StatusCode::kInvalidArgument) << sha;
    EXPECT_EQ(store_->ReadString(sha, 10).status().code(), StatusCode::kInvalidArgument) << sha;
    EXPECT_EQ(store_->Remove(sha).code(), StatusCode::kInvalidArgument) << sha;
  }
}

TEST_F(BlobStoreTest, MissingBlobIsNotFoundAndTooLargeIsRefused) {
  const std::string absent = Sha256Hex("never stored");
  EXPECT_FALSE(store_->Exists(absent));
  EXPECT_EQ(store_->Size(absent).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->LocalPath(absent).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Remove(absent).code(), StatusCode::kNotFound);
  auto sha = store_->PutString("0123456789");
  ASSERT_TRUE(sha.ok());
  EXPECT_EQ(store_->ReadString(*sha, 9).status().code(), StatusCode::kPayloadTooLarge);
  EXPECT_TRUE(store_->Remove(*sha).ok());
  EXPECT_FALSE(store_->Exists(*sha));
}

TEST_F(BlobStoreTest, GcRemovesOnlyUnreferencedOldBlobs) {
  const double now = clock_.NowSeconds();
  auto kept_ref = store_->PutString("referenced and old");
  auto old_free = store_->PutString("unreferenced and old");
  auto young_free = store_->PutString("unreferenced but young");
  ASSERT_TRUE(kept_ref.ok() && old_free.ok() && young_free.ok());
  SetBlobMtime(*kept_ref, now - 7200);
  SetBlobMtime(*old_free, now - 7200);
  SetBlobMtime(*young_free, now - 10);
  // A stale upload in tmp/ and a fresh one.
  const std::string stale = WriteFile("stale-upload", "abandoned");
  SetMtime(stale, now - 7200);
  const std::string fresh = WriteFile("fresh-upload", "in flight");
  SetMtime(fresh, now - 5);

  auto stats = store_->CollectGarbage({*kept_ref}, 3600);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->removed, 1);
  EXPECT_EQ(stats->bytes, std::string("unreferenced and old").size());
  EXPECT_EQ(stats->kept, 2);
  EXPECT_EQ(stats->temp_removed, 1);
  EXPECT_TRUE(store_->Exists(*kept_ref));
  EXPECT_FALSE(store_->Exists(*old_free));
  EXPECT_TRUE(store_->Exists(*young_free));
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
}

TEST_F(BlobStoreTest, DedupRefreshesMtimeSoGcKeepsIt) {
  auto sha = store_->PutString("re-uploaded");
  ASSERT_TRUE(sha.ok());
  SetBlobMtime(*sha, 1000);  // very old
  // Re-uploading the same content touches the blob (mtime = real now) ...
  ASSERT_TRUE(store_->PutString("re-uploaded").ok());
  auto path = store_->LocalPath(*sha);
  struct stat st {};
  ASSERT_EQ(::stat(path->c_str(), &st), 0);
  EXPECT_GT(static_cast<double>(st.st_mtim.tv_sec), 1000.0);
  // ... so with the clock at the real time, GC sees a young blob.
  FakeClock real_now(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + 1000);
  auto store = OpenLocalBlobStore(dir_ + "/root", real_now);
  ASSERT_TRUE(store.ok());
  auto stats = (*store)->CollectGarbage({}, 3600);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->removed, 0);
  EXPECT_TRUE((*store)->Exists(*sha));
}

TEST_F(BlobStoreTest, ConcurrentWritersOfSameContentAgree) {
  std::vector<std::thread> threads;
  std::vector<std::string> shas(4);
  for (int thread_idx = 0; thread_idx < 4; ++thread_idx) {
    threads.emplace_back([this, thread_idx, &shas] {
      for (int round = 0; round < 20; ++round) {
        auto sha = store_->PutString("shared content " + std::to_string(round % 3));
        if (sha.ok()) shas[thread_idx] = *sha;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const std::string& sha : shas) EXPECT_EQ(sha, Sha256Hex("shared content 1"));
  EXPECT_EQ(store_->List()->size(), 3u);
  EXPECT_EQ(CountFiles("tmp"), 0u);
}

TEST(OpenLocalBlobStoreTest, UncreatableRootIsInternal) {
  auto store = OpenLocalBlobStore("/proc/sskai-cannot-create");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace sskai::artifacts
