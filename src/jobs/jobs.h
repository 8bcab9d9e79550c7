// src/jobs/jobs.h — training jobs: the job state machine, executors that run workers, the
// controller that reconciles the store with running workers, and the worker itself.
//
// A job runs in its own `sskai worker` process. The worker talks to the server only over HTTP
// (fetches its spec and dataset, streams metrics, uploads checkpoints and the final model), so
// the same worker runs under any executor (local processes today; spot pool and Slurm later).
// The controller is level-triggered: RunOnce() compares the store with the executor and acts, so
// a restarted server re-attaches to live workers and re-launches dead ones, which resume from
// their last checkpoint.
// Thread-safety: JobController is thread-safe; RunOnce() runs on its loop thread (or a test).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sskai::store {
class Store;
struct Job;
}  // namespace sskai::store

namespace sskai::jobs {

// ---- States ------------------------------------------------------------------------------
// queued        waiting for a worker slot (or resumed after a pause)
// provisioning  a worker is being started (token minted, process launching)
// running       a worker holds compute and trains
// checkpointing a notice was delivered: the worker checkpoints at the next step boundary, exits
// preempted     the worker lost its compute (notice honoured, killed, node lost)
// recovering    waiting out the retry backoff; relaunches from the last good checkpoint
// paused        checkpointed and holds no compute (budget enforcement); Resume() -> queued
// succeeded | failed | cancelled: terminal.
// The allowed transitions are one table: IsAllowedTransition (state.cc).
inline constexpr const char* kQueued = "queued";
inline constexpr const char* kProvisioning = "provisioning";
inline constexpr const char* kRunning = "running";
inline constexpr const char* kCheckpointing = "checkpointing";
inline constexpr const char* kPreempted = "preempted";
inline constexpr const char* kRecovering = "recovering";
inline constexpr const char* kPaused = "paused";
inline constexpr const char* kSucceeded = "succeeded";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kCancelled = "cancelled";

bool IsTerminalState(const std::string& state);
bool IsKnownState(const std::string& state);
// States in which a worker may be alive (the controller watches them).
bool HoldsWorker(const std::string& state);
// The one table of allowed transitions.
bool IsAllowedTransition(const std::string& from, const std::string& to);

// Worker exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 2;      // reported an error (POST /fail) first
inline constexpr int kExitNoServer = 3;    // could not reach the server
inline constexpr int kExitPreempted = 75;  // honoured a notice: checkpointed at a step boundary

// ---- Executors ---------------------------------------------------------------------------
struct LaunchSpec {
  std::vector<std::string> argv;                 // argv[0] = executable path
  std::map<std::string, std::string> env;        // added to the server's environment
  std::string log_path;                          // stdout+stderr appended here
  bool new_session = true;                       // setsid(): survives a server crash
  bool die_with_parent = false;                  // PR_SET_PDEATHSIG(SIGTERM)
  // Local: SIGTERM/SIGINT stay blocked across exec, so a stop signal that arrives before the
  // program has installed its handlers waits for it instead of ending it. Only for programs that
  // unblock them once ready (`sskai worker`: a SIGTERM is its preemption notice). Without it, a
  // stop signal that arrives between fork and exec ends the child with the default action (never
  // the server's own handler).
  bool hold_stop_signals = false;
  // Which executor runs it (RoutingExecutor): "slurm" | "local" | "" (the server's default).
  std::string executor;
  std::string name;                              // stable per job ("job-7"): the Slurm job name
  // Data-parallel ranks: Slurm srun tasks; local: that many worker processes run as one group
  // (see MakeLocalExecutor).
  int tasks = 1;
  std::string partition;                         // Slurm: "" = the executor's default
};

struct WorkerHandle {
  int pid = 0;             // local: the pid; Slurm: the Slurm job id
  std::string start_time;  // local: /proc/<pid>/stat field 22; Slurm: "slurm:<restarts>"
  // Set by Launch (not persisted): the usage record's catalog offering ("" = the controller's
  // default resource), market and task count.
  std::string resource;
  bool spot = false;
  int count = 1;
};

struct ExitInfo {
  bool exited = false;     // false: still running
  int exit_code = -1;      // when it exited normally
  int signal = 0;          // when it was killed by a signal
  bool unknown = false;    // not our child: it is gone, but how it ended is unknown
  std::string detail;      // what the executor knows beyond that ("requeued by Slurm", ...)
  std::string Describe() const;
};

// Runs worker processes. Implementations: LocalExecutor (this machine), SlurmExecutor (sbatch),
// RoutingExecutor (by LaunchSpec::executor and the handle's kind).
class Executor {
 public:
  virtual ~Executor() = default;
  virtual std::string name() const = 0;
  // Errors: kUnavailable (fork/exec failed), kNotFound (executable missing).
  virtual Result<WorkerHandle> Launch(const LaunchSpec& spec) = 0;
  // Non-blocking: reaps our own children, checks /proc for re-attached ones.
  virtual ExitInfo Poll(const WorkerHandle& handle) = 0;
  // SIGTERM (graceful) or SIGKILL to the worker's process group.
  virtual void Signal(const WorkerHandle& handle, bool force) = 0;
  // The job launched as `name` (LaunchSpec::name) ended for good (cancelled) while no worker of
  // it may be watched: drop whatever the executor still keeps for it (Slurm: a requeued job held
  // for the relaunch is cancelled). Best effort; the default does nothing.
  virtual void Forget(const std::string& name) {}
};

// Runs workers as processes on this machine (fork/exec; setsid). tasks > 1: a supervisor process
// (the handle's pid, leading the process group) starts `tasks` worker processes with SSKAI_RANK,
// SSKAI_WORLD_SIZE, SSKAI_DIST_HOST=127.0.0.1 and SSKAI_DIST_RENDEZVOUS=file with SSKAI_DIST_STORE
// in a fresh directory of this launch (a c10d FileStore: no port that another process could take
// before rank 0 binds it; the supervisor removes the directory when the ranks are gone; a SIGKILL
// to the group leaves it, empty) and treats them as one run: SIGTERM to the group reaches every rank (all checkpoint
// at the same step); the first rank that fails or dies gets the others stopped (SIGTERM, SIGKILL
// after 10 s); the supervisor exits with that rank's exit code or signal, else with rank 0's.
std::unique_ptr<Executor> MakeLocalExecutor();

// ---- Slurm -------------------------------------------------------------------------------
// A Slurm partition priced as a catalog offering ("g5.xlarge@use1-az1"), spot or on-demand.
struct SlurmPartition {
  std::string offering;
  bool spot = false;
};
// Parses a `--slurm-partition` value "<partition>=<offering>[:spot|:ondemand]".
// Errors: kInvalidArgument naming what is wrong.
Result<std::pair<std::string, SlurmPartition>> ParseSlurmPartitionFlag(const std::string& value);
// One job as `scontrol show job -o <id>` prints it.
struct SlurmJobInfo {
  int64_t job_id = 0;
  std::string name;
  std::string state;      // JobState: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, ...
  std::string reason;     // Reason: BeginTime, JobHeldUser, None, ...
  int64_t restarts = 0;   // Restarts: how often it was requeued
  int exit_code = 0;      // ExitCode=<code>:<signal>
  int exit_signal = 0;
};
// Pure. Errors: kInvalidArgument when there is no JobId/JobState.
Result<SlurmJobInfo> ParseScontrolJob(const std::string& text);
// Pure: whether a Slurm job's worker has ended, seen from a handle that knew `known_restarts`.
// A job requeued since (restarts > known_restarts) counts as ended by preemption
// (exit 75, detail "requeued by Slurm"): the controller relaunches it, which the Slurm executor
// does by releasing the same requeued Slurm job.
ExitInfo SlurmExitInfo(const SlurmJobInfo& info, int64_t known_restarts);

struct SlurmOptions {
  std::string script_dir;              // batch scripts and their env files (0600: worker tokens)
  std::string bin_dir;                 // where sbatch/scontrol/scancel/squeue are ("" = PATH)
  std::string default_partition;       // "" = the cluster's default partition
  std::map<std::string, SlurmPartition> partitions;  // partition -> offering (usage records)
  std::string job_name_prefix = "sskai";  // Slurm job names: "<prefix>-<LaunchSpec::name>"
  // How long scontrol may fail (controller down) before a watched job counts as lost.
  std::chrono::seconds controller_patience{60};
  std::chrono::seconds command_timeout{20};  // per sbatch/scontrol call
  // Relaunching a requeued job starts it at once (StartTime=now); false keeps Slurm's requeue
  // delay (AuthInfo cred_expire, 120 s by default) — for measurements.
  bool skip_requeue_delay = true;
};
// Runs workers as Slurm batch jobs: sbatch (--requeue; `srun` for tasks > 1), tracks them with
// scontrol, cancels with scancel. A preemption (Slurm requeue) is reported as an exit; the
// relaunch releases the same requeued job with a fresh token at once (StartTime=now), so Slurm's
// requeue delay does not apply. Launch errors: kUnavailable (sbatch failed: controller down, bad
// partition), with Slurm's message. Thread-safety: thread-safe (one call at a time inside).
std::unique_ptr<Executor> MakeSlurmExecutor(SlurmOptions options, Clock& clock);
// Borrows both executors (they must outlive it). Launch goes to `slurm` when the spec's executor
// is "slurm" (or it is "" and default_executor is "slurm"), else to `local`; Poll/Signal go by
// the handle ("slurm:" start_time). Launch with "slurm" and no slurm executor: kFailedPrecondition.
std::unique_ptr<Executor> MakeRoutingExecutor(Executor& local, Executor* slurm,
                                              std::string default_executor);
bool IsSlurmHandle(const WorkerHandle& handle);
// The /proc start-time token of `pid`, or "" when it does not exist.
std::string ProcessStartTime(int pid);

// ---- Failure classification (pure) -------------------------------------------------------
// What the controller knows when a worker of a job is gone.
struct ExitFacts {
  std::string state;             // job state at the exit: running | checkpointing
  int exit_code = -1;            // when it exited normally
  int signal = 0;                // when killed by a signal
  bool unknown = false;          // ended while no server watched it
  std::string exit_text;         // ExitInfo::Describe()
  bool pause_requested = false;
  std::string error_message;     // the last error a worker reported (POST /fail), and its step
  int64_t error_step = -1;
  int64_t error_count = 0;       // how many times that same error came at that same step
  bool progressed = false;       // the checkpoint advanced during this attempt
  int64_t retries = 0;           // consecutive retries without progress so far
  int64_t max_attempts = 3;      // cap on those
};
struct ExitDecision {
  enum class Action { kRetry, kFail, kPause };
  Action action = Action::kRetry;
  bool preemption = false;       // infrastructure loss (record a preemption)
  int64_t retries = 0;           // new value of the consecutive-retries counter
  std::string reason;
};
// Infrastructure loss (notice honoured, killed by a signal, lost unseen, lost the server) is
// retried; an error reported twice at the same step is deterministic and fails the job; any
// retry without checkpoint progress counts against max_attempts.
ExitDecision ClassifyExit(const ExitFacts& facts);
// Exponential backoff before relaunch number `retries` (0 = right after progress): base * 2^n,
// capped.
std::chrono::milliseconds RetryBackoff(int64_t retries, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap);
// "" when within limits, else the reason. 0 limits are unlimited.
std::string LimitExceeded(double wall_seconds, double max_wall_seconds, double cost_usd,
                          double max_cost_usd);

// ---- Execution spec (from the job's spec_json) ------------------------------------------
struct ExecutionSpec {
  std::string executor;               // "" (server default) | "local" | "spot-sim" | "slurm"
  int tasks = 1;                      // slurm: data-parallel tasks (srun), 1..64
  std::string partition;              // slurm: partition ("" = the server's default)
  std::string offering;               // spot-sim: "<instance_type>@<zone>"
  int interruption_band = 2;          // spot-sim: Spot Advisor band 0..4 (from the catalog)
  double acceleration = 1;            // spot-sim: time compression of the interruption rate
  double notice_seconds = 120;        // spot-sim: notice window (AWS 120, GCP/Azure 30; 0 = none)
  double chaos_every_seconds = 0;     // chaos: preempt every K seconds after each launch
  int64_t chaos_after_steps = 0;      // chaos: notice after S more steps on each launch
  uint64_t seed = 1;                  // chaos/spot-sim randomness
  double checkpoint_interval_seconds = 30;  // step-level cadence (the planner's interval)
  int64_t checkpoint_interval_steps = 0;
  std::vector<std::string> command;   // a custom training command (empty = built-in models)
};
// Errors: kInvalidArgument naming the field.
Result<ExecutionSpec> ParseExecutionSpec(const std::string& spec_json);

// ---- Spot simulation (pure) --------------------------------------------------------------
// Monthly interruption probability of a Spot Advisor band (0..4: <5 %, 5-10, 10-15, 15-20,
// >20 %; the band's midpoint, 25 % for the last).
double BandMonthlyProbability(int band);
// Poisson rate (per second) of that band, multiplied by `acceleration`.
double BandRatePerSecond(int band, double acceleration);
// Seconds from launch `attempt` of `job_id` to its simulated interruption: chaos_every_seconds
// when set, else an exponential draw from the band's rate; deterministic in (seed, job, attempt).
// Returns <= 0 when no interruption is due.
double NextInterruptionSeconds(const ExecutionSpec& spec, int64_t job_id, int64_t attempt);

// ---- Controller --------------------------------------------------------------------------
class JobController {
 public:
  struct Options {
    std::string binary;                      // path of the sskai executable
    std::string server_url;                  // how workers reach the API
    std::string log_dir;                     // <data>/logs/jobs
    std::string work_root;                   // workers' scratch: <work_root>/job-N ("" = worker default)
    int max_running = 2;                     // concurrent workers on this machine
    int max_attempts = 3;                    // default cap on retries without progress
    std::chrono::milliseconds interval{500}; // reconcile period
    std::chrono::seconds cancel_grace{10};   // SIGTERM -> SIGKILL
    std::chrono::seconds pause_grace{120};   // notice window of Pause()
    std::chrono::milliseconds backoff_base{500};  // retry backoff: base * 2^retries
    std::chrono::milliseconds backoff_cap{60000};
    std::string resource = "this-machine";   // usage record resource: a catalog offering name
    // $/hour of an offering (spot or on-demand); nullopt = unpriced (max_cost_usd not enforced).
    std::function<std::optional<double>(const std::string& offering, bool spot)> price_per_hour;
  };
  // Creates a worker token for a job; returns the plaintext (only the hash is stored).
  using TokenMinter = std::function<Result<std::string>(const store::Job&)>;
  using TokenRevoker = std::function<void(const store::Job&)>;

