// Canary and blue/green rollouts against the real binary: a canary at 50 % answers from both
// versions (X-Sskai-Model-Version) and is promoted; a bad canary (a model trained on other
// columns) is rolled back automatically with an event; a blue/green switch loses no request;
// bad rollout requests are 4xx naming the field; a spot endpoint loses no request through
// preemptions with notice, falls back to on-demand when spot is unavailable and returns to spot;
// a rollout's comparison windows survive a server restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <thread>

#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

using Steady = std::chrono::steady_clock;

class CanaryE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    files_ = new TempDir();
    server_ = new TestServer(dir_->path());
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    for (const char* name : {"iris", "wine"}) {
      std::string csv = WriteSklearnCsv(name, files_->path());
      ASSERT_EQ(server_->UploadFile(std::string("/v1/datasets/") + name +
                                        "/versions?filename=" + name + ".csv", csv).status, 201);
    }
    // iris-mlp v1 and v2 (same columns), wine-mlp v1 (13 columns: iris-mlp cannot answer its
    // rows, so iris-mlp is a bad canary for a wine endpoint).
    std::vector<int64_t> jobs;
    for (auto [dataset, model] : {std::pair{"iris", "iris-mlp"}, std::pair{"iris", "iris-mlp"},
                                  std::pair{"wine", "wine-mlp"}}) {
      int status = 0;
      json job = server_->CallJson("POST", "/v1/jobs", {{"dataset", dataset}, {"model", model}},
                                   &status);
      ASSERT_EQ(status, 201) << job.dump();
      json done = server_->WaitForJob(job["id"].get<int64_t>(), 120);  // in order: v1 then v2
      ASSERT_EQ(done["state"], "succeeded") << done.dump();
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    delete files_;
    delete dir_;
  }

  static json Deploy(const std::string& name, const std::string& model = "iris-mlp") {
    int status = 0;
    json ep = server_->CallJson("POST", "/v1/endpoints",
                                {{"name", name}, {"model", model}, {"version", 1},
                                 {"mode", "dedicated"}, {"min_replicas", 1}, {"max_replicas", 1}},
                                &status);
    EXPECT_EQ(status, 201) << ep.dump();
    return server_->WaitForEndpoint(name, "ready", 60);
  }

  // Polls GET .../rollout until `pred` holds or `seconds` pass; returns the last view.
  template <typename Pred>
  static json WaitRollout(const std::string& name, Pred pred, double seconds) {
    auto deadline = Steady::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    json r;
    while (Steady::now() < deadline) {
      r = server_->CallJson("GET", "/v1/endpoints/" + name + "/rollout");
      if (pred(r)) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return r;
  }

  static std::vector<std::string> EventActions(const std::string& name) {
    json events = server_->CallJson("GET", "/v1/endpoints/" + name + "/events?limit=100");
    std::vector<std::string> out;
    for (const auto& e : events["items"]) out.push_back(e["action"].get<std::string>());
    return out;
  }
  static bool Has(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  }

  static std::string Rows() {
    return json::array({{{"f0", 5.1}, {"f1", 3.5}, {"f2", 1.4}, {"f3", 0.2}}}).dump();
  }
  static std::string WineRows() {
    json row = json::object();
    for (int col = 0; col < 13; ++col) row["f" + std::to_string(col)] = 1.0 + col;
    return json::array({row}).dump();
  }

  static TempDir* dir_;
  static TempDir* files_;
  static TestServer* server_;
};
TempDir* CanaryE2eTest::dir_ = nullptr;
TempDir* CanaryE2eTest::files_ = nullptr;
TestServer* CanaryE2eTest::server_ = nullptr;

