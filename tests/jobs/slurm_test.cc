// Slurm executor: the pure parts (scontrol records, exit mapping, partition flags, job spec).
#include <gtest/gtest.h>
#include <signal.h>

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "common/clock.h"
#include "jobs/jobs.h"
#include "testing/scratch_dir.h"

namespace sskai::jobs {
namespace {

TEST(SlurmParseTest, ReadsAScontrolOneLineRecord) {
  auto info = ParseScontrolJob(
      "JobId=17 JobName=sskai-job-3 UserId=root(0) GroupId=root(0) Priority=1 JobState=PENDING "
      "Reason=BeginTime Dependency=(null) Requeue=1 Restarts=2 BatchFlag=1 ExitCode=0:15 "
      "RunTime=00:00:01 Partition=spot");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->job_id, 17);
  EXPECT_EQ(info->name, "sskai-job-3");
  EXPECT_EQ(info->state, "PENDING");
  EXPECT_EQ(info->reason, "BeginTime");
  EXPECT_EQ(info->restarts, 2);
  EXPECT_EQ(info->exit_code, 0);
  EXPECT_EQ(info->exit_signal, 15);
}

TEST(SlurmParseTest, RejectsTextWithoutAJob) {
  EXPECT_FALSE(ParseScontrolJob("slurm_load_jobs error: Invalid job id specified").ok());
  EXPECT_FALSE(ParseScontrolJob("").ok());
  EXPECT_FALSE(ParseScontrolJob("JobId=x JobState=RUNNING").ok());
}

SlurmJobInfo Job(const std::string& state, int code = 0, int sig = 0, int64_t restarts = 0) {
  SlurmJobInfo info;
  info.job_id = 5;
  info.state = state;
  info.exit_code = code;
  info.exit_signal = sig;
  info.restarts = restarts;
  return info;
}

TEST(SlurmExitTest, MapsSlurmStatesToWorkerExits) {
  for (const char* alive : {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED"}) {
    EXPECT_FALSE(SlurmExitInfo(Job(alive), 0).exited) << alive;
  }
  ExitInfo ok = SlurmExitInfo(Job("COMPLETED"), 0);
  EXPECT_TRUE(ok.exited);
  EXPECT_EQ(ok.exit_code, 0);
  ExitInfo noticed = SlurmExitInfo(Job("FAILED", kExitPreempted), 0);
  EXPECT_EQ(noticed.exit_code, kExitPreempted);
  EXPECT_EQ(noticed.signal, 0);
  ExitInfo killed = SlurmExitInfo(Job("FAILED", 0, 9), 0);
  EXPECT_EQ(killed.signal, 9);
  ExitInfo cancelled = SlurmExitInfo(Job("CANCELLED"), 0);
  EXPECT_EQ(cancelled.signal, SIGTERM);
  EXPECT_NE(cancelled.Describe().find("cancelled in Slurm"), std::string::npos);
  for (const char* lost : {"NODE_FAIL", "TIMEOUT", "PREEMPTED", "BOOT_FAIL", "OUT_OF_MEMORY"}) {
    ExitInfo e = SlurmExitInfo(Job(lost), 0);
    EXPECT_TRUE(e.exited) << lost;
    EXPECT_EQ(e.signal, SIGKILL) << lost;
    EXPECT_NE(e.Describe().find(lost), std::string::npos);
  }
}

TEST(SlurmExitTest, ARequeueSinceTheHandleIsAPreemption) {
  ExitInfo requeued = SlurmExitInfo(Job("PENDING", 0, 0, 1), 0);
  EXPECT_TRUE(requeued.exited);
  EXPECT_EQ(requeued.exit_code, kExitPreempted);
  EXPECT_EQ(requeued.Describe(), "requeued by Slurm (restart 1)");
  // Not while the old run's processes wind down (the worker may still upload its checkpoint).
  EXPECT_FALSE(SlurmExitInfo(Job("COMPLETING", 0, 0, 1), 0).exited);
  EXPECT_FALSE(SlurmExitInfo(Job("REQUEUED", 0, 0, 1), 0).exited);
  // The relaunched handle knows restart 1: the same record is a live job again.
  EXPECT_FALSE(SlurmExitInfo(Job("RUNNING", 0, 0, 1), 1).exited);
  // Classified as infrastructure loss: retried, recorded as a preemption.
  ExitFacts facts;
  facts.state = kRunning;
  facts.exit_code = requeued.exit_code;
  facts.exit_text = requeued.Describe();
  facts.progressed = true;
  ExitDecision d = ClassifyExit(facts);
  EXPECT_EQ(d.action, ExitDecision::Action::kRetry);
  EXPECT_TRUE(d.preemption);
}

TEST(SlurmPartitionFlagTest, ParsesOfferingAndMarket) {
  auto spot = ParseSlurmPartitionFlag("spot=g5.xlarge@use1-az1:spot");
  ASSERT_TRUE(spot.ok());
  EXPECT_EQ(spot->first, "spot");
  EXPECT_EQ(spot->second.offering, "g5.xlarge@use1-az1");
  EXPECT_TRUE(spot->second.spot);
  auto od = ParseSlurmPartitionFlag("gpu=p4d.24xlarge@use1-az2:ondemand");
  ASSERT_TRUE(od.ok());
  EXPECT_FALSE(od->second.spot);
  auto plain = ParseSlurmPartitionFlag("debug=this-machine");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->second.offering, "this-machine");
  EXPECT_FALSE(plain->second.spot);
  for (const char* bad : {"", "spot", "=x", "spot=", "spot=g5:cheap", "spot=:spot"}) {
    EXPECT_FALSE(ParseSlurmPartitionFlag(bad).ok()) << bad;
  }
}

TEST(SlurmSpecTest, TasksAndPartitionAreValidated) {
  auto ok = ParseExecutionSpec(R"({"executor":"slurm","tasks":2,"partition":"spot"})");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->executor, "slurm");
  EXPECT_EQ(ok->tasks, 2);
  EXPECT_EQ(ok->partition, "spot");
  EXPECT_EQ(ParseExecutionSpec("{}")->executor, "");  // the server's default
  EXPECT_EQ(ParseExecutionSpec(R"({"executor":"local","tasks":2})")->tasks, 2);  // local process group
  for (const char* bad : {R"({"executor":"k8s"})", R"({"executor":"slurm","tasks":0})",
                          R"({"executor":"slurm","tasks":1.5})", R"({"executor":"slurm","tasks":65})",
                          R"({"executor":"local","tasks":1.5})", R"({"partition":"a b"})",
                          R"({"partition":"x;rm -rf /"})", R"({"partition":7})"}) {
    auto r = ParseExecutionSpec(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

// A requeued Slurm job held for the relaunch is cancelled when its sskai job ends meanwhile
// (fake squeue/scancel in bin_dir record what the executor runs).
TEST(SlurmForgetTest, CancelsAHeldRequeuedJobOfThatName) {
  testing::ScratchDir dir;
  const std::string calls = dir.path() + "/calls";
  auto tool = [&](const std::string& name, const std::string& body) {
    std::string path = dir.path() + "/" + name;
    std::ofstream(path) << "#!/bin/sh\necho \"" << name << " $*\" >> " << calls << "\n" << body;
    chmod(path.c_str(), 0755);
  };
  tool("squeue", "case \"$*\" in *sskai-job-7*) echo '41 (JobHeldUser)';; esac\n");
  tool("scancel", "");
  SlurmOptions options;
  options.script_dir = dir.path() + "/scripts";
  options.bin_dir = dir.path();
  FakeClock clock;
  auto ex = MakeSlurmExecutor(options, clock);
  ex->Forget("job-8");  // nothing held under that name: nothing cancelled
  ex->Forget("job-7");
  std::ifstream in(calls);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("squeue -h -n sskai-job-8"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("scancel 41"), std::string::npos) << text.str();
  EXPECT_EQ(text.str().find("scancel"), text.str().rfind("scancel")) << "exactly one scancel: " << text.str();
}

}  // namespace
}  // namespace sskai::jobs
