// tests/ml/data_parallel_test.cc — data-parallel training over c10d Gloo: two ranks (two
// processes of this test binary, rendezvous through a FileStore) end with the same weights and
// losses as one worker with the same global batch, to floating-point tolerance; a notice that
// reaches one rank stops both at the same step, and the run resumes from rank 0's checkpoint.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "ml/datasets.h"
#include "ml/ml.h"
#include "ml/test_util.h"

extern char** environ;

namespace sskai::ml {
namespace {

using testing::ReadFile;
using testing::TempDir;

TrainSpec Spec() {
  TrainSpec spec;
  spec.epochs = 4;
  spec.batch_size = 32;  // digits: 1,438 training rows -> 45 steps per epoch
  spec.hidden = {64, 32};
  return spec;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

struct Outcome {
  bool ok = false;
  std::string error;
  double train_loss = 0, val_loss = 0, val_accuracy = 0;
  int64_t last_step = 0;
  std::string model_path;
};

// One rank (or the single worker when world_size is 1). Stops with a checkpoint at global step
// `notice_at` (0 = never) — delivered to this rank only.
Outcome RunRank(const data::TabularData& d, int rank, int world, const std::string& store,
                const std::string& work, const std::string& resume, int64_t notice_at) {
  TrainCallbacks cb;
  Outcome out;
  cb.on_step = [&](int64_t step, double) { out.last_step = step; };
  cb.checkpoint_and_stop = [&] { return notice_at > 0 && out.last_step >= notice_at; };
  cb.data_parallel.rank = rank;
  cb.data_parallel.world_size = world;
  cb.data_parallel.store_path = store;
  cb.data_parallel.timeout_seconds = 60;
  auto r = sskai_ml_engine()->TrainTabular(d, Spec(), resume, work, cb);
  out.ok = r.ok();
  if (!r.ok()) {
    out.error = r.status().ToString();
    return out;
  }
  out.train_loss = r->metrics["train_loss"];
  out.val_loss = r->metrics["val_loss"];
  out.val_accuracy = r->metrics["val_accuracy"];
  out.model_path = r->model_path;
  return out;
}

// A child process: DataParallelTest.RankHelper of this binary with the rank in its environment.
pid_t SpawnRank(int rank, const std::string& store, const std::string& work, const std::string& resume,
                int64_t notice_at, const std::string& result_file) {
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.push_back(*e);
  env_strings.push_back("SSKAI_DP_RANK=" + std::to_string(rank));
  env_strings.push_back("SSKAI_DP_STORE=" + store);
  env_strings.push_back("SSKAI_DP_WORK=" + work);
  env_strings.push_back("SSKAI_DP_RESUME=" + resume);
  env_strings.push_back("SSKAI_DP_NOTICE_AT=" + std::to_string(notice_at));
  env_strings.push_back("SSKAI_DP_RESULT=" + result_file);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string filter = "--gtest_filter=DataParallelTest.RankHelper";
  std::vector<char*> argv = {self.data(), filter.data(), nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv.data(), envp.data()) != 0) return -1;
  return pid;
}

// "ok train_loss val_loss val_accuracy last_step" or "error <message>".
Outcome ReadOutcome(const std::string& path) {
  Outcome out;
  std::ifstream in(path);
  std::string word;
  in >> word;
  if (word == "ok") {
    out.ok = true;
    in >> out.train_loss >> out.val_loss >> out.val_accuracy >> out.last_step;
  } else {
    std::getline(in, out.error);
    if (out.error.empty()) out.error = "no result from the rank process";
  }
  return out;
}

// Runs ranks 0 and 1 as processes; rank 1 alone gets the notice at `notice_at`.
std::pair<Outcome, Outcome> RunTwoRanks(const TempDir& dir, const std::string& tag, const std::string& resume,
                                        int64_t notice_at) {
  std::string store = dir.Sub(tag + "-store");
  pid_t pids[2];
  for (int rank = 0; rank < 2; ++rank) {
    pids[rank] = SpawnRank(rank, store, dir.Sub(tag + "-rank" + std::to_string(rank)), resume,
                           rank == 1 ? notice_at : 0, dir.Sub(tag + "-result" + std::to_string(rank)));
  }
  for (pid_t pid : pids) {
    int status = 0;
    if (pid > 0) waitpid(pid, &status, 0);
  }
  return {ReadOutcome(dir.Sub(tag + "-result0")), ReadOutcome(dir.Sub(tag + "-result1"))};
}

TEST(DataParallelTest, RankHelper) {
  if (Env("SSKAI_DP_RANK").empty()) GTEST_SKIP() << "a rank process of the data-parallel tests";
  data::TabularData d = testing::LoadDigits();
  Outcome out = RunRank(d, std::atoi(Env("SSKAI_DP_RANK").c_str()), 2, Env("SSKAI_DP_STORE"),
                        Env("SSKAI_DP_WORK"), Env("SSKAI_DP_RESUME"), std::atoll(Env("SSKAI_DP_NOTICE_AT").c_str()));
  std::ofstream result(Env("SSKAI_DP_RESULT"));
  result.precision(17);
  if (out.ok) {
    result << "ok " << out.train_loss << " " << out.val_loss << " " << out.val_accuracy << " " << out.last_step;
  } else {
    result << "error " << out.error;
  }
}

TEST(DataParallelTest, TwoRanksMatchOneWorkerWithTheSameGlobalBatch) {
  data::TabularData d = testing::LoadDigits();
  ASSERT_GT(d.rows, 0) << "digits.csv.gz missing (python3-sklearn)";
  TempDir dir;
  auto [rank0, rank1] = RunTwoRanks(dir, "dp", "", 0);
  ASSERT_TRUE(rank0.ok) << rank0.error;
  ASSERT_TRUE(rank1.ok) << rank1.error;
  Outcome single = RunRank(d, 0, 1, "", dir.Sub("single"), "", 0);
  ASSERT_TRUE(single.ok) << single.error;
  // Both ranks hold the same model; it is the single worker's to floating-point tolerance.
  EXPECT_DOUBLE_EQ(rank0.val_loss, rank1.val_loss);
  EXPECT_DOUBLE_EQ(rank0.train_loss, rank1.train_loss);
  EXPECT_NEAR(rank0.val_loss, single.val_loss, 1e-4 * single.val_loss);
  EXPECT_NEAR(rank0.train_loss, single.train_loss, 1e-4 * single.train_loss);
  EXPECT_DOUBLE_EQ(rank0.val_accuracy, single.val_accuracy);
  EXPECT_EQ(rank0.last_step, 180);
}

TEST(DataParallelTest, ANoticeToOneRankStopsBothAndTheyResumeFromRankZerosCheckpoint) {
  data::TabularData d = testing::LoadDigits();
  ASSERT_GT(d.rows, 0);
  TempDir dir;
  auto [first0, first1] = RunTwoRanks(dir, "leg1", "", 70);  // mid-epoch 2
  EXPECT_FALSE(first0.ok);
  EXPECT_FALSE(first1.ok);
  EXPECT_NE(first0.error.find("preempted at step 70"), std::string::npos) << first0.error;
  EXPECT_NE(first1.error.find("preempted at step 70"), std::string::npos) << first1.error;
  // Only rank 0 wrote the checkpoint.
  std::string checkpoint = dir.Sub("leg1-rank0/checkpoint-70.sskai");
  ASSERT_TRUE(std::filesystem::exists(checkpoint));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("leg1-rank1/checkpoint-70.sskai")));
  auto [second0, second1] = RunTwoRanks(dir, "leg2", checkpoint, 0);
  ASSERT_TRUE(second0.ok) << second0.error;
  ASSERT_TRUE(second1.ok) << second1.error;
  Outcome single = RunRank(d, 0, 1, "", dir.Sub("single"), "", 0);
  ASSERT_TRUE(single.ok) << single.error;
  EXPECT_NEAR(second0.val_loss, single.val_loss, 1e-4 * single.val_loss);
  EXPECT_DOUBLE_EQ(second0.val_loss, second1.val_loss);
}

}  // namespace
}  // namespace sskai::ml
