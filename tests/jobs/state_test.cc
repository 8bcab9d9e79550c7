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

TEST(JobStateTest, TransitionTableMatchesTheDocumentedMachine) {
  const std::vector<std::string> states = {kQueued, kRunning, kSucceeded, kFailed, kCancelled};
  struct Edge {
    std::string from, to;
  };
  const std::vector<Edge> allowed = {
      {kQueued, kRunning},    {kQueued, kCancelled}, {kQueued, kFailed},
      {kRunning, kSucceeded}, {kRunning, kFailed},   {kRunning, kCancelled},
      {kRunning, kQueued},
  };
  int checked = 0;
  for (const auto& from : states) {
    for (const auto& to : states) {
      bool expected = false;
      for (const auto& e : allowed) expected |= (e.from == from && e.to == to);
      EXPECT_EQ(IsAllowedTransition(from, to), expected) << from << " -> " << to;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 25);
}

TEST(JobStateTest, NothingLeavesATerminalStateAndUnknownStatesAreRejected) {
  for (const char* terminal : {kSucceeded, kFailed, kCancelled}) {
    for (const char* to : {kQueued, kRunning, kSucceeded, kFailed, kCancelled}) {
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