  JobController(Options options, store::Store& store, Executor& executor, Clock& clock,
                TokenMinter mint, TokenRevoker revoke);
  ~JobController();

  void Start();  // starts the loop thread
  void Stop();   // stops the loop; workers keep running (a restart re-attaches)
  // Stops the loop and asks every running worker to stop (graceful server shutdown).
  void StopWorkers();

  // Marks the job cancelled and signals its worker. kFailedPrecondition when already finished.
  Status Cancel(int64_t owner_id, int64_t job_id);
  // A preemption notice (node daemon, spot simulator): running -> checkpointing; the worker gets
  // SIGTERM and its notice file, checkpoints at the next step boundary and exits; it is killed
  // after `deadline`. owner_id 0 = any owner. kFailedPrecondition unless running.
  Status Notice(int64_t owner_id, int64_t job_id, std::chrono::seconds deadline,
                const std::string& reason);
  // Budget enforcement: a running job is noticed and ends "paused" once checkpointed; a job
  // without a worker (queued, recovering) is paused at once. kFailedPrecondition when finished.
  Status Pause(int64_t job_id, std::string reason);
  // paused -> queued. kFailedPrecondition unless paused.
  Status Resume(int64_t job_id);
  // One reconciliation pass (also used by tests).
  void RunOnce();
  // Wakes the loop (after a submit).
  void Kick();
  // REQUIRES: before Start().
  void set_server_url(std::string url) { options_.server_url = std::move(url); }
  std::string LogPath(int64_t job_id) const;
  std::string NoticePath(int64_t job_id) const;