TEST_F(CanaryE2eTest, CanaryAtFiftyPercentAnswersFromBothVersionsThenPromotes) {
  ASSERT_EQ(Deploy("cn")["state"], "ready");
  int status = 0;
  json r = server_->CallJson("POST", "/v1/endpoints/cn/rollout",
                             {{"version", 2}, {"steps", {50, 100}}, {"step_seconds", 3600},
                              {"rollback", {{"min_requests", 1000}}}},
                             &status);
  ASSERT_EQ(status, 201) << r.dump();
  EXPECT_EQ(r["phase"], "running");
  EXPECT_EQ(r["strategy"], "canary");
  r = WaitRollout("cn", [](const json& v) { return v.value("canary_percent", 0) == 50; }, 60);
  ASSERT_EQ(r["canary_percent"], 50) << r.dump();

  int v1 = 0, v2 = 0, failed = 0;
  for (int n = 0; n < 40; ++n) {
    auto resp = server_->Call("POST", "/v1/endpoints/cn/predict", Rows());
    if (resp.status != 200) {
      ++failed;
      continue;
    }
    std::string v = resp.headers["x-sskai-model-version"];
    (v == "1" ? v1 : v == "2" ? v2 : failed) += 1;
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(v1, 20);  // the split is deterministic: every other request
  EXPECT_EQ(v2, 20);
  r = server_->CallJson("GET", "/v1/endpoints/cn/rollout");
  EXPECT_EQ(r["versions"][0]["metrics"]["requests"], 20) << r.dump();
  EXPECT_EQ(r["versions"][1]["metrics"]["requests"], 20) << r.dump();
  EXPECT_EQ(r["versions"][1]["percent"], 50);
  std::string metrics = server_->Call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("sskai_endpoint_version_requests_total{endpoint=\"cn\",owner_id=\"1\","
                         "version=\"2\""),
            std::string::npos);
  EXPECT_NE(metrics.find("sskai_endpoint_version_traffic_percent{endpoint=\"cn\""),
            std::string::npos);

  // Manual promotion through the CLI: every later answer comes from v2.
  std::string out;
  ASSERT_EQ(server_->RunCli({"endpoints", "rollout", "promote", "cn"}, &out), 0) << out;
  EXPECT_NE(out.find("promoted"), std::string::npos) << out;
  json ep = server_->CallJson("GET", "/v1/endpoints/cn");
  EXPECT_EQ(ep["model"]["version"], 2) << ep.dump();
  EXPECT_EQ(ep["rollout"]["phase"], "promoted");
  for (int n = 0; n < 10; ++n) {
    auto resp = server_->Call("POST", "/v1/endpoints/cn/predict", Rows());
    EXPECT_EQ(resp.status, 200) << resp.body;
    EXPECT_EQ(resp.headers["x-sskai-model-version"], "2");
  }
  auto actions = EventActions("cn");
  EXPECT_TRUE(Has(actions, "rollout_started"));
  EXPECT_TRUE(Has(actions, "rollout_step"));
  EXPECT_TRUE(Has(actions, "rollout_promoted"));
  ASSERT_EQ(server_->RunCli({"endpoints", "rollout", "status", "cn"}, &out), 0) << out;
  EXPECT_NE(out.find("promoted"), std::string::npos) << out;
}

TEST_F(CanaryE2eTest, BadCanaryIsRolledBackAutomaticallyWithAnEvent) {
  ASSERT_EQ(Deploy("bad", "wine-mlp")["state"], "ready");
  int status = 0;
  json r = server_->CallJson("POST", "/v1/endpoints/bad/rollout",
                             {{"model", "iris-mlp"}, {"version", 1}, {"steps", {50, 100}},
                              {"step_seconds", 3600},
                              {"rollback", {{"min_requests", 10}, {"max_error_rate_delta", 0.2}}}},
                             &status);
  ASSERT_EQ(status, 201) << r.dump();
  r = WaitRollout("bad", [](const json& v) { return v.value("canary_percent", 0) == 50; }, 60);
  ASSERT_EQ(r["canary_percent"], 50) << r.dump();
  // Both are "v1" (of different models): tell them apart by the answer.
  int stable_ok = 0, canary_errors = 0;
  for (int n = 0; n < 20; ++n) {
    auto resp = server_->Call("POST", "/v1/endpoints/bad/predict", WineRows());
    (resp.status == 200 ? stable_ok : canary_errors) += 1;
    if (resp.status != 200) EXPECT_NE(resp.body.find("unknown field"), std::string::npos) << resp.body;
  }
  EXPECT_EQ(stable_ok, 10);
  EXPECT_EQ(canary_errors, 10);  // iris-mlp cannot answer wine rows (unknown field 'f4')
  r = WaitRollout("bad", [](const json& v) { return v.value("phase", "") == "rolled_back"; }, 10);
  ASSERT_EQ(r["phase"], "rolled_back") << r.dump();
  EXPECT_NE(r["reason"].get<std::string>().find("error rate"), std::string::npos) << r.dump();
  EXPECT_EQ(r["canary_percent"], 0);
  EXPECT_TRUE(Has(EventActions("bad"), "rollout_rolled_back"));
  json ep = server_->CallJson("GET", "/v1/endpoints/bad");
  EXPECT_EQ(ep["model"]["version"], 1);
  EXPECT_EQ(ep["model"]["name"], "wine-mlp");
  for (int n = 0; n < 20; ++n) {
    auto resp = server_->Call("POST", "/v1/endpoints/bad/predict", WineRows());
    EXPECT_EQ(resp.status, 200) << resp.body;
  }
}

