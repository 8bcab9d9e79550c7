// apps/sskai/profiler.cc — the `profile-model` and `validate-model` process roles and the
// server's runner for them.
//
// Profiling and validating need libtorch, which the server never maps, so the server runs
// `sskai profile-model --model PATH --options JSON` (or `sskai validate-model ...`) as a child
// process and reads its stdout.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "apps/sskai/commands.h"
#include "ml/ml.h"

extern char** environ;

namespace sskai::app {

int RunProfileModel(const std::string& model_path, const std::string& options_json) {
  auto engine = ml::LoadEngine();
  if (!engine.ok()) {
    std::cerr << engine.status().message() << "\n";
    return 2;
  }
  auto profile = (*engine)->ProfileJson(model_path, options_json);
  if (!profile.ok()) {
    std::cerr << profile.status().ToString() << "\n";
    return profile.status().code() == StatusCode::kInvalidArgument ? 3 : 2;
  }
  std::cout << *profile << "\n";
  return 0;
}

int RunValidateModel(const std::string& file_path, const std::string& spec_json, const std::string& out_path) {
  auto engine = ml::LoadEngine();
  if (!engine.ok()) {
    std::cerr << engine.status().message() << "\n";
    return 2;
  }
  auto report = (*engine)->ValidateTorchScript(file_path, spec_json, out_path);
  if (!report.ok()) {
    // Only the message: the server shows it to the uploader as is.
    std::cerr << report.status().message() << "\n";
    return report.status().code() == StatusCode::kInvalidArgument ? 3 : 2;
  }
  std::cout << *report << "\n";
  return 0;
}

namespace {

// Reads everything from `fd` until EOF or the deadline; false on timeout.
bool ReadAll(int fd, std::string* out, std::chrono::steady_clock::time_point deadline) {
  char buf[65536];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) return true;
    if (ready <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > (64u << 20)) return true;  // a profile is a few KB; stop a runaway child
  }
}

}  // namespace

namespace {

// Runs `binary args...`, returns its stdout on exit 0; exit 3 = kInvalidArgument with stderr.
Result<std::string> RunToolProcess(const std::string& binary, std::vector<std::string> args,
                                   std::chrono::seconds timeout, const std::string& what) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return Status::Unavailable(what + ": pipe failed");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return Status::Unavailable(what + ": pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  args.insert(args.begin(), binary);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    return Status::Unavailable(what + ": cannot start " + binary + ": " + std::strerror(rc));
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out, err;
  bool finished = ReadAll(out_pipe[0], &out, deadline);
  if (finished) ReadAll(err_pipe[0], &err, std::chrono::steady_clock::now() + std::chrono::seconds(2));
  close(out_pipe[0]);
  close(err_pipe[0]);
  if (!finished) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!finished) {
    return Status::DeadlineExceeded(what + " did not finish within " + std::to_string(timeout.count()) + " s");
  }
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return out;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) return Status::InvalidArgument(err);
  std::string how = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                        : "exit code " + std::to_string(WEXITSTATUS(status));
  return Status::Internal(what + " failed (" + how + ")" + (err.empty() ? "" : ": " + err));
}

}  // namespace

Result<std::string> RunProfilerProcess(const std::string& binary, const std::string& model_path,
                                       const std::string& options_json, std::chrono::seconds timeout) {
  return RunToolProcess(binary, {"profile-model", "--model", model_path, "--options", options_json.empty() ? "{}" : options_json},
                        timeout, "profiling");
}

Result<std::string> RunValidatorProcess(const std::string& binary, const std::string& file_path,
                                        const std::string& spec_json, const std::string& out_path,
                                        std::chrono::seconds timeout) {
  return RunToolProcess(binary, {"validate-model", "--file", file_path, "--spec", spec_json, "--out", out_path},
                        timeout, "validating the model");
}

}  // namespace sskai::app
