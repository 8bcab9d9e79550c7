#include "store/store_fixture.h"

namespace sskai::store {
namespace {

Job MakeJob(int64_t owner, const std::string& name) {
  Job job;
  job.owner_id = owner;
  job.name = name;
  job.spec_json = R"({"epochs":3})";
  job.output_model = name + "-model";
  job.created_at = 50;
  job.updated_at = 50;
  return job;
}

TEST_F(StoreTest, CreatesGetsAndUpdatesJobs) {
  auto created = store_->CreateJob(MakeJob(alice_, "j1"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_GT(created->id, 0);
  auto job = store_->GetJob(alice_, created->id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, "queued");
  EXPECT_EQ(job->kind, "train");
  EXPECT_EQ(job->executor, "local");
  EXPECT_EQ(job->spec_json, R"({"epochs":3})");
  EXPECT_EQ(job->output_model, "j1-model");
  EXPECT_FALSE(job->cancel_requested);

  Job update = *job;
  update.state = "running";
  update.worker_pid = 4321;
  update.worker_start_time = "123456";
  update.attempts = 2;
  update.checkpoint_sha256 = std::string(64, 'c');
  update.checkpoint_epoch = 5;
  update.progress_json = R"({"epoch":5})";
  update.started_at = 60;
  update.cancel_requested = true;
  update.updated_at = 61;
  ASSERT_TRUE(store_->UpdateJob(update).ok());
  auto reread = store_->GetJob(0, created->id);  // 0 = any owner
  ASSERT_TRUE(reread.ok());
  EXPECT_EQ(reread->state, "running");
  EXPECT_EQ(reread->worker_pid, 4321);
  EXPECT_EQ(reread->worker_start_time, "123456");
  EXPECT_EQ(reread->attempts, 2);
  EXPECT_EQ(reread->checkpoint_sha256, std::string(64, 'c'));
  EXPECT_EQ(reread->checkpoint_epoch, 5);
  EXPECT_EQ(reread->progress_json, R"({"epoch":5})");
  EXPECT_DOUBLE_EQ(reread->started_at, 60);
  EXPECT_TRUE(reread->cancel_requested);
  EXPECT_DOUBLE_EQ(reread->updated_at, 61);

  Job missing = update;
  missing.id = 999;
  EXPECT_EQ(store_->UpdateJob(missing).code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, JobsAreScopedToOwner) {
  auto created = store_->CreateJob(MakeJob(alice_, "j1"));
  ASSERT_TRUE(created.ok());
  auto other = store_->GetJob(bob_, created->id);
  EXPECT_EQ(other.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->ListJobs(bob_, Page{})->items.empty());
  EXPECT_EQ(store_->ListJobs(0, Page{})->items.size(), 1u);
}

TEST_F(StoreTest, ListsJobsByStateAndInStates) {
  std::vector<int64_t> ids;
  for (int idx = 0; idx < 6; ++idx) {
    auto job = store_->CreateJob(MakeJob(idx % 2 == 0 ? alice_ : bob_, "j" + std::to_string(idx)));
    ASSERT_TRUE(job.ok());
    ids.push_back(job->id);
  }
  ASSERT_TRUE(*store_->TransitionJob(ids[0], "queued", "running", "", 70));
  ASSERT_TRUE(*store_->TransitionJob(ids[1], "queued", "running", "", 70));
  ASSERT_TRUE(*store_->TransitionJob(ids[2], "queued", "failed", "oom", 70));
  auto running = store_->ListJobs(alice_, Page{}, "running");
  ASSERT_TRUE(running.ok());
  ASSERT_EQ(running->items.size(), 1u);
  EXPECT_EQ(running->items[0].id, ids[0]);
  EXPECT_EQ(store_->ListJobs(0, Page{}, "running")->items.size(), 2u);
  auto active = store_->ListJobsInStates({"queued", "running"});
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(active->size(), 5u);
  EXPECT_TRUE(store_->ListJobsInStates({})->empty());
  // Newest first.
  auto newest = store_->ListJobs(alice_, Page{.limit = 2, .descending = true});
  ASSERT_EQ(newest->items.size(), 2u);
  EXPECT_EQ(newest->items[0].id, ids[4]);
  EXPECT_EQ(newest->items[1].id, ids[2]);
  auto rest = store_->ListJobs(alice_, Page{.limit = 2, .after_id = newest->next_after_id,
                                            .descending = true});
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].id, ids[0]);
  EXPECT_EQ(rest->next_after_id, 0);
}

TEST_F(StoreTest, TransitionJobIsCompareAndSet) {
  auto job = store_->CreateJob(MakeJob(alice_, "j"));
  ASSERT_TRUE(job.ok());
  auto moved = store_->TransitionJob(job->id, "queued", "running", "placed", 80);
  ASSERT_TRUE(moved.ok());
  EXPECT_TRUE(*moved);
  auto stale = store_->TransitionJob(job->id, "queued", "cancelled", "user", 81);
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(*stale);  // lost the race: state was no longer "queued"
  auto reread = store_->GetJob(alice_, job->id);
  EXPECT_EQ(reread->state, "running");
  EXPECT_EQ(reread->reason, "placed");
  EXPECT_DOUBLE_EQ(reread->started_at, 80);
  EXPECT_DOUBLE_EQ(reread->finished_at, 0);
  ASSERT_TRUE(*store_->TransitionJob(job->id, "running", "succeeded", "done", 90));
  reread = store_->GetJob(alice_, job->id);
  EXPECT_EQ(reread->state, "succeeded");
  EXPECT_DOUBLE_EQ(reread->started_at, 80);
  EXPECT_DOUBLE_EQ(reread->finished_at, 90);
  EXPECT_DOUBLE_EQ(reread->updated_at, 90);
  EXPECT_EQ(store_->TransitionJob(999, "queued", "running", "", 1).status().code(),
            StatusCode::kNotFound);
}

TEST_F(StoreTest, JobMetricsArePaginated) {
  auto job = store_->CreateJob(MakeJob(alice_, "j"));
  ASSERT_TRUE(job.ok());
  for (int epoch = 1; epoch <= 5; ++epoch) {
    auto metric = store_->AddJobMetric(
        JobMetric{0, job->id, epoch, R"({"loss":)" + std::to_string(1.0 / epoch) + "}", 100.0 + epoch});
    ASSERT_TRUE(metric.ok());
  }
  auto first = store_->ListJobMetrics(job->id, Page{.limit = 3});
  ASSERT_EQ(first->items.size(), 3u);
  EXPECT_EQ(first->items[0].step, 1);
  auto second = store_->ListJobMetrics(job->id, Page{.limit = 3, .after_id = first->next_after_id});
  ASSERT_EQ(second->items.size(), 2u);
  EXPECT_EQ(second->items[1].step, 5);
  EXPECT_EQ(second->next_after_id, 0);
  EXPECT_EQ(store_->AddJobMetric(JobMetric{0, 999, 1, "{}", 1}).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, JobControlWritesAreNarrow) {
  auto job = store_->CreateJob(MakeJob(alice_, "j"));
  ASSERT_TRUE(job.ok());
  // Checkpoints: only newer steps replace the current one, which becomes the previous.
  EXPECT_TRUE(*store_->SetJobCheckpoint(job->id, "s10", 0, 10, 5));
  EXPECT_TRUE(*store_->SetJobCheckpoint(job->id, "s20", 1, 20, 6));
  EXPECT_FALSE(*store_->SetJobCheckpoint(job->id, "s15", 1, 15, 7));
  auto j = store_->GetJob(0, job->id);
  EXPECT_EQ(j->checkpoint_sha256, "s20");
  EXPECT_EQ(j->checkpoint_step, 20);
  EXPECT_EQ(j->checkpoint_epoch, 1);
  EXPECT_EQ(j->prev_checkpoint_sha256, "s10");
  EXPECT_EQ(store_->ReferencedBlobs()->count("s10"), 1u);
  ASSERT_TRUE(store_->DropJobCheckpoint(job->id, 8).ok());
  EXPECT_EQ(store_->GetJob(0, job->id)->checkpoint_sha256, "s10");
  // Errors: counted while the same error comes at the same step.
  EXPECT_EQ(*store_->RecordJobError(job->id, "boom", 3, 9), 1);
  EXPECT_EQ(*store_->RecordJobError(job->id, "boom", 3, 9), 2);
  EXPECT_EQ(*store_->RecordJobError(job->id, "boom", 4, 9), 1);
  EXPECT_EQ(*store_->RecordJobError(job->id, "bang", 4, 9), 1);
  // Controller columns do not touch the checkpoint or the state.
  j = store_->GetJob(0, job->id);
  j->retries = 2;
  j->preemptions = 3;
  j->pause_requested = true;
  j->state = "bogus";
  j->checkpoint_sha256 = "stale";
  ASSERT_TRUE(store_->UpdateJobControl(*j).ok());
  auto after = store_->GetJob(0, job->id);
  EXPECT_EQ(after->retries, 2);
  EXPECT_EQ(after->preemptions, 3);
  EXPECT_TRUE(after->pause_requested);
  EXPECT_EQ(after->state, "queued");
  EXPECT_EQ(after->checkpoint_sha256, "s10");
  EXPECT_EQ(after->error_message, "bang");
  ASSERT_TRUE(store_->SetJobProgress(job->id, R"({"epoch":2})", 10).ok());
  EXPECT_EQ(store_->GetJob(0, job->id)->progress_json, R"({"epoch":2})");
  EXPECT_EQ(store_->RecordJobError(999, "x", 1, 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->SetJobCheckpoint(999, "x", 1, 1, 1).status().code(), StatusCode::kNotFound);
  // Usage of one subject.
  UsageRecord u;
  u.owner_id = alice_;
  u.subject_kind = "job";
  u.subject_id = job->id;
  u.resource = "this-machine";
  u.started_at = 1;
  ASSERT_TRUE(store_->OpenUsage(u).ok());
  u.subject_id = job->id + 1;
  ASSERT_TRUE(store_->OpenUsage(u).ok());
  EXPECT_EQ(store_->ListSubjectUsage("job", job->id)->size(), 1u);
}

}  // namespace
}  // namespace sskai::store
