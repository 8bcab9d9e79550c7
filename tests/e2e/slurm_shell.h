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

// Whether slurmctld answers and the node can run jobs. A node still cleaning up the previous
// test's jobs reads "completing", and a busy slurmctld may not answer at once: wait up to ~15 s
// for either instead of skipping the test (no slurmctld process: false at once).
inline bool SlurmUp() {
  for (int attempt = 0; attempt < 30; ++attempt) {
    int rc = 0;
    std::string out = Shell("sinfo -h -o %T", &rc);
    if (rc == 0 && (out.find("idle") != std::string::npos || out.find("mixed") != std::string::npos ||
                    out.find("allocated") != std::string::npos)) {
      return true;
    }
    int ctld = 0;
    if (rc != 0) Shell("pgrep -x slurmctld", &ctld);  // no controller at all: not worth waiting for
    const bool transient = out.find("completing") != std::string::npos || (rc != 0 && ctld == 0);
    if (!transient) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return false;
}

}  // namespace sskai::testing
