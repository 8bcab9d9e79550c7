// JobController driven step by step through RunOnce() with a real store, a fake executor and a
// fake clock.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "jobs/jobs.h"
#include "store/store.h"
#include "testing/fake_executor.h"
#include "testing/scratch_dir.h"

namespace sskai::jobs {
namespace {

using namespace std::chrono_literals;
using sskai::testing::FakeExecutor;

class JobControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::Store::Open(dir_.path() + "/meta.db");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
    auto alice = store_->CreateUser("alice", false, 1);
    auto bob = store_->CreateUser("bob", false, 1);
    ASSERT_TRUE(alice.ok() && bob.ok());
    alice_ = alice->id;
    bob_ = bob->id;
    options_.binary = "/opt/sskai/bin/sskai";
    options_.server_url = "http://127.0.0.1:9999";
    options_.log_dir = dir_.Sub("logs");
    options_.max_running = 2;
    options_.max_attempts = 3;
    options_.cancel_grace = 10s;
  }

  std::unique_ptr<JobController> NewController() {
    return std::make_unique<JobController>(
        options_, *store_, executor_, clock_,
        [this](const store::Job& job) -> Result<std::string> {
          if (!mint_status_.ok()) return mint_status_;
          minted_.push_back(job.id);
          return "tok-" + std::to_string(job.id);
        },
        [this](const store::Job& job) { revoked_.push_back(job.id); });
  }

  int64_t Submit(int64_t owner, const std::string& name = "job") {
    store::Job job;
    job.owner_id = owner;
    job.name = name;
    job.output_model = name;
    job.state = kQueued;
    job.created_at = clock_.NowSeconds();
    auto created = store_->CreateJob(job);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? created->id : 0;
  }

  store::Job Get(int64_t id) {
    auto job = store_->GetJob(0, id);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() ? *job : store::Job{};
  }

  std::vector<std::string> EventActions(int64_t job_id) {
    store::Page page;
    page.limit = 100;
    auto events = store_->ListEvents(0, page, store::EventFilter{"job", job_id});
    EXPECT_TRUE(events.ok());
    std::vector<std::string> out;
    if (events.ok()) {
      for (const auto& e : events->items) out.push_back(e.action);
    }
    return out;
  }

  std::vector<store::UsageRecord> Usage(int64_t owner) {
    store::Page page;
    page.limit = 100;
    auto usage = store_->ListUsage(owner, page, 0, 0);
    EXPECT_TRUE(usage.ok());
    return usage.ok() ? usage->items : std::vector<store::UsageRecord>{};
  }

  sskai::testing::ScratchDir dir_;
  std::unique_ptr<store::Store> store_;
  int64_t alice_ = 0, bob_ = 0;
  JobController::Options options_;
  FakeExecutor executor_;
  FakeClock clock_;
  Status mint_status_;
  std::vector<int64_t> minted_, revoked_;
};

TEST_F(JobControllerTest, LaunchesAQueuedJob) {
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  ctl->RunOnce();

  ASSERT_EQ(executor_.launch_count(), 1u);
  auto launched = executor_.launches()[0];
  EXPECT_EQ(launched.spec.argv,
            (std::vector<std::string>{"/opt/sskai/bin/sskai", "worker", "--server",
                                      "http://127.0.0.1:9999", "--job", std::to_string(id)}));
  EXPECT_EQ(launched.spec.env.at("SSKAI_TOKEN"), "tok-" + std::to_string(id));
  EXPECT_EQ(launched.spec.log_path, options_.log_dir + "/job-" + std::to_string(id) + ".log");
  EXPECT_EQ(ctl->LogPath(id), launched.spec.log_path);
  EXPECT_TRUE(launched.spec.new_session);

  store::Job job = Get(id);
  EXPECT_EQ(job.state, kRunning);
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(job.worker_pid, launched.handle.pid);
  EXPECT_EQ(job.worker_start_time, launched.handle.start_time);
  EXPECT_EQ(job.executor, "fake");
  EXPECT_DOUBLE_EQ(job.started_at, clock_.NowSeconds());

  auto usage = Usage(alice_);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].subject_kind, "job");
  EXPECT_EQ(usage[0].subject_id, id);
  EXPECT_EQ(usage[0].resource, "this-machine");
  EXPECT_EQ(usage[0].ended_at, 0);  // open

  auto actions = EventActions(id);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0], "started");

  // A second pass with nothing changed does nothing.
  ctl->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 1u);
  EXPECT_EQ(Get(id).attempts, 1);
}

