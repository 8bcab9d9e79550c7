// tests/ml/lm_test.cc — the LM engine through the torch-free Engine interface: logits against an
// independent Python (python3-torch) reference of HF's equations, save/load interop, KV-cache
// generation, sampling determinism, batching, bad input. (Training: lm_train_test.cc.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "ml/lm_test_util.h"
#include "ml/ml.h"
#include "ml/test_util.h"

namespace sskai::ml {
namespace {

using nlohmann::json;
using testing::LmTestEngine;
using testing::MaxAbsDiff;
using testing::TinyLm;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

const std::string kRef = "/usr/bin/python3 " SSKAI_TEST_SOURCE_DIR "/ml/reference/llama_ref.py";

bool HavePythonTorch() {
  static const bool have = std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
  return have;
}

const char* const kVariants[] = {"llama3_gqa", "llama_linear_bf16", "llama_dynamic", "qwen2_tied", "qwen3_qknorm"};

// All reference models, made by one Python run (importing torch costs seconds) and shared.
class ReferenceTest : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() {
    if (!HavePythonTorch()) return;
    dir_ = new TempDir();
    // Under ctest each test runs alone with a filter naming its variant: make only that one.
    std::string filter = ::testing::GTEST_FLAG(filter), cmd = kRef + " make " + dir_->Sub("");
    bool named = false;
    for (const char* v : kVariants) named = named || filter.find(v) != std::string::npos;
    for (const char* v : kVariants) {
      if (!named || filter.find(v) != std::string::npos) cmd += std::string(" ") + v;
    }
    made_ = std::system(cmd.c_str()) == 0;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static TempDir* dir_;
  static bool made_;
};
TempDir* ReferenceTest::dir_ = nullptr;
bool ReferenceTest::made_ = false;

TEST_P(ReferenceTest, LogitsMatchPythonReference) {
  if (!HavePythonTorch()) GTEST_SKIP() << "python3-torch not installed";
  ASSERT_TRUE(made_);
  std::string model_dir = dir_->Sub(GetParam());
  auto lm = LmTestEngine()->LoadLm(model_dir, {});
  ASSERT_TRUE(lm.ok()) << lm.status().ToString();
  json expected = json::parse(ReadFile(model_dir + "/expected.json"));
  auto logits = (*lm)->Logits(expected["ids"].get<std::vector<int64_t>>());
  ASSERT_TRUE(logits.ok()) << logits.status().ToString();
  EXPECT_LT(MaxAbsDiff(*logits, expected["logits"].get<std::vector<double>>()), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Families, ReferenceTest, ::testing::ValuesIn(kVariants));

TEST(LmTest, SavedModelLoadsInPythonReferenceAndBack) {
  if (!HavePythonTorch()) GTEST_SKIP() << "python3-torch not installed";
  TempDir dir;
  auto lm = TinyLm();
  LmSaveOptions opts;
  opts.dtype = "bfloat16";
  opts.max_shard_bytes = 20000;  // forces several shards + index
  ASSERT_TRUE(lm->Save(dir.Sub("saved"), opts).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("saved/model.safetensors.index.json")));
  auto back = LmTestEngine()->LoadLm(dir.Sub("saved"), {});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  std::vector<int64_t> ids = {1, 5, 9, 33, 2, 60, 7};
  WriteFile(dir.Sub("ids.json"), json(ids).dump());
  ASSERT_EQ(std::system((kRef + " logits " + dir.Sub("saved") + " " + dir.Sub("ids.json") + " " + dir.Sub("out.json")).c_str()), 0);
  auto ours = (*back)->Logits(ids);
  ASSERT_TRUE(ours.ok());
  EXPECT_LT(MaxAbsDiff(*ours, json::parse(ReadFile(dir.Sub("out.json")))["logits"].get<std::vector<double>>()), 1e-4);
}

std::vector<int64_t> GreedyByRecompute(LanguageModel* lm, std::vector<int64_t> ids, int n) {
  std::vector<int64_t> out;
  int64_t vocab = lm->config().vocab_size;
  for (int i = 0; i < n; ++i) {
    auto logits = lm->Logits(ids);
    EXPECT_TRUE(logits.ok());
    auto last = logits->end() - vocab;
    int64_t next = std::max_element(last, logits->end()) - last;
    out.push_back(next);
    ids.push_back(next);
  }
  return out;
}

TEST(LmTest, KvCacheGreedyEqualsRecomputation) {
  auto lm = TinyLm();
  GenerateRequest req;
  req.prompt = {3, 14, 15, 9, 26};
  req.sampling.temperature = 0;
  req.sampling.max_tokens = 16;
  auto out = lm->Generate({req}, nullptr);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].tokens, GreedyByRecompute(lm.get(), req.prompt, 16));
  EXPECT_EQ((*out)[0].finish_reason, "length");
  EXPECT_EQ((*out)[0].prompt_tokens, 5);
}

