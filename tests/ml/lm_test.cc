// tests/ml/lm_test.cc — the LM engine through the torch-free Engine interface: logits against an
// independent Python (python3-torch) reference of HF's equations, save/load interop, KV-cache
// generation, sampling determinism, batching, LoRA fine-tuning, merge, exact resume, bad input.
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
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

const std::string kRef = "/usr/bin/python3 " SSKAI_TEST_SOURCE_DIR "/ml/reference/llama_ref.py";

bool HavePythonTorch() {
  static const bool have = std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
  return have;
}

Engine* GetEngine() { return testing::LmTestEngine(); }
LmConfig TinyConfig() { return testing::TinyLmConfig(); }
std::unique_ptr<LanguageModel> Tiny(uint64_t seed = 1) { return testing::TinyLm(seed); }

double MaxAbsDiff(const std::vector<float>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
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
  auto lm = GetEngine()->LoadLm(model_dir, {});
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
  auto lm = Tiny();
  LmSaveOptions opts;
  opts.dtype = "bfloat16";
  opts.max_shard_bytes = 20000;  // forces several shards + index
  ASSERT_TRUE(lm->Save(dir.Sub("saved"), opts).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("saved/model.safetensors.index.json")));
  auto back = GetEngine()->LoadLm(dir.Sub("saved"), {});
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
  auto lm = Tiny();
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
  auto lm = Tiny(3);
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
  auto lm = Tiny(4);
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
  auto lm = Tiny();
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
  auto torn = GetEngine()->LoadLm(dir.Sub("m"), {});
  ASSERT_FALSE(torn.ok());
  EXPECT_NE(torn.status().message().find("model.safetensors"), std::string::npos) << torn.status().message();
  WriteFile(dir.Sub("m/config.json"), R"({"model_type":"llama","vocab_size":61})");
  auto bad_config = GetEngine()->LoadLm(dir.Sub("m"), {});
  ASSERT_FALSE(bad_config.ok());
  EXPECT_NE(bad_config.status().message().find("hidden_size"), std::string::npos);
}

// A small repeated corpus: three "sentences", prompt tokens masked out of the loss.
std::vector<LmExample> Corpus() {
  std::vector<LmExample> data;
  std::vector<std::vector<int64_t>> seqs = {{1, 10, 11, 12, 13, 14, 15, 16, 17, 2},
                                            {1, 20, 21, 22, 23, 24, 25, 2},
                                            {1, 30, 31, 32, 33, 34, 35, 36, 2}};
  for (int rep = 0; rep < 4; ++rep) {
    for (const auto& s : seqs) {
      LmExample e;
      e.ids = s;
      e.target.assign(s.size(), 1);
      e.target[0] = e.target[1] = 0;  // "prompt"
      data.push_back(e);
    }
  }
  return data;
}

TEST(LmTest, LoraFineTuneLowersLossChangesOnlyAdaptersAndMerges) {
  TempDir dir;
  auto lm = Tiny(5);
  ASSERT_TRUE(lm->Save(dir.Sub("base"), {}).ok());
  auto data = Corpus();
  auto before = lm->Evaluate(data, 4);
  ASSERT_TRUE(before.ok());
  LmTrainSpec spec;
  spec.lora_spec.rank = 4;
  spec.lora_spec.alpha = 8;
  spec.lora_spec.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  spec.steps = 60;
  spec.batch_size = 4;
  spec.learning_rate = 1e-2;
  spec.warmup_steps = 4;
  std::vector<double> losses;
  LmTrainCallbacks cb;
  cb.on_step = [&](const LmStepMetrics& m) { losses.push_back(m.loss); };
  auto result = lm->Train(data, spec, "", dir.Sub("work"), cb);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->steps_run, 60);
  EXPECT_EQ(result->trainable_parameters, 2 * (4 * (32 + 32) + 4 * (32 + 16) * 2 + 4 * (32 + 32)) + 2 * 3 * 4 * (32 + 64));
  auto after = lm->Evaluate(data, 4);
  ASSERT_TRUE(after.ok());
  // The frozen random base (weights ~N(0, 0.02)) bounds what a rank-4 adapter can do; it must
  // still clearly learn the corpus.
  EXPECT_LT(after->loss, before->loss - 0.4) << before->loss << " -> " << after->loss;
  EXPECT_LT(losses.back(), losses.front());
  EXPECT_EQ(after->tokens, before->tokens);

  // The adapter in PEFT layout, applied to the untouched base, reproduces the trained model:
  // so the base weights did not change and the adapter holds every change.
  ASSERT_TRUE(lm->SaveAdapter(dir.Sub("adapter")).ok());
  json adapter_cfg = json::parse(ReadFile(dir.Sub("adapter/adapter_config.json")));
  EXPECT_EQ(adapter_cfg["peft_type"], "LORA");
  EXPECT_EQ(adapter_cfg["r"], 4);
  std::string adapter = ReadFile(dir.Sub("adapter/adapter_model.safetensors"));
  EXPECT_NE(adapter.find("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"), std::string::npos);
  auto fresh = GetEngine()->LoadLm(dir.Sub("base"), {});
  ASSERT_TRUE(fresh.ok());
  std::vector<int64_t> probe = {1, 20, 21, 22, 5, 9};
  auto base_logits = (*fresh)->Logits(probe);
  ASSERT_TRUE((*fresh)->LoadAdapter(dir.Sub("adapter")).ok());
  auto trained = lm->Logits(probe);
  auto reloaded = (*fresh)->Logits(probe);
  ASSERT_TRUE(trained.ok() && reloaded.ok() && base_logits.ok());
  EXPECT_EQ(*trained, *reloaded);
  EXPECT_NE(*trained, *base_logits);

  // Merging folds the adapter into the weights: same logits (to rounding), and a merged save loads.
  ASSERT_TRUE(lm->Save(dir.Sub("merged"), {}).ok());
  ASSERT_TRUE(lm->MergeLora().ok());
  auto merged = lm->Logits(probe);
  auto merged_loaded = GetEngine()->LoadLm(dir.Sub("merged"), {});
  ASSERT_TRUE(merged_loaded.ok());
  auto merged_file = (*merged_loaded)->Logits(probe);
  std::vector<double> t(trained->begin(), trained->end());
  EXPECT_LT(MaxAbsDiff(*merged, t), 1e-4);
  EXPECT_LT(MaxAbsDiff(*merged_file, t), 1e-4);
}

