// JobController: level-triggered reconciliation of jobs in the store with live workers.
#include <algorithm>

#include "common/log.h"
#include "jobs/jobs.h"
#include "store/store.h"

namespace sskai::jobs {

JobController::JobController(Options options, store::Store& store, Executor& executor,
                             Clock& clock, TokenMinter mint, TokenRevoker revoke)
    : options_(std::move(options)),
      store_(store),
      executor_(executor),
      clock_(clock),
      mint_(std::move(mint)),
      revoke_(std::move(revoke)) {}

JobController::~JobController() { Stop(); }

void JobController::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    while (!stop_) {
      RunOnce();
      auto deadline = std::chrono::steady_clock::now() + options_.interval;
      while (!stop_ && !kicked_ && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      kicked_ = false;
    }
  });
}

void JobController::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void JobController::StopWorkers() {
  Stop();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, handle] : active_) executor_.Signal(handle, /*force=*/false);
}

void JobController::Kick() { kicked_ = true; }

std::string JobController::LogPath(int64_t job_id) const {
  return options_.log_dir + "/job-" + std::to_string(job_id) + ".log";
}

void JobController::Event(const store::Job& job, const std::string& action,
                          const std::string& message) {
  store::Event ev;
  ev.owner_id = job.owner_id;
  ev.kind = "job";
  ev.subject_id = job.id;
  ev.action = action;
  ev.message = message;
  ev.created_at = clock_.NowSeconds();
  IgnoreError(store_.AddEvent(ev).status());  // best effort: the job row is the truth
}

Status JobController::Cancel(int64_t owner_id, int64_t job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  SSKAI_ASSIGN_OR_RETURN(store::Job job, store_.GetJob(owner_id, job_id));
  if (IsTerminalState(job.state)) {
    return Status::FailedPrecondition("job " + std::to_string(job_id) + " is already " + job.state);
  }
  Finish(job, kCancelled, "cancelled by user");
  auto it = active_.find(job_id);
  if (it != active_.end()) {
    executor_.Signal(it->second, /*force=*/false);
    kill_deadlines_[job_id] = clock_.Monotonic() + options_.cancel_grace;
  }
  return Status::Ok();
}

void JobController::Finish(store::Job& job, const std::string& state, const std::string& reason) {
  std::string from = job.state;
  auto moved = store_.TransitionJob(job.id, from, state, reason, clock_.NowSeconds());
  if (!moved.ok() || !*moved) return;  // someone else (the worker's report) got there first
  job.state = state;
  job.reason = reason;
  Event(job, state, reason.empty() ? "job " + state : "job " + state + ": " + reason);
}

void JobController::RunOnce() {
  std::lock_guard<std::mutex> lock(mu_);
  auto listed = store_.ListJobsInStates({kQueued, kRunning});
  if (!listed.ok()) {
    SSKAI_LOG_WARN("jobs: cannot list jobs: {}", listed.status().ToString());
    return;
  }
  // Adopt running jobs we do not watch yet (first pass after a restart).
  for (auto& job : *listed) {
    if (job.state == kRunning && active_.count(job.id) == 0) {
      WorkerHandle handle{static_cast<int>(job.worker_pid), job.worker_start_time};
      active_[job.id] = handle;
      SSKAI_LOG_INFO("jobs: watching worker pid {} of job {}", handle.pid, job.id);
    }
  }
  // Watch every live worker, whatever its job's state now.
  for (auto it = active_.begin(); it != active_.end();) {
    int64_t job_id = it->first;
    ExitInfo info = executor_.Poll(it->second);
    auto deadline = kill_deadlines_.find(job_id);
    if (!info.exited) {
      if (deadline != kill_deadlines_.end() && clock_.Monotonic() > deadline->second) {
        executor_.Signal(it->second, /*force=*/true);
      }
      ++it;
      continue;
    }
    if (deadline != kill_deadlines_.end()) kill_deadlines_.erase(deadline);
    it = active_.erase(it);
    IgnoreError(store_.CloseOpenUsage("job", job_id, clock_.NowSeconds()).status());
    auto job = store_.GetJob(0, job_id);
    if (!job.ok()) continue;
    revoke_(*job);
    if (job->state == kRunning) HandleExit(*job, info);
  }
  // Start queued jobs, oldest first, while there is room.
  int running = static_cast<int>(active_.size());
  for (auto& job : *listed) {
    if (job.state != kQueued || running >= options_.max_running) continue;
    auto fresh = store_.GetJob(0, job.id);
    if (!fresh.ok() || fresh->state != kQueued) continue;
    Launch(*fresh);
    if (fresh->state == kRunning) ++running;
  }
}

void JobController::HandleExit(store::Job& job, const ExitInfo& info) {
  if (info.exited && !info.unknown && info.signal == 0 && info.exit_code == 2) {
    Finish(job, kFailed, "the worker failed; see the job's logs");
    return;
  }
  if (job.attempts >= options_.max_attempts) {
    Finish(job, kFailed,
           "worker stopped " + std::to_string(job.attempts) + " times without finishing (last: " +
               info.Describe() + "); see the job's logs");
    return;
  }
  std::string reason = "worker lost (" + info.Describe() + "); will resume from " +
                       (job.checkpoint_epoch > 0
                            ? "the checkpoint of epoch " + std::to_string(job.checkpoint_epoch)
                            : std::string("the start"));
  auto moved = store_.TransitionJob(job.id, kRunning, kQueued, reason, clock_.NowSeconds());
  if (moved.ok() && *moved) {
    job.state = kQueued;
    Event(job, "retry", reason);
    SSKAI_LOG_WARN("jobs: job {}: {}", job.id, reason);
  }
}

void JobController::Launch(store::Job& job) {
  auto token = mint_(job);
  if (!token.ok()) {
    Finish(job, kFailed, "cannot create a worker token: " + token.status().message());
    return;
  }
  LaunchSpec spec;
  spec.argv = {options_.binary, "worker", "--server", options_.server_url, "--job",
               std::to_string(job.id)};
  spec.env["SSKAI_TOKEN"] = *token;
  spec.log_path = LogPath(job.id);
  spec.new_session = true;
  auto handle = executor_.Launch(spec);
  if (!handle.ok()) {
    revoke_(job);
    Finish(job, kFailed, "cannot start a worker: " + handle.status().message());
    return;
  }
  double now = clock_.NowSeconds();
  job.state = kRunning;
  job.worker_pid = handle->pid;
  job.worker_start_time = handle->start_time;
  job.attempts += 1;
  if (job.started_at == 0) job.started_at = now;
  job.executor = executor_.name();
  job.updated_at = now;
  auto moved = store_.TransitionJob(job.id, kQueued, kRunning, "", now);
  if (!moved.ok() || !*moved) {
    executor_.Signal(*handle, /*force=*/true);
    return;
  }
  IgnoreError(store_.UpdateJob(job));
  active_[job.id] = *handle;
  store::UsageRecord usage;
  usage.owner_id = job.owner_id;
  usage.subject_kind = "job";
  usage.subject_id = job.id;
  usage.resource = options_.resource;
  usage.count = 1;
  usage.spot = false;
  usage.started_at = now;
  IgnoreError(store_.OpenUsage(usage).status());
  Event(job, "started",
        "worker pid " + std::to_string(handle->pid) + " started (attempt " +
            std::to_string(job.attempts) + ")");
}

}  // namespace sskai::jobs
