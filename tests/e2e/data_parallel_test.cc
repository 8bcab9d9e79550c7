// Data-parallel jobs on the local executor, end to end with the real binary: a job with
// "tasks": 2 runs two worker processes as one group (rendezvous through a FileStore of the launch)
// and ends with the model of a 1-task job with the same global batch; a notice reaches both ranks,
// which checkpoint at the same step, and the relaunched group resumes from rank 0's checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

class DataParallelJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path(), std::vector<std::string>{"--max-running-jobs", "3"});
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    std::string csv = WriteDigitsCsv(files_.path());
    ASSERT_EQ(server_->UploadFile("/v1/datasets/digits/versions", csv).status, 201);
  }
  int64_t Submit(json body) {
    int status = 0;
    body["dataset"] = "digits";
    json job = server_->CallJson("POST", "/v1/jobs", body, &status);
    EXPECT_EQ(status, 201) << job.dump();
    return job.value("id", 0);
  }
  std::string Timeline(int64_t id) {
    json ev = server_->CallJson("GET", "/v1/jobs/" + std::to_string(id) + "/events");
    std::string out;
    for (const auto& e : ev["items"]) out += e["action"].get<std::string>() + ": " + e["message"].get<std::string>() + "\n";
    return out;
  }
  std::string Logs(int64_t id) { return server_->Call("GET", "/v1/jobs/" + std::to_string(id) + "/logs").body; }
  json Metrics(const std::string& model) {
    return server_->CallJson("GET", "/v1/models/" + model + "/versions/1").value("metrics", json::object());
  }

  TempDir dir_;
  TempDir files_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(DataParallelJobTest, TwoLocalTasksMatchOneAndSurviveANotice) {
  json hyper = {{"epochs", 2}, {"batch_size", 32}, {"hidden", {64, 32}}};  // 45 steps per epoch
  int64_t one = Submit({{"model", "one-task"}, {"hyperparameters", hyper}});
  int64_t two = Submit({{"model", "two-tasks"}, {"tasks", 2}, {"executor", "local"}, {"hyperparameters", hyper}});
  // Chaos: a notice at step 60 (mid-epoch 2) reaches both ranks of the group.
  int64_t noticed = Submit({{"model", "two-tasks-noticed"}, {"tasks", 2}, {"executor", "local"},
                            {"chaos", {{"after_steps", 60}}}, {"max_attempts", 3}, {"hyperparameters", hyper}});
  json a = server_->WaitForJob(one, 180);
  json b = server_->WaitForJob(two, 180);
  json c = server_->WaitForJob(noticed, 180);
  ASSERT_EQ(a["state"], "succeeded") << a.dump();
  ASSERT_EQ(b["state"], "succeeded") << b.dump() << Timeline(two) << Logs(two);
  std::string text = Timeline(two);
  EXPECT_NE(text.find("(attempt 1, 2 tasks)"), std::string::npos) << text;
  std::string logs = Logs(two);
  for (int idx = 0; idx < 600 && logs.find("worker: rank 1 done") == std::string::npos; ++idx) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // rank 1 may end after rank 0 completed
    logs = Logs(two);
  }
  EXPECT_NE(logs.find("data-parallel rank 0 of 2 (rendezvous file:///"), std::string::npos) << logs;
  EXPECT_NE(logs.find("data-parallel rank 1 of 2 (rendezvous file:///"), std::string::npos) << logs;
  EXPECT_NE(logs.find("worker: rank 1 done"), std::string::npos) << logs;
  // The same global batch on 2 ranks gives the 1-task model to floating-point tolerance.
  json ma = Metrics("one-task"), mb = Metrics("two-tasks");
  double loss_a = ma.value("val_loss", -1.0);
  EXPECT_NEAR(mb.value("val_loss", -2.0), loss_a, 1e-4 * std::abs(loss_a)) << ma.dump() << mb.dump();
  EXPECT_EQ(mb["val_accuracy"], ma["val_accuracy"]);

  // The noticed group: both ranks stopped at step 60, rank 0's checkpoint resumed both.
  ASSERT_EQ(c["state"], "succeeded") << c.dump() << Timeline(noticed) << Logs(noticed);
  EXPECT_GE(c["preemptions"], 1) << c.dump();
  std::string noticed_text = Timeline(noticed), noticed_logs = Logs(noticed);
  EXPECT_NE(noticed_text.find("preempted: preempted with notice"), std::string::npos) << noticed_text;
  EXPECT_NE(noticed_text.find("resuming from step 60"), std::string::npos) << noticed_text;
  json mc = Metrics("two-tasks-noticed");
  EXPECT_NEAR(mc.value("val_loss", -3.0), loss_a, 1e-4 * std::abs(loss_a)) << mc.dump();
  // Usage: the group's records count both processes.
  json usage;
  for (int idx = 0; idx < 100; ++idx) {
    usage = server_->CallJson("GET", "/v1/usage");
    if (usage.dump().find("\"ended_at\":null") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (const auto& u : usage["items"]) {
    if (u["subject_id"] == two) EXPECT_EQ(u["count"], 2) << u.dump();
  }
}

}  // namespace
}  // namespace sskai::testing
