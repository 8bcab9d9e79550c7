// LocalExecutor: worker processes on this machine via fork/exec; a supervised process group for
// data-parallel jobs (tasks > 1).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <linux/close_range.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "jobs/jobs.h"

extern char** environ;

namespace sskai::jobs {

std::string ProcessStartTime(int pid) {
  if (pid <= 0) return "";
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return "";
  // Field 2 (comm) may contain spaces; fields after the closing ')' are space separated.
  auto close = line.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  // After ')': field 3 is state; start time is field 22 -> the 20th token here.
  std::string state;
  for (int idx = 3; idx <= 22 && rest >> field; ++idx) {
    if (idx == 3) state = field;
    if (idx == 22) return state == "Z" ? "" : field;
  }
  return "";
}

namespace {

// The environment of one worker process: the server's, overridden by `env`, then by `extra`.
std::vector<std::string> WorkerEnv(const std::map<std::string, std::string>& env,
                                   const std::map<std::string, std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto key = kv.substr(0, kv.find('='));
    if (env.count(key) == 0 && extra.count(key) == 0) out.push_back(kv);
  }
  for (const auto& [k, v] : env) {
    if (extra.count(k) == 0) out.push_back(k + "=" + v);
  }
  for (const auto& [k, v] : extra) out.push_back(k + "=" + v);
  return out;
}

// A new private directory for one data-parallel group's rendezvous store ($TMPDIR or /tmp).
Result<std::string> MakeRendezvousDir() {
  std::error_code ec;
  std::string base = std::filesystem::temp_directory_path(ec).string();
  if (ec || base.empty()) base = "/tmp";
  std::string pattern = base + "/sskai-rendezvous-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return Status::Unavailable("cannot create the data-parallel rendezvous directory in " + base + ": " +
                               strerror(errno));
  }
  return pattern;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// In a forked child (async-signal-safe calls only): stdin from /dev/null, stdout/stderr to the
// log, nothing else inherited (not the server's listening socket, not its database), then exec.
[[noreturn]] void ExecWorker(char* const* argv, char* const* envp, int log_fd) {
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, 0);
  if (log_fd >= 0) {
    dup2(log_fd, 1);
    dup2(log_fd, 2);
  }
  close_range(3, ~0U, 0);
  execve(argv[0], argv, envp);
  _exit(127);
}

