// Jobs that survive preemption, end to end with the real binary: a notice makes the worker
// checkpoint at the next step boundary and exit; the controller marks the job preempted,
// recovers it and the relaunched worker resumes mid-epoch — ending with the same weights as an
// uninterrupted job. A deterministic failure is not retried forever.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

class PreemptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path(), std::vector<std::string>{"--max-running-jobs", "3", "--allow-custom-commands"});
    { Status started = server_->Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
    std::string csv = WriteDigitsCsv(files_.path());
    ASSERT_EQ(server_->UploadFile("/v1/datasets/digits/versions", csv).status, 201);
  }
  int64_t Submit(json body, int* status_out = nullptr) {
    int status = 0;
    body["dataset"] = "digits";
    json job = server_->CallJson("POST", "/v1/jobs", body, &status);
    if (status_out != nullptr) *status_out = status;
    if (status_out == nullptr) EXPECT_EQ(status, 201) << job.dump();
    return job.value("id", 0);
  }
  std::vector<std::string> Timeline(int64_t id) {
    json ev = server_->CallJson("GET", "/v1/jobs/" + std::to_string(id) + "/events");
    std::vector<std::string> out;
    for (const auto& e : ev["items"]) out.push_back(e["action"].get<std::string>() + ": " + e["message"].get<std::string>());
    return out;
  }
  static bool Has(const std::vector<std::string>& lines, const std::string& part) {
    for (const auto& l : lines) {
      if (l.find(part) != std::string::npos) return true;
    }
    return false;
  }
  static std::string Dump(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
  json Hyper() { return {{"epochs", 4}, {"batch_size", 8}}; }  // 1,438 training rows: 180 steps per epoch

  TempDir dir_;
  TempDir files_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(PreemptTest, NoticedPreemptionsResumeMidEpochWithIdenticalWeights) {
  int64_t straight = Submit({{"model", "straight"}, {"hyperparameters", Hyper()}});
  // Chaos: each launch gets a notice after 200 more steps: preempted at steps 200, 400 and 600
  // (720 steps in all).
  int64_t chaotic = Submit({{"model", "chaotic"}, {"hyperparameters", Hyper()}, {"executor", "spot-sim"},
                            {"offering", "g5.xlarge@use1-az1"}, {"chaos", {{"after_steps", 200}}}});
  json a = server_->WaitForJob(straight, 120);
  json b = server_->WaitForJob(chaotic, 120);
  ASSERT_EQ(a["state"], "succeeded") << a.dump();
  ASSERT_EQ(b["state"], "succeeded") << b.dump() << Dump(Timeline(chaotic));
  EXPECT_EQ(b["preemptions"], 3) << b.dump();
  EXPECT_EQ(b["attempts"], 4) << b.dump();
  auto timeline = Timeline(chaotic);
  EXPECT_TRUE(Has(timeline, "checkpoint: checkpoint at step 200 (epoch 1)")) << Dump(timeline);
  EXPECT_TRUE(Has(timeline, "checkpoint: checkpoint at step 400 (epoch 2)")) << Dump(timeline);
  EXPECT_TRUE(Has(timeline, "preempted: preempted with notice")) << Dump(timeline);
  EXPECT_TRUE(Has(timeline, "recovering: recovering")) << Dump(timeline);
  EXPECT_TRUE(Has(timeline, "resuming from step 400")) << Dump(timeline);
  json mv_a = server_->CallJson("GET", "/v1/models/straight/versions/1");
  json mv_b = server_->CallJson("GET", "/v1/models/chaotic/versions/1");
  EXPECT_EQ(mv_a["sha256"], mv_b["sha256"]) << "weights differ after preemptions";
  std::string logs = server_->Call("GET", "/v1/jobs/" + std::to_string(chaotic) + "/logs").body;
  EXPECT_NE(logs.find("epoch 1 step 20 (global step 200)"), std::string::npos) << logs;
  // Usage: one record per launch, spot, on the chosen offering, all closed once the last worker
  // has exited.
  json usage;
  for (int idx = 0; idx < 200; ++idx) {
    usage = server_->CallJson("GET", "/v1/usage");
    if (usage.dump().find("\"ended_at\":null") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int records = 0;
  for (const auto& u : usage["items"]) {
    if (u["subject_id"] != chaotic) continue;
    ++records;
    EXPECT_EQ(u["resource"], "g5.xlarge@use1-az1");
    EXPECT_EQ(u["spot"], true);
    EXPECT_FALSE(u["ended_at"].is_null());
  }
  EXPECT_EQ(records, 4);
  // `sskai jobs show` prints the timeline.
  std::string out;
  ASSERT_EQ(server_->RunCli({"jobs", "show", std::to_string(chaotic)}, &out), 0);
  EXPECT_NE(out.find("timeline:"), std::string::npos) << out;
  EXPECT_NE(out.find("preempted"), std::string::npos) << out;
  EXPECT_NE(out.find("preemptions: 3"), std::string::npos) << out;
}

TEST_F(PreemptTest, HttpNoticeAndSigtermCheckpointThenRecover) {
  int64_t id = Submit({{"model", "long"}, {"hyperparameters", {{"epochs", 200}, {"batch_size", 8}}}});
  json job;
  for (int idx = 0; idx < 600; ++idx) {
    job = server_->CallJson("GET", "/v1/jobs/" + std::to_string(id));
    if (job["state"] == "running" && job["progress"].value("epoch", 0) >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(job["state"], "running") << job.dump();
  int status = 0;
  json r = server_->CallJson("POST", "/v1/jobs/" + std::to_string(id) + "/notice", {{"deadline_seconds", 30}},
                             &status);
  ASSERT_EQ(status, 200) << r.dump();
  EXPECT_EQ(r["state"], "checkpointing");
  for (int idx = 0; idx < 600; ++idx) {
    job = server_->CallJson("GET", "/v1/jobs/" + std::to_string(id));
    if (job["state"] == "running" && job["attempts"] == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(job["attempts"], 2) << job.dump() << Dump(Timeline(id));
  EXPECT_EQ(job["preemptions"], 1);
  EXPECT_GT(job["checkpoint"]["step"].get<int>(), 0);
  auto timeline = Timeline(id);
  EXPECT_TRUE(Has(timeline, "checkpointing: preemption notice (deadline 30 s)")) << Dump(timeline);
  EXPECT_TRUE(Has(timeline, "preempted: preempted with notice")) << Dump(timeline);
  // A plain SIGTERM to the worker is a notice too — once the worker runs: "running" is recorded
  // when the fork returns, and a SIGTERM that beats the child's exec goes to the server's
  // inherited handler instead (the HTTP notice, a file, is not lost that way). Progress past the
  // resume point means the relaunched worker is in its training loop.
  const int resumed_at = job["checkpoint"]["step"].get<int>();
  for (int idx = 0; idx < 600 && job["progress"].value("step", 0) <= resumed_at; ++idx) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    job = server_->CallJson("GET", "/v1/jobs/" + std::to_string(id));
  }
  ASSERT_GT(job["progress"].value("step", 0), resumed_at) << job.dump();
  int pid = 0;
  for (const auto& line : timeline) {
    auto pos = line.find("worker pid ");
    if (pos != std::string::npos) pid = std::stoi(line.substr(pos + 11));
  }
  ASSERT_GT(pid, 0);
  kill(pid, SIGTERM);
  for (int idx = 0; idx < 600; ++idx) {
    job = server_->CallJson("GET", "/v1/jobs/" + std::to_string(id));
    if (job["state"] == "running" && job["attempts"] == 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(job["attempts"], 3) << job.dump() << Dump(Timeline(id));
  EXPECT_EQ(job["preemptions"], 2);
  // Notices for jobs that are not running, and bad deadlines, are clear errors.
  server_->CallJson("POST", "/v1/jobs/" + std::to_string(id) + "/notice", {{"deadline_seconds", 0}}, &status);
  EXPECT_EQ(status, 400);
  // Pause releases the compute; resume continues.
  r = server_->CallJson("POST", "/v1/jobs/" + std::to_string(id) + "/pause", nullptr, &status);
  ASSERT_EQ(status, 200) << r.dump();
  job = server_->CallJson("GET", "/v1/jobs/" + std::to_string(id));
  for (int idx = 0; idx < 600 && job["state"] != "paused"; ++idx) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    job = server_->CallJson("GET", "/v1/jobs/" + std::to_string(id));
  }
  ASSERT_EQ(job["state"], "paused") << job.dump();
  server_->CallJson("POST", "/v1/jobs/" + std::to_string(id) + "/notice", {{"deadline_seconds", 5}}, &status);
  EXPECT_EQ(status, 409);
  r = server_->CallJson("POST", "/v1/jobs/" + std::to_string(id) + "/resume", nullptr, &status);
  ASSERT_EQ(status, 200) << r.dump();
  EXPECT_EQ(r["state"], "queued");
  r = server_->CallJson("POST", "/v1/jobs/" + std::to_string(id) + "/cancel", nullptr, &status);
  EXPECT_EQ(status, 200) << r.dump();
}

TEST_F(PreemptTest, DeterministicFailureIsNotRetriedForever) {
  // A CNN on a table fails the same way at the same step on every attempt.
  int64_t id = Submit({{"model", "bad"}, {"architecture", "cnn"},
                       {"hyperparameters", Hyper()}, {"max_attempts", 5}});
  json job = server_->WaitForJob(id, 60);
  ASSERT_EQ(job["state"], "failed") << job.dump() << Dump(Timeline(id));
  EXPECT_EQ(job["attempts"], 2) << job.dump();
  EXPECT_NE(job["reason"].get<std::string>().find("deterministic failure at step 0"), std::string::npos)
      << job.dump();
}

TEST_F(PreemptTest, CustomCommandFollowsTheContractThroughPreemptions) {
  std::string iris = WriteSklearnCsv("iris", files_.path());
  ASSERT_EQ(server_->UploadFile("/v1/datasets/iris/versions", iris).status, 201);
  int status = 0;
  json body = {{"dataset", "iris"}, {"model", "custom"},
               {"command", json::array({"python3", std::string(SSKAI_SOURCE_DIR) + "/examples/custom-train/train.py"})},
               {"hyperparameters", {{"steps", 400}, {"checkpoint_every", 50}, {"step_delay", 0.002}}},
               {"executor", "spot-sim"}, {"chaos", {{"after_steps", 150}}}};
  json r = server_->CallJson("POST", "/v1/jobs", body, &status);
  ASSERT_EQ(status, 201) << r.dump();
  int64_t id = r["id"];
  json job = server_->WaitForJob(id, 60);
  ASSERT_EQ(job["state"], "succeeded") << job.dump() << Dump(Timeline(id))
                                       << server_->Call("GET", "/v1/jobs/" + std::to_string(id) + "/logs").body;
  EXPECT_EQ(job["preemptions"], 2) << job.dump();
  json mv = server_->CallJson("GET", "/v1/models/custom/versions/1");
  EXPECT_EQ(mv["metadata"]["format"], "custom") << mv.dump();
  json metrics = server_->CallJson("GET", "/v1/jobs/" + std::to_string(id) + "/metrics");
  EXPECT_GE(metrics["items"].size(), 30u);
  std::string logs = server_->Call("GET", "/v1/jobs/" + std::to_string(id) + "/logs").body;
  EXPECT_NE(logs.find("resumed at step"), std::string::npos) << logs;
  // A command that does not exist: a clear failure, not an endless retry.
  body["command"] = json::array({"/nonexistent/train"});
  body["model"] = "missing";
  body.erase("chaos");
  r = server_->CallJson("POST", "/v1/jobs", body, &status);
  ASSERT_EQ(status, 201) << r.dump();
  job = server_->WaitForJob(r["id"], 60);
  EXPECT_EQ(job["state"], "failed") << job.dump();
  EXPECT_NE(job["reason"].get<std::string>().find("command not found: /nonexistent/train"), std::string::npos)
      << job.dump();
  EXPECT_TRUE(server_->CallJson("GET", "/healthz").is_object());
}

TEST_F(PreemptTest, BadControlFieldsAre400s) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"max_attempts", -1}}, "max_attempts"},
      {{{"max_wall_seconds", 0}}, "max_wall_seconds"},
      {{{"max_cost_usd", "ten"}}, "max_cost_usd"},
      {{{"executor", "k8s"}}, "executor"},
      {{{"executor", "slurm"}, {"tasks", 0}}, "tasks"},
      {{{"executor", "local"}, {"tasks", 65}}, "tasks"},
      {{{"executor", "spot-sim"}, {"offering", "g5.xlarge"}}, "offering"},
      {{{"acceleration", 0}}, "acceleration"},
      {{{"chaos", {{"every_seconds", -5}}}}, "every_seconds"},
  };
  for (const auto& [extra, field] : cases) {
    json body = {{"model", "x"}, {"hyperparameters", Hyper()}};
    body.update(extra);
    int status = 0;
    body["dataset"] = "digits";
    json r = server_->CallJson("POST", "/v1/jobs", body, &status);
    EXPECT_EQ(status, 400) << extra.dump() << " " << r.dump();
    EXPECT_NE(r.dump().find(field), std::string::npos) << r.dump();
  }
  json list = server_->CallJson("GET", "/v1/jobs");
  EXPECT_TRUE(list["items"].empty()) << list.dump();
}

}  // namespace
}  // namespace sskai::testing