TEST_F(JobControllerTest, LostWorkerIsRequeuedWithAReasonThenRelaunched) {
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  ctl->RunOnce();
  int pid = executor_.launches()[0].handle.pid;
  clock_.Advance(5000ms);
  executor_.Kill(pid, 9);

  ctl->RunOnce();
  store::Job job = Get(id);
  EXPECT_EQ(job.state, kQueued);
  EXPECT_NE(job.reason.find("worker lost (killed by signal 9)"), std::string::npos) << job.reason;
  EXPECT_NE(job.reason.find("the start"), std::string::npos) << job.reason;
  EXPECT_EQ(revoked_, std::vector<int64_t>{id});
  auto usage = Usage(alice_);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_DOUBLE_EQ(usage[0].ended_at, clock_.NowSeconds());  // closed at the exit

  ctl->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 2u);
  job = Get(id);
  EXPECT_EQ(job.state, kRunning);
  EXPECT_EQ(job.attempts, 2);
  EXPECT_EQ(job.worker_pid, executor_.launches()[1].handle.pid);
  EXPECT_EQ(Usage(alice_).size(), 2u);
  EXPECT_EQ(EventActions(id).size(), 3u);  // started, retry, started
}

TEST_F(JobControllerTest, RequeueMentionsTheCheckpointToResumeFrom) {
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  ctl->RunOnce();
  store::Job job = Get(id);
  job.checkpoint_epoch = 4;
  ASSERT_TRUE(store_->UpdateJob(job).ok());
  executor_.Exit(executor_.launches()[0].handle.pid, 143);
  ctl->RunOnce();
  job = Get(id);
  EXPECT_EQ(job.state, kQueued);
  EXPECT_NE(job.reason.find("exit code 143"), std::string::npos) << job.reason;
  EXPECT_NE(job.reason.find("checkpoint of epoch 4"), std::string::npos) << job.reason;
}

TEST_F(JobControllerTest, FailsAfterMaxAttempts) {
  options_.max_attempts = 2;
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  for (int attempt = 1; attempt <= 2; ++attempt) {
    ctl->RunOnce();  // launch
    ASSERT_EQ(executor_.launch_count(), static_cast<size_t>(attempt));
    ASSERT_EQ(Get(id).attempts, attempt);
    executor_.Kill(executor_.launches().back().handle.pid, 9);
    ctl->RunOnce();  // notice the exit
  }
  store::Job job = Get(id);
  EXPECT_EQ(job.state, kFailed);
  EXPECT_NE(job.reason.find("worker stopped 2 times without finishing"), std::string::npos)
      << job.reason;
  EXPECT_NE(job.reason.find("killed by signal 9"), std::string::npos) << job.reason;
  EXPECT_GT(job.finished_at, 0);
  ctl->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 2u);  // never again
  EXPECT_EQ(EventActions(id).back(), "failed");
}

TEST_F(JobControllerTest, ExitCodeTwoFailsAtOnce) {
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  ctl->RunOnce();
  executor_.Exit(executor_.launches()[0].handle.pid, 2);
  ctl->RunOnce();
  store::Job job = Get(id);
  EXPECT_EQ(job.state, kFailed);
  EXPECT_EQ(job.attempts, 1);
  EXPECT_NE(job.reason.find("the worker failed"), std::string::npos) << job.reason;
  ctl->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 1u);
}

TEST_F(JobControllerTest, WorkerThatReportedSuccessIsNotRetried) {
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  ctl->RunOnce();
  // The worker reports completion over the API, then exits 0.
  ASSERT_TRUE(*store_->TransitionJob(id, kRunning, kSucceeded, "", clock_.NowSeconds()));
  executor_.Exit(executor_.launches()[0].handle.pid, 0);
  ctl->RunOnce();
  ctl->RunOnce();
  EXPECT_EQ(Get(id).state, kSucceeded);
  EXPECT_EQ(executor_.launch_count(), 1u);
  EXPECT_EQ(revoked_, std::vector<int64_t>{id});
  EXPECT_GT(Usage(alice_)[0].ended_at, 0);
}

TEST_F(JobControllerTest, CancelSignalsThenKillsAfterTheGracePeriod) {
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  ctl->RunOnce();
  int pid = executor_.launches()[0].handle.pid;

  ASSERT_TRUE(ctl->Cancel(alice_, id).ok());
  store::Job job = Get(id);
  EXPECT_EQ(job.state, kCancelled);
  EXPECT_EQ(job.reason, "cancelled by user");
  ASSERT_EQ(executor_.signals().size(), 1u);
  EXPECT_EQ(executor_.signals()[0].pid, pid);
  EXPECT_FALSE(executor_.signals()[0].force);

  // The worker ignores SIGTERM: no SIGKILL before the grace period ends.
  clock_.Advance(9s);
  ctl->RunOnce();
  EXPECT_EQ(executor_.signals().size(), 1u);
  clock_.Advance(2s);
  ctl->RunOnce();
  ASSERT_EQ(executor_.signals().size(), 2u);
  EXPECT_TRUE(executor_.signals()[1].force);
  EXPECT_FALSE(executor_.alive(pid));

  ctl->RunOnce();  // reaps the killed worker
  job = Get(id);
  EXPECT_EQ(job.state, kCancelled);
  EXPECT_EQ(executor_.launch_count(), 1u);
  EXPECT_GT(Usage(alice_)[0].ended_at, 0);
  EXPECT_EQ(revoked_, std::vector<int64_t>{id});
  EXPECT_EQ(executor_.signals().size(), 2u);

  Status again = ctl->Cancel(alice_, id);
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("already cancelled"), std::string::npos);
}

