// The full data -> train -> deploy -> predict flow against the real server binary, over HTTP
// and through the CLI, on real datasets.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

class FlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path());
    { Status started = server_->Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
  }
  TempDir dir_;
  TempDir files_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(FlowTest, IrisOverHttpReachesTargetAccuracyAndServesPredictions) {
  std::string csv = WriteSklearnCsv("iris", files_.path());
  auto up = server_->UploadFile("/v1/datasets/iris/versions?filename=iris.csv", csv);
  ASSERT_EQ(up.status, 201) << up.body;
  json version = json::parse(up.body);
  EXPECT_EQ(version["version"], 1);
  EXPECT_EQ(version["format"], "csv");
  EXPECT_EQ(version["rows"], 150);
  EXPECT_EQ(version["schema"]["target"], "species");
  EXPECT_EQ(version["schema"]["task"], "classification");

  int status = 0;
  json preview = server_->CallJson("GET", "/v1/datasets/iris/versions/1/preview?limit=3", nullptr, &status);
  ASSERT_EQ(status, 200) << preview.dump();
  ASSERT_EQ(preview["rows"].size(), 3u);
  EXPECT_EQ(preview["rows"][0]["species"], "setosa");
  json stats = server_->CallJson("GET", "/v1/datasets/iris/versions/latest/statistics", nullptr, &status);
  ASSERT_EQ(status, 200) << stats.dump();

  json job = server_->CallJson("POST", "/v1/jobs",
                               {{"dataset", "iris"}, {"model", "iris-mlp"}}, &status);
  ASSERT_EQ(status, 201) << job.dump();
  EXPECT_EQ(job["state"], "queued");
  json done = server_->WaitForJob(job["id"].get<int64_t>(), 120);
  ASSERT_EQ(done["state"], "succeeded") << done.dump();
  ASSERT_EQ(done["model_version"]["version"], 1);

  json metrics = server_->CallJson("GET", "/v1/jobs/" + std::to_string(done["id"].get<int64_t>()) + "/metrics");
  ASSERT_GT(metrics["items"].size(), 1u);  // one row per epoch

  json mv = server_->CallJson("GET", "/v1/models/iris-mlp/versions/1", nullptr, &status);
  ASSERT_EQ(status, 200) << mv.dump();
  EXPECT_EQ(mv["kind"], "trained");
  EXPECT_EQ(mv["lineage"]["dataset"]["name"], "iris");
  EXPECT_EQ(mv["lineage"]["job_id"], done["id"]);
  ASSERT_TRUE(mv["metrics"].contains("val_accuracy")) << mv.dump();
  EXPECT_GE(mv["metrics"]["val_accuracy"].get<double>(), 0.93);

  json ep = server_->CallJson("POST", "/v1/endpoints", {{"name", "iris"}, {"model", "iris-mlp"}}, &status);
  ASSERT_EQ(status, 201) << ep.dump();
  ep = server_->WaitForEndpoint("iris", "ready", 60);
  ASSERT_EQ(ep["state"], "ready") << ep.dump();

  json rows = json::array({{{"f0", 5.1}, {"f1", 3.5}, {"f2", 1.4}, {"f3", 0.2}},
                           {{"f0", 6.7}, {"f1", 3.0}, {"f2", 5.2}, {"f3", 2.3}}});
  json pred = server_->CallJson("POST", "/v1/endpoints/iris/predict", rows, &status);
  ASSERT_EQ(status, 200) << pred.dump();
  ASSERT_EQ(pred["predictions"].size(), 2u);
  EXPECT_EQ(pred["predictions"][0], "setosa");
  EXPECT_EQ(pred["predictions"][1], "virginica");

  // Wrong types are the caller's error, answered by the replica through the gateway.
  json bad = server_->CallJson("POST", "/v1/endpoints/iris/predict",
                               json::array({{{"f0", "abc"}, {"f1", 3.5}, {"f2", 1.4}, {"f3", 0.2}}}), &status);
  EXPECT_EQ(status, 400) << bad.dump();
  EXPECT_NE(bad["error"]["message"].get<std::string>().find("f0"), std::string::npos) << bad.dump();

  // The activity feed saw it all.
  json events = server_->CallJson("GET", "/v1/events?limit=100");
  std::string all = events.dump();
  EXPECT_NE(all.find("uploaded"), std::string::npos);
  EXPECT_NE(all.find("succeeded"), std::string::npos);
  EXPECT_NE(all.find("ready"), std::string::npos);
  // Usage was recorded for the worker and the replica.
  json usage = server_->CallJson("GET", "/v1/usage");
  std::string u = usage.dump();
  EXPECT_NE(u.find("\"job\""), std::string::npos) << u;
  EXPECT_NE(u.find("\"endpoint\""), std::string::npos) << u;
}