TEST_F(CanaryE2eTest, BlueGreenSwitchesAndPromotesWithoutAFailedRequest) {
  ASSERT_EQ(Deploy("bg")["state"], "ready");
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, green{0};
  std::vector<std::thread> clients;
  for (int idx = 0; idx < 4; ++idx) {
    clients.emplace_back([&] {
      while (!stop) {
        auto resp = server_->Call("POST", "/v1/endpoints/bg/predict", Rows());
        (resp.status == 200 ? ok : failed) += 1;
        if (resp.headers["x-sskai-model-version"] == "2") green += 1;
      }
    });
  }
  int status = 0;
  json r = server_->CallJson("POST", "/v1/endpoints/bg/rollout",
                             {{"version", 2}, {"strategy", "blue_green"}, {"step_seconds", 1}},
                             &status);
  EXPECT_EQ(status, 201) << r.dump();
  r = WaitRollout("bg", [](const json& v) { return v.value("phase", "") == "promoted"; }, 60);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // load across the drain
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(r["phase"], "promoted") << r.dump();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(green.load(), 0);
  auto actions = EventActions("bg");
  EXPECT_TRUE(Has(actions, "rollout_switch"));
  EXPECT_TRUE(Has(actions, "rollout_promoted"));
}

TEST_F(CanaryE2eTest, BadRolloutRequestsAre4xxNamingTheField) {
  ASSERT_EQ(Deploy("ctl")["state"], "ready");
  struct Case { json body; int status; const char* needle; };
  for (const Case& c : {Case{{{"version", 99}}, 404, "'version'"},
                        Case{{{"model", "nope"}, {"version", 1}}, 404, "'model'"},
                        Case{{{"version", 1}}, 400, "already serves"},
                        Case{{{"version", 2}, {"steps", {50, 10}}}, 400, "'steps'"},
                        Case{{{"version", 2}, {"strategy", "big_bang"}}, 400, "'strategy'"},
                        Case{{{"version", 2}, {"rollback", {{"max_p95_ratio", 0}}}}, 400,
                             "'rollback.max_p95_ratio'"}}) {
    int status = 0;
    json r = server_->CallJson("POST", "/v1/endpoints/ctl/rollout", c.body, &status);
    EXPECT_EQ(status, c.status) << c.body.dump() << " -> " << r.dump();
    EXPECT_NE(r.dump().find(c.needle), std::string::npos) << r.dump();
  }
  int status = 0;
  server_->CallJson("GET", "/v1/endpoints/ctl/rollout", nullptr, &status);
  EXPECT_EQ(status, 404);
  json r = server_->CallJson("POST", "/v1/endpoints/ctl/rollout/promote", json::object(), &status);
  EXPECT_GE(status, 400) << r.dump();
  EXPECT_LT(status, 500) << r.dump();
  // One rollout at a time; a manual rollback ends it.
  server_->CallJson("POST", "/v1/endpoints/ctl/rollout", {{"version", 2}}, &status);
  EXPECT_EQ(status, 201);
  r = server_->CallJson("POST", "/v1/endpoints/ctl/rollout", {{"version", 2}}, &status);
  EXPECT_GE(status, 400) << r.dump();
  EXPECT_NE(r.dump().find("already has a running rollout"), std::string::npos) << r.dump();
  r = server_->CallJson("POST", "/v1/endpoints/ctl/rollout/rollback", json::object(), &status);
  EXPECT_EQ(status, 200) << r.dump();
  EXPECT_EQ(r["phase"], "rolled_back");
  EXPECT_EQ(server_->CallJson("GET", "/v1/endpoints/ctl")["model"]["version"], 1);
}

// Usage records of one endpoint: (spot records, on-demand records).
std::pair<int, int> UsageMarkets(TestServer& server, int64_t endpoint_id) {
  json usage = server.CallJson("GET", "/v1/usage?limit=1000");
  int spot = 0, ondemand = 0;
  for (const auto& u : usage["items"]) {
    if (u["subject_kind"] != "endpoint" || u["subject_id"] != endpoint_id) continue;
    (u["spot"].get<bool>() ? spot : ondemand) += 1;
  }
  return {spot, ondemand};
}

