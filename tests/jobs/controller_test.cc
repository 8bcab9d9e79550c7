// JobController driven step by step through RunOnce() with a real store, a fake executor and a
// fake clock.
#include <gtest/gtest.h>

#include <filesystem>
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
  EXPECT_EQ(actions, (std::vector<std::string>{"provisioning", "running"}));

  // A second pass with nothing changed does nothing.
  ctl->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 1u);
  EXPECT_EQ(Get(id).attempts, 1);
}

TEST_F(JobControllerTest, LostWorkerIsPreemptedThenRecoversAfterBackoff) {
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  ctl->RunOnce();
  int pid = executor_.launches()[0].handle.pid;
  clock_.Advance(5000ms);
  executor_.Kill(pid, 9);

  ctl->RunOnce();
  store::Job job = Get(id);
  EXPECT_EQ(job.state, kRecovering);
  EXPECT_EQ(job.preemptions, 1);
  EXPECT_EQ(job.retries, 1);  // no checkpoint progress in that attempt
  EXPECT_NE(job.reason.find("resuming from the start"), std::string::npos) << job.reason;
  EXPECT_EQ(revoked_, std::vector<int64_t>{id});
  auto usage = Usage(alice_);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_DOUBLE_EQ(usage[0].ended_at, clock_.NowSeconds());  // closed at the exit

  ctl->RunOnce();  // backoff (500 ms) not over yet
  EXPECT_EQ(executor_.launch_count(), 1u);
  clock_.Advance(500ms);
  ctl->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 2u);
  job = Get(id);
  EXPECT_EQ(job.state, kRunning);
  EXPECT_EQ(job.attempts, 2);
  EXPECT_EQ(job.worker_pid, executor_.launches()[1].handle.pid);
  EXPECT_EQ(Usage(alice_).size(), 2u);
  EXPECT_EQ(EventActions(id), (std::vector<std::string>{"provisioning", "running", "preempted", "recovering",
                                                        "provisioning", "running"}));
  auto events = store_->ListEvents(0, store::Page{}, store::EventFilter{"job", id});
  EXPECT_NE(events->items[2].message.find("worker lost (killed by signal 9)"), std::string::npos);
}

TEST_F(JobControllerTest, RecoveryMentionsTheCheckpointToResumeFrom) {
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  ctl->RunOnce();
  ASSERT_TRUE(*store_->SetJobCheckpoint(id, "abc", 4, 40, clock_.NowSeconds()));
  executor_.Exit(executor_.launches()[0].handle.pid, 143);
  ctl->RunOnce();
  store::Job job = Get(id);
  EXPECT_EQ(job.state, kRecovering);
  EXPECT_EQ(job.retries, 0);  // progress was made: relaunch at once, not counted
  EXPECT_NE(job.reason.find("checkpoint of step 40 (epoch 4)"), std::string::npos) << job.reason;
  ctl->RunOnce();
  EXPECT_EQ(Get(id).state, kRunning);
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
    clock_.Advance(60s);  // past any backoff
  }
  store::Job job = Get(id);
  EXPECT_EQ(job.state, kFailed);
  EXPECT_NE(job.reason.find("worker stopped 2 times without finishing or progress"), std::string::npos)
      << job.reason;
  EXPECT_NE(job.reason.find("killed by signal 9"), std::string::npos) << job.reason;
  EXPECT_GT(job.finished_at, 0);
  ctl->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 2u);  // never again
  EXPECT_EQ(EventActions(id).back(), "failed");
}

TEST_F(JobControllerTest, SameErrorTwiceAtTheSameStepFailsTheJob) {
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  ctl->RunOnce();
  // The worker reports an error at step 7 (POST /fail) and exits 2: retried once.
  ASSERT_EQ(*store_->RecordJobError(id, "NaN loss", 7, clock_.NowSeconds()), 1);
  executor_.Exit(executor_.launches()[0].handle.pid, kExitFailed);
  ctl->RunOnce();
  store::Job job = Get(id);
  EXPECT_EQ(job.state, kRecovering);
  EXPECT_EQ(job.preemptions, 0);
  EXPECT_NE(job.reason.find("error at step 7: NaN loss"), std::string::npos) << job.reason;
  clock_.Advance(1s);
  ctl->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 2u);
  // The same error at the same step again: deterministic, the job fails with it.
  ASSERT_EQ(*store_->RecordJobError(id, "NaN loss", 7, clock_.NowSeconds()), 2);
  executor_.Exit(executor_.launches()[1].handle.pid, kExitFailed);
  ctl->RunOnce();
  job = Get(id);
  EXPECT_EQ(job.state, kFailed);
  EXPECT_NE(job.reason.find("deterministic failure at step 7"), std::string::npos) << job.reason;
  EXPECT_NE(job.reason.find("NaN loss"), std::string::npos) << job.reason;
  clock_.Advance(60s);
  ctl->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 2u);
}

