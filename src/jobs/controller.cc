// JobController: level-triggered reconciliation of jobs in the store with live workers.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

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

std::string JobController::NoticePath(int64_t job_id) const {
  return options_.log_dir + "/job-" + std::to_string(job_id) + ".notice";
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

bool JobController::Move(store::Job& job, const std::string& to, const std::string& reason) {
  if (!IsAllowedTransition(job.state, to)) {
    SSKAI_LOG_WARN("jobs: job {}: transition {} -> {} is not allowed", job.id, job.state, to);
    return false;
  }
  auto moved = store_.TransitionJob(job.id, job.state, to, reason, clock_.NowSeconds());
  if (!moved.ok() || !*moved) return false;  // someone else (the worker's report) got there first
  job.state = to;
  job.reason = reason;
  Event(job, to, reason.empty() ? "job " + to : reason);
  return true;
}

void JobController::Finish(store::Job& job, const std::string& state, const std::string& reason) {
  if (IsTerminalState(state) && !IsAllowedTransition(job.state, state)) return;
  Move(job, state, reason);
}

Status JobController::Cancel(int64_t owner_id, int64_t job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  SSKAI_ASSIGN_OR_RETURN(store::Job job, store_.GetJob(owner_id, job_id));
  if (IsTerminalState(job.state)) {
    return Status::FailedPrecondition("job " + std::to_string(job_id) + " is already " + job.state);
  }
  if (!Move(job, kCancelled, "cancelled by user")) {
    return Status::FailedPrecondition("job " + std::to_string(job_id) + " changed state; try again");
  }
  auto it = active_.find(job_id);
  if (it != active_.end()) {
    executor_.Signal(it->second, /*force=*/false);
    kill_deadlines_[job_id] = clock_.Monotonic() + options_.cancel_grace;
  } else {
    executor_.Forget("job-" + std::to_string(job_id));  // e.g. a requeued Slurm job held for the relaunch
  }
  return Status::Ok();
}

void JobController::DeliverNotice(store::Job& job, std::chrono::seconds deadline) {
  std::ofstream(NoticePath(job.id)) << static_cast<int64_t>(clock_.NowSeconds() + deadline.count()) << "\n";
  auto it = active_.find(job.id);
  if (it == active_.end()) return;
  executor_.Signal(it->second, /*force=*/false);
  kill_deadlines_[job.id] = clock_.Monotonic() + deadline;
}

Status JobController::Notice(int64_t owner_id, int64_t job_id, std::chrono::seconds deadline,
                             const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  SSKAI_ASSIGN_OR_RETURN(store::Job job, store_.GetJob(owner_id, job_id));
  if (job.state != kRunning) {
    return Status::FailedPrecondition("job " + std::to_string(job_id) + " is " + job.state +
                                      ", not running");
  }
  if (!Move(job, kCheckpointing, reason + " (deadline " + std::to_string(deadline.count()) + " s)")) {
    return Status::FailedPrecondition("job " + std::to_string(job_id) + " changed state; try again");
  }
  DeliverNotice(job, deadline);
  return Status::Ok();
}

Status JobController::Pause(int64_t job_id, std::string reason) {
  std::lock_guard<std::mutex> lock(mu_);
  SSKAI_ASSIGN_OR_RETURN(store::Job job, store_.GetJob(0, job_id));
  if (IsTerminalState(job.state) || job.state == kPaused) {
    return Status::FailedPrecondition("job " + std::to_string(job_id) + " is already " + job.state);
  }
  if (job.state == kQueued || job.state == kRecovering || job.state == kPreempted) {
    if (!Move(job, kPaused, "paused: " + reason)) {
      return Status::FailedPrecondition("job " + std::to_string(job_id) + " changed state; try again");
    }
    return Status::Ok();
  }
  job.pause_requested = true;
  job.updated_at = clock_.NowSeconds();
  SSKAI_RETURN_IF_ERROR(store_.UpdateJobControl(job));
  if (job.state == kRunning &&
      !Move(job, kCheckpointing, "pause requested: " + reason + "; checkpointing")) {
    return Status::FailedPrecondition("job " + std::to_string(job_id) + " changed state; try again");
  }
  DeliverNotice(job, options_.pause_grace);  // provisioning: the exit handler pauses it
  return Status::Ok();
}

Status JobController::Resume(int64_t job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  SSKAI_ASSIGN_OR_RETURN(store::Job job, store_.GetJob(0, job_id));
  if (job.state != kPaused) {
    return Status::FailedPrecondition("job " + std::to_string(job_id) + " is " + job.state + ", not paused");
  }
  job.pause_requested = false;
  job.retries = 0;
  job.retry_at = 0;
  job.updated_at = clock_.NowSeconds();
  SSKAI_RETURN_IF_ERROR(store_.UpdateJobControl(job));
  if (!Move(job, kQueued, "resumed")) {
    return Status::FailedPrecondition("job " + std::to_string(job_id) + " changed state; try again");
  }
  Kick();
  return Status::Ok();
}

double JobController::JobCostUsd(const store::Job& job) {
  if (!options_.price_per_hour) return 0;
  auto usage = store_.ListSubjectUsage("job", job.id);
  if (!usage.ok()) return 0;
  double now = clock_.NowSeconds(), usd = 0;
  for (const auto& u : *usage) {
    auto price = options_.price_per_hour(u.resource, u.spot);
    if (!price) continue;
    double end = u.ended_at > 0 ? u.ended_at : now;
    usd += std::max(0.0, end - u.started_at) / 3600.0 * *price * static_cast<double>(u.count);
  }
  return usd;
}

void JobController::CheckLimits(store::Job& job) {
  if (job.started_at <= 0 || (job.max_wall_seconds <= 0 && job.max_cost_usd <= 0)) return;
  std::string exceeded = LimitExceeded(clock_.NowSeconds() - job.started_at, job.max_wall_seconds,
                                       job.max_cost_usd > 0 ? JobCostUsd(job) : 0, job.max_cost_usd);
  if (exceeded.empty()) return;
  Finish(job, kFailed, exceeded);
  auto it = active_.find(job.id);
  if (it != active_.end() && job.state == kFailed) {
    executor_.Signal(it->second, /*force=*/false);
    kill_deadlines_[job.id] = clock_.Monotonic() + options_.cancel_grace;
  }
}

void JobController::InjectSpot(int64_t job_id) {
  auto job = store_.GetJob(0, job_id);
  if (!job.ok() || job->state != kRunning) return;
  auto exec = ParseExecutionSpec(job->spec_json);
  if (!exec.ok()) return;
  std::string offering = exec->offering.empty() ? "spot pool" : exec->offering;
  if (exec->notice_seconds > 0) {
    auto deadline = std::chrono::seconds(static_cast<int64_t>(exec->notice_seconds));
    if (Move(*job, kCheckpointing, "spot interruption notice (simulated, " + offering + ", " +
                                       std::to_string(deadline.count()) + " s window)")) {
      DeliverNotice(*job, deadline);
    }
    return;
  }
  auto it = active_.find(job_id);
  if (it == active_.end()) return;
  Event(*job, "interrupted", "spot interruption without notice (simulated, " + offering + "): worker killed");
  executor_.Signal(it->second, /*force=*/true);
}

void JobController::RunOnce() {
  std::lock_guard<std::mutex> lock(mu_);
  auto listed = store_.ListJobsInStates(
      {kQueued, kProvisioning, kRunning, kCheckpointing, kPreempted, kRecovering});
  if (!listed.ok()) {
    SSKAI_LOG_WARN("jobs: cannot list jobs: {}", listed.status().ToString());
    return;
  }
  // Adopt workers we do not watch yet (first pass after a restart); finish interrupted moves.
  for (auto& job : *listed) {
    if (HoldsWorker(job.state) && active_.count(job.id) == 0) {
      if (job.worker_pid <= 0) {  // the server died while starting it
        Move(job, kRecovering, "server restarted while starting a worker");
        continue;
      }
      WorkerHandle handle{static_cast<int>(job.worker_pid), job.worker_start_time};
      active_[job.id] = handle;
      SSKAI_LOG_INFO("jobs: watching worker pid {} of job {}", handle.pid, job.id);
    } else if (job.state == kPreempted) {
      Move(job, kRecovering, "recovering from the last checkpoint (step " +
                                 std::to_string(job.checkpoint_step) + ")");
    }
  }
  // Watch every live worker, whatever its job's state now.
  const auto mono = clock_.Monotonic();
  for (auto it = active_.begin(); it != active_.end();) {
    int64_t job_id = it->first;
    ExitInfo info = executor_.Poll(it->second);
    auto deadline = kill_deadlines_.find(job_id);
    if (!info.exited) {
      if (deadline != kill_deadlines_.end() && mono > deadline->second) {
        executor_.Signal(it->second, /*force=*/true);
      }
      auto spot = spot_deadlines_.find(job_id);
      if (spot != spot_deadlines_.end() && mono >= spot->second) {
        spot_deadlines_.erase(spot);
        InjectSpot(job_id);
      }
      ++it;
      continue;
    }
    if (deadline != kill_deadlines_.end()) kill_deadlines_.erase(deadline);
    spot_deadlines_.erase(job_id);
    it = active_.erase(it);
    IgnoreError(store_.CloseOpenUsage("job", job_id, clock_.NowSeconds()).status());
    auto job = store_.GetJob(0, job_id);
    if (!job.ok()) continue;
    revoke_(*job);
    if (HoldsWorker(job->state)) HandleExit(*job, info);
  }
  // Limits (wall clock, price) of every live job.
  for (auto& job : *listed) {
    if (IsTerminalState(job.state)) continue;
    auto fresh = store_.GetJob(0, job.id);
    if (fresh.ok() && !IsTerminalState(fresh->state)) CheckLimits(*fresh);
  }
  // Start queued jobs and recovered ones whose backoff ended, oldest first, while there is room.
  int running = static_cast<int>(active_.size());
  const double now = clock_.NowSeconds();
  for (auto& job : *listed) {
    if (running >= options_.max_running) break;
    if (job.state != kQueued && job.state != kRecovering) continue;
    auto fresh = store_.GetJob(0, job.id);
    if (!fresh.ok() || (fresh->state != kQueued && fresh->state != kRecovering)) continue;
    if (fresh->state == kRecovering && fresh->retry_at > now) continue;
    Launch(*fresh);
    if (fresh->state == kRunning) ++running;
  }
}

void JobController::HandleExit(store::Job& job, const ExitInfo& info) {
  ExitFacts facts;
  facts.state = job.state;
  facts.exit_code = info.exit_code;
  facts.signal = info.signal;
  facts.unknown = info.unknown;
  facts.exit_text = info.Describe();
  facts.pause_requested = job.pause_requested;
  facts.error_message = job.error_message;
  facts.error_step = job.error_step;
  facts.error_count = job.error_count;
  facts.progressed = job.checkpoint_step > job.launch_step;
  facts.retries = job.retries;
  facts.max_attempts = job.max_attempts > 0 ? job.max_attempts : options_.max_attempts;
  ExitDecision d = ClassifyExit(facts);
  const double now = clock_.NowSeconds();
  if (d.action == ExitDecision::Action::kPause) {
    if (job.state == kRunning) Move(job, kPreempted, "worker stopped before the pause notice");
    if (job.state == kProvisioning) Move(job, kRecovering, "worker stopped while starting");
    job.pause_requested = false;
    job.updated_at = now;
    IgnoreError(store_.UpdateJobControl(job));
    Move(job, kPaused, d.reason);
    return;
  }
  if (d.action == ExitDecision::Action::kFail) {
    Finish(job, kFailed, d.reason);
    SSKAI_LOG_WARN("jobs: job {} failed: {}", job.id, d.reason);
    return;
  }
  if (d.preemption) {
    if (job.state != kProvisioning && !Move(job, kPreempted, d.reason)) return;
    job.preemptions += 1;
  }
  auto backoff = RetryBackoff(d.retries, options_.backoff_base, options_.backoff_cap);
  job.retries = d.retries;
  job.retry_at = now + std::chrono::duration<double>(backoff).count();
  job.worker_pid = 0;
  job.updated_at = now;
  IgnoreError(store_.UpdateJobControl(job));
  char wait[32];
  std::snprintf(wait, sizeof(wait), "%.1f", std::chrono::duration<double>(backoff).count());
  std::string from = job.checkpoint_sha256.empty()
                         ? std::string("the start")
                         : "the checkpoint of step " + std::to_string(job.checkpoint_step) + " (epoch " +
                               std::to_string(job.checkpoint_epoch) + ")";
  std::string reason = (d.preemption ? std::string("recovering") : d.reason) + ": relaunch in " + wait +
                       " s, resuming from " + from;
  if (Move(job, kRecovering, reason)) SSKAI_LOG_WARN("jobs: job {}: {}", job.id, reason);
}

void JobController::Launch(store::Job& job) {
  const bool recovering = job.state == kRecovering;
  auto exec = ParseExecutionSpec(job.spec_json);
  if (!exec.ok()) {
    Finish(job, kFailed, "bad job spec: " + exec.status().message());
    return;
  }
  if (!Move(job, kProvisioning, recovering ? "relaunching a worker" : "starting a worker")) return;
  auto token = mint_(job);
  if (!token.ok()) {
    Finish(job, kFailed, "cannot create a worker token: " + token.status().message());
    return;
  }
  std::error_code ec;
  std::filesystem::remove(NoticePath(job.id), ec);
  LaunchSpec spec;
  spec.argv = {options_.binary, "worker", "--server", options_.server_url, "--job",
               std::to_string(job.id)};
  if (!options_.work_root.empty()) {
    spec.argv.insert(spec.argv.end(), {"--work-dir", options_.work_root + "/job-" + std::to_string(job.id)});
  }
  spec.env["SSKAI_TOKEN"] = *token;
  spec.env["SSKAI_NOTICE_FILE"] = NoticePath(job.id);
  if (exec->chaos_after_steps > 0) {
    spec.env["SSKAI_CHAOS_NOTICE_AT_STEP"] = std::to_string(job.checkpoint_step + exec->chaos_after_steps);
  }
  spec.log_path = LogPath(job.id);
  spec.new_session = true;
  spec.hold_stop_signals = true;  // a notice sent before the worker is ready is not lost
  spec.executor = exec->executor == "spot-sim" ? "local" : exec->executor;
  spec.name = "job-" + std::to_string(job.id);
  spec.tasks = exec->tasks;
  spec.partition = exec->partition;
  auto handle = executor_.Launch(spec);
  if (!handle.ok()) {
    revoke_(job);
    Finish(job, kFailed, "cannot start a worker: " + handle.status().message());
    return;
  }
  double now = clock_.NowSeconds();
  job.worker_pid = handle->pid;
  job.worker_start_time = handle->start_time;
  job.attempts += 1;
  job.launch_step = job.checkpoint_step;
  job.executor = exec->executor == "spot-sim" ? "spot-sim"
                 : IsSlurmHandle(*handle)     ? "slurm"
                 : executor_.name() == "slurm" ? "local"  // routed away from the Slurm default
                                               : executor_.name();
  job.updated_at = now;
  IgnoreError(store_.UpdateJobControl(job));
  active_[job.id] = *handle;
  store::UsageRecord usage;
  usage.owner_id = job.owner_id;
  usage.subject_kind = "job";
  usage.subject_id = job.id;
  usage.resource = exec->executor == "spot-sim" && !exec->offering.empty() ? exec->offering
                   : !handle->resource.empty()                              ? handle->resource
                                                                            : options_.resource;
  usage.count = std::max(1, handle->count);
  usage.spot = exec->executor == "spot-sim" || handle->spot;
  usage.started_at = now;
  IgnoreError(store_.OpenUsage(usage).status());
  double interrupt_in = NextInterruptionSeconds(*exec, job.id, job.attempts);
  if (interrupt_in > 0) {
    spot_deadlines_[job.id] =
        clock_.Monotonic() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(interrupt_in));
  }
  std::string msg = (IsSlurmHandle(*handle) ? "Slurm job " : "worker pid ") +
                    std::to_string(handle->pid) + " started (attempt " + std::to_string(job.attempts) +
                    (spec.tasks > 1 ? ", " + std::to_string(spec.tasks) + " tasks" : std::string()) + ")";
  if (recovering) msg += ", resuming from step " + std::to_string(job.checkpoint_step);
  if (!Move(job, kRunning, msg)) {
    executor_.Signal(*handle, /*force=*/true);  // cancelled meanwhile: the exit is reaped later
  }
}

}  // namespace sskai::jobs
