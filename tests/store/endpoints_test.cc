#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "store/store_fixture.h"

namespace sskai::store {
namespace {

class EndpointTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    ModelVersion v;
    v.kind = "builtin";
    auto added = store_->AddModelVersion(alice_, "m", v);
    ASSERT_TRUE(added.ok());
    model_version_id_ = added->id;
  }
  Endpoint MakeEndpoint(int64_t owner, const std::string& name) {
    Endpoint e;
    e.owner_id = owner;
    e.name = name;
    e.model_version_id = model_version_id_;
    e.config_json = R"({"replicas":1})";
    e.created_at = 10;
    e.updated_at = 10;
    return e;
  }
  int64_t model_version_id_ = 0;
};

TEST_F(EndpointTest, CreateGetUpdateDelete) {
  auto created = store_->CreateEndpoint(MakeEndpoint(alice_, "web"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto got = store_->GetEndpoint(alice_, "web");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->id, created->id);
  EXPECT_EQ(got->state, "deploying");
  EXPECT_EQ(got->model_version_id, model_version_id_);
  EXPECT_EQ(got->config_json, R"({"replicas":1})");

  Endpoint update = *got;
  update.state = "ready";
  update.replica_pid = 777;
  update.replica_port = 18081;
  update.replica_start_time = "999";
  update.restarts = 1;
  update.updated_at = 20;
  ASSERT_TRUE(store_->UpdateEndpoint(update).ok());
  auto by_id = store_->GetEndpointById(created->id);
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->state, "ready");
  EXPECT_EQ(by_id->replica_pid, 777);
  EXPECT_EQ(by_id->replica_port, 18081);
  EXPECT_EQ(by_id->replica_start_time, "999");
  EXPECT_EQ(by_id->restarts, 1);
  EXPECT_DOUBLE_EQ(by_id->updated_at, 20);

  auto ready = store_->ListEndpointsInStates({"ready", "deploying"});
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->size(), 1u);
  EXPECT_TRUE(store_->ListEndpointsInStates({"failed"})->empty());

  EXPECT_EQ(store_->DeleteEndpoint(bob_, "web").code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->DeleteEndpoint(alice_, "web").ok());
  auto gone = store_->GetEndpoint(alice_, "web");
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(gone.status().message(), "endpoint 'web' not found");
  update.id = created->id;
  EXPECT_EQ(store_->UpdateEndpoint(update).code(), StatusCode::kNotFound);
}

TEST_F(EndpointTest, RolloutIsWrittenOnlyBySetEndpointRollout) {
  auto created = store_->CreateEndpoint(MakeEndpoint(alice_, "web"));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->rollout_json, "");
  Endpoint stale = *store_->GetEndpointById(created->id);
  ASSERT_TRUE(store_->SetEndpointRollout(created->id, R"({"phase":"running"})").ok());
  EXPECT_EQ(store_->GetEndpoint(alice_, "web")->rollout_json, R"({"phase":"running"})");
  stale.state = "ready";  // an older copy written back keeps the rollout
  ASSERT_TRUE(store_->UpdateEndpoint(stale).ok());
  auto got = store_->GetEndpointById(created->id);
  EXPECT_EQ(got->state, "ready");
  EXPECT_EQ(got->rollout_json, R"({"phase":"running"})");
  EXPECT_EQ(store_->SetEndpointRollout(created->id + 100, "{}").code(), StatusCode::kNotFound);
}

// GetEndpoint answers from a cache: patches and deletes must be visible on the next read.
TEST_F(EndpointTest, CachedLookupsSeeUpdatesAndDeletes) {
  ASSERT_TRUE(store_->CreateEndpoint(MakeEndpoint(alice_, "hot")).ok());
  auto first = store_->GetEndpoint(alice_, "hot");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(store_->GetEndpoint(alice_, "hot").ok());
  Endpoint patched = *first;
  patched.config_json = R"({"max_replicas":2})";
  patched.state = "blocked";
  ASSERT_TRUE(store_->UpdateEndpoint(patched).ok());
  auto again = store_->GetEndpoint(alice_, "hot");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->config_json, R"({"max_replicas":2})");
  EXPECT_EQ(again->state, "blocked");
  ASSERT_TRUE(store_->DeleteEndpoint(alice_, "hot").ok());
  EXPECT_EQ(store_->GetEndpoint(alice_, "hot").status().code(), StatusCode::kNotFound);
  // Re-created under the same name: the new row, not a stale one.
  auto recreated = store_->CreateEndpoint(MakeEndpoint(alice_, "hot"));
  ASSERT_TRUE(recreated.ok());
  EXPECT_EQ(store_->GetEndpoint(alice_, "hot")->id, recreated->id);
}

