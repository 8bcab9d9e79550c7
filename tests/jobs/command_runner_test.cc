// The custom-command runner: the stdout line protocol, notice forwarding, missing commands.
#include "jobs/command_runner.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/scratch_dir.h"

namespace sskai::jobs {
namespace {

using Kind = ProtocolLine::Kind;

TEST(ProtocolLineTest, ParsesMetricsAndCheckpoints) {
  auto m = ParseProtocolLine("sskai:metric step=10 loss=0.5 accuracy=0.9\r\n");
  EXPECT_EQ(m.kind, Kind::kMetric);
  EXPECT_EQ(m.step, 10);
  EXPECT_EQ(m.values, (std::map<std::string, double>{{"loss", 0.5}, {"accuracy", 0.9}}));
  auto c = ParseProtocolLine("sskai:checkpoint step=50 path=ckpt-50.json");
  EXPECT_EQ(c.kind, Kind::kCheckpoint);
  EXPECT_EQ(c.step, 50);
  EXPECT_EQ(c.path, "ckpt-50.json");
  EXPECT_EQ(ParseProtocolLine("epoch 3 loss 0.2").kind, Kind::kNone);
  EXPECT_EQ(ParseProtocolLine("sskai:metrics step=1").kind, Kind::kNone);
  for (const char* bad : {"sskai:metric loss=0.5", "sskai:metric step=1 loss=abc", "sskai:metric step=-1",
                          "sskai:metric step=1.5", "sskai:metric step=1 loss", "sskai:checkpoint step=3"}) {
    auto b = ParseProtocolLine(bad);
    EXPECT_EQ(b.kind, Kind::kBad) << bad;
    EXPECT_FALSE(b.error.empty()) << bad;
  }
}

TEST(RunCommandTest, ForwardsMetricsCheckpointsAndTheNotice) {
  sskai::testing::ScratchDir dir;
  std::string script = dir.path() + "/train.sh";
  std::ofstream(script) << "trap 'echo sskai:checkpoint step=7 path=c7; exit 75' TERM\n"
                           "echo hello\n"
                           "echo sskai:metric step=5 loss=0.25\n"
                           "echo sskai:checkpoint step=6 path=c6\n"
                           "while true; do sleep 0.05; done\n";
  std::vector<std::pair<int64_t, std::string>> checkpoints;
  std::vector<int64_t> metric_steps;
  CommandSpec spec{{"/bin/sh", script}, {{"SSKAI_X", "1"}}, dir.path()};
  CommandCallbacks cb;
  cb.on_metric = [&](int64_t step, const std::map<std::string, double>& values) {
    metric_steps.push_back(step);
    EXPECT_EQ(values.at("loss"), 0.25);
  };
  cb.on_checkpoint = [&](const std::string& path, int64_t step) {
    checkpoints.emplace_back(step, path);
    return Status::Ok();
  };
  cb.notice = [&] { return !checkpoints.empty(); };  // notice once the first checkpoint is in
  auto out = RunCommand(spec, cb);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out->noticed);
  EXPECT_EQ(out->exit_code, 75);
  EXPECT_EQ(out->last_step, 7);
  EXPECT_EQ(metric_steps, std::vector<int64_t>{5});
  ASSERT_EQ(checkpoints.size(), 2u);
  EXPECT_EQ(checkpoints[1], std::make_pair(int64_t{7}, dir.path() + "/c7"));
}

TEST(RunCommandTest, MissingCommandExits127) {
  auto out = RunCommand(CommandSpec{{"/nonexistent/train-me"}, {}, ""}, {});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->exit_code, 127);
  EXPECT_FALSE(out->noticed);
}

}  // namespace
}  // namespace sskai::jobs
