#include "store/store_fixture.h"

namespace sskai::store {
namespace {

TEST_F(StoreTest, AddModelVersionCreatesThenAppends) {
  DatasetVersion data = AddDataset(alice_, "iris", std::string(64, 'a'));
  Job job;
  job.owner_id = alice_;
  auto created_job = store_->CreateJob(job);
  ASSERT_TRUE(created_job.ok());

  ModelVersion builtin;
  builtin.kind = "builtin";
  builtin.task = "classification";
  builtin.created_at = 7;
  auto v1 = store_->AddModelVersion(alice_, "clf", builtin);
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v1->dataset_version_id, 0);

  ModelVersion trained;
  trained.kind = "trained";
  trained.task = "classification";
  trained.blob_sha256 = std::string(64, 'b');
  trained.dataset_version_id = data.id;
  trained.job_id = created_job->id;
  trained.metrics_json = R"({"accuracy":0.97})";
  trained.spec_json = R"({"layers":[4,16,3]})";
  trained.size_bytes = 2048;
  trained.created_at = 8;
  auto v2 = store_->AddModelVersion(alice_, "clf", trained);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->model_id, v1->model_id);

  auto model = store_->GetModel(alice_, "clf");
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(model->latest_version, 2);
  auto latest = store_->GetModelVersion(model->id, 0);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->kind, "trained");
  EXPECT_EQ(latest->dataset_version_id, data.id);
  EXPECT_EQ(latest->job_id, created_job->id);
  EXPECT_EQ(latest->metrics_json, R"({"accuracy":0.97})");
  EXPECT_EQ(latest->spec_json, R"({"layers":[4,16,3]})");
  EXPECT_EQ(latest->size_bytes, 2048);
  EXPECT_EQ(store_->GetModelVersion(model->id, 1)->kind, "builtin");
  EXPECT_EQ(store_->GetModelVersionById(v2->id)->version, 2);
  EXPECT_EQ(store_->GetModelVersion(model->id, 5).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ListModelVersions(model->id, Page{})->items.size(), 2u);
}

TEST_F(StoreTest, ModelsAreScopedToOwner) {
  ModelVersion v;
  v.kind = "uploaded";
  ASSERT_TRUE(store_->AddModelVersion(alice_, "m", v).ok());
  auto other = store_->GetModel(bob_, "m");
  EXPECT_EQ(other.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(other.status().message(), "model 'm' not found");
  EXPECT_TRUE(store_->ListModels(bob_, Page{})->items.empty());
  EXPECT_EQ(store_->ListModels(alice_, Page{})->items.size(), 1u);
}

TEST_F(StoreTest, PublicModelsAreVisibleToEveryOwnerAndOwnModelsShadowThem) {
  ModelVersion v;
  v.kind = "foundation";
  ASSERT_TRUE(store_->AddModelVersion(alice_, "base", v).ok());
  auto model = store_->GetModel(alice_, "base");
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(model->visibility, "private");
  EXPECT_EQ(store_->GetVisibleModel(bob_, "base").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->ListVisibleModels(bob_, Page{})->items.empty());

  ASSERT_TRUE(store_->SetModelVisibility(model->id, "public").ok());
  auto seen = store_->GetVisibleModel(bob_, "base");
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(seen->owner_id, alice_);
  EXPECT_EQ(seen->visibility, "public");
  EXPECT_EQ(store_->GetModel(bob_, "base").status().code(), StatusCode::kNotFound);  // still alice's
  ASSERT_TRUE(store_->AddModelVersion(bob_, "mine", v).ok());
  EXPECT_EQ(store_->ListVisibleModels(bob_, Page{})->items.size(), 2u);
  EXPECT_EQ(store_->ListModels(bob_, Page{})->items.size(), 1u);

  // Bob's own "base" shadows the public one for him only.
  ASSERT_TRUE(store_->AddModelVersion(bob_, "base", v).ok());
  EXPECT_EQ(store_->GetVisibleModel(bob_, "base")->owner_id, bob_);
  EXPECT_EQ(store_->GetVisibleModel(alice_, "base")->owner_id, alice_);

  EXPECT_EQ(store_->SetModelVisibility(model->id, "everyone").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SetModelVisibility(4242, "public").code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->SetModelVisibility(model->id, "private").ok());
  EXPECT_EQ(store_->ListVisibleModels(bob_, Page{})->items.size(), 2u);  // his "mine" and "base"
}

TEST_F(StoreTest, ModelVersionWithMissingDatasetVersionIsRefusedAtomically) {
  ModelVersion v;
  v.kind = "trained";
  v.dataset_version_id = 4242;
  auto added = store_->AddModelVersion(alice_, "ghost", v);
  EXPECT_EQ(added.status().code(), StatusCode::kFailedPrecondition);
  // The transaction rolled back: no half-created model.
  EXPECT_EQ(store_->GetModel(alice_, "ghost").status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, ReferencedBlobsCoversDatasetsModelsAndCheckpoints) {
  AddDataset(alice_, "d", std::string(64, '1'));
  ModelVersion v;
  v.kind = "trained";
  v.blob_sha256 = std::string(64, '2');
  ASSERT_TRUE(store_->AddModelVersion(alice_, "m", v).ok());
  ModelVersion builtin;
  builtin.kind = "builtin";  // no blob
  ASSERT_TRUE(store_->AddModelVersion(alice_, "b", builtin).ok());
  Job job;
  job.owner_id = bob_;
  job.checkpoint_sha256 = std::string(64, '3');
  ASSERT_TRUE(store_->CreateJob(job).ok());
  Job no_checkpoint;
  no_checkpoint.owner_id = bob_;
  ASSERT_TRUE(store_->CreateJob(no_checkpoint).ok());
  auto blobs = store_->ReferencedBlobs();
  ASSERT_TRUE(blobs.ok());
  EXPECT_EQ(*blobs, (std::set<std::string>{std::string(64, '1'), std::string(64, '2'),
                                           std::string(64, '3')}));
}

}  // namespace
}  // namespace sskai::store