TEST_F(FlowTest, CliDrivesTheWholeFlow) {
  std::string csv = WriteSklearnCsv("wine", files_.path());
  std::string out, err;
  ASSERT_EQ(server_->RunCli({"data", "upload", csv, "--name", "wine"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("version 1"), std::string::npos) << out;
  ASSERT_EQ(server_->RunCli({"data", "list"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("wine"), std::string::npos) << out;
  ASSERT_EQ(server_->RunCli({"data", "show", "wine"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("178 rows"), std::string::npos) << out;
  ASSERT_EQ(server_->RunCli({"data", "preview", "wine", "--limit", "2"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("class_0"), std::string::npos) << out;

  ASSERT_EQ(server_->RunCli({"train", "--dataset", "wine", "--model", "wine-mlp", "--wait"}, &out, &err), 0)
      << out << err;
  EXPECT_NE(out.find("succeeded"), std::string::npos) << out;
  ASSERT_EQ(server_->RunCli({"models", "show", "wine-mlp", "--json"}, &out, &err), 0) << err;
  json mv = json::parse(out);
  EXPECT_GE(mv["metrics"]["val_accuracy"].get<double>(), 0.94) << out;

  // Profile the trained model on this machine, then plan its next training run from the profile.
  ASSERT_EQ(server_->RunCli({"models", "profile", "wine-mlp", "--repeats", "5", "--batch-size", "1",
                             "--batch-size", "64"}, &out, &err), 0) << out << err;
  EXPECT_NE(out.find("train_step"), std::string::npos) << out;
  EXPECT_NE(out.find("inference"), std::string::npos) << out;
  ASSERT_EQ(server_->RunCli({"models", "profile", "wine-mlp", "--show", "--json"}, &out, &err), 0) << err;
  json profile = json::parse(out);
  EXPECT_GT(profile["parameters"].get<double>(), 1000);
  EXPECT_EQ(profile["measurements"].size(), 4u);  // 2 batch sizes x (inference, train step)
  for (const auto& m : profile["measurements"]) {
    EXPECT_EQ(m["repeats"], 5);
    EXPECT_GT(m["median_ms"].get<double>(), 0);
    EXPECT_LE(m["p10_ms"].get<double>(), m["p90_ms"].get<double>());
  }
  EXPECT_GT(profile["checkpoint_bytes"].get<double>(), profile["parameters"].get<double>() * 4);
  EXPECT_NE(server_->RunCli({"models", "profile", "wine-mlp", "--repeats", "100000"}, &out, &err), 0);
  EXPECT_NE(err.find("repeats"), std::string::npos) << err;
  ASSERT_EQ(server_->RunCli({"--json", "plan", "train", "--model", "wine-mlp", "--samples", "178", "--epochs",
                             "50", "--deadline-hours", "1"}, &out, &err), 0) << out << err;
  json plan = json::parse(out);
  EXPECT_EQ(plan["best"]["instance_type"], "this-machine") << plan["table"];  // free and fast enough
  // Calibrated from the measured profile, not the default CPU efficiency.
  EXPECT_NE(plan["cpu_efficiency"].get<double>(), 0.30);
  ASSERT_EQ(server_->RunCli({"train", "--dataset", "wine", "--model", "wine-mlp-2", "--plan",
                             std::to_string(plan["id"].get<int64_t>())}, &out, &err), 0) << out << err;
  ASSERT_EQ(server_->RunCli({"jobs", "show", "2", "--json"}, &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out)["spec"]["plan"]["plan_id"], plan["id"]) << out;
  EXPECT_EQ(server_->WaitForJob(2, 120)["state"], "succeeded");  // no worker outlives the test

  ASSERT_EQ(server_->RunCli({"jobs", "list"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("succeeded"), std::string::npos) << out;
  ASSERT_EQ(server_->RunCli({"jobs", "logs", "1"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("epoch 1/"), std::string::npos) << out;

  ASSERT_EQ(server_->RunCli({"deploy", "--model", "wine-mlp", "--name", "wine", "--wait"}, &out, &err), 0)
      << out << err;
  EXPECT_NE(out.find("ready"), std::string::npos) << out;
  ASSERT_EQ(server_->RunCli({"endpoints", "list"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("wine"), std::string::npos) << out;

  std::string row = R"({"f0":13.2,"f1":1.78,"f2":2.14,"f3":11.2,"f4":100,"f5":2.65,"f6":2.76,"f7":0.26,"f8":1.28,"f9":4.38,"f10":1.05,"f11":3.4,"f12":1050})";
  ASSERT_EQ(server_->RunCli({"predict", "wine", "--data", row, "--json"}, &out, &err), 0) << err;
  json pred = json::parse(out);
  EXPECT_EQ(pred["predictions"][0], "class_0") << out;

  ASSERT_EQ(server_->RunCli({"endpoints", "delete", "wine"}, &out, &err), 0) << err;
  ASSERT_EQ(server_->RunCli({"predict", "wine", "--data", row}, &out, &err), 1);
  EXPECT_NE(err.find("not found"), std::string::npos) << err;
}

TEST_F(FlowTest, DeadReplicaIsRestartedAndReported) {
  std::string csv = WriteSklearnCsv("iris", files_.path());
  ASSERT_EQ(server_->UploadFile("/v1/datasets/iris/versions", csv).status, 201);
  int status = 0;
  json job = server_->CallJson("POST", "/v1/jobs",
                               {{"dataset", "iris"}, {"model", "m"}, {"hyperparameters", {{"epochs", 3}}}}, &status);
  ASSERT_EQ(status, 201) << job.dump();
  ASSERT_EQ(server_->WaitForJob(job["id"].get<int64_t>(), 120)["state"], "succeeded");
  server_->CallJson("POST", "/v1/endpoints", {{"name", "e"}, {"model", "m"}}, &status);
  ASSERT_EQ(status, 201);
  json ep = server_->WaitForEndpoint("e", "ready", 60);
  ASSERT_EQ(ep["state"], "ready");
  int pid = ep["replicas"][0]["pid"].get<int>();
  ASSERT_GT(pid, 0);
  kill(pid, SIGKILL);
  // Restarted: a new pid, restarts counted, ready again, predictions flow.
  json again;
  for (int idx = 0; idx < 600; ++idx) {
    again = server_->CallJson("GET", "/v1/endpoints/e");
    if (again["state"] == "ready" && again["restarts"].get<int>() >= 1 &&
        !again["replicas"].empty() && again["replicas"][0]["pid"].get<int>() != pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(again["state"], "ready") << again.dump();
  EXPECT_GE(again["restarts"].get<int>(), 1);
  json pred = server_->CallJson("POST", "/v1/endpoints/e/predict",
                                {{"f0", 5.1}, {"f1", 3.5}, {"f2", 1.4}, {"f3", 0.2}}, &status);
  EXPECT_EQ(status, 200) << pred.dump();
  json events = server_->CallJson("GET", "/v1/events?kind=endpoint");
  EXPECT_NE(events.dump().find("restarting"), std::string::npos) << events.dump();
}

}  // namespace
}  // namespace sskai::testing
