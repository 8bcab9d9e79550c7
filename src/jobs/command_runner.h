// src/jobs/command_runner.h — private to the jobs module: runs a user's training command under
// the worker with the environment contract of docs/jobs.md, and parses its stdout line protocol.
// Thread-safety: RunCommand blocks the calling thread; callbacks run on it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace sskai::jobs {

// One stdout line of the protocol:
//   sskai:metric step=10 loss=0.5 accuracy=0.9
//   sskai:checkpoint step=10 path=/abs/or/relative/file
struct ProtocolLine {
  enum class Kind { kNone, kMetric, kCheckpoint, kBad } kind = Kind::kNone;
  int64_t step = -1;
  std::map<std::string, double> values;  // metric
  std::string path;                       // checkpoint
  std::string error;                      // kBad: why
};
ProtocolLine ParseProtocolLine(const std::string& line);

struct CommandSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to the worker's environment
  std::string work_dir;                     // the command's cwd
};
struct CommandCallbacks {
  std::function<void(int64_t step, const std::map<std::string, double>&)> on_metric;
  std::function<Status(const std::string& path, int64_t step)> on_checkpoint;
  std::function<bool()> notice;  // polled ~10x/s; true forwards SIGTERM to the command once
};
struct CommandOutcome {
  int exit_code = -1;
  int signal = 0;
  bool noticed = false;     // the notice was forwarded
  int64_t last_step = 0;    // highest step the command reported
  std::string failure;      // a checkpoint upload error, if any (the command is then stopped)
};
// Errors: kUnavailable (pipe/fork failed). A command that does not exist exits 127.
Result<CommandOutcome> RunCommand(const CommandSpec& spec, const CommandCallbacks& callbacks);

}  // namespace sskai::jobs
