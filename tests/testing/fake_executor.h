// tests/testing/fake_executor.h — a jobs::Executor that starts no processes: it records every
// launch and signal, and the test decides when a "process" exits and how.
// Thread-safety: thread-safe (the managers may call it from their loop threads).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jobs/jobs.h"

namespace sskai::testing {

class FakeExecutor final : public jobs::Executor {
 public:
  struct Launched {
    jobs::LaunchSpec spec;
    jobs::WorkerHandle handle;
  };
  struct Signalled {
    int pid = 0;
    bool force = false;
  };

  std::string name() const override { return "fake"; }

  Result<jobs::WorkerHandle> Launch(const jobs::LaunchSpec& spec) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_next_launch_) {
      Status st = *fail_next_launch_;
      fail_next_launch_.reset();
      return st;
    }
    jobs::WorkerHandle handle{next_pid_, "start-" + std::to_string(next_pid_)};
    ++next_pid_;
    procs_.push_back({handle.pid, jobs::ExitInfo{}});
    launches_.push_back({spec, handle});
    return handle;
  }

  // A pid this executor never launched counts as gone ("unknown"), like a dead re-attached pid.
  jobs::ExitInfo Poll(const jobs::WorkerHandle& handle) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++polls_;
    for (auto& [pid, info] : procs_) {
      if (pid == handle.pid) return info;
    }
    jobs::ExitInfo gone;
    gone.exited = true;
    gone.unknown = true;
    return gone;
  }

  void Signal(const jobs::WorkerHandle& handle, bool force) override {
    std::lock_guard<std::mutex> lock(mu_);
    signals_.push_back({handle.pid, force});
    if (force ? exit_on_sigkill_ : exit_on_sigterm_) ExitLocked(handle.pid, -1, force ? 9 : 15);
  }

  // The test's controls.
  void Exit(int pid, int code) {
    std::lock_guard<std::mutex> lock(mu_);
    ExitLocked(pid, code, 0);
  }
  void Kill(int pid, int signal) {
    std::lock_guard<std::mutex> lock(mu_);
    ExitLocked(pid, -1, signal);
  }
  void FailNextLaunch(Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_next_launch_ = std::move(status);
  }
  // Whether SIGTERM / SIGKILL make a fake process exit at once (default: only SIGKILL).
  void set_exit_on_sigterm(bool v) {
    std::lock_guard<std::mutex> lock(mu_);
    exit_on_sigterm_ = v;
  }
  void set_exit_on_sigkill(bool v) {  // false: a job that takes its time to die (scancel)
    std::lock_guard<std::mutex> lock(mu_);
    exit_on_sigkill_ = v;
  }

  std::vector<Launched> launches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return launches_;
  }
  std::vector<Signalled> signals() const {
    std::lock_guard<std::mutex> lock(mu_);
    return signals_;
  }
  size_t launch_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return launches_.size();
  }
  bool alive(int pid) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [p, info] : procs_) {
      if (p == pid) return !info.exited;
    }
    return false;
  }

 private:
  void ExitLocked(int pid, int code, int signal) {
    for (auto& [p, info] : procs_) {
      if (p != pid || info.exited) continue;
      info.exited = true;
      info.exit_code = code;
      info.signal = signal;
    }
  }

  mutable std::mutex mu_;
  int next_pid_ = 1000;
  std::vector<std::pair<int, jobs::ExitInfo>> procs_;
  std::vector<Launched> launches_;
  std::vector<Signalled> signals_;
  std::optional<Status> fail_next_launch_;
  bool exit_on_sigterm_ = false;
  bool exit_on_sigkill_ = true;
  int polls_ = 0;
};

}  // namespace sskai::testing
