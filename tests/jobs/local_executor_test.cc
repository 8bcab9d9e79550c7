// LocalExecutor with real short-lived processes (integration: fork/exec, /proc, signals).
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "jobs/jobs.h"
#include "testing/scratch_dir.h"

namespace sskai::jobs {
namespace {

using namespace std::chrono_literals;

// Polls until the process exits or `limit` passes (real time: these are real processes).
ExitInfo WaitExit(Executor& ex, const WorkerHandle& h, std::chrono::milliseconds limit = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  ExitInfo info = ex.Poll(h);
  while (!info.exited && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
    info = ex.Poll(h);
  }
  return info;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

LaunchSpec Shell(const std::string& script, const std::string& log_path = "") {
  LaunchSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.log_path = log_path;
  return spec;
}

TEST(LocalExecutorTest, ReportsTheExitCode) {
  auto ex = MakeLocalExecutor();
  EXPECT_EQ(ex->name(), "local");
  auto h = ex->Launch(Shell("exit 3"));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_GT(h->pid, 0);
  ExitInfo info = WaitExit(*ex, *h);
  ASSERT_TRUE(info.exited);
  EXPECT_FALSE(info.unknown);
  EXPECT_EQ(info.exit_code, 3);
  EXPECT_EQ(info.signal, 0);
  EXPECT_EQ(info.Describe(), "exit code 3");
}

TEST(LocalExecutorTest, GracefulSignalStopsAWorkerWithSigterm) {
  auto ex = MakeLocalExecutor();
  LaunchSpec spec;
  spec.argv = {"/bin/sleep", "5"};
  auto h = ex->Launch(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_FALSE(h->start_time.empty());
  EXPECT_FALSE(ex->Poll(*h).exited);
  auto started = std::chrono::steady_clock::now();
  ex->Signal(*h, /*force=*/false);
  ExitInfo info = WaitExit(*ex, *h);
  ASSERT_TRUE(info.exited);
  EXPECT_EQ(info.signal, SIGTERM);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST(LocalExecutorTest, ForcedSignalKillsAWorkerThatIgnoresSigterm) {
  testing::ScratchDir dir;
  std::string log = dir.path() + "/trap.log";
  auto ex = MakeLocalExecutor();
  // The shell ignores TERM; `exec` keeps the same pid, and the ignore disposition survives exec.
  auto h = ex->Launch(Shell("trap '' TERM; echo trapped; exec /bin/sleep 5", log));
  ASSERT_TRUE(h.ok());
  auto deadline = std::chrono::steady_clock::now() + 5s;  // wait until the trap is installed
  while (ReadFile(log).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  ex->Signal(*h, /*force=*/false);
  EXPECT_FALSE(WaitExit(*ex, *h, 200ms).exited);
  ex->Signal(*h, /*force=*/true);
  ExitInfo info = WaitExit(*ex, *h);
  ASSERT_TRUE(info.exited);
  EXPECT_EQ(info.signal, SIGKILL);
}

// The SigBlk mask of /proc/self/status as a number ("" when the line is missing).
uint64_t BlockedMask(const std::string& status_lines) {
  auto pos = status_lines.find("SigBlk:");
  if (pos == std::string::npos) return 0;
  return std::stoull(status_lines.substr(pos + 7), nullptr, 16);
}

constexpr uint64_t kTermBit = uint64_t{1} << (SIGTERM - 1);

// A stop signal sent the moment Launch returns (before the child has exec'd, most of the time)
// waits, blocked, for a program launched with hold_stop_signals: it neither runs a handler
// inherited from the launching process nor ends the program.
TEST(LocalExecutorTest, HeldStopSignalsWaitForTheProgram) {
  testing::ScratchDir dir;
  std::string log = dir.path() + "/held.log";
  struct sigaction noop {}, saved {};
  noop.sa_handler = [](int) {};  // the launching process has a handler, like the server
  sigaction(SIGTERM, &noop, &saved);
  auto ex = MakeLocalExecutor();
  LaunchSpec spec;  // not through /bin/sh: dash unblocks every signal when it starts
  spec.argv = {"/bin/grep", "SigBlk", "/proc/self/status"};
  spec.log_path = log;
  spec.hold_stop_signals = true;
  auto h = ex->Launch(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ex->Signal(*h, /*force=*/false);
  ExitInfo info = WaitExit(*ex, *h);
  sigaction(SIGTERM, &saved, nullptr);
  ASSERT_TRUE(info.exited);
  EXPECT_EQ(info.signal, 0) << "the early SIGTERM ended the program";
  EXPECT_EQ(info.exit_code, 0);
  EXPECT_NE(BlockedMask(ReadFile(log)) & kTermBit, 0u) << ReadFile(log);
}

// Without hold_stop_signals the program starts with SIGTERM unblocked, and a SIGTERM sent the
// moment Launch returns ends it (before, one that beat exec ran the launching process's handler
// in the child and was lost).
TEST(LocalExecutorTest, EarlyStopSignalEndsAProgramThatDoesNotHoldIt) {
  testing::ScratchDir dir;
  std::string log = dir.path() + "/mask.log";
  struct sigaction noop {}, saved {};
  noop.sa_handler = [](int) {};
  sigaction(SIGTERM, &noop, &saved);
  auto ex = MakeLocalExecutor();
  auto h = ex->Launch(Shell("sleep 2; exit 0"));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ex->Signal(*h, /*force=*/false);
  ExitInfo info = WaitExit(*ex, *h);
  ASSERT_TRUE(info.exited);
  EXPECT_EQ(info.signal, SIGTERM) << info.Describe();
  auto plain = ex->Launch(Shell("grep SigBlk /proc/self/status", log));
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE(WaitExit(*ex, *plain).exited);
  sigaction(SIGTERM, &saved, nullptr);
  EXPECT_EQ(BlockedMask(ReadFile(log)) & kTermBit, 0u) << ReadFile(log);
}

TEST(LocalExecutorTest, SignalIgnoresAHandleWhoseStartTimeDoesNotMatch) {
  auto ex = MakeLocalExecutor();
  LaunchSpec spec;
  spec.argv = {"/bin/sleep", "5"};
  auto h = ex->Launch(spec);
  ASSERT_TRUE(h.ok());
  WorkerHandle stale{h->pid, "1"};  // same pid, another process (pid reuse)
  ex->Signal(stale, /*force=*/true);
  EXPECT_FALSE(WaitExit(*ex, *h, 200ms).exited);
  ex->Signal(*h, /*force=*/true);
  EXPECT_TRUE(WaitExit(*ex, *h).exited);
}

TEST(LocalExecutorTest, WorkerLeadsItsOwnSession) {
  auto ex = MakeLocalExecutor();
  LaunchSpec spec;
  spec.argv = {"/bin/sleep", "5"};
  auto h = ex->Launch(spec);
  ASSERT_TRUE(h.ok());
  // setsid() runs in the child after fork: wait for it.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (getsid(h->pid) != h->pid && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(getsid(h->pid), h->pid);
  EXPECT_NE(getsid(h->pid), getsid(0));
  ex->Signal(*h, /*force=*/true);
  EXPECT_TRUE(WaitExit(*ex, *h).exited);
}

TEST(LocalExecutorTest, AppendsStdoutAndStderrToTheLogFile) {
  testing::ScratchDir dir;
  std::string log = dir.path() + "/worker.log";
  auto ex = MakeLocalExecutor();
  auto h1 = ex->Launch(Shell("echo out-line; echo err-line >&2", log));
  ASSERT_TRUE(h1.ok());
  ASSERT_EQ(WaitExit(*ex, *h1).exit_code, 0);
  auto h2 = ex->Launch(Shell("echo second-run", log));
  ASSERT_TRUE(h2.ok());
  ASSERT_EQ(WaitExit(*ex, *h2).exit_code, 0);
  EXPECT_EQ(ReadFile(log), "out-line\nerr-line\nsecond-run\n");
}

TEST(LocalExecutorTest, UnwritableLogIsUnavailable) {
  auto ex = MakeLocalExecutor();
  auto h = ex->Launch(Shell("exit 0", "/nonexistent-dir/x/worker.log"));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kUnavailable);
}

TEST(LocalExecutorTest, PassesEnvironmentAddingToAndOverridingTheServers) {
  testing::ScratchDir dir;
  std::string log = dir.path() + "/env.log";
  ASSERT_EQ(setenv("SSKAI_UNIT_INHERITED", "from-parent", 1), 0);
  ASSERT_EQ(setenv("SSKAI_UNIT_OVERRIDDEN", "old", 1), 0);
  auto ex = MakeLocalExecutor();
  LaunchSpec spec = Shell(
      "echo \"$SSKAI_TOKEN|$SSKAI_UNIT_INHERITED|$SSKAI_UNIT_OVERRIDDEN\"; "
      "env | grep -c '^SSKAI_UNIT_OVERRIDDEN='",
      log);
  spec.env["SSKAI_TOKEN"] = "sk_secret";
  spec.env["SSKAI_UNIT_OVERRIDDEN"] = "new";
  auto h = ex->Launch(spec);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(WaitExit(*ex, *h).exit_code, 0);
  // The override replaces the variable rather than adding a second copy.
  EXPECT_EQ(ReadFile(log), "sk_secret|from-parent|new\n1\n");
  unsetenv("SSKAI_UNIT_INHERITED");
  unsetenv("SSKAI_UNIT_OVERRIDDEN");
}

TEST(LocalExecutorTest, MissingExecutableIsNotFound) {
  auto ex = MakeLocalExecutor();
  LaunchSpec spec;
  spec.argv = {"/nonexistent/sskai-worker", "worker"};
  auto h = ex->Launch(spec);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kNotFound);
  EXPECT_NE(h.status().message().find("/nonexistent/sskai-worker"), std::string::npos);
}

TEST(LocalExecutorTest, NonExecutableFileIsNotFound) {
  testing::ScratchDir dir;
  std::string path = dir.path() + "/not-exec";
  std::ofstream(path) << "#!/bin/sh\nexit 0\n";
  auto ex = MakeLocalExecutor();
  LaunchSpec spec;
  spec.argv = {path};
  auto h = ex->Launch(spec);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kNotFound);
}

TEST(LocalExecutorTest, EmptyArgvIsInvalid) {
  auto ex = MakeLocalExecutor();
  auto h = ex->Launch(LaunchSpec{});
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
}

TEST(LocalExecutorTest, ProcessStartTimeOfSelfAndOfDeadPids) {
  std::string self = ProcessStartTime(getpid());
  EXPECT_FALSE(self.empty());
  EXPECT_EQ(self.find_first_not_of("0123456789"), std::string::npos) << self;
  EXPECT_EQ(ProcessStartTime(getpid()), self);  // stable
  EXPECT_EQ(ProcessStartTime(0), "");
  EXPECT_EQ(ProcessStartTime(-1), "");

  auto ex = MakeLocalExecutor();
  auto h = ex->Launch(Shell("exit 0"));
  ASSERT_TRUE(h.ok());
  // Before it is reaped the child is a zombie: it no longer counts as alive.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!ProcessStartTime(h->pid).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(ProcessStartTime(h->pid), "");
  ExitInfo info = WaitExit(*ex, *h);
  EXPECT_TRUE(info.exited);
  EXPECT_EQ(info.exit_code, 0);
  EXPECT_EQ(ProcessStartTime(h->pid), "");  // reaped: gone
}

TEST(LocalExecutorTest, PollOfAReattachedProcessUsesProc) {
  auto ex = MakeLocalExecutor();
  // Not our child (ourselves): alive while the start time matches.
  WorkerHandle self{getpid(), ProcessStartTime(getpid())};
  EXPECT_FALSE(ex->Poll(self).exited);
  // Same pid, different start time: the worker is gone and the pid was reused.
  WorkerHandle reused{getpid(), "1"};
  ExitInfo info = ex->Poll(reused);
  EXPECT_TRUE(info.exited);
  EXPECT_TRUE(info.unknown);
  // No pid at all.
  ExitInfo none = ex->Poll(WorkerHandle{});
  EXPECT_TRUE(none.exited);
  EXPECT_TRUE(none.unknown);
}

// tasks > 1: a supervised group of rank processes sharing one rendezvous store (a file in a
// fresh directory of the launch, removed when the group ends: no port to race for).
TEST(LocalExecutorGroupTest, StartsOneProcessPerRankWithTheRankEnvironment) {
  testing::ScratchDir dir;
  auto ex = MakeLocalExecutor();
  LaunchSpec spec = Shell("echo \"$SSKAI_RANK $SSKAI_WORLD_SIZE $SSKAI_DIST_RENDEZVOUS $SSKAI_DIST_STORE "
                          "$SSKAI_DIST_HOST ${MASTER_PORT:-none}\" > " + dir.path() + "/rank-$SSKAI_RANK; "
                          "test -d \"$(dirname \"$SSKAI_DIST_STORE\")\"");
  spec.tasks = 3;
  auto h = ex->Launch(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->count, 3);
  ExitInfo info = WaitExit(*ex, *h);
  ASSERT_TRUE(info.exited);
  EXPECT_EQ(info.exit_code, 0) << "the store's directory exists while the ranks run";
  std::string store;
  for (int rank = 0; rank < 3; ++rank) {
    std::istringstream in(ReadFile(dir.path() + "/rank-" + std::to_string(rank)));
    std::string r, world, rendezvous, path, host, master_port;
    in >> r >> world >> rendezvous >> path >> host >> master_port;
    EXPECT_EQ(r, std::to_string(rank));
    EXPECT_EQ(world, "3");
    EXPECT_EQ(rendezvous, "file");
    EXPECT_EQ(host, "127.0.0.1");
    EXPECT_EQ(master_port, "none") << "no TCPStore port to race for";
    ASSERT_FALSE(path.empty());
    if (rank == 0) store = path;
    EXPECT_EQ(path, store) << "every rank meets in the same store";
  }
  // The supervisor removed the directory once the ranks were gone.
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(store).parent_path())) << store;
  // A second launch gets a directory of its own.
  auto again = ex->Launch(spec);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(WaitExit(*ex, *again).exit_code, 0);
  std::istringstream in(ReadFile(dir.path() + "/rank-0"));
  std::string r, world, rendezvous, path;
  in >> r >> world >> rendezvous >> path;
  EXPECT_NE(path, store);
}

TEST(LocalExecutorGroupTest, OneFailingRankStopsTheOthersAndTheGroupExitsAsIt) {
  testing::ScratchDir dir;
  std::string log = dir.path() + "/group.log";
  auto ex = MakeLocalExecutor();
  // Rank 1 fails once the others trap SIGTERM; they would run for a minute unless stopped (they
  // record the SIGTERM).
  const std::string up = dir.path() + "/up-";
  LaunchSpec spec = Shell("if [ $SSKAI_RANK = 1 ]; then while [ ! -e " + up + "0 ] || [ ! -e " + up +
                              "2 ]; do sleep 0.01; done; exit 4; fi; "
                              "trap 'echo rank $SSKAI_RANK stopped; exit 75' TERM; touch " + up +
                              "$SSKAI_RANK; sleep 60 & wait",
                          log);
  spec.tasks = 3;
  auto h = ex->Launch(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ExitInfo info = WaitExit(*ex, *h, 20000ms);
  ASSERT_TRUE(info.exited);
  EXPECT_EQ(info.exit_code, 4);
  std::string text = ReadFile(log);
  EXPECT_NE(text.find("rank 0 stopped"), std::string::npos) << text;
  EXPECT_NE(text.find("rank 2 stopped"), std::string::npos) << text;
}

TEST(LocalExecutorGroupTest, ANoticeReachesEveryRankAndTheGroupExitsAsPreempted) {
  testing::ScratchDir dir;
  std::string log = dir.path() + "/group.log";
  auto ex = MakeLocalExecutor();
  LaunchSpec spec = Shell("trap 'echo rank $SSKAI_RANK noticed; exit 75' TERM; echo rank $SSKAI_RANK up; "
                          "sleep 60 & wait",
                          log);
  spec.tasks = 2;
  auto h = ex->Launch(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  // Both ranks installed their trap before the notice.
  for (int idx = 0; idx < 1000 && ReadFile(log).find("rank 1 up") == std::string::npos; ++idx) {
    std::this_thread::sleep_for(5ms);
  }
  for (int idx = 0; idx < 1000 && ReadFile(log).find("rank 0 up") == std::string::npos; ++idx) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_FALSE(ex->Poll(*h).exited);
  ex->Signal(*h, /*force=*/false);
  ExitInfo info = WaitExit(*ex, *h, 20000ms);
  ASSERT_TRUE(info.exited);
  EXPECT_EQ(info.exit_code, kExitPreempted);
  EXPECT_EQ(info.signal, 0);
  std::string text = ReadFile(log);
  EXPECT_NE(text.find("rank 0 noticed"), std::string::npos) << text;
  EXPECT_NE(text.find("rank 1 noticed"), std::string::npos) << text;
}

TEST(LocalExecutorGroupTest, AForcedStopKillsTheWholeGroup) {
  auto ex = MakeLocalExecutor();
  LaunchSpec spec = Shell("trap '' TERM; sleep 60 & wait");
  spec.tasks = 2;
  auto h = ex->Launch(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ex->Signal(*h, /*force=*/true);
  ExitInfo info = WaitExit(*ex, *h);
  ASSERT_TRUE(info.exited);
  EXPECT_EQ(info.signal, SIGKILL);
}

}  // namespace
}  // namespace sskai::jobs
