// tests/ml/torchscript_resume_test.cc — TorchScript training with dropout: a run preempted at
// step boundaries (mid-epoch) and resumed from its checkpoints ends bit-identical to an
// uninterrupted run, because the checkpoint carries torch's RNG state. The model is scripted by
// Debian's python3-torch (skipped without it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>

#include "ml/ml.h"
#include "ml/test_util.h"

namespace sskai::ml {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

// An MLP whose hidden layer goes through dropout(0.5): every training step draws a mask.
constexpr const char* kScript = R"(
import sys, torch
import torch.nn as nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 32)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(32, 3)
    def forward(self, x):
        return self.fc2(self.drop(torch.relu(self.fc1(x))))
torch.manual_seed(0)
torch.jit.script(Net()).save(sys.argv[1])
)";

// 3 blobs in 4-d, 150 rows; class index in the last column.
std::string BlobsCsv() {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 0.6);
  std::ostringstream out;
  out << "a,b,c,d,label\n";
  for (int row = 0; row < 150; ++row) {
    int label = row % 3;
    for (int col = 0; col < 4; ++col) out << (col == label ? 2.0 : 0.0) + noise(rng) << ",";
    out << label << "\n";
  }
  return out.str();
}

class TorchScriptResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string script = dir_.Sub("make.py");
    WriteFile(script, kScript);
    std::string raw = dir_.Sub("raw.pt");
    std::string cmd = "/usr/bin/python3 " + script + " " + raw + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "python3-torch is not installed";
    std::string spec = R"({"inputs": [{"name": "x", "shape": [-1, 4], "dtype": "float32"}],
                           "task": "classification", "classes": ["0", "1", "2"]})";
    model_ = dir_.Sub("model.pt");
    auto report = sskai_ml_engine()->ValidateTorchScript(raw, spec, model_);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    csv_ = dir_.Sub("train.csv");
    WriteFile(csv_, BlobsCsv());
  }

  static TrainSpec Spec() {
    TrainSpec spec;
    spec.epochs = 4;
    spec.batch_size = 16;  // 120 training rows -> 8 steps per epoch, 32 in all
    spec.learning_rate = 0.01;
    spec.threads = 1;
    return spec;
  }

  // Trains until global step `stop_at` (0 = to the end); the preemption checkpoint goes to `saved`.
  Result<TrainResult> RunUntil(const std::string& work, const std::string& resume, int64_t stop_at,
                               const std::string& saved) {
    std::filesystem::create_directories(work);
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
    return sskai_ml_engine()->TrainTorchScript(model_, csv_, "label", Spec(), resume, work, cb);
  }

  TempDir dir_;
  std::string model_, csv_;
};

TEST_F(TorchScriptResumeTest, PreemptedRunWithDropoutEndsBitIdentical) {
  auto straight = RunUntil(dir_.Sub("straight"), "", 0, "");
  ASSERT_TRUE(straight.ok()) << straight.status().ToString();
  std::string resume;
  int leg = 0;
  for (int64_t point : {3, 11, 20}) {  // mid-epoch, each leg a fresh process state for the RNG
    std::string saved = dir_.Sub("leg" + std::to_string(leg) + ".ckpt");
    auto r = RunUntil(dir_.Sub("w" + std::to_string(leg)), resume, point, saved);
    ASSERT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
    resume = saved;
    ++leg;
  }
  auto finished = RunUntil(dir_.Sub("last"), resume, 0, "");
  ASSERT_TRUE(finished.ok()) << finished.status().ToString();
  EXPECT_EQ(finished->metrics, straight->metrics);
  EXPECT_TRUE(ReadFile(finished->model_path) == ReadFile(straight->model_path))
      << "weights differ after preemptions";
}

}  // namespace
}  // namespace sskai::ml
