// Replicas placed on Slurm, through the EndpointManager with a fake executor: the submitted
// job (model fetched over HTTP with a per-replica token, listening for other nodes), readiness
// from the "host:port" address file, usage priced from the partition's offering, a server
// restart that re-attaches to the job, a job that dies is cancelled for good and replaced, and
// scale-down cancels the job, each replica's key. Plus the pure address parsing.
#include "serving/internal.h"
#include "serving/manager_fixture.h"

namespace sskai::serving {
namespace {

class SlurmPlacementTest : public SlurmManagerTest {
 protected:
  // The address file of the latest launch.
  std::string AddressFile() {
    auto argv = executor_.launches().back().spec.argv;
    return argv.back();
  }
  // Deploys `name` on Slurm and makes its replica ready at `replica`; returns the Slurm job id.
  int DeployReady(const std::string& name, FakeReplica& replica, int64_t* id) {
    *id = Deploy(name, model_version_id_, R"({"executor":"slurm"})");
    manager_->RunOnce();
    int job = executor_.launches().back().handle.pid;
    std::ofstream(AddressFile()) << "127.0.0.1:" << replica.port() << "\n";
    manager_->RunOnce();
    EXPECT_EQ(Get(*id).state, kReady);
    return job;
  }
};

TEST_F(SlurmPlacementTest, SubmitsAJobThatFetchesTheModelAndServesOverTcp) {
  FakeReplica replica;
  int64_t id = Deploy("iris", model_version_id_, R"({"executor":"slurm","partition":"gpu"})");
  manager_->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 1u);
  auto launched = executor_.launches()[0];
  EXPECT_EQ(launched.spec.executor, "slurm");
  EXPECT_EQ(launched.spec.partition, "gpu");
  EXPECT_FALSE(launched.spec.die_with_parent);
  auto& argv = launched.spec.argv;
  ASSERT_EQ(argv.size(), 10u);
  EXPECT_EQ(argv[2], "--model-url");
  EXPECT_EQ(argv[3], "http://10.0.0.1:8080/v1/models/iris/versions/1/content");
  EXPECT_EQ(argv[5], model_sha_);
  EXPECT_EQ(argv[7], "0.0.0.0");
  ASSERT_EQ(minted_.size(), 1u);
  EXPECT_EQ(launched.spec.env.at("SSKAI_TOKEN"), "secret-" + minted_[0]);
  auto rows = store_->ListEndpointReplicas(id);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].job_id, launched.handle.pid);
  EXPECT_EQ((*rows)[0].address_file, AddressFile());
  EXPECT_GT((*rows)[0].usage_id, 0);

  std::ofstream(AddressFile()) << "127.0.0.1:" << replica.port() << "\n";
  manager_->RunOnce();
  EXPECT_EQ(Get(id).state, kReady);
  EXPECT_EQ(revoked_, minted_);  // the download token dies once the replica is ready
  auto info = manager_->Replicas()[id];
  ASSERT_EQ(info.size(), 1u);
  EXPECT_TRUE(info[0].slurm);
  EXPECT_EQ(info[0].host, "127.0.0.1");
  http::Response r = PredictAndWait(id, R"({"rows":[[1]]})");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(SlurmPlacementTest, ARestartedServerReattachesToTheRunningJob) {
  FakeReplica replica;
  int64_t id = 0;
  int job = DeployReady("iris", replica, &id);
  Restart();  // the old manager stops: the Slurm job is not signalled
  for (const auto& s : executor_.signals()) EXPECT_NE(s.pid, job);
  EXPECT_TRUE(executor_.alive(job));
  manager_->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 1u);  // re-attached, nothing submitted
  EXPECT_EQ(Get(id).state, kReady);
  auto info = manager_->Replicas()[id];
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].pid, job);
  EXPECT_EQ(PredictAndWait(id, "{}").status, 200);
  store::Page page;
  auto usage = store_->ListUsage(alice_, page, 0, 0);
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->items.size(), 1u);  // the same record continues
  EXPECT_EQ(usage->items[0].ended_at, 0);
}

TEST_F(SlurmPlacementTest, ADeadJobIsCancelledForGoodAndReplaced) {
  FakeReplica replica;
  int64_t id = 0;
  int job = DeployReady("iris", replica, &id);
  executor_.Kill(job, 9);  // scancel / preempted
  manager_->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 2u);
  bool cancelled = false;
  for (const auto& s : executor_.signals()) cancelled = cancelled || (s.pid == job && s.force);
  EXPECT_TRUE(cancelled);  // a requeued (held) job must not come back with a stale token
  auto rows = store_->ListEndpointReplicas(id);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].job_id, executor_.launches()[1].handle.pid);
  EXPECT_EQ(Get(id).restarts, 1);
}

