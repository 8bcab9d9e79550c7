// EndpointManager driven through RunOnce() with a real store and blob store, a fake executor and
// a fake clock; readiness and Predict use a real loopback HTTP server standing in for a replica.
#include "serving/manager_fixture.h"

namespace sskai::serving {
namespace {

using namespace std::chrono_literals;
using sskai::testing::FakeExecutor;

TEST_F(EndpointManagerTest, LaunchesAReplicaWithTheModelBlob) {
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 1u);
  auto launched = executor_.launches()[0];
  auto path = blobs_->LocalPath(model_sha_);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(launched.spec.argv,
            (std::vector<std::string>{"/opt/sskai/bin/sskai", "replica", "--model", *path,
                                      "--port-file", options_.run_dir + "/endpoint-" +
                                                         std::to_string(id) + "-r1.port"}));
  EXPECT_EQ(launched.spec.log_path, manager_->LogPath(id));
  EXPECT_EQ(manager_->LogPath(id), options_.log_dir + "/endpoint-" + std::to_string(id) + ".log");
  EXPECT_TRUE(launched.spec.die_with_parent);

  store::Endpoint ep = Get(id);
  EXPECT_EQ(ep.state, kDeploying);
  EXPECT_EQ(ep.replica_pid, launched.handle.pid);
  EXPECT_EQ(ep.replica_start_time, launched.handle.start_time);
  EXPECT_EQ(ep.restarts, 0);
  auto replicas = manager_->Replicas();
  ASSERT_EQ(replicas[id].size(), 1u);
  EXPECT_EQ(replicas[id][0].pid, launched.handle.pid);
  EXPECT_FALSE(replicas[id][0].ready);

  manager_->RunOnce();  // no port file yet: still waiting, nothing relaunched
  EXPECT_EQ(executor_.launch_count(), 1u);
  EXPECT_EQ(Get(id).state, kDeploying);
}

TEST_F(EndpointManagerTest, MissingModelBlobFailsTheEndpoint) {
  std::string missing(64, 'a');
  int64_t id = Deploy("broken", AddModelVersion(missing));
  manager_->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 0u);
  store::Endpoint ep = Get(id);
  EXPECT_EQ(ep.state, kFailed);
  EXPECT_NE(ep.reason.find("model file is missing"), std::string::npos) << ep.reason;
  manager_->RunOnce();  // a failed endpoint is left alone
  EXPECT_EQ(executor_.launch_count(), 0u);
  EXPECT_TRUE(manager_->Replicas().empty());
}

TEST_F(EndpointManagerTest, LaunchFailureFailsTheEndpoint) {
  int64_t id = Deploy("iris", model_version_id_);
  executor_.FailNextLaunch(Status::NotFound("executable missing"));
  manager_->RunOnce();
  store::Endpoint ep = Get(id);
  EXPECT_EQ(ep.state, kFailed);
  EXPECT_NE(ep.reason.find("cannot start a replica: executable missing"), std::string::npos);
}

TEST_F(EndpointManagerTest, ReplicaExitIsCountedAndRelaunched) {
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();
  executor_.Exit(executor_.launches()[0].handle.pid, 1);
  manager_->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 2u);
  store::Endpoint ep = Get(id);
  EXPECT_EQ(ep.restarts, 1);
  EXPECT_EQ(ep.state, kDeploying);
  EXPECT_EQ(ep.replica_pid, executor_.launches()[1].handle.pid);
  EXPECT_EQ(manager_->Replicas()[id][0].restarts, 1);
}

TEST_F(EndpointManagerTest, ConsecutiveFailedStartsFailTheEndpoint) {
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();
  for (int idx = 0; idx < options_.max_restarts; ++idx) {
    executor_.Exit(executor_.launches().back().handle.pid, 1);
    manager_->RunOnce();
  }
  store::Endpoint ep = Get(id);
  EXPECT_EQ(ep.state, kFailed);
  EXPECT_NE(ep.reason.find("replica failed to start 3 times"), std::string::npos) << ep.reason;
  EXPECT_NE(ep.reason.find("exit code 1"), std::string::npos) << ep.reason;
  EXPECT_EQ(ep.restarts, 3);
  EXPECT_EQ(executor_.launch_count(), 3u);
  manager_->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 3u);
  EXPECT_TRUE(manager_->Replicas().empty());
}