TEST(LmTest, ResumeFromCheckpointIsBitIdentical) {
  TempDir dir;
  auto data = Corpus();
  LmTrainSpec spec;
  spec.lora_spec.rank = 2;
  spec.lora_spec.dropout = 0.1;  // exercises the RNG
  spec.steps = 6;
  spec.batch_size = 3;
  spec.grad_accum = 2;
  spec.learning_rate = 5e-3;
  spec.warmup_steps = 2;
  spec.weight_decay = 0.01;
  spec.checkpoint_every = 3;
  std::vector<int64_t> probe = {1, 30, 31, 32};

  auto straight = Tiny(6);
  std::vector<double> straight_losses;
  LmTrainCallbacks log;
  log.on_step = [&](const LmStepMetrics& m) { straight_losses.push_back(m.loss); };
  ASSERT_TRUE(straight->Train(data, spec, "", dir.Sub("a"), log).ok());
  auto want = straight->Logits(probe);

  auto interrupted = Tiny(6);
  LmTrainCallbacks stop;
  int checkpoints = 0;
  stop.should_stop = [&]() { return true; };
  stop.on_checkpoint = [&](const std::string&, int step) {
    EXPECT_EQ(step, 1);
    ++checkpoints;
    return Status::Ok();
  };
  auto r = interrupted->Train(data, spec, "", dir.Sub("b"), stop);
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(checkpoints, 1);

  auto resumed = Tiny(6);
  std::vector<double> resumed_losses;
  LmTrainCallbacks log2;
  log2.on_step = [&](const LmStepMetrics& m) { resumed_losses.push_back(m.loss); };
  auto done = resumed->Train(data, spec, dir.Sub("b/checkpoint"), dir.Sub("c"), log2);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->resumed_from_step, 1);
  EXPECT_EQ(done->steps_run, 5);
  EXPECT_EQ(resumed_losses, std::vector<double>(straight_losses.begin() + 1, straight_losses.end()));
  EXPECT_EQ(*resumed->Logits(probe), *want);

  // A checkpoint from other hyperparameters is refused.
  spec.learning_rate = 1e-3;
  auto other = Tiny(6)->Train(data, spec, dir.Sub("b/checkpoint"), dir.Sub("d"), {});
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
}

TEST(LmTest, FullFineTuneLowersLoss) {
  auto lm = Tiny(7);
  auto data = Corpus();
  auto before = lm->Evaluate(data, 8);
  LmTrainSpec spec;
  spec.lora = false;
  spec.steps = 40;
  spec.batch_size = 4;
  spec.learning_rate = 1e-2;
  spec.weight_decay = 0.1;
  auto r = lm->Train(data, spec, "", "", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->trainable_parameters, lm->NumParameters());
  EXPECT_EQ(lm->NumParameters(), TinyConfig().NumParameters());
  EXPECT_LT(lm->Evaluate(data, 8)->loss, before->loss * 0.5);
}

