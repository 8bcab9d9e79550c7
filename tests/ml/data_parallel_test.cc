// tests/ml/data_parallel_test.cc — data-parallel training over c10d Gloo: two ranks (two
// processes of this test binary, rendezvous through a FileStore or a TCPStore on loopback) end
// with the same weights and losses as one worker with the same global batch, to floating-point
// tolerance — the MLP, the CNN (synchronized BatchNorm) and LM LoRA fine-tuning; a notice that
// reaches one rank stops both at the same step, and the run resumes from rank 0's checkpoint.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/loopback_port.h"
#include "ml/datasets.h"
#include "ml/ml.h"
#include "ml/test_util.h"
#include "ml/tiny_lm_config.h"

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

// What a user gets: the default spec (Adam, lr 1e-3, batch 64, 5 epochs: 25 steps on 320
// training images). Rounding differs between 2 ranks and 1 worker (summation order); with the
// convolutions' bias in front of BatchNorm (true gradient 0, rounding-noise gradient) Adam turned
// that into lr-sized steps: held-out loss 1.2e-3 apart after these 25 steps. Without it: 10 steps
// give the same held-out loss, 25 steps 1.8e-5 (training loss 7e-7) — see BENCHMARKS.md.
TrainSpec CnnSpec() { return TrainSpec{}; }

data::ImageData Images() { return testing::LoadFashionMnist("train", 400); }

// A tiny Llama and a corpus of 24 sequences of 6..17 tokens (uneven, so shards pad differently).
std::vector<LmExample> LmCorpus() {
  std::vector<LmExample> data;
  for (int idx = 0; idx < 24; ++idx) {
    LmExample e;
    int len = 6 + (idx * 7) % 12;
    for (int t = 0; t < len; ++t) e.ids.push_back(1 + (idx * 5 + t * (idx % 3 + 1)) % 60);
    e.target.assign(e.ids.size(), 1);
    e.target[0] = 0;
    data.push_back(e);
  }
  return data;
}

