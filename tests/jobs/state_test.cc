// The job state machine: the one transition table and the terminal states.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "jobs/jobs.h"

namespace sskai::jobs {
namespace {

TEST(JobStateTest, TerminalStatesAreExactlySucceededFailedCancelled) {
  EXPECT_TRUE(IsTerminalState(kSucceeded));
  EXPECT_TRUE(IsTerminalState(kFailed));
  EXPECT_TRUE(IsTerminalState(kCancelled));
  EXPECT_FALSE(IsTerminalState(kQueued));
  EXPECT_FALSE(IsTerminalState(kRunning));
  EXPECT_FALSE(IsTerminalState(""));
  EXPECT_FALSE(IsTerminalState("Succeeded"));
  EXPECT_FALSE(IsTerminalState("bogus"));
}

const std::vector<std::string> kAllStates = {kQueued,    kProvisioning, kRunning, kCheckpointing,
                                              kPreempted, kRecovering,   kPaused,  kSucceeded,
                                              kFailed,    kCancelled};

TEST(JobStateTest, TransitionTableMatchesTheDocumentedMachine) {
  struct Edge {
    std::string from, to;
  };
  const std::vector<Edge> allowed = {
      {kQueued, kProvisioning},      {kQueued, kPaused},           {kQueued, kCancelled},
      {kQueued, kFailed},            {kProvisioning, kRunning},    {kProvisioning, kFailed},
      {kProvisioning, kCancelled},   {kProvisioning, kRecovering}, {kRunning, kSucceeded},
      {kRunning, kFailed},           {kRunning, kCancelled},       {kRunning, kCheckpointing},
      {kRunning, kPreempted},        {kRunning, kRecovering},      {kCheckpointing, kPreempted},
      {kCheckpointing, kPaused},     {kCheckpointing, kSucceeded}, {kCheckpointing, kFailed},
      {kCheckpointing, kCancelled},  {kCheckpointing, kRecovering}, {kPreempted, kRecovering},
      {kPreempted, kFailed},         {kPreempted, kCancelled},     {kPreempted, kPaused},
      {kRecovering, kProvisioning},  {kRecovering, kPaused},       {kRecovering, kFailed},
      {kRecovering, kCancelled},     {kPaused, kQueued},           {kPaused, kCancelled},
      {kPaused, kFailed},
  };
  int checked = 0, allowed_count = 0;
  for (const auto& from : kAllStates) {
    EXPECT_TRUE(IsKnownState(from));
    for (const auto& to : kAllStates) {
      bool expected = false;
      for (const auto& e : allowed) expected |= (e.from == from && e.to == to);
      EXPECT_EQ(IsAllowedTransition(from, to), expected) << from << " -> " << to;
      allowed_count += expected;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 100);
  EXPECT_EQ(allowed_count, static_cast<int>(allowed.size()));
  // Every non-terminal state can reach cancelled and failed (except a queued/paused job that
  // never ran can still fail: bad spec).
  for (const auto& from : kAllStates) {
    if (IsTerminalState(from)) continue;
    EXPECT_TRUE(IsAllowedTransition(from, kCancelled)) << from;
    EXPECT_TRUE(IsAllowedTransition(from, kFailed)) << from;
  }
  EXPECT_FALSE(IsKnownState("pending"));
  EXPECT_TRUE(HoldsWorker(kCheckpointing));
  EXPECT_FALSE(HoldsWorker(kPaused));
}

TEST(JobStateTest, NothingLeavesATerminalStateAndUnknownStatesAreRejected) {
  for (const char* terminal : {kSucceeded, kFailed, kCancelled}) {
    for (const auto& to : kAllStates) {
      EXPECT_FALSE(IsAllowedTransition(terminal, to)) << terminal << " -> " << to;
    }
  }
  EXPECT_FALSE(IsAllowedTransition("", kRunning));
  EXPECT_FALSE(IsAllowedTransition(kQueued, ""));
  EXPECT_FALSE(IsAllowedTransition("pending", kRunning));
  EXPECT_FALSE(IsAllowedTransition("QUEUED", "RUNNING"));
}

TEST(ExitInfoTest, DescribesEachWayAWorkerEnds) {
  ExitInfo running;
  EXPECT_EQ(running.Describe(), "running");
  ExitInfo code;
  code.exited = true;
  code.exit_code = 3;
  EXPECT_EQ(code.Describe(), "exit code 3");
  ExitInfo signalled;
  signalled.exited = true;
  signalled.signal = 9;
  EXPECT_EQ(signalled.Describe(), "killed by signal 9");
  ExitInfo unknown;
  unknown.exited = true;
  unknown.unknown = true;
  EXPECT_EQ(unknown.Describe(), "exited while the server was not watching");
}

}  // namespace
}  // namespace sskai::jobs
