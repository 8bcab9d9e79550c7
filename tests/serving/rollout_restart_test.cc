// A rollout's comparison windows survive a server restart: answers recorded by one
// EndpointManager are persisted (throttled) in the store, and a new manager on the same store
// continues the analysis from them (and shows them before its first pass).
#include "serving/manager_fixture.h"

namespace sskai::serving {
namespace {

class RolloutRestartTest : public EndpointManagerTest {};

TEST_F(RolloutRestartTest, WindowsArePersistedAndRestoredByANewManager) {
  FakeReplica stable, canary;
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();
  WritePort(id, stable.port());
  manager_->RunOnce();
  ASSERT_EQ(Get(id).state, kReady);
  auto v2_sha = blobs_->PutString("fake model weights v2");
  ASSERT_TRUE(v2_sha.ok());
  int64_t v2 = AddModelVersion(*v2_sha);
  auto spec = ParseRolloutSpec(R"({"steps":[50,100],"step_seconds":3600,
                                   "rollback":{"min_requests":1000}})");
  ASSERT_TRUE(spec.ok());
  ASSERT_TRUE(manager_->StartRollout(id, v2, *spec).ok());
  manager_->RunOnce();  // launches the canary
  WritePort(id, canary.port());
  manager_->RunOnce();  // canary ready: first step (50 %)
  manager_->RunOnce();
  for (int idx = 0; idx < 20; ++idx) ASSERT_EQ(PredictAndWait(id, "{}").status, 200);
  auto before = manager_->Rollout(id);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->state.percent, 50);
  EXPECT_EQ(before->stable.requests + before->canary.requests, 20);
  EXPECT_EQ(before->canary.requests, 10);
  clock_.Advance(std::chrono::seconds(2));
  manager_->RunOnce();  // persists the windows (at most once a second)

  manager_ = std::make_unique<EndpointManager>(options_, *store_, *blobs_, executor_, clock_);
  auto shown = manager_->Rollout(id);  // before the first pass: from the store
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  EXPECT_EQ(shown->stable.requests, before->stable.requests);
  EXPECT_EQ(shown->canary.requests, before->canary.requests);
  manager_->RunOnce();
  auto after = manager_->Rollout(id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->stable.requests, before->stable.requests);
  EXPECT_EQ(after->canary.requests, before->canary.requests);
  EXPECT_DOUBLE_EQ(after->canary.p95_ms, before->canary.p95_ms);
}

}  // namespace
}  // namespace sskai::serving