TEST_F(EndpointManagerTest, RequestsWaitForTheFirstReplicaThenGetServed) {
  FakeReplica replica;
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();  // launched, not ready
  auto waiting = PredictAsync(id, R"({"rows":[[1]]})");
  EXPECT_EQ(waiting.wait_for(50ms), std::future_status::timeout);  // held, not refused
  EXPECT_EQ(manager_->Metrics(id).queued, 1);
  WritePort(id, replica.port());
  manager_->RunOnce();  // ready: the queue drains onto it
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
  http::Response r = waiting.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"echo":{"rows":[[1]]}})");
  EndpointMetrics m = manager_->Metrics(id);
  EXPECT_EQ(m.queued, 0);
  EXPECT_EQ(m.queued_total, 1);
}

TEST_F(EndpointManagerTest, QueueTimeoutAnswers503AndAFullQueue429) {
  int64_t id = Deploy("iris", model_version_id_, R"({"queue_limit":2,"queue_timeout_ms":1000})");
  manager_->RunOnce();
  auto first = PredictAsync(id, "{}");
  auto second = PredictAsync(id, "{}");
  http::Response third = PredictAndWait(id, "{}");  // the queue holds 2
  EXPECT_EQ(third.status, 429);
  EXPECT_EQ(Header(third, "Retry-After"), "1");
  EXPECT_NE(third.body.find("at capacity"), std::string::npos) << third.body;
  clock_.Advance(1500ms);
  manager_->RunOnce();
  for (auto* f : {&first, &second}) {
    ASSERT_EQ(f->wait_for(10s), std::future_status::ready);
    http::Response r = f->get();
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(Header(r, "Retry-After"), "1");
    EXPECT_NE(r.body.find("no ready replica after 1000 ms"), std::string::npos) << r.body;
  }
  EXPECT_EQ(manager_->Metrics(id).rejected, 3);
}

TEST_F(EndpointManagerTest, BecomesReadyWhenHealthyAndForwardsPredict) {
  FakeReplica replica;
  ASSERT_GT(replica.port(), 0);
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();
  WritePort(id, replica.port());
  manager_->RunOnce();

  store::Endpoint ep = Get(id);
  EXPECT_EQ(ep.state, kReady);
  EXPECT_EQ(ep.reason, "");
  EXPECT_EQ(ep.replica_port, replica.port());
  auto replicas = manager_->Replicas();
  EXPECT_TRUE(replicas[id][0].ready);
  EXPECT_EQ(replicas[id][0].port, replica.port());
  store::Page page;
  auto usage = store_->ListUsage(alice_, page, 0, 0);
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->items.size(), 1u);  // one record per replica, open from its launch
  EXPECT_EQ(usage->items[0].subject_kind, "endpoint");
  EXPECT_EQ(usage->items[0].resource, "this-machine");
  EXPECT_EQ(usage->items[0].ended_at, 0);

  http::Response r = PredictAndWait(id, R"({"rows":[[1,2]]})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"echo":{"rows":[[1,2]]}})");
  EXPECT_EQ(executor_.launch_count(), 1u);
  EndpointMetrics m = manager_->Metrics(id);
  EXPECT_EQ(m.requests, 1);
  EXPECT_EQ(m.errors, 0);
  EXPECT_EQ(m.ready, 1);
  std::string text = manager_->PrometheusText();
  EXPECT_NE(text.find("sskai_endpoint_requests_total{endpoint=\"iris\""), std::string::npos) << text;
  EXPECT_NE(text.find("sskai_endpoint_request_duration_seconds_bucket{endpoint=\"iris\""),
            std::string::npos);
}

TEST_F(EndpointManagerTest, UnhealthyReplicaIsNotReady) {
  FakeReplica replica(/*health_status=*/503);
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();
  WritePort(id, replica.port());
  manager_->RunOnce();
  EXPECT_EQ(Get(id).state, kDeploying);
  EXPECT_FALSE(manager_->Replicas()[id][0].ready);
}

TEST_F(EndpointManagerTest, ReadyReplicaThatDiesIsRestartedAndTrafficStops) {
  FakeReplica replica;
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();
  WritePort(id, replica.port());
  manager_->RunOnce();
  ASSERT_EQ(Get(id).state, kReady);

  clock_.Advance(30s);
  executor_.Kill(executor_.launches()[0].handle.pid, 9);
  manager_->RunOnce();
  store::Endpoint ep = Get(id);
  EXPECT_EQ(ep.restarts, 1);
  EXPECT_EQ(ep.state, kDeploying);
  ASSERT_EQ(executor_.launch_count(), 2u);
  EXPECT_FALSE(std::ifstream(PortFile(id)).good());  // a fresh port file for the new replica
  store::Page page;
  auto usage = store_->ListUsage(alice_, page, 0, 0);
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->items.size(), 2u);  // the dead replica's record is closed, the new one open
  int closed = 0;
  for (const auto& u : usage->items) closed += u.ended_at == clock_.NowSeconds() ? 1 : 0;
  EXPECT_EQ(closed, 1);

  // A ready replica's death does not count towards max_restarts consecutive failed starts.
  EXPECT_EQ(manager_->Replicas()[id][0].restarts, 0);
}