// The gateway's per-request lookups (token, user, endpoint) must not queue behind another
// thread's store call: here a write that sits in SQLite's busy wait (another process holds the
// write lock) while it holds the store's connection. Before the cache had its own lock, the
// lookups waited until that write gave up (5 s) and the writer below had finished first.
TEST_F(EndpointTest, CachedLookupsDoNotWaitForAWriterHoldingTheStore) {
  ASSERT_TRUE(store_->CreateEndpoint(MakeEndpoint(alice_, "hot")).ok());
  ASSERT_TRUE(store_->CreateToken(ApiToken{0, alice_, "t", std::string(64, 'e'), 1.0, 0}).ok());
  ASSERT_TRUE(store_->GetEndpoint(alice_, "hot").ok());  // cached from here on
  ASSERT_TRUE(store_->FindTokenByHash(std::string(64, 'e')).ok());
  ASSERT_TRUE(store_->GetUser(alice_).ok());

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::atomic<bool> writer_done{false};
  Status written;
  std::thread writer([&] {
    DatasetVersion v;
    v.blob_sha256 = std::string(64, 'f');
    v.format = "csv";
    written = store_->AddDatasetVersion(alice_, "while-locked", v).status();
    writer_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the writer is in its busy wait

  auto endpoint = store_->GetEndpoint(alice_, "hot");
  auto token = store_->FindTokenByHash(std::string(64, 'e'));
  auto user = store_->GetUser(alice_);
  EXPECT_FALSE(writer_done) << "the cached lookups waited for the blocked writer";
  EXPECT_TRUE(endpoint.ok() && token.ok() && user.ok());

  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  writer.join();
  sqlite3_close(other);
  EXPECT_TRUE(written.ok()) << written.ToString();  // it went through once the lock was gone
  EXPECT_EQ(store_->GetEndpoint(alice_, "hot")->id, endpoint->id);
}

TEST_F(EndpointTest, NamesAreUniquePerOwner) {
  ASSERT_TRUE(store_->CreateEndpoint(MakeEndpoint(alice_, "web")).ok());
  auto dup = store_->CreateEndpoint(MakeEndpoint(alice_, "web"));
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(store_->CreateEndpoint(MakeEndpoint(bob_, "web")).ok());
  EXPECT_EQ(store_->GetEndpoint(bob_, "web")->owner_id, bob_);
  EXPECT_EQ(store_->ListEndpoints(alice_, Page{})->items.size(), 1u);
  EXPECT_EQ(store_->ListEndpoints(0, Page{})->items.size(), 2u);
}

TEST_F(EndpointTest, MissingModelVersionIsRefused) {
  Endpoint e = MakeEndpoint(alice_, "bad");
  e.model_version_id = 4242;
  EXPECT_EQ(store_->CreateEndpoint(e).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(EndpointTest, SlurmReplicaRowsAndRolloutWindowsLiveWithTheEndpoint) {
  auto ep = store_->CreateEndpoint(MakeEndpoint(alice_, "web"));
  ASSERT_TRUE(ep.ok());
  EndpointReplica row;
  row.endpoint_id = ep->id;
  row.model_version_id = model_version_id_;
  row.created_at = 5;
  auto added = store_->AddEndpointReplica(row);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  added->job_id = 4242;
  added->start_time = "slurm:0";
  added->address_file = "/run/r.addr";
  added->usage_id = 7;
  added->token_name = "replica:endpoint:1:1";
  ASSERT_TRUE(store_->UpdateEndpointReplica(*added).ok());
  auto listed = store_->ListEndpointReplicas(ep->id);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].job_id, 4242);
  EXPECT_EQ((*listed)[0].start_time, "slurm:0");
  EXPECT_EQ((*listed)[0].address_file, "/run/r.addr");
  EXPECT_EQ((*listed)[0].usage_id, 7);
  EXPECT_EQ((*listed)[0].token_name, "replica:endpoint:1:1");
  EndpointReplica missing = *added;
  missing.id = 999;
  EXPECT_EQ(store_->UpdateEndpointReplica(missing).code(), StatusCode::kNotFound);

  ASSERT_TRUE(store_->SetEndpointRolloutWindows(ep->id, R"({"started_at":1})").ok());
  EXPECT_EQ(store_->GetEndpointById(ep->id)->rollout_windows_json, R"({"started_at":1})");
  EXPECT_EQ(store_->SetEndpointRolloutWindows(999, "{}").code(), StatusCode::kNotFound);

  ASSERT_TRUE(store_->DeleteEndpoint(alice_, "web").ok());  // the rows go with it
  listed = store_->ListEndpointReplicas(ep->id);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

}  // namespace
}  // namespace sskai::store