// Block-diagonal attention: a row packing three documents (each marked in `document`) has the same
// summed loss as the documents evaluated one by one, because no token sees another document and
// rotary positions restart; the same row without document ids does not.
TEST(LmTest, PackedRowLossEqualsSumOfDocumentLosses) {
  auto lm = Tiny(8);
  std::vector<std::vector<int64_t>> docs = {{1, 10, 11, 12, 13, 2}, {1, 20, 21, 22, 23, 24, 25, 26, 2}, {1, 30, 31, 2}};
  std::vector<LmExample> separate;
  LmExample packed;
  for (size_t d = 0; d < docs.size(); ++d) {
    LmExample e;
    e.ids = docs[d];
    e.target.assign(e.ids.size(), 1);
    e.target[0] = 0;
    separate.push_back(e);
    packed.ids.insert(packed.ids.end(), e.ids.begin(), e.ids.end());
    packed.target.insert(packed.target.end(), e.target.begin(), e.target.end());
    packed.document.insert(packed.document.end(), e.ids.size(), static_cast<int32_t>(d));
  }
  double sum = 0;
  int64_t tokens = 0;
  for (const auto& e : separate) {
    auto one = lm->Evaluate({e}, 1);
    ASSERT_TRUE(one.ok()) << one.status().ToString();
    sum += one->loss * static_cast<double>(one->tokens);
    tokens += one->tokens;
  }
  auto row = lm->Evaluate({packed}, 1);
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_EQ(row->tokens, tokens);
  EXPECT_NEAR(row->loss * static_cast<double>(row->tokens), sum, 1e-4 * sum);
  // Batched with an unpacked, longer example (right padding) it is still the same.
  LmExample longer = separate[1];
  longer.ids.insert(longer.ids.end(), {40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50});
  longer.target.assign(longer.ids.size(), 1);
  auto both = lm->Evaluate({packed, longer}, 2);
  auto alone = lm->Evaluate({longer}, 1);
  ASSERT_TRUE(both.ok() && alone.ok());
  EXPECT_NEAR(both->loss * static_cast<double>(both->tokens), sum + alone->loss * static_cast<double>(alone->tokens),
              1e-4 * sum);

  LmExample unmasked = packed;
  unmasked.document.clear();
  auto spanning = lm->Evaluate({unmasked}, 1);
  ASSERT_TRUE(spanning.ok());
  EXPECT_GT(std::abs(spanning->loss * static_cast<double>(spanning->tokens) - sum), 1e-3);

  // Training on packed rows runs (and learns).
  LmTrainSpec spec;
  spec.lora = false;
  spec.steps = 15;
  spec.batch_size = 1;
  spec.learning_rate = 1e-2;
  ASSERT_TRUE(lm->Train({packed}, spec, "", "", {}).ok());
  EXPECT_LT(lm->Evaluate({packed}, 1)->loss, row->loss * 0.7);
}

// Mixed precision (bf16 compute, fp32 master weights) runs on CPU too: it learns, resumes
// bit-identically, and an unknown precision is refused naming the field.
TEST(LmTest, Bf16MixedPrecisionTrainsAndResumesExactly) {
  TempDir dir;
  auto data = Corpus();
  LmTrainSpec spec;
  spec.lora = false;
  spec.precision = "bf16";
  spec.steps = 4;
  spec.batch_size = 4;
  spec.learning_rate = 1e-2;
  spec.checkpoint_every = 2;
  auto straight = Tiny(9);
  auto before = straight->Evaluate(data, 8);
  std::vector<double> straight_losses;
  LmTrainCallbacks log;
  log.on_step = [&](const LmStepMetrics& m) { straight_losses.push_back(m.loss); };
  ASSERT_TRUE(straight->Train(data, spec, "", dir.Sub("a"), log).ok());
  EXPECT_LT(straight->Evaluate(data, 8)->loss, before->loss);

  auto first = Tiny(9);
  spec.steps = 4;
  LmTrainCallbacks stop;
  int calls = 0;
  stop.should_stop = [&]() { return ++calls == 2; };
  EXPECT_EQ(first->Train(data, spec, "", dir.Sub("b"), stop).status().code(), StatusCode::kCancelled);
  auto resumed = Tiny(9);
  std::vector<double> resumed_losses;
  LmTrainCallbacks log2;
  log2.on_step = [&](const LmStepMetrics& m) { resumed_losses.push_back(m.loss); };
  auto done = resumed->Train(data, spec, dir.Sub("b/checkpoint"), dir.Sub("c"), log2);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->resumed_from_step, 2);
  EXPECT_EQ(resumed_losses, std::vector<double>(straight_losses.begin() + 2, straight_losses.end()));
  std::vector<int64_t> probe = {1, 30, 31, 32};
  EXPECT_EQ(*resumed->Logits(probe), *straight->Logits(probe));

  spec.precision = "fp16";
  auto bad = Tiny(9)->Train(data, spec, "", "", {});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("precision"), std::string::npos);
}

}  // namespace
}  // namespace sskai::ml