TEST_F(JobControllerTest, NoticeCheckpointsThenRecovers) {
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  ctl->RunOnce();
  int pid = executor_.launches()[0].handle.pid;
  ASSERT_EQ(executor_.launches()[0].spec.env.at("SSKAI_NOTICE_FILE"), ctl->NoticePath(id));
  ASSERT_TRUE(ctl->Notice(alice_, id, 30s, "spot interruption").ok());
  EXPECT_EQ(Get(id).state, kCheckpointing);
  ASSERT_EQ(executor_.signals().size(), 1u);
  EXPECT_FALSE(executor_.signals()[0].force);
  EXPECT_TRUE(std::filesystem::exists(ctl->NoticePath(id)));
  EXPECT_EQ(ctl->Notice(alice_, id, 30s, "again").code(), StatusCode::kFailedPrecondition);
  // The worker checkpoints at the next step boundary, uploads and exits cleanly.
  ASSERT_TRUE(*store_->SetJobCheckpoint(id, "sha1", 0, 17, clock_.NowSeconds()));
  executor_.Exit(pid, kExitPreempted);
  ctl->RunOnce();  // preempted -> recovering -> (no backoff: progress) relaunched
  store::Job job = Get(id);
  EXPECT_EQ(job.preemptions, 1);
  ctl->RunOnce();
  job = Get(id);
  EXPECT_EQ(job.state, kRunning);
  EXPECT_EQ(job.attempts, 2);
  EXPECT_FALSE(std::filesystem::exists(ctl->NoticePath(id)));  // cleared for the new worker
  auto actions = EventActions(id);
  EXPECT_EQ(actions, (std::vector<std::string>{"provisioning", "running", "checkpointing", "preempted",
                                               "recovering", "provisioning", "running"}));
}

TEST_F(JobControllerTest, NoticeDeadlineKillsAWorkerThatDoesNotExit) {
  int64_t id = Submit(alice_);
  auto ctl = NewController();
  ctl->RunOnce();
  ASSERT_TRUE(ctl->Notice(0, id, 30s, "node drain").ok());
  clock_.Advance(29s);
  ctl->RunOnce();
  EXPECT_EQ(executor_.signals().size(), 1u);
  clock_.Advance(2s);
  ctl->RunOnce();
  ASSERT_EQ(executor_.signals().size(), 2u);
  EXPECT_TRUE(executor_.signals()[1].force);
  ctl->RunOnce();
  EXPECT_EQ(Get(id).state, kRecovering);
}

TEST_F(JobControllerTest, PauseCheckpointsAndHoldsNoComputeUntilResume) {
  int64_t id = Submit(alice_);
  int64_t queued = Submit(alice_, "waiting");
  options_.max_running = 1;
  auto ctl = NewController();
  ctl->RunOnce();
  ASSERT_TRUE(ctl->Pause(queued, "budget exceeded").ok());  // no worker: paused at once
  EXPECT_EQ(Get(queued).state, kPaused);
  ASSERT_TRUE(ctl->Pause(id, "budget exceeded").ok());
  EXPECT_EQ(Get(id).state, kCheckpointing);
  executor_.Exit(executor_.launches()[0].handle.pid, kExitPreempted);
  ctl->RunOnce();
  store::Job job = Get(id);
  EXPECT_EQ(job.state, kPaused);
  EXPECT_FALSE(job.pause_requested);
  EXPECT_GT(Usage(alice_)[0].ended_at, 0);  // no compute held
  clock_.Advance(60s);
  ctl->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 1u);  // paused jobs are not launched
  EXPECT_EQ(ctl->Resume(queued + 100).code(), StatusCode::kNotFound);
  ASSERT_TRUE(ctl->Resume(id).ok());
  EXPECT_EQ(ctl->Resume(id).code(), StatusCode::kFailedPrecondition);
  ctl->RunOnce();
  EXPECT_EQ(Get(id).state, kRunning);
  EXPECT_EQ(Get(queued).state, kPaused);
}

