// Slurm: pure parsing and decisions (scontrol output, partition flags, exit mapping).
#include <csignal>
#include <set>
#include <sstream>

#include "jobs/jobs.h"

namespace sskai::jobs {

namespace {

bool ParseInt(const std::string& text, int64_t& out) {
  if (text.empty() || text.size() > 18) return false;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

}  // namespace

Result<std::pair<std::string, SlurmPartition>> ParseSlurmPartitionFlag(const std::string& value) {
  auto eq = value.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == value.size()) {
    return Status::InvalidArgument("--slurm-partition '" + value +
                                   "': expected <partition>=<offering>[:spot|:ondemand]");
  }
  std::string partition = value.substr(0, eq);
  std::string rest = value.substr(eq + 1);
  SlurmPartition out;
  auto colon = rest.rfind(':');
  if (colon != std::string::npos) {
    std::string market = rest.substr(colon + 1);
    if (market == "spot") {
      out.spot = true;
    } else if (market != "ondemand" && market != "on-demand") {
      return Status::InvalidArgument("--slurm-partition '" + value + "': market '" + market +
                                     "' is not spot or ondemand");
    }
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return Status::InvalidArgument("--slurm-partition '" + value + "': empty offering");
  out.offering = rest;
  return std::make_pair(partition, out);
}

Result<SlurmJobInfo> ParseScontrolJob(const std::string& text) {
  SlurmJobInfo info;
  std::istringstream in(text);
  std::string token;
  bool have_id = false, have_state = false;
  while (in >> token) {
    auto eq = token.find('=');
    if (eq == std::string::npos) continue;
    std::string key = token.substr(0, eq), value = token.substr(eq + 1);
    if (key == "JobId" && !have_id) {
      have_id = ParseInt(value, info.job_id);
    } else if (key == "JobName") {
      info.name = value;
    } else if (key == "JobState") {
      info.state = value;
      have_state = !value.empty();
    } else if (key == "Reason") {
      info.reason = value;
    } else if (key == "Restarts") {
      ParseInt(value, info.restarts);
    } else if (key == "ExitCode") {
      auto colon = value.find(':');
      int64_t code = 0, sig = 0;
      if (colon != std::string::npos && ParseInt(value.substr(0, colon), code) &&
          ParseInt(value.substr(colon + 1), sig)) {
        info.exit_code = static_cast<int>(code);
        info.exit_signal = static_cast<int>(sig);
      }
    }
  }
  if (!have_id || !have_state) {
    return Status::InvalidArgument("not a Slurm job record (no JobId/JobState): " + text.substr(0, 200));
  }
  return info;
}

ExitInfo SlurmExitInfo(const SlurmJobInfo& info, int64_t known_restarts) {
  static const std::set<std::string> kAlive = {
      "PENDING",  "CONFIGURING", "RUNNING",   "COMPLETING", "SUSPENDED", "REQUEUED",
      "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING",  "STAGE_OUT", "SPECIAL_EXIT"};
  ExitInfo out;
  // A requeued run counts once its processes are gone (not while COMPLETING: the worker may still
  // be uploading its checkpoint with the run's token).
  const bool winding_down = info.state == "COMPLETING" || info.state == "REQUEUED" ||
                            info.state == "SIGNALING" || info.state == "STAGE_OUT";
  if (info.restarts > known_restarts && !winding_down) {
    out.exited = true;
    out.exit_code = kExitPreempted;
    out.detail = "requeued by Slurm (restart " + std::to_string(info.restarts) + ")";
    return out;
  }
  if (kAlive.count(info.state) > 0) return out;
  out.exited = true;
  if (info.state == "COMPLETED") {
    out.exit_code = info.exit_code;
    return out;
  }
  if (info.state == "FAILED") {
    if (info.exit_signal != 0) {
      out.signal = info.exit_signal;
    } else {
      out.exit_code = info.exit_code;
    }
    return out;
  }
  if (info.state == "CANCELLED") {
    out.signal = info.exit_signal != 0 ? info.exit_signal : SIGTERM;
    out.detail = "cancelled in Slurm (signal " + std::to_string(out.signal) + ")";
    return out;
  }
  // TIMEOUT, NODE_FAIL, PREEMPTED, BOOT_FAIL, DEADLINE, OUT_OF_MEMORY, or a state we do not know
  // but that is not in the alive set: the compute is gone.
  out.signal = SIGKILL;
  out.detail = "Slurm job ended " + info.state + (info.reason.empty() || info.reason == "None"
                                                      ? std::string()
                                                      : " (" + info.reason + ")");
  return out;
}

bool IsSlurmHandle(const WorkerHandle& handle) { return handle.start_time.rfind("slurm:", 0) == 0; }

}  // namespace sskai::jobs