 private:
  bool Move(store::Job& job, const std::string& to, const std::string& reason);
  void Launch(store::Job& job);
  void HandleExit(store::Job& job, const ExitInfo& info);
  void CheckLimits(store::Job& job);
  void DeliverNotice(store::Job& job, std::chrono::seconds deadline);
  void InjectSpot(int64_t job_id);
  void Finish(store::Job& job, const std::string& state, const std::string& reason);
  void Event(const store::Job& job, const std::string& action, const std::string& message);
  double JobCostUsd(const store::Job& job);

  Options options_;
  store::Store& store_;
  Executor& executor_;
  Clock& clock_;
  TokenMinter mint_;
  TokenRevoker revoke_;
  std::mutex mu_;  // serializes RunOnce/Cancel/Notice/Pause/Resume
  std::map<int64_t, WorkerHandle> active_;  // workers we watch, by job id
  std::map<int64_t, std::chrono::steady_clock::time_point> kill_deadlines_;
  // spot-sim: when each watched worker is interrupted, and whether with notice.
  std::map<int64_t, std::chrono::steady_clock::time_point> spot_deadlines_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> kicked_{false};
  std::thread thread_;
};

// ---- Worker ------------------------------------------------------------------------------
struct WorkerOptions {
  std::string server_url;
  std::string token;
  int64_t job_id = 0;
  std::string work_dir;                        // scratch space (dataset copy, checkpoints)
  std::chrono::seconds server_patience{120};   // keep retrying while the server is down
  std::string notice_file;                     // env SSKAI_NOTICE_FILE: exists = notice given
  int64_t chaos_notice_at_step = 0;            // env SSKAI_CHAOS_NOTICE_AT_STEP (0 = off)
  // Data-parallel rank of this worker (env SLURM_PROCID / SLURM_NTASKS, or SSKAI_RANK /
  // SSKAI_WORLD_SIZE), the c10d FileStore path (SSKAI_DIST_STORE) and this rank's Gloo address
  // (SSKAI_DIST_HOST). Rank 0 reports metrics, checkpoints, the model and errors; the others
  // train their shards in <work_dir>/rank-<N> and only exit with the outcome.
  // Rendezvous: a TCPStore served by rank 0 at MASTER_ADDR:MASTER_PORT when MASTER_PORT is set
  // (the local executor; Slurm: the first node of the allocation), else the FileStore.
  // SSKAI_DIST_RENDEZVOUS=file forces the FileStore (it needs a filesystem shared by all nodes).
  int rank = 0;
  int world_size = 1;
  std::string dist_store;
  std::string dist_host = "127.0.0.1";
  std::string master_addr;
  int master_port = 0;
};
// Runs one job to completion: returns the process exit code (kExitOk, kExitFailed after reporting
// the error and its step, kExitNoServer, kExitPreempted after a notice: SIGTERM, the file named
// by SSKAI_NOTICE_FILE, or the chaos step SSKAI_CHAOS_NOTICE_AT_STEP).
int RunWorker(const WorkerOptions& options);

}  // namespace sskai::jobs