TEST(LmTest, BatchedDecodeOfDifferentLengthsEqualsOneByOne) {
  auto lm = TinyLm(3);
  std::vector<GenerateRequest> reqs(3);
  reqs[0].prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  reqs[1].prompt = {40};
  reqs[2].prompt = {11, 22, 33};
  for (auto& r : reqs) r.sampling.temperature = 0;
  reqs[0].sampling.max_tokens = 5;
  reqs[1].sampling.max_tokens = 12;
  reqs[2].sampling.max_tokens = 8;
  std::vector<std::vector<int64_t>> streamed(3);
  auto batched = lm->Generate(reqs, [&](size_t r, int64_t t) {
    streamed[r].push_back(t);
    return true;
  });
  ASSERT_TRUE(batched.ok()) << batched.status().ToString();
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto single = lm->Generate({reqs[i]}, nullptr);
    ASSERT_TRUE(single.ok());
    EXPECT_EQ((*batched)[i].tokens, (*single)[0].tokens) << "request " << i;
    EXPECT_EQ(streamed[i], (*batched)[i].tokens);
    EXPECT_EQ(static_cast<int>((*batched)[i].tokens.size()), reqs[i].sampling.max_tokens);
  }
}

TEST(LmTest, SeededSamplingIsReproducibleAndStopsOnStopTokens) {
  auto lm = TinyLm(4);
  GenerateRequest req;
  req.prompt = {5, 6, 7};
  req.sampling.temperature = 1.3;
  req.sampling.top_k = 20;
  req.sampling.top_p = 0.95;
  req.sampling.repetition_penalty = 1.3;
  req.sampling.max_tokens = 30;
  req.sampling.seed = 1234;
  auto a = lm->Generate({req}, nullptr);
  auto b = lm->Generate({req}, nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)[0].tokens, (*b)[0].tokens);
  req.sampling.seed = 99;
  auto c = lm->Generate({req}, nullptr);
  EXPECT_NE((*a)[0].tokens, (*c)[0].tokens) << "another seed should give another sample";

  // Stop on the 4th token of the seeded run: output ends there, with reason "stop".
  req.sampling.seed = 1234;
  int64_t stop = (*a)[0].tokens[3];
  req.sampling.stop_tokens = {stop};
  auto d = lm->Generate({req}, nullptr);
  ASSERT_TRUE(d.ok());
  size_t first = std::find((*a)[0].tokens.begin(), (*a)[0].tokens.end(), stop) - (*a)[0].tokens.begin();
  EXPECT_EQ((*d)[0].tokens, std::vector<int64_t>((*a)[0].tokens.begin(), (*a)[0].tokens.begin() + first + 1));
  EXPECT_EQ((*d)[0].finish_reason, "stop");

  // The callback may cancel.
  int calls = 0;
  auto e = lm->Generate({req}, [&](size_t, int64_t) { return ++calls < 2; });
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)[0].tokens.size(), 2u);
  EXPECT_EQ((*e)[0].finish_reason, calls == 2 && (*e)[0].tokens.back() == stop ? "stop" : "cancelled");
}

TEST(LmTest, BadInputIsRefused) {
  auto lm = TinyLm();
  EXPECT_EQ(lm->Logits({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lm->Logits({61}).status().code(), StatusCode::kInvalidArgument);
  GenerateRequest req;
  req.prompt = std::vector<int64_t>(100, 1);
  req.sampling.max_tokens = 40;
  auto g = lm->Generate({req}, nullptr);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("context"), std::string::npos);

  EXPECT_NE(LmConfigFromJson(R"({"model_type":"llama","hidden_size":8})").status().message().find("vocab_size"),
            std::string::npos);
  EXPECT_NE(LmConfigFromJson(R"({"model_type":"gpt2"})").status().message().find("gpt2"), std::string::npos);

  TempDir dir;
  ASSERT_TRUE(lm->Save(dir.Sub("m"), {}).ok());
  std::string weights = ReadFile(dir.Sub("m/model.safetensors"));
  WriteFile(dir.Sub("m/model.safetensors"), weights.substr(0, weights.size() / 2));
  auto torn = LmTestEngine()->LoadLm(dir.Sub("m"), {});
  ASSERT_FALSE(torn.ok());
  EXPECT_NE(torn.status().message().find("model.safetensors"), std::string::npos) << torn.status().message();
  WriteFile(dir.Sub("m/config.json"), R"({"model_type":"llama","vocab_size":61})");
  auto bad_config = LmTestEngine()->LoadLm(dir.Sub("m"), {});
  ASSERT_FALSE(bad_config.ok());
  EXPECT_NE(bad_config.status().message().find("hidden_size"), std::string::npos);
}

}  // namespace
}  // namespace sskai::ml