TEST_F(CanaryE2eTest, SpotReplicasSurvivePreemptionsWithNoticeAndFallBackToOnDemand) {
  int status = 0;
  json spot = {{"chaos_every_ms", 25000}, {"notice_ms", 20000}, {"max_preemptions", 1000},
               {"offering", "g5.xlarge@use1-az1"}};
  json ep = server_->CallJson("POST", "/v1/endpoints",
                              {{"name", "sp"}, {"model", "iris-mlp"}, {"version", 1},
                               {"mode", "spot"}, {"max_replicas", 1}, {"config", {{"spot", spot}}}},
                              &status);
  ASSERT_EQ(status, 201) << ep.dump();
  int64_t id = ep["id"].get<int64_t>();
  ASSERT_EQ(server_->WaitForEndpoint("sp", "ready", 60)["state"], "ready");

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::string failure;
  std::mutex mu;
  std::vector<std::thread> clients;
  for (int idx = 0; idx < 4; ++idx) {
    clients.emplace_back([&] {
      while (!stop) {
        auto resp = server_->Call("POST", "/v1/endpoints/sp/predict", Rows());
        if (resp.status == 200) {
          ok += 1;
        } else {
          failed += 1;
          std::lock_guard<std::mutex> lock(mu);
          failure = std::to_string(resp.status) + " " + resp.body;
        }
      }
    });
  }
  auto count = [&](const std::string& action) {
    auto actions = EventActions("sp");
    return std::count(actions.begin(), actions.end(), action);
  };
  auto wait_for = [&](auto pred, double seconds) {
    auto deadline = Steady::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    while (Steady::now() < deadline && !pred()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return pred();
  };
  // Two preemptions with notice under load: each replaced before the pool reclaims it.
  EXPECT_TRUE(wait_for([&] { return count("spot_notice") >= 2; }, 40));
  EXPECT_EQ(count("spot_reclaimed"), 0);  // drained and stopped before the reclaim
  auto [spot_records, ondemand_records] = UsageMarkets(*server_, id);
  EXPECT_GE(spot_records, 2);
  EXPECT_EQ(ondemand_records, 0);
  json usage = server_->CallJson("GET", "/v1/usage?limit=1000");
  bool offering_named = false;
  for (const auto& u : usage["items"]) {
    offering_named = offering_named || (u["subject_id"] == id && u["resource"] == "g5.xlarge@use1-az1");
  }
  EXPECT_TRUE(offering_named);

  // Spot capacity gone: the next replacement runs on-demand; then back to spot.
  spot["unavailable"] = true;
  server_->CallJson("PATCH", "/v1/endpoints/sp", {{"config", {{"spot", spot}}}}, &status);
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(wait_for([&] { return count("spot_fallback") >= 1 && UsageMarkets(*server_, id).second >= 1; }, 40));
  spot["unavailable"] = false;
  server_->CallJson("PATCH", "/v1/endpoints/sp", {{"config", {{"spot", spot}}}}, &status);
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(wait_for([&] { return count("spot_restored") >= 1 && count("spot_rebalance") >= 1; }, 40));
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0) << failure << "\n"
                              << server_->CallJson("GET", "/v1/endpoints/sp/events?limit=100").dump();
  EXPECT_GT(ok.load(), 0);
  std::cout << "spot: " << ok.load() << " ok, " << failed.load() << " failed, "
            << count("spot_notice") << " notices\n";
  server_->CallJson("DELETE", "/v1/endpoints/sp");
}

// The rollout's comparison windows survive a server restart: the restarted server shows the
// same per-version counts and continues the analysis (a later bad answer still counts).
TEST_F(CanaryE2eTest, RolloutWindowsSurviveAServerRestart) {
  ASSERT_EQ(Deploy("durable")["state"], "ready");
  int status = 0;
  json r = server_->CallJson("POST", "/v1/endpoints/durable/rollout",
                             {{"version", 2}, {"steps", {50, 100}}, {"step_seconds", 3600},
                              {"rollback", {{"min_requests", 100000}}}},
                             &status);
  ASSERT_EQ(status, 201) << r.dump();
  r = WaitRollout("durable", [](const json& v) { return v.value("canary_percent", 0) == 50; }, 60);
  ASSERT_EQ(r["canary_percent"], 50) << r.dump();
  for (int idx = 0; idx < 40; ++idx) {
    ASSERT_EQ(server_->Call("POST", "/v1/endpoints/durable/predict", Rows()).status, 200);
  }
  auto counts = [](const json& v) {
    return std::pair{v["versions"][0]["metrics"]["requests"].get<int64_t>(),
                     v["versions"][1]["metrics"]["requests"].get<int64_t>()};
  };
  json before = server_->CallJson("GET", "/v1/endpoints/durable/rollout");
  ASSERT_EQ(counts(before).first + counts(before).second, 40) << before.dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the windows are written (1/s)
  server_->Kill(SIGTERM);
  { Status started = server_->Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
  json after = server_->CallJson("GET", "/v1/endpoints/durable/rollout");
  EXPECT_EQ(after["phase"], "running") << after.dump();
  EXPECT_EQ(counts(after), counts(before)) << after.dump();
  EXPECT_EQ(server_->WaitForEndpoint("durable", "ready", 60)["state"], "ready");
  server_->CallJson("POST", "/v1/endpoints/durable/rollout/rollback", json::object());
  server_->CallJson("DELETE", "/v1/endpoints/durable");
}

}  // namespace
}  // namespace sskai::testing
