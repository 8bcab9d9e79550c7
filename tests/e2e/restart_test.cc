// Jobs survive the server: kill -9 in the middle of training, restart, the job resumes from its
// last checkpoint (or the live worker is re-attached) and finishes. Cancel stops the worker.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

class RestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path());
    { Status started = server_->Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
    std::string csv = WriteDigitsCsv(files_.path());
    ASSERT_EQ(server_->UploadFile("/v1/datasets/digits/versions", csv).status, 201);
  }
  // A job long enough to be interrupted: many small-batch epochs.
  int64_t SubmitLongJob(int epochs) {
    int status = 0;
    json job = server_->CallJson(
        "POST", "/v1/jobs",
        {{"dataset", "digits"}, {"model", "digits-mlp"},
         {"hyperparameters", {{"epochs", epochs}, {"batch_size", 8}}}}, &status);
    EXPECT_EQ(status, 201) << job.dump();
    return job.value("id", 0);
  }
  // Waits until the job has a checkpoint of at least `epoch`; returns the job view.
  json WaitForCheckpoint(int64_t id, int epoch) {
    json job;
    for (int idx = 0; idx < 1200; ++idx) {
      job = server_->CallJson("GET", "/v1/jobs/" + std::to_string(id));
      if (job["checkpoint"]["epoch"].get<int>() >= epoch) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return job;
  }
  TempDir dir_;
  TempDir files_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(RestartTest, KilledServerAndWorkerResumeFromCheckpoint) {
  int64_t id = SubmitLongJob(25);
  json job = WaitForCheckpoint(id, 2);
  ASSERT_GE(job["checkpoint"]["epoch"].get<int>(), 2) << job.dump();
  int worker_pid = 0;
  {
    // The worker pid is in the job's event message: read the newest from the activity feed
    // (newest first; a worker that exited early may have been relaunched already).
    json events = server_->CallJson("GET", "/v1/events?kind=job");
    for (const auto& e : events["items"]) {
      std::string msg = e["message"];
      auto pos = msg.find("worker pid ");
      if (pos == std::string::npos) continue;
      worker_pid = std::stoi(msg.substr(pos + 11));
      break;
    }
  }
  ASSERT_GT(worker_pid, 0);
  server_->Kill(SIGKILL);
  kill(-worker_pid, SIGKILL);
  kill(worker_pid, SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  server_ = std::make_unique<TestServer>(dir_.path());
  { Status started = server_->Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
  json done = server_->WaitForJob(id, 240);
  ASSERT_TRUE(done.is_object() && done["state"] == "succeeded")
      << done.dump() << "\n" << ReadFile(dir_.path() + "/server.stdout");
  EXPECT_EQ(done["attempts"], 2) << done.dump();
  std::string logs = server_->Call("GET", "/v1/jobs/" + std::to_string(id) + "/logs").body;
  EXPECT_NE(logs.find("resuming from the checkpoint of epoch"), std::string::npos) << logs;
  json mv = server_->CallJson("GET", "/v1/models/digits-mlp/versions/1");
  EXPECT_GE(mv["metrics"]["val_accuracy"].get<double>(), 0.95) << mv.dump();
  json events = server_->CallJson("GET", "/v1/events?kind=job");
  EXPECT_NE(events.dump().find("worker lost"), std::string::npos) << events.dump();
}

TEST_F(RestartTest, LiveWorkerIsReattachedAfterServerCrash) {
  int64_t id = SubmitLongJob(8);
  json job = WaitForCheckpoint(id, 1);
  ASSERT_GE(job["checkpoint"]["epoch"].get<int>(), 1);
  std::string listen = server_->url().substr(std::string("http://").size());
  server_->Kill(SIGKILL);  // the worker keeps running and retries the server
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server_ = std::make_unique<TestServer>(dir_.path(), std::vector<std::string>{}, listen);
  { Status started = server_->Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
  json done = server_->WaitForJob(id, 240);
  ASSERT_EQ(done["state"], "succeeded") << done.dump();
  EXPECT_EQ(done["attempts"], 1) << done.dump();
}

TEST_F(RestartTest, CancelStopsTheWorker) {
  int64_t id = SubmitLongJob(200);
  WaitForCheckpoint(id, 1);
  int status = 0;
  json r = server_->CallJson("POST", "/v1/jobs/" + std::to_string(id) + "/cancel", nullptr, &status);
  ASSERT_EQ(status, 200) << r.dump();
  EXPECT_EQ(r["state"], "cancelled");
  // Cancelling twice is a clear error.
  server_->CallJson("POST", "/v1/jobs/" + std::to_string(id) + "/cancel", nullptr, &status);
  EXPECT_EQ(status, 409);
  // The usage record is closed once the worker is gone.
  json usage;
  for (int idx = 0; idx < 300; ++idx) {
    usage = server_->CallJson("GET", "/v1/usage");
    if (!usage["items"].empty() && !usage["items"][0]["ended_at"].is_null()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(usage["items"].empty());
  EXPECT_FALSE(usage["items"][0]["ended_at"].is_null()) << usage.dump();
  EXPECT_EQ(server_->CallJson("GET", "/v1/jobs/" + std::to_string(id))["state"], "cancelled");
}

}  // namespace
}  // namespace sskai::testing