TEST_F(JobControllerTest, WallClockLimitFailsTheJob) {
  store::Job spec;
  spec.owner_id = alice_;
  spec.name = "limited";
  spec.state = kQueued;
  spec.max_wall_seconds = 60;
  spec.created_at = clock_.NowSeconds();
  int64_t id = store_->CreateJob(spec)->id;
  auto ctl = NewController();
  ctl->RunOnce();
  clock_.Advance(59s);
  ctl->RunOnce();
  EXPECT_EQ(Get(id).state, kRunning);
  clock_.Advance(2s);
  ctl->RunOnce();
  store::Job job = Get(id);
  EXPECT_EQ(job.state, kFailed);
  EXPECT_NE(job.reason.find("max_wall_seconds exceeded"), std::string::npos) << job.reason;
  EXPECT_EQ(executor_.signals().size(), 1u);
}

TEST_F(JobControllerTest, CostLimitUsesUsageTimesPrice) {
  options_.price_per_hour = [](const std::string& offering, bool spot) -> std::optional<double> {
    return offering == "g5.xlarge@use1-az1" && spot ? std::optional<double>(3.6) : std::nullopt;
  };
  store::Job spec;
  spec.owner_id = alice_;
  spec.name = "spot";
  spec.state = kQueued;
  spec.max_cost_usd = 0.01;  // $3.6/h = $0.001/s: 10 s
  spec.spec_json = R"({"executor":"spot-sim","offering":"g5.xlarge@use1-az1","interruption_band":0})";
  spec.created_at = clock_.NowSeconds();
  int64_t id = store_->CreateJob(spec)->id;
  auto ctl = NewController();
  ctl->RunOnce();
  auto usage = Usage(alice_);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].resource, "g5.xlarge@use1-az1");
  EXPECT_TRUE(usage[0].spot);
  EXPECT_EQ(Get(id).executor, "spot-sim");
  clock_.Advance(9s);
  ctl->RunOnce();
  EXPECT_EQ(Get(id).state, kRunning);
  clock_.Advance(2s);
  ctl->RunOnce();
  EXPECT_EQ(Get(id).state, kFailed);
  EXPECT_NE(Get(id).reason.find("max_cost_usd exceeded"), std::string::npos) << Get(id).reason;
}

TEST_F(JobControllerTest, SpotSimChaosInterruptsWithNoticeOnSchedule) {
  store::Job spec;
  spec.owner_id = alice_;
  spec.name = "chaos";
  spec.state = kQueued;
  spec.spec_json = R"({"executor":"spot-sim","offering":"g5.xlarge@use1-az1","notice_seconds":30,)"
                   R"("chaos":{"every_seconds":10}})";
  spec.created_at = clock_.NowSeconds();
  int64_t id = store_->CreateJob(spec)->id;
  auto ctl = NewController();
  ctl->RunOnce();
  clock_.Advance(9s);
  ctl->RunOnce();
  EXPECT_EQ(Get(id).state, kRunning);
  clock_.Advance(1s);
  ctl->RunOnce();
  EXPECT_EQ(Get(id).state, kCheckpointing);
  EXPECT_NE(Get(id).reason.find("spot interruption notice (simulated, g5.xlarge@use1-az1, 30 s window)"),
            std::string::npos) << Get(id).reason;
  ASSERT_EQ(executor_.signals().size(), 1u);
  EXPECT_FALSE(executor_.signals()[0].force);
}

TEST_F(JobControllerTest, SpotSimWithoutNoticeKillsTheWorker) {
  store::Job spec;
  spec.owner_id = alice_;
  spec.name = "chaos";
  spec.state = kQueued;
  spec.spec_json = R"({"executor":"spot-sim","notice_seconds":0,"chaos":{"every_seconds":5}})";
  spec.created_at = clock_.NowSeconds();
  int64_t id = store_->CreateJob(spec)->id;
  auto ctl = NewController();
  ctl->RunOnce();
  clock_.Advance(5s);
  ctl->RunOnce();
  ASSERT_EQ(executor_.signals().size(), 1u);
  EXPECT_TRUE(executor_.signals()[0].force);
  ctl->RunOnce();
  EXPECT_EQ(Get(id).state, kRecovering);
  EXPECT_EQ(Get(id).preemptions, 1);
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

  // The adopted worker is watched: its exit is noticed and handled.
  executor_.Exit(pid, 2);
  restarted->RunOnce();
  EXPECT_EQ(Get(id).state, kRecovering);
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
  EXPECT_EQ(job.state, kRecovering);
  auto events = store_->ListEvents(0, store::Page{}, store::EventFilter{"job", id});
  EXPECT_NE(events->items.back().message.find("relaunch"), std::string::npos);
  EXPECT_NE(events->items[events->items.size() - 2].message.find("exited while the server was not watching"),
            std::string::npos);
  clock_.Advance(1s);
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