TEST_F(EndpointManagerTest, ReplicaNotReadyInTimeIsKilled) {
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();
  clock_.Advance(59s);
  manager_->RunOnce();
  EXPECT_TRUE(executor_.signals().empty());
  clock_.Advance(2s);
  manager_->RunOnce();
  ASSERT_EQ(executor_.signals().size(), 1u);
  EXPECT_TRUE(executor_.signals()[0].force);
  manager_->RunOnce();  // the kill is noticed as a failed start
  EXPECT_EQ(Get(id).restarts, 1);
  EXPECT_EQ(executor_.launch_count(), 2u);
}

TEST_F(EndpointManagerTest, RedeployWithAnotherVersionReplacesTheReplica) {
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();
  int old_pid = executor_.launches()[0].handle.pid;
  auto sha2 = blobs_->PutString("fake model weights v2");
  ASSERT_TRUE(sha2.ok());
  store::Endpoint ep = Get(id);
  ep.model_version_id = AddModelVersion(*sha2);
  ASSERT_TRUE(store_->UpdateEndpoint(ep).ok());
  manager_->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 2u);
  EXPECT_FALSE(executor_.alive(old_pid));
  EXPECT_EQ(executor_.launches()[1].spec.argv[3], *blobs_->LocalPath(*sha2));
}

TEST_F(EndpointManagerTest, ForgetAndDeletedEndpointsStopTheirReplicas) {
  int64_t kept = Deploy("kept", model_version_id_);
  int64_t gone = Deploy("gone", model_version_id_);
  manager_->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 2u);
  manager_->Forget(kept);
  EXPECT_EQ(manager_->Replicas().count(kept), 0u);
  ASSERT_TRUE(store_->DeleteEndpoint(alice_, "gone").ok());
  manager_->RunOnce();
  EXPECT_EQ(manager_->Replicas().count(gone), 0u);
  auto launches = executor_.launches();
  EXPECT_FALSE(executor_.alive(launches[0].handle.pid));
  EXPECT_FALSE(executor_.alive(launches[1].handle.pid));
  // `kept` still wants to serve (its row is deploying): the same pass starts it again.
  ASSERT_EQ(launches.size(), 3u);
  EXPECT_EQ(launches[2].spec.argv.back(), PortFile(kept));
}

TEST_F(EndpointManagerTest, ReplicaFailingMidRequestGivesAClearErrorAndIsReplaced) {
  auto replica = std::make_unique<FakeReplica>();
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();
  WritePort(id, replica->port());
  manager_->RunOnce();
  ASSERT_EQ(Get(id).state, kReady);
  replica->Stop();  // the process is gone: the connection fails
  http::Response r = PredictAndWait(id, "{}");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("failed during the request"), std::string::npos) << r.body;
  EXPECT_EQ(Header(r, "Retry-After"), "1");
  executor_.Kill(executor_.launches()[0].handle.pid, 9);
  manager_->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 2u);
  EXPECT_EQ(manager_->Metrics(id).errors, 1);
}

TEST_F(EndpointManagerTest, ServerlessScalesToZeroAndBackOnARequest) {
  FakeReplica replica;
  int64_t id = Deploy("fn", model_version_id_,
                      R"({"mode":"serverless","idle_timeout_ms":5000,"scale_down_delay_ms":0})");
  manager_->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 0u);  // nobody called: nothing runs
  EXPECT_EQ(Get(id).state, kIdle);

  auto cold = PredictAsync(id, R"({"rows":[[1]]})");
  manager_->RunOnce();  // activation
  ASSERT_EQ(executor_.launch_count(), 1u);
  WritePort(id, replica.port());
  manager_->RunOnce();
  ASSERT_EQ(cold.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(cold.get().status, 200);
  EXPECT_EQ(Get(id).state, kReady);
  EXPECT_EQ(manager_->Metrics(id).cold_starts, 1);

  clock_.Advance(4s);
  manager_->RunOnce();
  EXPECT_EQ(manager_->Replicas()[id].size(), 1u);
  clock_.Advance(2s);
  manager_->RunOnce();  // idle for 6 s > 5 s: drained and stopped
  EXPECT_TRUE(manager_->Replicas()[id].empty());
  EXPECT_FALSE(executor_.alive(executor_.launches()[0].handle.pid));
  EXPECT_EQ(Get(id).state, kIdle);
  store::Page page;
  auto usage = store_->ListUsage(alice_, page, 0, 0);
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->items.size(), 1u);
  EXPECT_GT(usage->items[0].ended_at, 0);  // replica-seconds are closed at the stop
}