LmTrainSpec LmSpec() {
  LmTrainSpec spec;
  spec.lora_spec.rank = 4;
  spec.lora_spec.alpha = 8;
  spec.steps = 10;
  spec.batch_size = 4;  // 2 rows per rank and micro-batch
  spec.grad_accum = 2;
  spec.learning_rate = 1e-2;
  spec.warmup_steps = 2;
  return spec;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

struct Outcome {
  bool ok = false;
  std::string error;
  // val_loss / val_accuracy: -1 when the run did not evaluate (data-parallel ranks > 0).
  double train_loss = 0, val_loss = 0, val_accuracy = 0;
  int64_t last_step = 0;
  std::string model_path;
  double digest = 0;  // a digest of the trained weights: predictions on fixed inputs
};

// Sum over the first 32 rows of the data of sum_k (k + 1) * P(class k): equal digests = the
// same predictions (the model file of every rank, whether or not it evaluated).
Result<double> PredictionDigest(const std::string& kind, const std::string& model_path) {
  SSKAI_ASSIGN_OR_RETURN(auto predictor, sskai_ml_engine()->LoadPredictor(model_path));
  std::string batch = "[";
  if (kind == "cnn") {
    data::ImageData d = Images();
    const int64_t size = d.channels * d.height * d.width;
    for (int64_t row = 0; row < 32; ++row) {
      batch += row ? ",[" : "[";
      for (int64_t px = 0; px < size; ++px) batch += (px ? "," : "") + std::to_string(d.pixels[row * size + px]);
      batch += "]";
    }
  } else {
    data::TabularData d = testing::LoadDigits();
    for (int64_t row = 0; row < 32; ++row) {
      batch += row ? ",[" : "[";
      for (int64_t col = 0; col < d.features; ++col) {
        batch += (col ? "," : "") + std::to_string(d.x[row * d.features + col]);
      }
      batch += "]";
    }
  }
  SSKAI_ASSIGN_OR_RETURN(PredictOutput out, predictor->PredictJson(batch + "]"));
  double digest = 0;
  for (const auto& probs : out.probabilities) {
    for (size_t k = 0; k < probs.size(); ++k) digest += static_cast<double>(k + 1) * probs[k];
  }
  return digest;
}

DataParallelOptions Group(int rank, int world, const std::string& store, int port) {
  DataParallelOptions dp;
  dp.rank = rank;
  dp.world_size = world;
  dp.store_path = port > 0 ? "" : store;
  dp.master_addr = "127.0.0.1";
  dp.master_port = port;
  dp.timeout_seconds = 60;
  return dp;
}

// One rank (or the single worker when world_size is 1) of a built-in model ("mlp" on digits,
// "cnn" on Fashion-MNIST). Stops with a checkpoint at global step `notice_at` (0 = never) —
// delivered to this rank only. `port` > 0: TCPStore rendezvous, else the FileStore `store`.
Outcome RunRank(const std::string& kind, int rank, int world, const std::string& store, int port,
                const std::string& work, const std::string& resume, int64_t notice_at) {
  TrainCallbacks cb;
  Outcome out;
  cb.on_step = [&](int64_t step, double) { out.last_step = step; };
  cb.checkpoint_and_stop = [&] { return notice_at > 0 && out.last_step >= notice_at; };
  cb.data_parallel = Group(rank, world, store, port);
  auto r = kind == "cnn" ? sskai_ml_engine()->TrainImages(Images(), CnnSpec(), resume, work, cb)
                         : sskai_ml_engine()->TrainTabular(testing::LoadDigits(), Spec(), resume, work, cb);
  out.ok = r.ok();
  if (!r.ok()) {
    out.error = r.status().ToString();
    return out;
  }
  out.train_loss = r->metrics["train_loss"];
  out.val_loss = r->metrics.count("val_loss") ? r->metrics["val_loss"] : -1;
  out.val_accuracy = r->metrics.count("val_accuracy") ? r->metrics["val_accuracy"] : -1;
  out.model_path = r->model_path;
  auto digest = PredictionDigest(kind, r->model_path);
  if (!digest.ok()) return {.error = digest.status().ToString()};
  out.digest = *digest;
  return out;
}

// One rank of LoRA fine-tuning of the tiny LM: train_loss = the last step's loss, val_loss = the
// corpus loss after training, val_accuracy = the sum of the logits of a probe (a weights digest).
Outcome RunLmRank(int rank, int world, const std::string& store, int port, const std::string& work,
                  const std::string& resume, int64_t notice_at) {
  Outcome out;
  auto lm = sskai_ml_engine()->CreateLm(testing::TinyLmConfig(61, 64), 7, {});
  if (!lm.ok()) return {.error = lm.status().ToString()};
  LmTrainCallbacks cb;
  cb.on_step = [&](const LmStepMetrics& m) { out.last_step = m.step; };
  cb.should_stop = [&] { return notice_at > 0 && out.last_step >= notice_at; };
  cb.data_parallel = Group(rank, world, store, port);
  auto r = (*lm)->Train(LmCorpus(), LmSpec(), resume, work, cb);
  if (!r.ok()) return {.error = r.status().ToString(), .last_step = out.last_step};
  auto eval = (*lm)->Evaluate(LmCorpus(), 4);
  auto logits = (*lm)->Logits({1, 20, 21, 22, 5, 9});
  if (!eval.ok() || !logits.ok()) return {.error = "evaluation failed"};
  out.ok = true;
  out.train_loss = r->final_loss;
  out.val_loss = eval->loss;
  for (float v : *logits) out.val_accuracy += v;
  return out;
}

// A child process: DataParallelTest.RankHelper of this binary with the rank in its environment.
pid_t SpawnRank(const std::string& kind, int rank, const std::string& store, int port, const std::string& work,
                const std::string& resume, int64_t notice_at, const std::string& result_file) {
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.push_back(*e);
  env_strings.push_back("SSKAI_DP_KIND=" + kind);
  env_strings.push_back("SSKAI_DP_RANK=" + std::to_string(rank));
  env_strings.push_back("SSKAI_DP_PORT=" + std::to_string(port));
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
    in >> out.train_loss >> out.val_loss >> out.val_accuracy >> out.last_step >> out.digest;
  } else {
    std::getline(in, out.error);
    if (out.error.empty()) out.error = "no result from the rank process";
  }
  return out;
}

// The numbers behind a comparison, for the log (BENCHMARKS.md quotes them).
void Report(const char* what, const Outcome& two_ranks, const Outcome& single) {
  std::printf("%s: 2 ranks train_loss %.10g val_loss %.10g digest %.10g | 1 worker train_loss %.10g val_loss "
              "%.10g digest %.10g | relative difference %.2e / %.2e / %.2e\n",
              what, two_ranks.train_loss, two_ranks.val_loss, two_ranks.digest, single.train_loss, single.val_loss,
              single.digest, std::abs(two_ranks.train_loss - single.train_loss) / std::abs(single.train_loss),
              std::abs(two_ranks.val_loss - single.val_loss) / std::abs(single.val_loss),
              single.digest == 0 ? 0.0 : std::abs(two_ranks.digest - single.digest) / std::abs(single.digest));
}

