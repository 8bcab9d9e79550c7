// SlurmExecutor: workers as Slurm batch jobs (sbatch / scontrol / scancel), and the
// RoutingExecutor that sends each job to the local or the Slurm executor.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include "common/log.h"
#include "jobs/jobs.h"

namespace sskai::jobs {

namespace {

struct ProgramResult {
  int exit_code = -1;
  std::string output;  // stdout + stderr
};

// Runs argv (no shell), capturing its output; kills it after `timeout`.
Result<ProgramResult> RunProgram(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Unavailable(std::string("pipe: ") + strerror(errno));
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return Status::Unavailable(std::string("fork: ") + strerror(errno));
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execvp(cargs[0], cargs.data());
    _exit(127);
  }
  close(fds[1]);
  ProgramResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  bool timed_out = false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (result.output.size() < (1 << 20)) result.output.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return Status::DeadlineExceeded(argv[0] + " did not answer within " + std::to_string(timeout.count()) + " s");
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  while (!result.output.empty() && (result.output.back() == '\n' || result.output.back() == ' ')) {
    result.output.pop_back();
  }
  return result;
}

// The leading decimal number of `text`, or 0.
int64_t LeadingId(const std::string& text) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() ? value : 0;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

bool ValidEnvKey(const std::string& key) {
  if (key.empty() || (key[0] >= '0' && key[0] <= '9')) return false;
  for (char c : key) {
    if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

Status WriteFileAtomically(const std::string& path, const std::string& text, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Unavailable("cannot write '" + tmp + "': " + strerror(errno));
  fchmod(fd, mode);
  ssize_t written = write(fd, text.data(), text.size());
  close(fd);
  if (written != static_cast<ssize_t>(text.size())) {
    return Status::Unavailable("cannot write '" + tmp + "': short write");
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Unavailable("cannot rename '" + tmp + "': " + strerror(errno));
  }
  return Status::Ok();
}

class SlurmExecutor final : public Executor {
 public:
  SlurmExecutor(SlurmOptions options, Clock& clock) : options_(std::move(options)), clock_(clock) {}

  std::string name() const override { return "slurm"; }

  Result<WorkerHandle> Launch(const LaunchSpec& spec) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (spec.argv.empty()) return Status::InvalidArgument("empty argv");
    std::error_code ec;
    std::filesystem::create_directories(options_.script_dir, ec);
    const std::string job_name = options_.job_name_prefix + "-" + (spec.name.empty() ? "worker" : spec.name);
    const std::string base = options_.script_dir + "/" + job_name;
    std::string env_text;
    for (const auto& [key, value] : spec.env) {
      if (!ValidEnvKey(key)) return Status::InvalidArgument("bad environment variable name '" + key + "'");
      env_text += key + "=" + ShellQuote(value) + "\n";
    }
    SSKAI_RETURN_IF_ERROR(WriteFileAtomically(base + ".env", env_text, 0600));
    const std::string partition = spec.partition.empty() ? options_.default_partition : spec.partition;
    WorkerHandle handle;
    handle.count = std::max(1, spec.tasks);
    if (!partition.empty()) {
      auto it = options_.partitions.find(partition);
      if (it != options_.partitions.end()) {
        handle.resource = it->second.offering;
        handle.spot = it->second.spot;
      } else {
        handle.resource = "slurm:" + partition;  // not a catalog offering: unpriced
      }
    }
    // A requeued run of this job that we held (Poll) is released with the fresh env file.
    auto held = FindHeld(job_name);
    if (held) {
      auto info = Show(held->job_id);
      if (info.ok()) {
        if (options_.skip_requeue_delay) {
          IgnoreError(Scontrol({"update", "jobid=" + std::to_string(held->job_id), "StartTime=now"}).status());
        }
        SSKAI_ASSIGN_OR_RETURN(auto released, Scontrol({"release", std::to_string(held->job_id)}));
        if (released.exit_code == 0) {
          handle.pid = static_cast<int>(held->job_id);
          handle.start_time = "slurm:" + std::to_string(info->restarts);
          SSKAI_LOG_INFO("slurm: released requeued job {} ({})", held->job_id, job_name);
          return handle;
        }
      }
    }
    std::string script = "#!/bin/bash\n";
    script += "#SBATCH --job-name=" + job_name + "\n";
    script += "#SBATCH --output=" + (spec.log_path.empty() ? std::string("/dev/null") : spec.log_path) + "\n";
    script += "#SBATCH --open-mode=append\n#SBATCH --requeue\n";
    script += "#SBATCH --ntasks=" + std::to_string(handle.count) + "\n";
    if (!partition.empty()) script += "#SBATCH --partition=" + partition + "\n";
    script += "# Written by sskai (SlurmExecutor). The env file holds this run's worker token.\n";
    script += "set -a; . " + ShellQuote(base + ".env") + "; set +a\n";
    script += "export SSKAI_RESTART_COUNT=${SLURM_RESTART_COUNT:-0}\n";
    std::string cmd;
    for (const auto& arg : spec.argv) cmd += (cmd.empty() ? "" : " ") + ShellQuote(arg);
    if (handle.count == 1) {
      script += "exec " + cmd + "\n";
    } else {
      // The data-parallel rendezvous: a TCPStore served by rank 0 on the allocation's first
      // node (a port per job and restart), and a FileStore path every task of this run can open
      // instead (SSKAI_DIST_RENDEZVOUS=file; needs a filesystem shared by the nodes).
      script += "export MASTER_ADDR=$(" + ShellQuote(Bin("scontrol")) +
                " show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\n";
      script += "export MASTER_PORT=$((20000 + (SLURM_JOB_ID * 13 + ${SLURM_RESTART_COUNT:-0}) % 20000))\n";
      script += "export SSKAI_DIST_STORE=" + ShellQuote(base) +
                "\"-rdzv-${SLURM_JOB_ID}-${SLURM_RESTART_COUNT:-0}-$(date +%s%N)\"\n";
      script += "trap 'true' TERM  # srun forwards the signal to the tasks; keep their exit code\n";
      script += "srun --kill-on-bad-exit=1 " + cmd + "\nrc=$?\nrm -f \"$SSKAI_DIST_STORE\"\nexit $rc\n";
    }
    SSKAI_RETURN_IF_ERROR(WriteFileAtomically(base + ".sbatch", script, 0700));
    SSKAI_ASSIGN_OR_RETURN(auto submitted, Run({Bin("sbatch"), "--parsable", base + ".sbatch"}));
    int64_t job_id = submitted.exit_code == 0 ? LeadingId(submitted.output) : 0;
    if (job_id <= 0) {
      return Status::Unavailable("sbatch failed (exit " + std::to_string(submitted.exit_code) +
                                 "): " + submitted.output.substr(0, 400));
    }
    handle.pid = static_cast<int>(job_id);
    handle.start_time = "slurm:0";
    SSKAI_LOG_INFO("slurm: submitted {} as job {} ({} task(s))", job_name, job_id, handle.count);
    return handle;
  }

  ExitInfo Poll(const WorkerHandle& handle) override {
    std::lock_guard<std::mutex> lock(mu_);
    ExitInfo info;
    const int64_t known_restarts = LeadingId(handle.start_time.substr(6));
    auto shown = Scontrol({"show", "job", "-o", std::to_string(handle.pid)});
    if (shown.ok() && shown->exit_code == 0) {
      auto parsed = ParseScontrolJob(shown->output);
      if (parsed.ok()) {
        unreachable_since_.erase(handle.pid);
        info = SlurmExitInfo(*parsed, known_restarts);
        if (info.exited && parsed->restarts > known_restarts) Hold(*parsed);
        return info;
      }
    }
    std::string message = shown.ok() ? shown->output : shown.status().message();
    if (message.find("Invalid job id") != std::string::npos) {
      info.exited = true;
      info.unknown = true;
      info.detail = "Slurm job " + std::to_string(handle.pid) + " is gone (unknown to slurmctld)";
      return info;
    }
    // The controller does not answer: wait `controller_patience`, then the job counts as lost.
    auto now = clock_.Monotonic();
    auto [it, inserted] = unreachable_since_.emplace(handle.pid, now);
    if (inserted) SSKAI_LOG_WARN("slurm: cannot query job {}: {}", handle.pid, message);
    if (now - it->second < options_.controller_patience) return info;
    unreachable_since_.erase(it);
    info.exited = true;
    info.unknown = true;
    info.detail = "Slurm controller unreachable for " + std::to_string(options_.controller_patience.count()) +
                  " s: " + message.substr(0, 200);
    return info;
  }

  void Signal(const WorkerHandle& handle, bool force) override {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string id = std::to_string(handle.pid);
    // Signal the batch shell and every step; a pending job (nothing to signal) is cancelled.
    auto sent = Run({Bin("scancel"), "--full", std::string("--signal=") + (force ? "KILL" : "TERM"), id});
    if (force || !sent.ok() || sent->exit_code != 0) IgnoreError(Run({Bin("scancel"), id}).status());
  }

  void Forget(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    // A requeued run we hold for the relaunch would stay held (pending) forever.
    auto held = FindHeld(options_.job_name_prefix + "-" + name);
    if (!held) return;
    auto r = Run({Bin("scancel"), std::to_string(held->job_id)});
    SSKAI_LOG_INFO("slurm: cancelled held job {} ({}): its sskai job ended", held->job_id, name);
    if (!r.ok() || r->exit_code != 0) {
      SSKAI_LOG_WARN("slurm: cannot cancel held job {}: {}", held->job_id, r.ok() ? r->output : r.status().message());
    }
  }

 private:
  struct Held {
    int64_t job_id = 0;
  };

  std::string Bin(const std::string& name) const {
    return options_.bin_dir.empty() ? name : options_.bin_dir + "/" + name;
  }
  Result<ProgramResult> Run(const std::vector<std::string>& argv) {
    return RunProgram(argv, options_.command_timeout);
  }
  Result<ProgramResult> Scontrol(std::vector<std::string> args) {
    args.insert(args.begin(), Bin("scontrol"));
    return Run(args);
  }
  Result<SlurmJobInfo> Show(int64_t job_id) {
    SSKAI_ASSIGN_OR_RETURN(auto shown, Scontrol({"show", "job", "-o", std::to_string(job_id)}));
    if (shown.exit_code != 0) return Status::Unavailable("scontrol: " + shown.output);
    return ParseScontrolJob(shown.output);
  }
  // Keeps a requeued job from starting with its old (revoked) token until Launch releases it.
  void Hold(const SlurmJobInfo& job) {
    const std::string id = std::to_string(job.job_id);
    auto r = job.state == "PENDING" ? Scontrol({"hold", id}) : Scontrol({"requeuehold", id});
    SSKAI_LOG_INFO("slurm: job {} was requeued (restart {}); held until the controller relaunches it",
                   job.job_id, job.restarts);
    if (!r.ok() || r->exit_code != 0) {
      SSKAI_LOG_WARN("slurm: cannot hold job {}: {}", job.job_id, r.ok() ? r->output : r.status().message());
    }
  }
  // A pending, held, requeued job with this name (ours, from an earlier run of the same job).
  std::optional<Held> FindHeld(const std::string& job_name) {
    auto listed = Run({Bin("squeue"), "-h", "-n", job_name, "-t", "PD", "-o", "%i %r"});
    if (!listed.ok() || listed->exit_code != 0) return std::nullopt;
    std::istringstream in(listed->output);
    std::string line;
    while (std::getline(in, line)) {
      int64_t id = LeadingId(line);
      if (id > 0 && line.find("Held") != std::string::npos) return Held{id};
    }
    return std::nullopt;
  }

  SlurmOptions options_;
  Clock& clock_;
  std::mutex mu_;
  std::map<int, std::chrono::steady_clock::time_point> unreachable_since_;
};

class RoutingExecutor final : public Executor {
 public:
  RoutingExecutor(Executor& local, Executor* slurm, std::string default_executor)
      : local_(local), slurm_(slurm), default_(std::move(default_executor)) {}
  std::string name() const override { return default_ == "slurm" ? "slurm" : "local"; }
  Result<WorkerHandle> Launch(const LaunchSpec& spec) override {
    const std::string& which = spec.executor.empty() ? default_ : spec.executor;
    if (which != "slurm") return local_.Launch(spec);
    if (slurm_ == nullptr) {
      return Status::FailedPrecondition("this server has no Slurm executor (start it with --slurm)");
    }
    return slurm_->Launch(spec);
  }
  ExitInfo Poll(const WorkerHandle& handle) override {
    if (!IsSlurmHandle(handle)) return local_.Poll(handle);
    if (slurm_ == nullptr) {
      ExitInfo info;
      info.exited = true;
      info.unknown = true;
      info.detail = "a Slurm job, but this server has no Slurm executor";
      return info;
    }
    return slurm_->Poll(handle);
  }
  void Signal(const WorkerHandle& handle, bool force) override {
    if (!IsSlurmHandle(handle)) {
      local_.Signal(handle, force);
    } else if (slurm_ != nullptr) {
      slurm_->Signal(handle, force);
    }
  }
  void Forget(const std::string& name) override {
    local_.Forget(name);
    if (slurm_ != nullptr) slurm_->Forget(name);
  }

 private:
  Executor& local_;
  Executor* slurm_;
  std::string default_;
};

}  // namespace

std::unique_ptr<Executor> MakeSlurmExecutor(SlurmOptions options, Clock& clock) {
  return std::make_unique<SlurmExecutor>(std::move(options), clock);
}

std::unique_ptr<Executor> MakeRoutingExecutor(Executor& local, Executor* slurm, std::string default_executor) {
  return std::make_unique<RoutingExecutor>(local, slurm, std::move(default_executor));
}

}  // namespace sskai::jobs
