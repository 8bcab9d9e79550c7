// Runs a custom training command: pipes its stdout (echoed to the worker log) through the line
// protocol, forwards the preemption notice as SIGTERM.
#include "jobs/command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>

namespace sskai::jobs {

ProtocolLine ParseProtocolLine(const std::string& raw) {
  ProtocolLine out;
  std::string line = raw;
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  const std::string kMetric = "sskai:metric", kCheckpoint = "sskai:checkpoint";
  std::string rest;
  if (line.rfind(kMetric, 0) == 0 && (line.size() == kMetric.size() || line[kMetric.size()] == ' ')) {
    out.kind = ProtocolLine::Kind::kMetric;
    rest = line.substr(kMetric.size());
  } else if (line.rfind(kCheckpoint, 0) == 0 &&
             (line.size() == kCheckpoint.size() || line[kCheckpoint.size()] == ' ')) {
    out.kind = ProtocolLine::Kind::kCheckpoint;
    rest = line.substr(kCheckpoint.size());
  } else {
    return out;
  }
  std::istringstream in(rest);
  std::string token;
  auto bad = [&](const std::string& why) {
    ProtocolLine b;
    b.kind = ProtocolLine::Kind::kBad;
    b.error = why + " in '" + line + "'";
    return b;
  };
  while (in >> token) {
    auto eq = token.find('=');
    if (eq == std::string::npos || eq == 0) return bad("expected key=value, got '" + token + "'");
    std::string key = token.substr(0, eq), value = token.substr(eq + 1);
    if (key == "path" && out.kind == ProtocolLine::Kind::kCheckpoint) {
      out.path = value;
      continue;
    }
    char* end = nullptr;
    errno = 0;
    double number = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || errno != 0) return bad("'" + key + "' is not a number");
    if (key == "step") {
      if (number < 0 || number != static_cast<double>(static_cast<int64_t>(number))) {
        return bad("'step' must be a non-negative integer");
      }
      out.step = static_cast<int64_t>(number);
    } else if (out.kind == ProtocolLine::Kind::kMetric) {
      out.values[key] = number;
    }
  }
  if (out.step < 0) return bad("missing step=");
  if (out.kind == ProtocolLine::Kind::kCheckpoint && out.path.empty()) return bad("missing path=");
  return out;
}

Result<CommandOutcome> RunCommand(const CommandSpec& spec, const CommandCallbacks& cb) {
  if (spec.argv.empty()) return Status::InvalidArgument("command: empty");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Unavailable(std::string("pipe: ") + std::strerror(errno));
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    if (spec.env.count(key) == 0 && key != "SSKAI_TOKEN") env_strings.push_back(kv);
  }
  for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::cout << std::flush;
  pid_t pid = fork();
  if (pid < 0) return Status::Unavailable(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    dup2(fds[1], 1);
    if (!spec.work_dir.empty() && chdir(spec.work_dir.c_str()) != 0) _exit(126);
    execvpe(argv[0], argv.data(), envp.data());
    std::string msg = "sskai worker: cannot run '" + spec.argv[0] + "': " + std::strerror(errno) + "\n";
    ssize_t ignored = write(2, msg.data(), msg.size());
    (void)ignored;
    _exit(127);
  }
  close(fds[1]);
  CommandOutcome out;
  std::string buffer;
  bool eof = false;
  auto handle_line = [&](const std::string& line) {
    std::cout << line << "\n" << std::flush;  // the command's output goes to the job log
    ProtocolLine p = ParseProtocolLine(line);
    if (p.kind == ProtocolLine::Kind::kBad) {
      std::cerr << "sskai worker: ignored protocol line: " << p.error << "\n";
    } else if (p.kind == ProtocolLine::Kind::kMetric) {
      out.last_step = std::max(out.last_step, p.step);
      if (cb.on_metric) cb.on_metric(p.step, p.values);
    } else if (p.kind == ProtocolLine::Kind::kCheckpoint && cb.on_checkpoint && out.failure.empty()) {
      std::string path = p.path[0] == '/' || spec.work_dir.empty() ? p.path : spec.work_dir + "/" + p.path;
      out.last_step = std::max(out.last_step, p.step);
      Status st = cb.on_checkpoint(path, p.step);
      if (!st.ok()) {
        out.failure = "checkpoint at step " + std::to_string(p.step) + ": " + st.message();
        kill(pid, SIGTERM);
      }
    }
  };
  while (!eof) {
    if (!out.noticed && cb.notice && cb.notice()) {
      out.noticed = true;
      kill(pid, SIGTERM);
    }
    pollfd pfd{fds[0], POLLIN, 0};
    int ready = poll(&pfd, 1, 100);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char chunk[4096];
    ssize_t n = read(fds[0], chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof = true;
      break;
    }
    buffer.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      handle_line(buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
    }
  }
  if (!buffer.empty()) handle_line(buffer);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  return out;
}

}  // namespace sskai::jobs