// Runs ranks 0 and 1 of `kind` as processes; rank 1 alone gets the notice at `notice_at`.
// tcp: rendezvous through a TCPStore served by rank 0 on loopback, else through a FileStore.
std::pair<Outcome, Outcome> RunTwoRanks(const std::string& kind, const TempDir& dir, const std::string& tag,
                                        const std::string& resume, int64_t notice_at, bool tcp = false) {
  std::string store = dir.Sub(tag + "-store");
  const int port = tcp ? FreeLoopbackPort() : 0;
  pid_t pids[2];
  for (int rank = 0; rank < 2; ++rank) {
    pids[rank] = SpawnRank(kind, rank, store, port, dir.Sub(tag + "-rank" + std::to_string(rank)), resume,
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
  const std::string kind = Env("SSKAI_DP_KIND");
  const int rank = std::atoi(Env("SSKAI_DP_RANK").c_str()), port = std::atoi(Env("SSKAI_DP_PORT").c_str());
  const int64_t notice_at = std::atoll(Env("SSKAI_DP_NOTICE_AT").c_str());
  Outcome out = kind == "lm" ? RunLmRank(rank, 2, Env("SSKAI_DP_STORE"), port, Env("SSKAI_DP_WORK"),
                                         Env("SSKAI_DP_RESUME"), notice_at)
                             : RunRank(kind, rank, 2, Env("SSKAI_DP_STORE"), port, Env("SSKAI_DP_WORK"),
                                       Env("SSKAI_DP_RESUME"), notice_at);
  std::ofstream result(Env("SSKAI_DP_RESULT"));
  result.precision(17);
  if (out.ok) {
    result << "ok " << out.train_loss << " " << out.val_loss << " " << out.val_accuracy << " " << out.last_step
           << " " << out.digest;
  } else {
    result << "error " << out.error;
  }
}

TEST(DataParallelTest, TwoRanksMatchOneWorkerWithTheSameGlobalBatch) {
  data::TabularData d = testing::LoadDigits();
  ASSERT_GT(d.rows, 0) << "digits.csv.gz missing (python3-sklearn)";
  TempDir dir;
  auto [rank0, rank1] = RunTwoRanks("mlp", dir, "dp", "", 0);
  ASSERT_TRUE(rank0.ok) << rank0.error;
  ASSERT_TRUE(rank1.ok) << rank1.error;
  Outcome single = RunRank("mlp", 0, 1, "", 0, dir.Sub("single"), "", 0);
  ASSERT_TRUE(single.ok) << single.error;
  Report("mlp", rank0, single);
  // Both ranks hold the same model; it is the single worker's to floating-point tolerance.
  EXPECT_DOUBLE_EQ(rank0.digest, rank1.digest);
  EXPECT_DOUBLE_EQ(rank0.train_loss, rank1.train_loss);
  EXPECT_EQ(rank1.val_loss, -1) << "only rank 0 evaluates on the held-out split";
  EXPECT_NEAR(rank0.val_loss, single.val_loss, 1e-6 * single.val_loss);
  EXPECT_NEAR(rank0.train_loss, single.train_loss, 1e-6 * single.train_loss);
  EXPECT_DOUBLE_EQ(rank0.val_accuracy, single.val_accuracy);
  EXPECT_EQ(rank0.last_step, 180);
}

TEST(DataParallelTest, ANoticeToOneRankStopsBothAndTheyResumeFromRankZerosCheckpoint) {
  data::TabularData d = testing::LoadDigits();
  ASSERT_GT(d.rows, 0);
  TempDir dir;
  auto [first0, first1] = RunTwoRanks("mlp", dir, "leg1", "", 70, /*tcp=*/true);  // mid-epoch 2
  EXPECT_FALSE(first0.ok);
  EXPECT_FALSE(first1.ok);
  EXPECT_NE(first0.error.find("preempted at step 70"), std::string::npos) << first0.error;
  EXPECT_NE(first1.error.find("preempted at step 70"), std::string::npos) << first1.error;
  // Only rank 0 wrote the checkpoint.
  std::string checkpoint = dir.Sub("leg1-rank0/checkpoint-70.sskai");
  ASSERT_TRUE(std::filesystem::exists(checkpoint));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("leg1-rank1/checkpoint-70.sskai")));
  auto [second0, second1] = RunTwoRanks("mlp", dir, "leg2", checkpoint, 0, /*tcp=*/true);
  ASSERT_TRUE(second0.ok) << second0.error;
  ASSERT_TRUE(second1.ok) << second1.error;
  Outcome single = RunRank("mlp", 0, 1, "", 0, dir.Sub("single"), "", 0);
  ASSERT_TRUE(single.ok) << single.error;
  EXPECT_NEAR(second0.val_loss, single.val_loss, 1e-4 * single.val_loss);
  EXPECT_DOUBLE_EQ(second0.digest, second1.digest);
}