TEST_F(SlurmPlacementTest, ScaleToZeroCancelsTheJobAndForgetsIt) {
  FakeReplica replica;
  int64_t id = Deploy("fn", model_version_id_,
                      R"({"mode":"serverless","executor":"slurm","idle_timeout_ms":1000,)"
                      R"("scale_down_delay_ms":0,"stable_window_ms":1000,"panic_window_ms":1000})");
  auto cold = PredictAsync(id, "{}");
  manager_->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 1u);
  int job = executor_.launches()[0].handle.pid;
  std::ofstream(AddressFile()) << "127.0.0.1:" << replica.port() << "\n";
  manager_->RunOnce();
  ASSERT_EQ(cold.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(cold.get().status, 200);
  clock_.Advance(5s);
  manager_->RunOnce();
  manager_->RunOnce();
  EXPECT_EQ(Get(id).state, kIdle);
  EXPECT_FALSE(executor_.alive(job));
  auto rows = store_->ListEndpointReplicas(id);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
}

TEST_F(SlurmPlacementTest, SubmitFailureFailsTheEndpointAndLeavesNoRow) {
  executor_.FailNextLaunch(Status::Unavailable("sbatch: error: invalid partition"));
  int64_t id = Deploy("iris", model_version_id_, R"({"executor":"slurm","partition":"nope"})");
  manager_->RunOnce();
  store::Endpoint ep = Get(id);
  EXPECT_EQ(ep.state, kFailed);
  EXPECT_NE(ep.reason.find("invalid partition"), std::string::npos) << ep.reason;
  auto rows = store_->ListEndpointReplicas(id);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
  EXPECT_EQ(revoked_, minted_);
}

// Replica keys: the job gets its own key in the environment (never argv); the replica answers
// 401 without it (except /healthz); the gateway sends it on probes and forwarded requests, and a
// restarted server derives the same key for the job it re-attaches to.
TEST_F(SlurmPlacementTest, EachReplicaGetsAKeyThatTheGatewaySendsAndARestartKeeps) {
  int64_t id = Deploy("iris", model_version_id_, R"({"executor":"slurm"})");
  manager_->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 1u);
  auto spec = executor_.launches()[0].spec;
  ASSERT_EQ(spec.env.count(kReplicaKeyEnv), 1u);
  const std::string key = spec.env.at(kReplicaKeyEnv);
  EXPECT_EQ(key.size(), 64u);  // 256 bits, hex
  for (const auto& arg : spec.argv) EXPECT_EQ(arg.find(key), std::string::npos) << arg;

  FakeReplica replica(200, key);
  std::ofstream(AddressFile()) << "127.0.0.1:" << replica.port() << "\n";
  manager_->RunOnce();
  EXPECT_EQ(Get(id).state, kReady);
  EXPECT_EQ(PredictAndWait(id, R"({"rows":[[1]]})").status, 200);

  // Straight to the replica's address: 401 without the key or with a wrong one.
  auto direct = http::Client::Create("http://127.0.0.1:" + std::to_string(replica.port()));
  ASSERT_TRUE(direct.ok());
  auto no_key = (*direct)->Request("POST", "/predict", "{}");
  ASSERT_TRUE(no_key.ok());
  EXPECT_EQ(no_key->status, 401) << no_key->body;
  EXPECT_NE(no_key->body.find(kReplicaKeyHeader), std::string::npos) << no_key->body;
  std::string wrong = key;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  auto bad = (*direct)->Request("POST", "/predict", "{}", {{kReplicaKeyHeader, wrong}});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 401);
  auto good = (*direct)->Request("POST", "/predict", "{}", {{kReplicaKeyHeader, key}});
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->status, 200);
  auto health = (*direct)->Request("GET", "/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);  // liveness needs no key

  Restart();
  manager_->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 1u);  // re-attached
  EXPECT_EQ(PredictAndWait(id, "{}").status, 200);

  // Another replica, another key.
  int64_t other = Deploy("other", model_version_id_, R"({"executor":"slurm"})");
  manager_->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 2u);
  EXPECT_NE(executor_.launches()[1].spec.env.at(kReplicaKeyEnv), key);
  EXPECT_EQ(Get(other).state, kDeploying);
}