TEST_F(JobControllerTest, CancelOfAQueuedJobNeedsNoSignal) {
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  ASSERT_TRUE(ctl->Cancel(alice_, id).ok());
  EXPECT_EQ(Get(id).state, kCancelled);
  EXPECT_TRUE(executor_.signals().empty());
  ctl->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 0u);
}

TEST_F(JobControllerTest, CancelIsScopedToTheOwner) {
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  EXPECT_EQ(ctl->Cancel(bob_, id).code(), StatusCode::kNotFound);
  EXPECT_EQ(ctl->Cancel(alice_, id + 100).code(), StatusCode::kNotFound);
  EXPECT_EQ(Get(id).state, kQueued);
}

TEST_F(JobControllerTest, RespectsMaxRunningOldestFirst) {
  int64_t first = Submit(alice_, "first");
  int64_t second = Submit(bob_, "second");
  int64_t third = Submit(alice_, "third");
  auto ctl = NewController();
  ctl->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 2u);
  EXPECT_EQ(Get(first).state, kRunning);
  EXPECT_EQ(Get(second).state, kRunning);
  EXPECT_EQ(Get(third).state, kQueued);
  ctl->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 2u);

  ASSERT_TRUE(*store_->TransitionJob(first, kRunning, kSucceeded, "", clock_.NowSeconds()));
  executor_.Exit(executor_.launches()[0].handle.pid, 0);
  ctl->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 3u);
  EXPECT_EQ(executor_.launches()[2].spec.argv.back(), std::to_string(third));
  EXPECT_EQ(Get(third).state, kRunning);
}

TEST_F(JobControllerTest, LaunchFailureFailsTheJobAndRevokesItsToken) {
  int64_t id = Submit(alice_);
  executor_.FailNextLaunch(Status::NotFound("executable '/opt/sskai/bin/sskai' not found"));
  auto ctl = NewController();
  ctl->RunOnce();
  store::Job job = Get(id);
  EXPECT_EQ(job.state, kFailed);
  EXPECT_NE(job.reason.find("cannot start a worker"), std::string::npos) << job.reason;
  EXPECT_NE(job.reason.find("not found"), std::string::npos) << job.reason;
  EXPECT_EQ(revoked_, std::vector<int64_t>{id});
  EXPECT_TRUE(Usage(alice_).empty());
}

TEST_F(JobControllerTest, TokenFailureFailsTheJobWithoutLaunching) {
  int64_t id = Submit(alice_);
  mint_status_ = Status::Internal("disk full");
  auto ctl = NewController();
  ctl->RunOnce();
  store::Job job = Get(id);
  EXPECT_EQ(job.state, kFailed);
  EXPECT_NE(job.reason.find("cannot create a worker token: disk full"), std::string::npos);
  EXPECT_EQ(executor_.launch_count(), 0u);
}

TEST_F(JobControllerTest, RestartedControllerAdoptsRunningWorkers) {
  int64_t id = Submit(alice_);
  {
    auto ctl = NewController();
    ctl->RunOnce();
    ASSERT_EQ(Get(id).state, kRunning);
  }  // the "server" stops; the worker keeps running
  int pid = executor_.launches()[0].handle.pid;
  EXPECT_TRUE(executor_.alive(pid));
  EXPECT_TRUE(executor_.signals().empty());

  auto restarted = NewController();
  restarted->RunOnce();
  restarted->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 1u);  // adopted, not relaunched
  EXPECT_EQ(Get(id).state, kRunning);
  EXPECT_EQ(Get(id).attempts, 1);

  // The adopted worker is watched: its failure is noticed and handled.
  executor_.Exit(pid, 2);
  restarted->RunOnce();
  EXPECT_EQ(Get(id).state, kFailed);
}

TEST_F(JobControllerTest, RestartedControllerRequeuesAWorkerThatDiedMeanwhile) {
  int64_t id = Submit(alice_);
  {
    auto ctl = NewController();
    ctl->RunOnce();
  }
  // The worker's pid is gone while no server watched it: the fake says "unknown".
  store::Job job = Get(id);
  job.worker_pid = 99999;
  ASSERT_TRUE(store_->UpdateJob(job).ok());
  auto restarted = NewController();
  restarted->RunOnce();
  job = Get(id);
  EXPECT_EQ(job.state, kQueued);
  EXPECT_NE(job.reason.find("exited while the server was not watching"), std::string::npos)
      << job.reason;
  restarted->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 2u);
  EXPECT_EQ(Get(id).attempts, 2);
}

TEST_F(JobControllerTest, StopWorkersSignalsEveryActiveWorker) {
  Submit(alice_);
  Submit(bob_);
  auto ctl = NewController();
  ctl->RunOnce();
  ctl->StopWorkers();
  auto signals = executor_.signals();
  ASSERT_EQ(signals.size(), 2u);
  EXPECT_FALSE(signals[0].force);
  EXPECT_FALSE(signals[1].force);
}

}  // namespace
}  // namespace sskai::jobs