void SetDisposition(int sig, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigaction(sig, &sa, nullptr);
}

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// The supervisor of a local data-parallel group (a forked child; async-signal-safe calls only;
// `pids` has room for `ranks`). It ignores SIGTERM itself — the group's SIGTERM is for the
// ranks — starts one worker per rank and waits. The first rank that ends badly (non-zero exit or
// a signal) gets the others stopped: SIGTERM, SIGKILL 10 s later. Exits as that rank did, else
// as rank 0 did. Removes the group's rendezvous store (`store_file` in `store_dir`) when the ranks
// are gone.
[[noreturn]] void SuperviseGroup(char* const* argv, char* const* const* envps, pid_t* pids, int ranks, int log_fd,
                                 const char* store_file, const char* store_dir) {
  SetDisposition(SIGTERM, SIG_IGN);
  SetDisposition(SIGINT, SIG_IGN);
  const pid_t self = getpid();
  int alive = 0, first_bad = -1, rank0 = 0;
  int64_t stop_at = -1;
  bool killed = false;
  auto stop_others = [&](int sig) {
    for (int r = 0; r < ranks; ++r) {
      if (pids[r] > 0) kill(pids[r], sig);
    }
  };
  for (int r = 0; r < ranks; ++r) {
    pid_t pid = fork();
    if (pid == 0) {
      SetDisposition(SIGTERM, SIG_DFL);  // an ignored signal stays ignored across exec
      SetDisposition(SIGINT, SIG_DFL);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != self) _exit(127);
      ExecWorker(argv, envps[r], log_fd);
    }
    pids[r] = pid > 0 ? pid : 0;
    if (pid < 0) {
      first_bad = 127 << 8;  // as if exited 127
      stop_others(SIGKILL);
      break;
    }
    ++alive;
  }
  while (alive > 0) {
    int status = 0;
    pid_t done = waitpid(-1, &status, WNOHANG);
    if (done > 0) {
      for (int r = 0; r < ranks; ++r) {
        if (pids[r] != done) continue;
        pids[r] = 0;
        --alive;
        if (r == 0) rank0 = status;
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && first_bad < 0) {
          first_bad = status;
          stop_others(SIGTERM);  // the others checkpoint-and-exit (a notice), or fail
          stop_at = NowMs() + 10000;
        }
      }
      continue;
    }
    if (done < 0 && errno == ECHILD) break;
    if (stop_at >= 0 && !killed && NowMs() >= stop_at) {
      stop_others(SIGKILL);
      killed = true;
    }
    timespec nap{0, 20 * 1000 * 1000};
    nanosleep(&nap, nullptr);
  }
  unlink(store_file);  // c10d's FileStore usually removed it already (its last rank does)
  rmdir(store_dir);
  const int status = first_bad >= 0 ? first_bad : rank0;
  if (WIFSIGNALED(status)) {
    SetDisposition(WTERMSIG(status), SIG_DFL);
    kill(self, WTERMSIG(status));
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

class LocalExecutor final : public Executor {
 public:
  std::string name() const override { return "local"; }

  Result<WorkerHandle> Launch(const LaunchSpec& spec) override {
    if (spec.argv.empty()) return Status::InvalidArgument("empty argv");
    if (access(spec.argv[0].c_str(), X_OK) != 0) {
      return Status::NotFound("executable '" + spec.argv[0] + "' not found or not executable");
    }
    const int ranks = std::max(1, spec.tasks);
    if (ranks > 64) return Status::InvalidArgument("tasks: at most 64 local processes");
    // Everything the children need is prepared before fork (no allocation after it).
    std::vector<std::vector<std::string>> env_strings;
    std::string store_dir, store_file;
    if (ranks == 1) {
      env_strings.push_back(WorkerEnv(spec.env, {}));
    } else {
      // The ranks rendezvous through a c10d FileStore in a fresh directory of this launch, not a
      // TCPStore on a port picked here: another process could take a free port between our pick
      // and rank 0's bind, and nothing can take this directory.
      SSKAI_ASSIGN_OR_RETURN(store_dir, MakeRendezvousDir());
      store_file = store_dir + "/store";
      for (int rank = 0; rank < ranks; ++rank) {
        env_strings.push_back(WorkerEnv(spec.env, {{"SSKAI_RANK", std::to_string(rank)},
                                                   {"SSKAI_WORLD_SIZE", std::to_string(ranks)},
                                                   {"SSKAI_DIST_RENDEZVOUS", "file"},
                                                   {"SSKAI_DIST_STORE", store_file},
                                                   {"SSKAI_DIST_HOST", "127.0.0.1"}}));
      }
    }
    std::vector<std::vector<char*>> envps;
    for (auto& strings : env_strings) envps.push_back(Pointers(strings));
    std::vector<char* const*> envp_list;
    for (auto& envp : envps) envp_list.push_back(envp.data());
    std::vector<pid_t> rank_pids(ranks, 0);
    std::vector<std::string> args = spec.argv;
    std::vector<char*> argv = Pointers(args);
    int log_fd = -1;
    if (!spec.log_path.empty()) {
      log_fd = open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log_fd < 0) {
        return Status::Unavailable("cannot open log '" + spec.log_path + "': " + strerror(errno));
      }
    }
    pid_t parent = getpid();
    // SIGTERM/SIGINT are blocked from before fork until the child has dropped the server's
    // handlers: a stop signal in that window must not run the server's handler in the child
    // (where it was lost). The child then unblocks them (pending: default action, it ends), or
    // with hold_stop_signals keeps them blocked across exec for the program to unblock.
    sigset_t stop_signals, saved_mask;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &saved_mask);
    pid_t pid = fork();
    if (pid != 0) pthread_sigmask(SIG_SETMASK, &saved_mask, nullptr);
    if (pid < 0) {
      if (log_fd >= 0) close(log_fd);
      if (!store_dir.empty()) rmdir(store_dir.c_str());
      return Status::Unavailable(std::string("fork failed: ") + strerror(errno));
    }
    if (pid == 0) {
      SetDisposition(SIGTERM, SIG_DFL);
      SetDisposition(SIGINT, SIG_DFL);
      if (!spec.hold_stop_signals) sigprocmask(SIG_SETMASK, &saved_mask, nullptr);
      if (spec.new_session) setsid();
      if (spec.die_with_parent) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(127);
      }
      if (ranks > 1) {
        SuperviseGroup(argv.data(), envp_list.data(), rank_pids.data(), ranks, log_fd, store_file.c_str(),
                       store_dir.c_str());
      }
      ExecWorker(argv.data(), envp_list[0], log_fd);
    }
    if (log_fd >= 0) close(log_fd);
    WorkerHandle handle;
    handle.pid = pid;
    handle.start_time = ProcessStartTime(pid);
    handle.count = ranks;
    return handle;
  }

  ExitInfo Poll(const WorkerHandle& handle) override {
    ExitInfo info;
    if (handle.pid <= 0) {
      info.exited = true;
      info.unknown = true;
      return info;
    }
    int status = 0;
    pid_t r = waitpid(handle.pid, &status, WNOHANG);
    if (r == handle.pid) {
      info.exited = true;
      if (WIFEXITED(status)) info.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) info.signal = WTERMSIG(status);
      return info;
    }
    if (r == 0) return info;  // our child, still running
    // Not our child (re-attached after a server restart): look at /proc.
    std::string now = ProcessStartTime(handle.pid);
    if (!now.empty() && (handle.start_time.empty() || now == handle.start_time)) return info;
    info.exited = true;
    info.unknown = true;
    return info;
  }

  void Signal(const WorkerHandle& handle, bool force) override {
    if (handle.pid <= 0) return;
    std::string now = ProcessStartTime(handle.pid);
    if (now.empty() || (!handle.start_time.empty() && now != handle.start_time)) return;
    int sig = force ? SIGKILL : SIGTERM;
    // The worker leads its own session/process group: signal the group, then the pid.
    kill(-handle.pid, sig);
    kill(handle.pid, sig);
  }
};

}  // namespace

std::unique_ptr<Executor> MakeLocalExecutor() { return std::make_unique<LocalExecutor>(); }

}  // namespace sskai::jobs
