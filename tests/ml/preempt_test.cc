// tests/ml/preempt_test.cc — step-level checkpoints: a run preempted at several step boundaries
// (mid-epoch) and resumed each time ends bit-identical to an uninterrupted run; corrupt
// checkpoints are refused; step cadence and pruning.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>

#include "ml/datasets.h"
#include "ml/ml.h"
#include "ml/test_util.h"

namespace sskai::ml {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

TrainSpec SmallSpec() {
  TrainSpec spec;
  spec.epochs = 6;
  spec.batch_size = 16;  // iris: 120 training rows -> 8 steps per epoch, 48 steps in all
  return spec;
}

// Runs until global step `stop_at` (0 = to the end), then preempts: the checkpoint of that step
// boundary is copied to `saved`.
Result<TrainResult> RunUntil(const data::TabularData& d, const std::string& work, const std::string& resume,
                             int64_t stop_at, const std::string& saved) {
  int64_t step = 0;
  TrainCallbacks cb;
  cb.on_step = [&](int64_t global_step, double) { step = global_step; };
  cb.checkpoint_and_stop = [&] { return stop_at > 0 && step >= stop_at; };
  cb.on_checkpoint = [&](const std::string& path, int) -> Status {
    if (stop_at > 0 && step >= stop_at) {
      std::filesystem::copy_file(path, saved, std::filesystem::copy_options::overwrite_existing);
    }
    return Status::Ok();
  };
  return sskai_ml_engine()->TrainTabular(d, SmallSpec(), resume, work, cb);
}

TEST(PreemptTest, PreemptedManyTimesMidEpochEndsBitIdentical) {
  data::TabularData d = testing::LoadSklearnCsv("iris.csv");
  TempDir dir;
  auto straight = RunUntil(d, dir.Sub("straight"), "", 0, "");
  ASSERT_TRUE(straight.ok()) << straight.status().ToString();
  std::string expected = ReadFile(straight->model_path);

  // Random preemption points (seeded), most of them mid-epoch.
  std::mt19937 rng(1234);
  std::set<int64_t> points;
  while (points.size() < 4) points.insert(1 + static_cast<int64_t>(rng() % 46));
  std::string resume;
  int leg = 0;
  for (int64_t point : points) {
    std::string saved = dir.Sub("leg" + std::to_string(leg) + ".ckpt");
    auto r = RunUntil(d, dir.Sub("w" + std::to_string(leg)), resume, point, saved);
    ASSERT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
    EXPECT_NE(r.status().message().find("preempted at step " + std::to_string(point)), std::string::npos)
        << r.status().message();
    auto pos = sskai_ml_engine()->ReadCheckpointPosition(saved);
    ASSERT_TRUE(pos.ok()) << pos.status().ToString();
    EXPECT_EQ(pos->global_step, point);  // at most the step in flight is lost: none here
    EXPECT_EQ(pos->epoch * 8 + pos->step_in_epoch, point);
    resume = saved;
    ++leg;
  }
  auto finished = RunUntil(d, dir.Sub("last"), resume, 0, "");
  ASSERT_TRUE(finished.ok()) << finished.status().ToString();
  EXPECT_EQ(finished->metrics, straight->metrics);
  EXPECT_TRUE(ReadFile(finished->model_path) == expected) << "weights differ after preemptions";
}

TEST(PreemptTest, CorruptCheckpointIsRefused) {
  data::TabularData d = testing::LoadSklearnCsv("iris.csv");
  TempDir dir;
  std::string saved = dir.Sub("c.ckpt");
  ASSERT_EQ(RunUntil(d, dir.Sub("a"), "", 11, saved).status().code(), StatusCode::kCancelled);
  std::string bytes = ReadFile(saved);
  bytes[bytes.size() / 2] ^= 0x5a;  // one flipped byte: the sha256 no longer matches
  std::string corrupt = dir.Sub("corrupt.ckpt");
  WriteFile(corrupt, bytes);
  EXPECT_EQ(sskai_ml_engine()->ReadCheckpointPosition(corrupt).status().code(), StatusCode::kInvalidArgument);
  auto r = RunUntil(d, dir.Sub("b"), corrupt, 0, "");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
}

TEST(PreemptTest, StepCadenceCheckpointsAndKeepsTheLastTwo) {
  data::TabularData d = testing::LoadSklearnCsv("iris.csv");
  TempDir dir;
  std::vector<int64_t> steps;
  TrainCallbacks cb;
  cb.checkpoint_every_steps = 5;
  cb.on_checkpoint = [&](const std::string& path, int) -> Status {
    auto pos = sskai_ml_engine()->ReadCheckpointPosition(path);
    if (!pos.ok()) return pos.status();
    steps.push_back(pos->global_step);
    return Status::Ok();
  };
  std::string work = dir.Sub("w");
  auto r = sskai_ml_engine()->TrainTabular(d, SmallSpec(), "", work, cb);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_GE(steps.size(), 9u);
  EXPECT_EQ(steps[0], 5);  // mid-epoch 1
  EXPECT_EQ(steps.back(), 48);
  for (size_t idx = 1; idx < steps.size(); ++idx) EXPECT_LE(steps[idx] - steps[idx - 1], 5);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(work)) {
    if (e.path().filename().string().rfind("checkpoint-", 0) == 0) ++files;
  }
  EXPECT_EQ(files, 2);
}

TEST(PreemptTest, UnwritableCheckpointDirIsAClearError) {
  // A full or read-only disk while checkpointing: training stops with the OS error and the path.
  data::TabularData d = testing::LoadSklearnCsv("iris.csv");
  TrainCallbacks cb;
  cb.checkpoint_every_steps = 3;
  auto r = sskai_ml_engine()->TrainTabular(d, SmallSpec(), "", "/proc/sskai-no-such-dir", cb);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/proc/sskai-no-such-dir"), std::string::npos) << r.status().ToString();
}

}  // namespace
}  // namespace sskai::ml
