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
// queued -> running -> succeeded | failed | cancelled; queued -> cancelled | failed.
// `running` may go back to `queued` when a worker is lost and the job is retried.
inline constexpr const char* kQueued = "queued";
inline constexpr const char* kRunning = "running";
inline constexpr const char* kSucceeded = "succeeded";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kCancelled = "cancelled";

bool IsTerminalState(const std::string& state);
// The one table of allowed transitions.
bool IsAllowedTransition(const std::string& from, const std::string& to);

// ---- Executors ---------------------------------------------------------------------------
struct LaunchSpec {
  std::vector<std::string> argv;                 // argv[0] = executable path
  std::map<std::string, std::string> env;        // added to the server's environment
  std::string log_path;                          // stdout+stderr appended here
  bool new_session = true;                       // setsid(): survives a server crash
  bool die_with_parent = false;                  // PR_SET_PDEATHSIG(SIGTERM)
};

struct WorkerHandle {
  int pid = 0;
  std::string start_time;  // /proc/<pid>/stat field 22: tells a reused pid apart
};

struct ExitInfo {
  bool exited = false;     // false: still running
  int exit_code = -1;      // when it exited normally
  int signal = 0;          // when it was killed by a signal
  bool unknown = false;    // not our child: it is gone, but how it ended is unknown
  std::string Describe() const;
};

// Runs worker processes. Implementations: LocalExecutor (this machine).
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
};

std::unique_ptr<Executor> MakeLocalExecutor();
// The /proc start-time token of `pid`, or "" when it does not exist.
std::string ProcessStartTime(int pid);

// ---- Controller --------------------------------------------------------------------------
class JobController {
 public:
  struct Options {
    std::string binary;                      // path of the sskai executable
    std::string server_url;                  // how workers reach the API
    std::string log_dir;                     // <data>/logs/jobs
    int max_running = 2;                     // concurrent workers on this machine
    int max_attempts = 3;                    // launches per job before it fails
    std::chrono::milliseconds interval{500}; // reconcile period
    std::chrono::seconds cancel_grace{10};   // SIGTERM -> SIGKILL
    std::string resource = "this-machine";   // usage record resource: a catalog offering name
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
  // One reconciliation pass (also used by tests).
  void RunOnce();
  // Wakes the loop (after a submit).
  void Kick();
  // REQUIRES: before Start().
  void set_server_url(std::string url) { options_.server_url = std::move(url); }
  std::string LogPath(int64_t job_id) const;

 private:
  void Launch(store::Job& job);
  void HandleExit(store::Job& job, const ExitInfo& info);
  void Finish(store::Job& job, const std::string& state, const std::string& reason);
  void Event(const store::Job& job, const std::string& action, const std::string& message);

  Options options_;
  store::Store& store_;
  Executor& executor_;
  Clock& clock_;
  TokenMinter mint_;
  TokenRevoker revoke_;
  std::mutex mu_;  // serializes RunOnce/Cancel
  std::map<int64_t, WorkerHandle> active_;  // workers we watch, by job id
  std::map<int64_t, std::chrono::steady_clock::time_point> kill_deadlines_;
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
};
// Runs one job to completion: returns the process exit code (0 success, 2 job failed and
// reported, 3 could not reach the server, 143 stopped by a signal).
int RunWorker(const WorkerOptions& options);

}  // namespace sskai::jobs
