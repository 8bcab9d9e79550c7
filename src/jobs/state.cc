// The job state machine: the one table of allowed transitions.
#include <set>
#include <string>
#include <utility>

#include "jobs/jobs.h"

namespace sskai::jobs {

bool IsTerminalState(const std::string& state) {
  return state == kSucceeded || state == kFailed || state == kCancelled;
}

bool IsKnownState(const std::string& state) {
  static const std::set<std::string> kStates = {kQueued,    kProvisioning, kRunning, kCheckpointing,
                                                kPreempted, kRecovering,   kPaused,  kSucceeded,
                                                kFailed,    kCancelled};
  return kStates.count(state) > 0;
}

bool HoldsWorker(const std::string& state) {
  return state == kProvisioning || state == kRunning || state == kCheckpointing;
}

bool IsAllowedTransition(const std::string& from, const std::string& to) {
  static const std::set<std::pair<std::string, std::string>> kAllowed = {
      // Waiting for a slot.
      {kQueued, kProvisioning}, {kQueued, kPaused}, {kQueued, kCancelled}, {kQueued, kFailed},
      // Starting a worker.
      {kProvisioning, kRunning}, {kProvisioning, kFailed}, {kProvisioning, kCancelled},
      {kProvisioning, kRecovering},
      // Training.
      {kRunning, kSucceeded}, {kRunning, kFailed}, {kRunning, kCancelled},
      {kRunning, kCheckpointing},  // notice delivered
      {kRunning, kPreempted},      // lost without notice, or honoured a notice it got itself
      {kRunning, kRecovering},     // a reported error, retried once
      // Noticed: checkpoint at the next step boundary, then exit.
      {kCheckpointing, kPreempted}, {kCheckpointing, kPaused}, {kCheckpointing, kSucceeded},
      {kCheckpointing, kFailed}, {kCheckpointing, kCancelled}, {kCheckpointing, kRecovering},
      // Lost compute: back off, then relaunch from the last good checkpoint.
      {kPreempted, kRecovering}, {kPreempted, kFailed}, {kPreempted, kCancelled},
      {kPreempted, kPaused},
      {kRecovering, kProvisioning}, {kRecovering, kPaused}, {kRecovering, kFailed},
      {kRecovering, kCancelled},
      // Paused (budget): holds no compute.
      {kPaused, kQueued}, {kPaused, kCancelled}, {kPaused, kFailed},
  };
  return kAllowed.count({from, to}) > 0;
}

std::string ExitInfo::Describe() const {
  if (!exited) return "running";
  if (!detail.empty()) return detail;
  if (unknown) return "exited while the server was not watching";
  if (signal != 0) return "killed by signal " + std::to_string(signal);
  if (exit_code == kExitPreempted) return "checkpointed on notice and exited";
  return "exit code " + std::to_string(exit_code);
}

}  // namespace sskai::jobs
