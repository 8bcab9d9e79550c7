// LocalExecutor: worker processes on this machine via fork/exec.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <linux/close_range.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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

class LocalExecutor final : public Executor {
 public:
  std::string name() const override { return "local"; }

  Result<WorkerHandle> Launch(const LaunchSpec& spec) override {
    if (spec.argv.empty()) return Status::InvalidArgument("empty argv");
    if (access(spec.argv[0].c_str(), X_OK) != 0) {
      return Status::NotFound("executable '" + spec.argv[0] + "' not found or not executable");
    }
    // Everything the child needs is prepared before fork (no allocation after it).
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv(*e);
      auto key = kv.substr(0, kv.find('='));
      if (spec.env.count(key) == 0) env_strings.push_back(kv);
    }
    for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = spec.argv;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int log_fd = -1;
    if (!spec.log_path.empty()) {
      log_fd = open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log_fd < 0) {
        return Status::Unavailable("cannot open log '" + spec.log_path + "': " + strerror(errno));
      }
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
      if (log_fd >= 0) close(log_fd);
      return Status::Unavailable(std::string("fork failed: ") + strerror(errno));
    }
    if (pid == 0) {
      if (spec.new_session) setsid();
      if (spec.die_with_parent) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(127);
      }
      int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, 0);
      if (log_fd >= 0) {
        dup2(log_fd, 1);
        dup2(log_fd, 2);
      }
      // Inherit nothing else: not the server's listening socket, not its database.
      close_range(3, ~0U, 0);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    if (log_fd >= 0) close(log_fd);
    WorkerHandle handle;
    handle.pid = pid;
    handle.start_time = ProcessStartTime(pid);
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
