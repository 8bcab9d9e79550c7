#include <thread>

#include "store/store_fixture.h"

namespace sskai::store {
namespace {

TEST_F(StoreTest, AddDatasetVersionCreatesThenAppends) {
  DatasetVersion v;
  v.blob_sha256 = std::string(64, '1');
  v.format = "csv";
  v.size_bytes = 4550;
  v.rows = 150;
  v.schema_json = R"({"columns":4})";
  v.stats_json = "{}";
  v.original_filename = "iris.csv";
  v.created_at = 100.5;
  auto first = store_->AddDatasetVersion(alice_, "iris", v, "Fisher's iris");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->version, 1);
  EXPECT_GT(first->id, 0);
  EXPECT_GT(first->dataset_id, 0);
  v.blob_sha256 = std::string(64, '2');
  v.rows = 151;
  auto second = store_->AddDatasetVersion(alice_, "iris", v);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->version, 2);
  EXPECT_EQ(second->dataset_id, first->dataset_id);

  auto dataset = store_->GetDataset(alice_, "iris");
  ASSERT_TRUE(dataset.ok());
  EXPECT_EQ(dataset->latest_version, 2);
  EXPECT_EQ(dataset->description, "Fisher's iris");  // kept when not given
  EXPECT_DOUBLE_EQ(dataset->created_at, 100.5);

  auto latest = store_->GetDatasetVersion(dataset->id, 0);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->rows, 151);
  auto v1 = store_->GetDatasetVersion(dataset->id, 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->blob_sha256, std::string(64, '1'));
  EXPECT_EQ(v1->schema_json, R"({"columns":4})");
  EXPECT_EQ(v1->original_filename, "iris.csv");
  EXPECT_EQ(v1->size_bytes, 4550);
  EXPECT_EQ(store_->GetDatasetVersionById(second->id)->version, 2);
  EXPECT_EQ(store_->GetDatasetVersion(dataset->id, 3).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetDatasetVersionById(9999).status().code(), StatusCode::kNotFound);

  auto versions = store_->ListDatasetVersions(dataset->id, Page{.limit = 1});
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->items.size(), 1u);
  EXPECT_EQ(versions->items[0].version, 1);
  EXPECT_EQ(versions->next_after_id, first->id);
}

TEST_F(StoreTest, DatasetsAreScopedToOwner) {
  AddDataset(alice_, "iris", std::string(64, 'a'));
  auto other = store_->GetDataset(bob_, "iris");
  EXPECT_EQ(other.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(other.status().message(), "dataset 'iris' not found");
  // Bob may use the same name: his own dataset, numbered from 1.
  EXPECT_EQ(AddDataset(bob_, "iris", std::string(64, 'b')).version, 1);
  EXPECT_EQ(store_->ListDatasets(alice_, Page{})->items.size(), 1u);
  EXPECT_EQ(store_->ListDatasets(bob_, Page{})->items.size(), 1u);
  EXPECT_EQ(store_->DeleteDataset(bob_, "nope").code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, DeleteDatasetRemovesVersionsUnlessReferenced) {
  DatasetVersion free_version = AddDataset(alice_, "scratch", std::string(64, 'a'));
  ASSERT_TRUE(store_->DeleteDataset(alice_, "scratch").ok());
  EXPECT_EQ(store_->GetDataset(alice_, "scratch").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetDatasetVersionById(free_version.id).status().code(),
            StatusCode::kNotFound);

  DatasetVersion used_by_job = AddDataset(alice_, "train", std::string(64, 'b'));
  Job job;
  job.owner_id = alice_;
  job.dataset_version_id = used_by_job.id;
  ASSERT_TRUE(store_->CreateJob(job).ok());
  Status refused = store_->DeleteDataset(alice_, "train");
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("1 job"), std::string::npos) << refused.message();

  DatasetVersion used_by_model = AddDataset(alice_, "eval", std::string(64, 'c'));
  ModelVersion mv;
  mv.kind = "trained";
  mv.dataset_version_id = used_by_model.id;
  ASSERT_TRUE(store_->AddModelVersion(alice_, "m", mv).ok());
  EXPECT_EQ(store_->DeleteDataset(alice_, "eval").code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->GetDataset(alice_, "eval").ok());
}

TEST_F(StoreTest, ConcurrentAddDatasetVersionNumbersAreDense) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::vector<std::vector<int64_t>> seen(kThreads);
  for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
    threads.emplace_back([this, thread_idx, &seen] {
      for (int call_idx = 0; call_idx < kPerThread; ++call_idx) {
        DatasetVersion v;
        v.blob_sha256 = std::string(64, 'e');
        v.created_at = call_idx;
        auto added = store_->AddDatasetVersion(alice_, "shared", v);
        if (added.ok()) seen[thread_idx].push_back(added->version);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<int64_t> versions;
  size_t total = 0;
  for (const auto& list : seen) {
    total += list.size();
    versions.insert(list.begin(), list.end());
  }
  EXPECT_EQ(total, static_cast<size_t>(kThreads * kPerThread));
  ASSERT_EQ(versions.size(), total);  // no duplicates
  EXPECT_EQ(*versions.begin(), 1);
  EXPECT_EQ(*versions.rbegin(), kThreads * kPerThread);  // no gaps
  EXPECT_EQ(store_->GetDataset(alice_, "shared")->latest_version, kThreads * kPerThread);
  // Exactly one dataset row was created.
  EXPECT_EQ(store_->ListDatasets(alice_, Page{})->items.size(), 1u);
}

TEST_F(StoreTest, ListingFiftyOfAThousandIsFast) {
  for (int idx = 0; idx < 1000; ++idx) {
    AddDataset(alice_, "d" + std::to_string(idx), std::string(64, 'a'));
  }
  auto warm = store_->ListDatasets(alice_, Page{.limit = 50, .after_id = 500});
  ASSERT_TRUE(warm.ok());
  constexpr int kRounds = 200;
  const auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < kRounds; ++round) {
    auto page = store_->ListDatasets(alice_, Page{.limit = 50, .after_id = 500});
    ASSERT_EQ(page->items.size(), 50u);
  }
  const double per_call_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
      kRounds;
  EXPECT_LT(per_call_ms, 1.0);
}

}  // namespace
}  // namespace sskai::store
