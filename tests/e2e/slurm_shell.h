// tests/e2e/slurm_shell.h — shell helpers of the Slurm e2e tests (real single-node cluster).
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

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

// Whether slurmctld answers and the node can run jobs.
inline bool SlurmUp() {
  int rc = 0;
  std::string out = Shell("sinfo -h -o %T", &rc);
  return rc == 0 && (out.find("idle") != std::string::npos || out.find("mixed") != std::string::npos ||
                     out.find("allocated") != std::string::npos);
}

}  // namespace sskai::testing
