#include <set>
#include <string>
#include <utility>

#include "jobs/jobs.h"

namespace sskai::jobs {

bool IsTerminalState(const std::string& state) {
  return state == kSucceeded || state == kFailed || state == kCancelled;
}

bool IsAllowedTransition(const std::string& from, const std::string& to) {
  static const std::set<std::pair<std::string, std::string>> kAllowed = {
      {kQueued, kRunning},    {kQueued, kCancelled},  {kQueued, kFailed},
      {kRunning, kSucceeded}, {kRunning, kFailed},    {kRunning, kCancelled},
      {kRunning, kQueued},  // worker lost: retried
  };
  return kAllowed.count({from, to}) > 0;
}

std::string ExitInfo::Describe() const {
  if (!exited) return "running";
  if (unknown) return "exited while the server was not watching";
  if (signal != 0) return "killed by signal " + std::to_string(signal);
  return "exit code " + std::to_string(exit_code);
}

}  // namespace sskai::jobs
