// EndpointManager driven through RunOnce() with a real store and blob store, a fake executor and
// a fake clock; readiness and Predict use a real loopback HTTP server standing in for a replica.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
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

  int64_t Deploy(const std::string& name, int64_t model_version_id) {
    store::Endpoint ep;
    ep.owner_id = alice_;
    ep.name = name;
    ep.model_version_id = model_version_id;
    ep.state = kDeploying;
    auto created = store_->CreateEndpoint(ep);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? created->id : 0;
  }

  store::Endpoint Get(int64_t id) {
    auto ep = store_->GetEndpointById(id);
    EXPECT_TRUE(ep.ok());
    return ep.ok() ? *ep : store::Endpoint{};
  }

  std::string PortFile(int64_t id) {
    return options_.run_dir + "/endpoint-" + std::to_string(id) + ".port";
  }
  void WritePort(int64_t id, int port) { std::ofstream(PortFile(id)) << port << "\n"; }

  http::Response PredictAndWait(int64_t id, const std::string& body) {
    auto promise = std::make_shared<std::promise<http::Response>>();
    auto future = promise->get_future();
    manager_->Predict(id, body, [promise](http::Response r) { promise->set_value(std::move(r)); });
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
                                      "--port-file", PortFile(id)}));
  EXPECT_EQ(launched.spec.log_path, manager_->LogPath(id));
  EXPECT_EQ(manager_->LogPath(id), options_.log_dir + "/endpoint-" + std::to_string(id) + ".log");
  EXPECT_TRUE(launched.spec.die_with_parent);

  store::Endpoint ep = Get(id);
  EXPECT_EQ(ep.state, kDeploying);
  EXPECT_EQ(ep.replica_pid, launched.handle.pid);
  EXPECT_EQ(ep.replica_start_time, launched.handle.start_time);
  EXPECT_EQ(ep.restarts, 0);
  auto replicas = manager_->Replicas();
  ASSERT_EQ(replicas.count(id), 1u);
  EXPECT_EQ(replicas[id].pid, launched.handle.pid);
  EXPECT_FALSE(replicas[id].ready);

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
  EXPECT_EQ(manager_->Replicas()[id].restarts, 1);
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

TEST_F(EndpointManagerTest, PredictWithoutAReadyReplicaIs503WithRetryAfter) {
  http::Response unknown = PredictAndWait(12345, R"({"rows":[]})");
  EXPECT_EQ(unknown.status, 503);
  EXPECT_EQ(Header(unknown, "Retry-After"), "1");
  EXPECT_NE(unknown.body.find("no ready replica"), std::string::npos) << unknown.body;

  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();  // launched, not ready
  http::Response deploying = PredictAndWait(id, R"({"rows":[]})");
  EXPECT_EQ(deploying.status, 503);
  EXPECT_EQ(Header(deploying, "Retry-After"), "1");
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
  EXPECT_TRUE(replicas[id].ready);
  EXPECT_EQ(replicas[id].port, replica.port());
  store::Page page;
  auto usage = store_->ListUsage(alice_, page, 0, 0);
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->items.size(), 1u);
  EXPECT_EQ(usage->items[0].subject_kind, "endpoint");
  EXPECT_EQ(usage->items[0].ended_at, 0);

  http::Response r = PredictAndWait(id, R"({"rows":[[1,2]]})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"echo":{"rows":[[1,2]]}})");
  EXPECT_EQ(executor_.launch_count(), 1u);
}

TEST_F(EndpointManagerTest, UnhealthyReplicaIsNotReady) {
  FakeReplica replica(/*health_status=*/503);
  int64_t id = Deploy("iris", model_version_id_);
  manager_->RunOnce();
  WritePort(id, replica.port());
  manager_->RunOnce();
  EXPECT_EQ(Get(id).state, kDeploying);
  EXPECT_FALSE(manager_->Replicas()[id].ready);
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
  EXPECT_FALSE(std::ifstream(PortFile(id)).good());  // stale port file removed before relaunch
  EXPECT_EQ(PredictAndWait(id, "{}").status, 503);
  store::Page page;
  auto usage = store_->ListUsage(alice_, page, 0, 0);
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->items.size(), 1u);
  EXPECT_DOUBLE_EQ(usage->items[0].ended_at, clock_.NowSeconds());

  // A ready replica's death does not count towards max_restarts consecutive failed starts.
  EXPECT_EQ(manager_->Replicas()[id].restarts, 0);
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

}  // namespace
}  // namespace sskai::serving
