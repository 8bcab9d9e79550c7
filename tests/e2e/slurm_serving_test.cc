// Replicas on Slurm against the real binary and a real single-node Slurm (ctest fixture
// slurm_start): deploy with "executor": "slurm", predict through the gateway (the replica job
// fetched its model over HTTP and answers over TCP), scale to zero (the job ends), cold start
// from zero through Slurm, a direct request to the replica's address without its key is 401
// while the gateway's path works, a replica job killed with scancel is replaced while the gateway keeps
// answering, usage is priced from the partition's offering, and a restarted server re-attaches
// to the running replica job; a language model's replica job fetches its file set and serves the
// OpenAI routes with the same greedy answer as a local replica. SSKAI_SLURM_COLD_STARTS=N also measures N cold starts (p50/p95).
// Skips when slurmctld is not running.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "e2e/slurm_shell.h"
#include "testing/server_harness.h"
#include "testing/tiny_lm.h"

namespace sskai::testing {
namespace {

using Steady = std::chrono::steady_clock;

// JobState=... of a Slurm job ("" when unknown).
std::string JobState(int64_t job) {
  std::string shown = Shell("scontrol show job -o " + std::to_string(job));
  auto pos = shown.find("JobState=");
  if (pos == std::string::npos) return "";
  auto end = shown.find(' ', pos);
  return shown.substr(pos + 9, end - pos - 9);
}

std::string Rows() { return json::array({{{"f0", 5.1}, {"f1", 3.5}, {"f2", 1.4}, {"f3", 0.2}}}).dump(); }

class SlurmServingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = SlurmUnavailable(); !why.empty()) GTEST_SKIP() << why;
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    if (test == "ColdStartThroughSlurm" && std::getenv("SSKAI_SLURM_COLD_STARTS") == nullptr) {
      GTEST_SKIP() << "set SSKAI_SLURM_COLD_STARTS=N to measure N cold starts";
    }
    std::vector<std::string> flags = Flags();
    // The warm pool on Slurm: one standby job in the default partition.
    if (test == "AColdStartTakesAStandbyJobFromTheWarmPool" ||
        (test == "ColdStartThroughSlurm" && std::getenv("SSKAI_SLURM_WARM_POOL") != nullptr)) {
      warm_pool_ = true;
      flags.insert(flags.end(), {"--slurm-warm-pool", "1", "--slurm-default-partition", "debug"});
    }
    server_ = std::make_unique<TestServer>(dir_.path(), flags);
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    std::string csv = WriteSklearnCsv("iris", files_.path());
    ASSERT_EQ(server_->UploadFile("/v1/datasets/iris/versions?filename=iris.csv", csv).status, 201);
    int status = 0;
    json job = server_->CallJson("POST", "/v1/jobs", {{"dataset", "iris"}, {"model", "iris-mlp"}},
                                 &status);
    ASSERT_EQ(status, 201) << job.dump();
    json done = server_->WaitForJob(job["id"].get<int64_t>(), 180);
    ASSERT_EQ(done["state"], "succeeded") << done.dump();
  }
  void TearDown() override {
    // Replica jobs outlive the server by design: cancel what this test left behind.
    for (int64_t job : jobs_seen_) Shell("scancel " + std::to_string(job));
    if (warm_pool_) server_.reset();  // a clean stop cancels its standby jobs
  }
  // Waits until the server has a standby job ready (its Prometheus gauge).
  bool WaitStandbyReady(double seconds) {
    auto deadline = Steady::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    while (Steady::now() < deadline) {
      std::string text = server_->Call("GET", "/metrics").body;
      if (text.find("\nsskai_serving_slurm_standby_ready 1") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  static std::vector<std::string> Flags() {
    return {"--slurm", "--slurm-partition", "debug=g5.xlarge@use1-az1"};
  }

  json Deploy(const std::string& name, json extra) {
    json body = {{"name", name}, {"model", "iris-mlp"}, {"executor", "slurm"}, {"partition", "debug"}};
    body.update(extra);
    int status = 0;
    json ep = server_->CallJson("POST", "/v1/endpoints", body, &status);
    EXPECT_EQ(status, 201) << ep.dump();
    return ep;
  }
  // The Slurm job ids of the endpoint's replicas (remembered for TearDown).
  std::vector<int64_t> ReplicaJobs(const std::string& name) {
    json ep = server_->CallJson("GET", "/v1/endpoints/" + name);
    std::vector<int64_t> out;
    for (const auto& r : ep.value("replicas", json::array())) {
      if (r.value("executor", "") != "slurm") continue;
      out.push_back(r["slurm_job_id"].get<int64_t>());
      if (std::find(jobs_seen_.begin(), jobs_seen_.end(), out.back()) == jobs_seen_.end()) {
        jobs_seen_.push_back(out.back());
      }
    }
    return out;
  }
  json WaitState(const std::string& name, const std::string& state, double seconds) {
    auto deadline = Steady::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    json ep;
    while (Steady::now() < deadline) {
      ep = server_->CallJson("GET", "/v1/endpoints/" + name);
      ReplicaJobs(name);
      if (ep.value("state", "") == state) return ep;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return ep;
  }
  bool WaitJobEnded(int64_t job, double seconds) {
    auto deadline = Steady::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    while (Steady::now() < deadline) {
      std::string state = JobState(job);
      if (state != "RUNNING" && state != "PENDING" && state != "COMPLETING") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  // Seconds from sending a predict to its answer; `status` gets the answer's status.
  double TimedPredict(const std::string& name, int* status) {
    auto t0 = Steady::now();
    auto r = server_->Call("POST", "/v1/endpoints/" + name + "/predict", Rows());
    *status = r.status;
    return std::chrono::duration<double>(Steady::now() - t0).count();
  }

  TempDir dir_;
  TempDir files_;
  std::unique_ptr<TestServer> server_;
  std::vector<int64_t> jobs_seen_;
  bool warm_pool_ = false;
};

TEST_F(SlurmServingTest, ServesScalesToZeroColdStartsAndReplacesAKilledJob) {
  Deploy("sl", {{"mode", "serverless"},
                {"config", {{"idle_timeout_ms", 1500}, {"scale_down_delay_ms", 0},
                            {"stable_window_ms", 1000}, {"panic_window_ms", 500}}}});
  // Cold start from zero through Slurm: the request waits in the activator queue.
  int status = 0;
  double first = TimedPredict("sl", &status);
  ASSERT_EQ(status, 200) << "first predict";
  auto jobs = ReplicaJobs("sl");
  ASSERT_EQ(jobs.size(), 1u);
  std::string shown = Shell("scontrol show job -o " + std::to_string(jobs[0]));
  EXPECT_NE(shown.find("JobName=sskai-endpoint-"), std::string::npos) << shown;
  EXPECT_NE(shown.find("JobState=RUNNING"), std::string::npos) << shown;
  EXPECT_NE(shown.find("Partition=debug"), std::string::npos) << shown;
  json ep = server_->CallJson("GET", "/v1/endpoints/sl");
  EXPECT_EQ(ep["replicas"][0]["host"], Shell("hostname | tr -d '\\n'")) << ep.dump();
  // The replica listens on the network but answers only the gateway (its key): straight to its
  // address, /predict is 401 and only /healthz is open.
  {
    std::string addr = "http://" + ep["replicas"][0]["host"].get<std::string>() + ":" +
                       std::to_string(ep["replicas"][0]["port"].get<int>());
    auto direct = http::Client::Create(addr);
    ASSERT_TRUE(direct.ok());
    auto bypass = (*direct)->Request("POST", "/predict", Rows(), {{"content-type", "application/json"}});
    ASSERT_TRUE(bypass.ok()) << bypass.status().ToString();
    EXPECT_EQ(bypass->status, 401) << bypass->body;
    auto guessed = (*direct)->Request("POST", "/predict", Rows(),
                                      {{"x-sskai-replica-key", std::string(64, '0')}});
    ASSERT_TRUE(guessed.ok());
    EXPECT_EQ(guessed->status, 401);
    auto health = (*direct)->Request("GET", "/healthz");
    ASSERT_TRUE(health.ok());
    EXPECT_EQ(health->status, 200);
    TimedPredict("sl", &status);
    EXPECT_EQ(status, 200);  // the gateway's path works
  }

  // Scale to zero: the replica job ends.
  ep = WaitState("sl", "idle", 60);
  ASSERT_EQ(ep["state"], "idle") << ep.dump();
  EXPECT_TRUE(WaitJobEnded(jobs[0], 30)) << JobState(jobs[0]);

  // Cold start again: a new job.
  double second = TimedPredict("sl", &status);
  ASSERT_EQ(status, 200);
  auto again = ReplicaJobs("sl");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(again[0], jobs[0]);
  std::printf("cold start through Slurm: %.0f ms, %.0f ms\n", first * 1000, second * 1000);

  // Kill the replica job under load: answers are 200 or a clear 503, then 200 from a new job.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, clear_503{0}, other{0};
  std::thread client([&] {
    while (!stop) {
      auto r = server_->Call("POST", "/v1/endpoints/sl/predict", Rows());
      if (r.status == 200) {
        ok += 1;
      } else if (r.status == 503 && r.body.find("replica") != std::string::npos) {
        clear_503 += 1;
      } else {
        other += 1;
        ADD_FAILURE() << r.status << " " << r.body;
      }
    }
  });
  while (ok.load() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Shell("scancel " + std::to_string(again[0]));
  std::vector<int64_t> replaced;
  auto deadline = Steady::now() + std::chrono::seconds(90);
  while (Steady::now() < deadline) {
    replaced = ReplicaJobs("sl");
    if (!replaced.empty() && replaced[0] != again[0] &&
        server_->CallJson("GET", "/v1/endpoints/sl")["replicas"][0]["ready"] == true) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  int before = ok.load();
  while (ok.load() < before + 3 && Steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  client.join();
  ASSERT_FALSE(replaced.empty());
  EXPECT_NE(replaced[0], again[0]);
  EXPECT_GE(ok.load(), before + 3);
  EXPECT_EQ(other.load(), 0);
  EXPECT_GE(server_->CallJson("GET", "/v1/endpoints/sl")["restarts"].get<int>(), 1);

  // Usage: one record per replica job, on the partition's offering.
  json usage = server_->CallJson("GET", "/v1/usage?limit=1000");
  int records = 0;
  for (const auto& u : usage["items"]) {
    if (u["subject_kind"] != "endpoint") continue;
    ++records;
    EXPECT_EQ(u["resource"], "g5.xlarge@use1-az1") << u.dump();
  }
  EXPECT_GE(records, 3) << usage.dump();

  // Delete: the job is cancelled.
  EXPECT_EQ(server_->Call("DELETE", "/v1/endpoints/sl").status, 200);
  EXPECT_TRUE(WaitJobEnded(replaced[0], 30)) << JobState(replaced[0]);
}

TEST_F(SlurmServingTest, ARestartedServerReattachesToTheReplicaJob) {
  Deploy("keep", {{"mode", "dedicated"}, {"min_replicas", 1}, {"max_replicas", 1}});
  json ep = WaitState("keep", "ready", 120);
  ASSERT_EQ(ep["state"], "ready") << ep.dump();
  auto jobs = ReplicaJobs("keep");
  ASSERT_EQ(jobs.size(), 1u);
  server_->Kill(SIGTERM);
  EXPECT_EQ(JobState(jobs[0]), "RUNNING");  // the replica outlives the server
  { Status started = server_->Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
  int status = 0;
  TimedPredict("keep", &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(ReplicaJobs("keep"), jobs);  // the same job, no new cold start
  EXPECT_EQ(server_->Call("DELETE", "/v1/endpoints/keep").status, 200);
  EXPECT_TRUE(WaitJobEnded(jobs[0], 30)) << JobState(jobs[0]);
}

TEST_F(SlurmServingTest, LanguageModelReplicaFetchesItsFilesAndServesOpenAiRoutes) {
  int status = 0;
  // The console offers the partitions the server was started with.
  json cluster = server_->CallJson("GET", "/v1/cluster", nullptr, &status);
  ASSERT_EQ(status, 200) << cluster.dump();
  EXPECT_EQ(cluster["executors"], json::array({"local", "slurm"}));
  ASSERT_EQ(cluster["slurm"]["partitions"].size(), 1u) << cluster.dump();
  EXPECT_EQ(cluster["slurm"]["partitions"][0]["name"], "debug");
  EXPECT_EQ(cluster["slurm"]["partitions"][0]["offering"], "g5.xlarge@use1-az1");
  EXPECT_EQ(cluster["slurm"]["partitions"][0]["spot"], false);
  std::string out;
  ASSERT_EQ(server_->RunCli({"cluster"}, &out), 0) << out;
  EXPECT_NE(out.find("g5.xlarge@use1-az1"), std::string::npos) << out;
  ASSERT_EQ(WriteTinyLm(files_.path() + "/tiny"), "");
  json imported = ImportLmDir(*server_, "tiny-lm", files_.path() + "/tiny", &status);
  ASSERT_EQ(status, 201) << imported.dump();
  // The Slurm replica deployed from the CLI, a local one of the same version through the API.
  ASSERT_EQ(server_->RunCli({"deploy", "-m", "tiny-lm", "-n", "chat-slurm", "--min", "1", "--max", "1",
                             "--executor", "slurm", "--partition", "debug"}, &out), 0) << out;
  server_->CallJson("POST", "/v1/endpoints",
                    {{"name", "chat-local"}, {"model", "tiny-lm"}, {"min_replicas", 1}, {"max_replicas", 1}},
                    &status);
  ASSERT_EQ(status, 201);
  json ep = WaitState("chat-slurm", "ready", 180);
  ASSERT_EQ(ep["state"], "ready") << ep.dump();
  auto jobs = ReplicaJobs("chat-slurm");
  ASSERT_EQ(jobs.size(), 1u) << ep.dump();
  ASSERT_EQ(server_->WaitForEndpoint("chat-local", "ready", 120)["state"], "ready");
  auto chat = [&](const std::string& endpoint) {
    json body = {{"model", endpoint},
                 {"messages", {{{"role", "user"}, {"content", "hello world"}}}},
                 {"temperature", 0},
                 {"max_tokens", 12}};
    json out = server_->CallJson("POST", "/v1/endpoints/" + endpoint + "/v1/chat/completions", body, &status);
    EXPECT_EQ(status, 200) << out.dump();
    EXPECT_EQ(out.value("model", ""), endpoint);
    EXPECT_GE(out["usage"].value("completion_tokens", 0), 1) << out.dump();
    return out["choices"][0]["message"].value("content", "<none>");
  };
  EXPECT_EQ(chat("chat-slurm"), chat("chat-local"));  // same weights, same greedy tokens
  json models = server_->CallJson("GET", "/v1/endpoints/chat-slurm/v1/models", nullptr, &status);
  ASSERT_EQ(status, 200) << models.dump();
  EXPECT_EQ(models["data"][0]["id"], "chat-slurm");
  EXPECT_EQ(server_->Call("DELETE", "/v1/endpoints/chat-slurm").status, 200);
  EXPECT_TRUE(WaitJobEnded(jobs[0], 30)) << JobState(jobs[0]);
}

TEST_F(SlurmServingTest, AColdStartTakesAStandbyJobFromTheWarmPool) {
  ASSERT_TRUE(WaitStandbyReady(180)) << server_->Call("GET", "/metrics").body;
  Deploy("warm", {{"mode", "serverless"}, {"config", {{"idle_timeout_ms", 60000}}}});
  int status = 0;
  double first = TimedPredict("warm", &status);
  ASSERT_EQ(status, 200);
  auto jobs = ReplicaJobs("warm");
  ASSERT_EQ(jobs.size(), 1u);
  // The endpoint's replica is the standby job: no new job was queued for it.
  std::string shown = Shell("scontrol show job -o " + std::to_string(jobs[0]));
  EXPECT_NE(shown.find("JobName=sskai-standby-"), std::string::npos) << shown;
  // It now answers only the endpoint's key.
  json ep = server_->CallJson("GET", "/v1/endpoints/warm");
  auto direct = http::Client::Create("http://" + ep["replicas"][0]["host"].get<std::string>() + ":" +
                                     std::to_string(ep["replicas"][0]["port"].get<int>()));
  ASSERT_TRUE(direct.ok());
  auto bypass = (*direct)->Request("POST", "/predict", Rows(), {{"content-type", "application/json"}});
  ASSERT_TRUE(bypass.ok());
  EXPECT_EQ(bypass->status, 401);
  // A replacement standby is submitted and becomes ready.
  EXPECT_TRUE(WaitStandbyReady(180));
  std::printf("cold start from the Slurm warm pool: %.0f ms\n", first * 1000);
  EXPECT_EQ(server_->Call("DELETE", "/v1/endpoints/warm").status, 200);
  EXPECT_TRUE(WaitJobEnded(jobs[0], 30)) << JobState(jobs[0]);
}

// Measurement (BENCHMARKS.md): SSKAI_SLURM_COLD_STARTS=10 ctest -R SlurmServing --verbose;
// SSKAI_SLURM_WARM_POOL=1 also runs the server with --slurm-warm-pool 1 (each round first waits
// for a ready standby job, so every cold start takes one).
TEST_F(SlurmServingTest, ColdStartThroughSlurm) {
  const char* n_env = std::getenv("SSKAI_SLURM_COLD_STARTS");
  int n = n_env == nullptr ? 0 : std::atoi(n_env);
  if (n <= 0) GTEST_SKIP() << "set SSKAI_SLURM_COLD_STARTS=N to measure N cold starts";
  // SSKAI_SLURM_COLD_EXECUTOR=local measures the same loop on local replicas (the baseline).
  const char* executor = std::getenv("SSKAI_SLURM_COLD_EXECUTOR");
  std::string where = executor != nullptr ? executor : "slurm";
  Deploy("cold", {{"mode", "serverless"},
                  {"executor", where},
                  {"partition", where == "slurm" ? "debug" : ""},
                  {"config", {{"idle_timeout_ms", 300}, {"scale_down_delay_ms", 0},
                              {"stable_window_ms", 300}, {"panic_window_ms", 300}}}});
  std::vector<double> ms;
  for (int idx = 0; idx < n; ++idx) {
    json ep = WaitState("cold", "idle", 60);
    ASSERT_EQ(ep["state"], "idle") << ep.dump();
    if (warm_pool_) ASSERT_TRUE(WaitStandbyReady(180));
    int status = 0;
    double s = TimedPredict("cold", &status);
    ASSERT_EQ(status, 200);
    ms.push_back(s * 1000);
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))]; };
  if (warm_pool_) where += " (warm pool)";
  std::printf("%s cold start over %d: p50 %.0f ms, p95 %.0f ms, min %.0f ms, max %.0f ms\n",
              where.c_str(), n, pct(0.5), pct(0.95), ms.front(), ms.back());
  server_->Call("DELETE", "/v1/endpoints/cold");
}

}  // namespace
}  // namespace sskai::testing
