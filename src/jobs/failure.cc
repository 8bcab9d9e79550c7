// Failure classification, retry backoff and per-job limits: pure functions.
#include <algorithm>
#include <cstdio>

#include "jobs/jobs.h"

namespace sskai::jobs {

ExitDecision ClassifyExit(const ExitFacts& f) {
  ExitDecision d;
  if (f.pause_requested) {
    d.action = ExitDecision::Action::kPause;
    d.reason = f.exit_code == kExitPreempted && f.signal == 0
                   ? "paused: checkpointed and released its compute"
                   : "paused: worker stopped (" + f.exit_text + "); resumes from the last checkpoint";
    return d;
  }
  const bool reported = f.exit_code == kExitFailed && f.signal == 0 && !f.unknown;
  if (reported && f.error_count >= 2) {
    d.action = ExitDecision::Action::kFail;
    d.reason = "deterministic failure at step " + std::to_string(f.error_step) + " (same error twice): " +
               f.error_message;
    return d;
  }
  d.retries = f.progressed ? 0 : f.retries + 1;
  d.preemption = !reported;
  std::string what;
  if (reported) {
    what = f.error_message.empty()
               ? "worker failed (" + f.exit_text + ", no error reported); retrying"
               : "error at step " + std::to_string(f.error_step) + ": " + f.error_message +
                     "; retrying once to rule out a flake";
  } else if (f.exit_code == kExitPreempted && f.signal == 0 && !f.unknown) {
    what = "preempted with notice: checkpointed at a step boundary";
    if (f.exit_text != "checkpointed on notice and exited" && !f.exit_text.empty()) {
      what += " (" + f.exit_text + ")";  // e.g. "requeued by Slurm (restart 1)"
    }
  } else {
    what = "worker lost (" + f.exit_text + ")";
  }
  if (d.retries >= f.max_attempts && f.max_attempts > 0) {
    d.action = ExitDecision::Action::kFail;
    d.reason = "worker stopped " + std::to_string(d.retries) + " times without finishing or progress (last: " +
               (reported ? f.error_message : f.exit_text) + "); see the job's logs";
    return d;
  }
  d.action = ExitDecision::Action::kRetry;
  d.reason = what;
  return d;
}

std::chrono::milliseconds RetryBackoff(int64_t retries, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap) {
  if (retries <= 0) return std::chrono::milliseconds(0);
  int64_t ms = base.count();
  for (int64_t idx = 1; idx < retries && ms < cap.count(); ++idx) ms *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(ms, cap.count()));
}

std::string LimitExceeded(double wall_seconds, double max_wall_seconds, double cost_usd,
                          double max_cost_usd) {
  char buf[160];
  if (max_wall_seconds > 0 && wall_seconds >= max_wall_seconds) {
    std::snprintf(buf, sizeof(buf), "max_wall_seconds exceeded: ran %.0f s of %.0f s", wall_seconds,
                  max_wall_seconds);
    return buf;
  }
  if (max_cost_usd > 0 && cost_usd >= max_cost_usd) {
    std::snprintf(buf, sizeof(buf), "max_cost_usd exceeded: spent $%.4f of $%.4f", cost_usd, max_cost_usd);
    return buf;
  }
  return "";
}

}  // namespace sskai::jobs
