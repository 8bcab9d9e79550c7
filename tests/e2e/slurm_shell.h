// tests/e2e/slurm_shell.h — shell helpers of the Slurm e2e tests (real single-node cluster).
#pragma once

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace sskai::testing {

// Runs `cmd` through the shell; returns stdout+stderr, *rc the exit status.
inline std::string Shell(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[512];
  while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  int status = pclose(p);
  if (rc != nullptr) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Whether slurmctld answers and the node can run jobs ("idle", "mixed" or "allocated"). Any other
// answer is waited out for up to ~15 s instead of skipping the test: a node still cleaning up the
// previous test's jobs reads "completing", a busy slurmctld may not answer at once, and other
// passing states ("planned", an empty listing) clear too. (A CI run skipped three tests within
// 0.05 s of each other on such an answer.) Only a missing slurmctld process gives false at once.
// A node that an earlier test's killed job left drained or down (slurmd drains a node whose job
// step it could not kill in time) is resumed once, as scripts/start-slurm.sh does when it starts
// the cluster. *state: what sinfo said last (for the skip message).
inline bool SlurmUp(std::string* state = nullptr) {
  bool resumed = false;
  for (int attempt = 0; attempt < 30; ++attempt) {
    int rc = 0;
    std::string out = Shell("sinfo -h -o %T", &rc);
    if (state != nullptr) *state = out;
    if (rc == 0 && (out.find("idle") != std::string::npos || out.find("mixed") != std::string::npos ||
                    out.find("allocated") != std::string::npos)) {
      return true;
    }
    if (rc != 0) {
      int ctld = 0;
      Shell("pgrep -x slurmctld", &ctld);
      if (ctld != 0) return false;  // no controller at all: not worth waiting for
    }
    if (rc == 0 && !resumed && (out.find("drain") != std::string::npos || out.find("down") != std::string::npos)) {
      Shell("for n in $(sinfo -h -N -o %N); do scontrol update nodename=$n state=resume; done");
      resumed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return false;
}

// Empty when SlurmUp(); else why a Slurm test skips.
inline std::string SlurmUnavailable() {
  std::string node_state;
  if (SlurmUp(&node_state)) return "";
  return "slurmctld is not running or its node cannot take jobs (sinfo: '" + node_state +
         "'): scripts/start-slurm.sh (the ctest fixture) could not start it (needs root, "
         "slurm-wlm and munge)";
}

}  // namespace sskai::testing