// BatchNorm with synchronized statistics: the CNN's 2 ranks train on the global batch's
// statistics (and update the running statistics from it), so they match one worker.
TEST(DataParallelTest, CnnWithBatchNormTwoRanksMatchOneWorker) {
  ASSERT_GT(Images().count, 0) << "Fashion-MNIST missing (dataset-fashion-mnist)";
  TempDir dir;
  auto [rank0, rank1] = RunTwoRanks("cnn", dir, "cnn", "", 0);
  ASSERT_TRUE(rank0.ok) << rank0.error;
  ASSERT_TRUE(rank1.ok) << rank1.error;
  Outcome single = RunRank("cnn", 0, 1, "", 0, dir.Sub("single"), "", 0);
  ASSERT_TRUE(single.ok) << single.error;
  Report("cnn", rank0, single);
  EXPECT_DOUBLE_EQ(rank0.digest, rank1.digest);
  EXPECT_EQ(rank1.val_loss, -1) << "only rank 0 evaluates on the held-out split";
  EXPECT_EQ(rank0.last_step, 25);
  // Measured 7.3e-7 / 1.8e-5 / 1.3e-6 relative (train loss / held-out loss / digest).
  EXPECT_NEAR(rank0.train_loss, single.train_loss, 1e-5 * single.train_loss);
  // Evaluation uses the running statistics: they too come from the global batches.
  EXPECT_NEAR(rank0.val_loss, single.val_loss, 5e-5 * single.val_loss);
  EXPECT_NEAR(rank0.digest, single.digest, 1e-5 * single.digest);
  EXPECT_DOUBLE_EQ(rank0.val_accuracy, single.val_accuracy);
}

// LM LoRA fine-tuning over a TCPStore rendezvous: rank 1 alone gets the notice at step 4, both
// stop there and only rank 0 checkpoints; both resume from that checkpoint, and the result
// matches one worker that trained straight through with the same global batch.
TEST(DataParallelTest, LmFineTuneTwoRanksStopResumeAndMatchOneWorker) {
  TempDir dir;
  auto [first0, first1] = RunTwoRanks("lm", dir, "lm1", "", 4, /*tcp=*/true);
  EXPECT_FALSE(first0.ok);
  EXPECT_FALSE(first1.ok);
  EXPECT_NE(first0.error.find("stopped at step 4"), std::string::npos) << first0.error;
  EXPECT_NE(first1.error.find("stopped at step 4"), std::string::npos) << first1.error;
  ASSERT_TRUE(std::filesystem::exists(dir.Sub("lm1-rank0/checkpoint/trainer_state.json")));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("lm1-rank1/checkpoint")));
  auto [second0, second1] = RunTwoRanks("lm", dir, "lm2", dir.Sub("lm1-rank0/checkpoint"), 0, /*tcp=*/true);
  ASSERT_TRUE(second0.ok) << second0.error;
  ASSERT_TRUE(second1.ok) << second1.error;
  EXPECT_EQ(second0.last_step, 10);
  Outcome single = RunLmRank(0, 1, "", 0, dir.Sub("lm-single"), "", 0);
  ASSERT_TRUE(single.ok) << single.error;
  Report("lm", second0, single);
  EXPECT_DOUBLE_EQ(second0.val_loss, second1.val_loss);
  EXPECT_NEAR(second0.train_loss, single.train_loss, 1e-4 * single.train_loss);
  EXPECT_NEAR(second0.val_loss, single.val_loss, 1e-4 * single.val_loss);
  EXPECT_NEAR(second0.val_accuracy, single.val_accuracy, 1e-3 * std::abs(single.val_accuracy) + 1e-3);
}

}  // namespace
}  // namespace sskai::ml
