// EndpointManager driven through RunOnce() with a real store and blob store, a fake executor and
// a fake clock; readiness and Predict use a real loopback HTTP server standing in for a replica.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <atomic>
#include <future>
#include <memory>
#include <string>

#include "artifacts/artifacts.h"
#include "http/http.h"
#include "serving/serving.h"
#include "store/store.h"
#include "testing/fake_executor.h"
#include "testing/scratch_dir.h"

namespace sskai::serving {
namespace {

using namespace std::chrono_literals;
using sskai::testing::FakeExecutor;

// A stand-in replica: answers /healthz and echoes /predict bodies.
class FakeReplica {
 public:
  explicit FakeReplica(int health_status = 200) {
    auto router = std::make_shared<http::Router>();
    router->AddSync("GET", "/healthz", [health_status](http::Request&) {
      return http::Response::Json(health_status, R"({"status":"ok"})");
    });
    router->AddSync("POST", "/predict", [](http::Request& req) {
      return http::Response::Json(200, R"({"echo":)" + req.body + "}");
    });
    http::Server::Options options;
    options.io_threads = 1;
    auto server = http::Server::Create(options, router);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (server.ok()) server_ = std::move(server).value();
  }
  int port() const { return server_ ? server_->port() : 0; }
  void Stop() { server_.reset(); }

 private:
  std::unique_ptr<http::Server> server_;
};

class EndpointManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::Store::Open(dir_.path() + "/meta.db");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
    auto blobs = artifacts::OpenLocalBlobStore(dir_.Sub("artifacts"), clock_);
    ASSERT_TRUE(blobs.ok()) << blobs.status().ToString();
    blobs_ = std::move(blobs).value();
    auto user = store_->CreateUser("alice", false, 1);
    ASSERT_TRUE(user.ok());
    alice_ = user->id;
    auto sha = blobs_->PutString("fake model weights v1");
    ASSERT_TRUE(sha.ok());
    model_sha_ = *sha;
    model_version_id_ = AddModelVersion(model_sha_);
    options_.binary = "/opt/sskai/bin/sskai";
    options_.run_dir = dir_.Sub("run");
    options_.log_dir = dir_.Sub("logs");
    options_.max_restarts = 3;
    options_.ready_timeout = 60s;
    options_.proxy_threads = 2;
    options_.predict_timeout = 5000ms;
    executor_.set_exit_on_sigterm(true);  // StopReplica waits for the exit
    manager_ = std::make_unique<EndpointManager>(options_, *store_, *blobs_, executor_, clock_);
  }
  void TearDown() override { manager_.reset(); }

  int64_t AddModelVersion(const std::string& sha) {
    store::ModelVersion mv;
    mv.kind = "uploaded";
    mv.task = "classification";
    mv.blob_sha256 = sha;
    mv.created_at = 1;
    auto added = store_->AddModelVersion(alice_, "iris", mv);
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    return added.ok() ? added->id : 0;
  }

  int64_t Deploy(const std::string& name, int64_t model_version_id,
                 const std::string& config_json = "") {
    store::Endpoint ep;
    ep.owner_id = alice_;
    ep.name = name;
    ep.model_version_id = model_version_id;
    ep.state = kDeploying;
    ep.config_json = config_json;
    auto created = store_->CreateEndpoint(ep);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? created->id : 0;
  }

  store::Endpoint Get(int64_t id) {
    auto ep = store_->GetEndpointById(id);
    EXPECT_TRUE(ep.ok());
    return ep.ok() ? *ep : store::Endpoint{};
  }

  // The port file of the latest launch (of endpoint `id`).
  std::string PortFile(int64_t id) {
    std::string prefix = options_.run_dir + "/endpoint-" + std::to_string(id) + "-r";
    auto launches = executor_.launches();
    for (auto it = launches.rbegin(); it != launches.rend(); ++it) {
      if (it->spec.argv.back().rfind(prefix, 0) == 0) return it->spec.argv.back();
    }
    return prefix + "?";
  }
  void WritePort(int64_t id, int port) { std::ofstream(PortFile(id)) << port << "\n"; }

  std::future<http::Response> PredictAsync(int64_t id, const std::string& body) {
    auto promise = std::make_shared<std::promise<http::Response>>();
    auto future = promise->get_future();
    store::Endpoint ep = Get(id);
    if (ep.id == 0) ep.id = id;
    manager_->Predict(ep, body, [promise](http::Response r) { promise->set_value(std::move(r)); });
    return future;
  }

  http::Response PredictAndWait(int64_t id, const std::string& body) {
    auto future = PredictAsync(id, body);
    if (future.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "Predict never answered";
      return {};
    }
    return future.get();
  }

  static std::string Header(const http::Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  sskai::testing::ScratchDir dir_;
  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<artifacts::BlobStore> blobs_;
  int64_t alice_ = 0;
  std::string model_sha_;
  int64_t model_version_id_ = 0;
  EndpointManager::Options options_;
  FakeExecutor executor_;
  std::unique_ptr<EndpointManager> manager_;
};

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