TEST_F(EndpointManagerTest, BlockedEndpointAnswers402AndUnblockRestores) {
  FakeReplica replica;
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();
  WritePort(id, replica.port());
  manager_->RunOnce();
  ASSERT_EQ(Get(id).state, kReady);
  ASSERT_TRUE(manager_->Block(id, "budget 'team-a' exceeded").ok());
  EXPECT_EQ(Get(id).state, kBlocked);
  EXPECT_EQ(Get(id).reason, "budget 'team-a' exceeded");
  http::Response r = PredictAndWait(id, "{}");
  EXPECT_EQ(r.status, 402);
  EXPECT_NE(r.body.find("budget 'team-a' exceeded"), std::string::npos) << r.body;
  manager_->RunOnce();
  EXPECT_TRUE(manager_->Replicas()[id].empty());
  EXPECT_FALSE(executor_.alive(executor_.launches()[0].handle.pid));

  ASSERT_TRUE(manager_->Unblock(id).ok());
  EXPECT_EQ(Get(id).state, kDeploying);
  manager_->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 2u);
  EXPECT_EQ(manager_->Block(99999, "x").code(), StatusCode::kNotFound);
}

TEST_F(EndpointManagerTest, OnRequestIsCalledPerCompletedRequest) {
  std::atomic<int> calls{0}, ok_calls{0};
  options_.on_request = [&](int64_t, int64_t owner, double busy, bool ok) {
    EXPECT_EQ(owner, alice_);
    EXPECT_GE(busy, 0.0);
    calls += 1;
    ok_calls += ok ? 1 : 0;
  };
  manager_ = std::make_unique<EndpointManager>(options_, *store_, *blobs_, executor_, clock_);
  FakeReplica replica;
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();
  WritePort(id, replica.port());
  manager_->RunOnce();
  EXPECT_EQ(PredictAndWait(id, "{}").status, 200);
  EXPECT_EQ(PredictAndWait(id, "{}").status, 200);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(ok_calls.load(), 2);
}

TEST_F(EndpointManagerTest, WarmPoolStandbyTakesTheModelOnColdStart) {
  // A standby that answers /healthz and /load.
  auto router = std::make_shared<http::Router>();
  std::atomic<int> loads{0};
  router->AddSync("GET", "/healthz", [](http::Request&) { return http::Response::Json(200, "{}"); });
  router->AddSync("POST", "/load", [&loads](http::Request&) {
    loads += 1;
    return http::Response::Json(200, R"({"loaded":true})");
  });
  router->AddSync("POST", "/predict", [](http::Request&) { return http::Response::Json(200, R"({"ok":1})"); });
  auto server = http::Server::Create({}, router);
  ASSERT_TRUE(server.ok());
  options_.warm_pool = 1;
  manager_ = std::make_unique<EndpointManager>(options_, *store_, *blobs_, executor_, clock_);
  manager_->RunOnce();  // starts the standby
  ASSERT_EQ(executor_.launch_count(), 1u);
  auto standby = executor_.launches()[0];
  EXPECT_EQ(standby.spec.argv[2], "--standby");
  std::ofstream(standby.spec.argv.back()) << (*server)->port() << "\n";
  manager_->RunOnce();  // standby ready

  int64_t id = Deploy("fn", model_version_id_, R"({"mode":"serverless"})");
  auto cold = PredictAsync(id, "{}");
  manager_->RunOnce();  // activation takes the standby (no new process for the endpoint)
  ASSERT_EQ(cold.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(cold.get().status, 200);
  EXPECT_EQ(loads.load(), 1);
  manager_->RunOnce();  // the pool is refilled
  EXPECT_EQ(executor_.launch_count(), 2u);
  EXPECT_EQ(executor_.launches()[1].spec.argv[2], "--standby");
}

}  // namespace
}  // namespace sskai::serving