// A job that answers, but rejects its key, never serves: say a standby taken from the warm
// pool by a server that crashed before sending it the load order (which carries the key), found
// again by the restarted server. It is cancelled at once and replaced, not after the ready
// timeout (300 s), and no 401 reaches a caller.
TEST_F(SlurmPlacementTest, AReplicaThatRejectsItsKeyIsReplacedAtOnce) {
  int64_t id = Deploy("iris", model_version_id_, R"({"executor":"slurm"})");
  manager_->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 1u);
  const int job = executor_.launches()[0].handle.pid;
  FakeReplica stranger(200, std::string(64, 'f'));  // healthy, but another key
  std::ofstream(AddressFile()) << "127.0.0.1:" << stranger.port() << "\n";
  Restart();  // the restarted server re-attaches to the job through its row
  auto prediction = PredictAsync(id, R"({"rows":[[1]]})");
  manager_->RunOnce();
  auto info = manager_->Replicas()[id];
  ASSERT_EQ(info.size(), 1u);
  EXPECT_FALSE(info[0].ready);  // readiness asks a keyed route
  int kills = 0;
  for (const auto& s : executor_.signals()) kills += s.pid == job && s.force;
  EXPECT_EQ(kills, 1);
  manager_->RunOnce();  // its exit: a replacement job, well within the ready timeout
  ASSERT_EQ(executor_.launch_count(), 2u);
  EXPECT_NE(executor_.launches()[1].handle.pid, job);
  EXPECT_EQ(Get(id).state, kDeploying);
  FakeReplica replica(200, executor_.launches()[1].spec.env.at(kReplicaKeyEnv));
  std::ofstream(AddressFile()) << "127.0.0.1:" << replica.port() << "\n";
  manager_->RunOnce();
  ASSERT_EQ(prediction.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(prediction.get().status, 200);  // the request waited for the replacement
}

// scancel is asynchronous: the job reads "running" until slurmctld has killed it. Supervision
// passes run on every kick, but a job gets one forced stop per resend interval, not one per pass.
TEST_F(SlurmPlacementTest, AJobSlowToDieGetsOneForcedStopPerResendInterval) {
  executor_.set_exit_on_sigkill(false);
  int64_t id = Deploy("iris", model_version_id_, R"({"executor":"slurm"})");
  manager_->RunOnce();
  const int job = executor_.launches()[0].handle.pid;
  FakeReplica stranger(200, std::string(64, 'f'));
  std::ofstream(AddressFile()) << "127.0.0.1:" << stranger.port() << "\n";
  auto kills = [&] {
    int n = 0;
    for (const auto& s : executor_.signals()) n += s.pid == job && s.force;
    return n;
  };
  for (int pass = 0; pass < 10; ++pass) manager_->RunOnce();
  EXPECT_EQ(kills(), 1);
  clock_.Advance(5s);
  manager_->RunOnce();
  manager_->RunOnce();
  EXPECT_EQ(kills(), 2);
  executor_.Kill(job, 9);
  manager_->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 2u);  // replaced once it is gone
  EXPECT_EQ(Get(id).state, kDeploying);
}

TEST_F(SlurmPlacementTest, AnUnreadableKeySecretFailsTheEndpointWithTheReason) {
  std::ofstream(options_.run_dir + "/replica-key.secret") << "not hex\n";
  Restart();
  int64_t id = Deploy("iris", model_version_id_, R"({"executor":"slurm"})");
  manager_->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 0u);
  store::Endpoint ep = Get(id);
  EXPECT_EQ(ep.state, kFailed);
  EXPECT_NE(ep.reason.find("replica key"), std::string::npos) << ep.reason;
  auto rows = store_->ListEndpointReplicas(id);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
}

TEST(ReplicaAddressTest, ParsesPortOrHostPort) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(ParseReplicaAddress("8081\n", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 8081);
  ASSERT_TRUE(ParseReplicaAddress("node-7.cluster:40001\n", &host, &port));
  EXPECT_EQ(host, "node-7.cluster");
  EXPECT_EQ(port, 40001);
  for (const char* bad : {"", "\n", "node:", ":80", "node:0", "node:70000", "node:8x"}) {
    EXPECT_FALSE(ParseReplicaAddress(bad, &host, &port)) << bad;
  }
}

}  // namespace
}  // namespace sskai::serving
