// The Slurm executor end to end: the real binary submits workers to a real single-node Slurm
// (started by the ctest fixture, scripts/start-slurm.sh): run to success, a Slurm requeue
// (preemption) resumes from the checkpoint, cancel, and a controller that does not answer.
// Skips when slurmctld is not running (the fixture could not start it: no root, no slurm-wlm).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "e2e/slurm_shell.h"
#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

class SlurmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = SlurmUnavailable(); !why.empty()) GTEST_SKIP() << why;
  }
  void StartServer(std::vector<std::string> flags) {
    server_ = std::make_unique<TestServer>(dir_.path(), std::move(flags));
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
  std::vector<std::string> Timeline(int64_t id) {
    json ev = server_->CallJson("GET", "/v1/jobs/" + std::to_string(id) + "/events");
    std::vector<std::string> out;
    for (const auto& e : ev["items"]) out.push_back(e["action"].get<std::string>() + ": " + e["message"].get<std::string>());
    return out;
  }
  static std::string Dump(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
  // Slurm job ids from "Slurm job N started" events, oldest first.
  std::vector<int> SlurmIds(int64_t id) {
    std::vector<int> ids;
    for (const auto& line : Timeline(id)) {
      auto pos = line.find("Slurm job ");
      if (pos != std::string::npos) ids.push_back(std::atoi(line.c_str() + pos + 10));
    }
    return ids;
  }
  json WaitFor(int64_t id, const std::function<bool(const json&)>& done, double seconds) {
    json job;
    for (int idx = 0; idx < static_cast<int>(seconds * 20); ++idx) {
      job = server_->CallJson("GET", "/v1/jobs/" + std::to_string(id));
      if (done(job)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return job;
  }

  TempDir dir_;
  TempDir files_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(SlurmTest, SubmitRunsToSuccessOnAPricedPartition) {
  StartServer({"--executor", "slurm", "--slurm-partition", "spot=g5.xlarge@use1-az1:spot"});
  int64_t id = Submit({{"model", "on-slurm"}, {"partition", "spot"},
                       {"hyperparameters", {{"epochs", 2}, {"batch_size", 32}}}});
  json job = server_->WaitForJob(id, 90);
  ASSERT_EQ(job["state"], "succeeded") << job.dump() << Dump(Timeline(id));
  EXPECT_EQ(job["executor"], "slurm");
  auto ids = SlurmIds(id);
  ASSERT_EQ(ids.size(), 1u) << Dump(Timeline(id));
  std::string shown = Shell("scontrol show job -o " + std::to_string(ids[0]));
  EXPECT_NE(shown.find("JobName=sskai-job-" + std::to_string(id)), std::string::npos) << shown;
  EXPECT_NE(shown.find("Partition=spot"), std::string::npos) << shown;
  // One usage record for the Slurm run, on the partition's offering, spot.
  json usage;
  for (int idx = 0; idx < 100; ++idx) {
    usage = server_->CallJson("GET", "/v1/usage");
    if (usage.dump().find("\"ended_at\":null") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int records = 0;
  for (const auto& u : usage["items"]) {
    if (u["subject_id"] != id) continue;
    ++records;
    EXPECT_EQ(u["resource"], "g5.xlarge@use1-az1");
    EXPECT_EQ(u["spot"], true);
  }
  EXPECT_EQ(records, 1) << usage.dump();
  std::string logs = server_->Call("GET", "/v1/jobs/" + std::to_string(id) + "/logs").body;
  EXPECT_NE(logs.find("worker: done"), std::string::npos) << logs;
}

TEST_F(SlurmTest, RequeueResumesFromCheckpointThenCancel) {
  StartServer({"--slurm"});  // local by default; this job asks for Slurm
  int64_t id = Submit({{"model", "requeued"}, {"executor", "slurm"}, {"checkpoint_interval_steps", 20},
                       {"hyperparameters", {{"epochs", 200}, {"batch_size", 8}}}});
  json job = WaitFor(id, [](const json& j) {
    return j["state"] == "running" && j["checkpoint"].value("step", 0) >= 20;
  }, 60);
  ASSERT_EQ(job["state"], "running") << job.dump() << Dump(Timeline(id));
  auto ids = SlurmIds(id);
  ASSERT_EQ(ids.size(), 1u);
  // Slurm preempts the job: SIGTERM (the worker checkpoints at the next step) and requeue.
  int rc = 0;
  std::string out = Shell("scontrol requeue " + std::to_string(ids[0]), &rc);
  ASSERT_EQ(rc, 0) << out;
  job = WaitFor(id, [](const json& j) { return j["state"] == "running" && j["attempts"] == 2; }, 60);
  ASSERT_EQ(job["attempts"], 2) << job.dump() << Dump(Timeline(id));
  EXPECT_EQ(job["preemptions"], 1) << job.dump();
  auto timeline = Timeline(id);
  std::string text = Dump(timeline);
  EXPECT_NE(text.find("preempted: preempted with notice: checkpointed at a step boundary (requeued by Slurm "
                      "(restart 1))"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("resuming from step"), std::string::npos) << text;
  // The same Slurm job runs again (released at once, not after Slurm's requeue delay).
  ids = SlurmIds(id);
  ASSERT_EQ(ids.size(), 2u) << text;
  EXPECT_EQ(ids[0], ids[1]);
  // The relaunched worker resumed from the checkpoint, not from the start.
  job = WaitFor(id, [](const json& j) { return j["progress"].value("epoch", 0) >= 1; }, 60);
  std::string logs = server_->Call("GET", "/v1/jobs/" + std::to_string(id) + "/logs").body;
  EXPECT_NE(logs.find("resuming from the checkpoint"), std::string::npos) << logs;
  // Cancel: the Slurm job ends and the job is cancelled.
  int status = 0;
  server_->CallJson("POST", "/v1/jobs/" + std::to_string(id) + "/cancel", nullptr, &status);
  EXPECT_EQ(status, 200);
  job = server_->WaitForJob(id, 30);
  EXPECT_EQ(job["state"], "cancelled") << job.dump();
  std::string state;
  for (int idx = 0; idx < 200; ++idx) {
    state = Shell("scontrol show job -o " + std::to_string(ids[0]));
    if (state.find("JobState=RUNNING") == std::string::npos &&
        state.find("JobState=PENDING") == std::string::npos &&
        state.find("JobState=COMPLETING") == std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(state.find("JobState=RUNNING"), std::string::npos) << state;
  EXPECT_EQ(state.find("JobState=PENDING"), std::string::npos) << state;
}

TEST_F(SlurmTest, TwoTaskGlooJobMatchesOneTask) {
  StartServer({"--executor", "slurm", "--max-running-jobs", "3"});
  json hyper = {{"epochs", 2}, {"batch_size", 32}, {"hidden", {64, 32}}};
  int64_t two = Submit({{"model", "two-tasks"}, {"tasks", 2}, {"hyperparameters", hyper}});
  int64_t one = Submit({{"model", "one-task"}, {"hyperparameters", hyper}});
  json a = server_->WaitForJob(two, 120);
  json b = server_->WaitForJob(one, 120);
  ASSERT_EQ(a["state"], "succeeded") << a.dump() << Dump(Timeline(two))
                                     << server_->Call("GET", "/v1/jobs/" + std::to_string(two) + "/logs").body;
  ASSERT_EQ(b["state"], "succeeded") << b.dump();
  std::string text = Dump(Timeline(two));
  EXPECT_NE(text.find("(attempt 1, 2 tasks)"), std::string::npos) << text;
  std::string logs = server_->Call("GET", "/v1/jobs/" + std::to_string(two) + "/logs").body;
  EXPECT_NE(logs.find("data-parallel rank 0 of 2"), std::string::npos) << logs;
  EXPECT_NE(logs.find("data-parallel rank 1 of 2"), std::string::npos) << logs;
  EXPECT_NE(logs.find("worker: rank 1 done"), std::string::npos) << logs;
  // The same global batch on 2 ranks gives the 1-task model to floating-point tolerance.
  json ma = server_->CallJson("GET", "/v1/models/two-tasks/versions/1");
  json mb = server_->CallJson("GET", "/v1/models/one-task/versions/1");
  double loss_a = ma["metrics"].value("val_loss", -1.0), loss_b = mb["metrics"].value("val_loss", -2.0);
  EXPECT_NEAR(loss_a, loss_b, 1e-4 * std::abs(loss_b)) << ma.dump() << mb.dump();
  EXPECT_EQ(ma["metrics"]["val_accuracy"], mb["metrics"]["val_accuracy"]);
  // Usage: one record with count 2 (both tasks held compute).
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

TEST_F(SlurmTest, ControllerDownFailsTheJobWithSlurmsMessage) {
  // sbatch/scontrol that cannot reach slurmctld (as when it is down), without stopping the real one.
  std::string bin = files_.path() + "/fake-slurm";
  std::filesystem::create_directories(bin);
  for (const char* tool : {"sbatch", "scontrol", "squeue", "scancel"}) {
    std::string path = bin + "/" + tool;
    WriteFile(path, std::string("#!/bin/sh\necho \"") + tool +
                        ": error: Unable to contact slurm controller (connect failure)\" >&2\nexit 1\n");
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  }
  StartServer({"--executor", "slurm", "--slurm-bin-dir", bin});
  int64_t id = Submit({{"model", "nowhere"}, {"hyperparameters", {{"epochs", 1}}}});
  json job = server_->WaitForJob(id, 30);
  EXPECT_EQ(job["state"], "failed") << job.dump();
  EXPECT_NE(job.dump().find("Unable to contact slurm controller"), std::string::npos) << job.dump();
  // The server keeps running.
  int status = 0;
  server_->CallJson("GET", "/v1/jobs", nullptr, &status);
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(server_->Alive());
}

}  // namespace
}  // namespace sskai::testing
