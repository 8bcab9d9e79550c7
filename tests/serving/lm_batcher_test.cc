// LmBatcher over a tiny random model (engine via dlopen): continuous batching lets a request join
// a running decode batch at the next step boundary, static batching makes it wait for the batch
// to end, finished and cancelled sequences free their slot, and a seeded request produces the
// same tokens alone or in a batch. Ordering is observed through the callbacks (all on the
// scheduler thread), never through timing.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ml/lm_test_util.h"
#include "ml/ml.h"
#include "serving/lm_batcher.h"

namespace sskai::serving {
namespace {

std::unique_ptr<ml::LanguageModel> TinyModel() {
  auto lm = ml::testing::LmTestEngine()->CreateLm(ml::testing::TinyLmConfig(97, 128), 5, {});
  EXPECT_TRUE(lm.ok()) << lm.status().ToString();
  return lm.ok() ? std::move(*lm) : nullptr;
}

ml::GenerateRequest Request(std::vector<int64_t> prompt, int max_tokens, uint64_t seed) {
  ml::GenerateRequest r;
  r.prompt = std::move(prompt);
  r.sampling.max_tokens = max_tokens;
  r.sampling.temperature = 0.9;
  r.sampling.top_k = 40;
  r.sampling.top_p = 0.95;
  r.sampling.repetition_penalty = 1.1;
  r.sampling.seed = seed;
  return r;
}

// Records every token and the end of each job, in the order the scheduler produced them. Jobs may
// be made on the scheduler thread (from a callback) while the test thread waits on others.
class Recorder {
 public:
  struct Outcome {
    std::vector<int64_t> tokens;  // as streamed
    Result<ml::GenerateResult> result = Status::Internal("not done");
    std::promise<void> done;
  };

  LmBatcher::Job Job(const std::string& name, ml::GenerateRequest request,
                     std::function<void(int tokens)> after_token = nullptr) {
    Outcome* o = Get(name);
    LmBatcher::Job job;
    job.request = std::move(request);
    job.on_token = [this, name, o, after_token](int64_t token) {
      o->tokens.push_back(token);
      Log(name + " token");
      if (after_token) after_token(static_cast<int>(o->tokens.size()));
      return true;
    };
    job.on_done = [this, name, o](Result<ml::GenerateResult> r) {
      o->result = std::move(r);
      Log(name + " done");
      o->done.set_value();
    };
    return job;
  }
  void Wait(const std::string& name) {
    std::future<void> f;
    {
      std::lock_guard<std::mutex> lock(mu_);
      f = outcomes_.at(name)->done.get_future();
    }
    f.wait();
  }
  // Only after Wait(name).
  Outcome& operator[](const std::string& name) { return *Get(name); }
  // Position of the first/last log entry equal to `entry` (the log's size if absent).
  size_t First(const std::string& entry) {
    std::lock_guard<std::mutex> lock(mu_);
    return std::find(log_.begin(), log_.end(), entry) - log_.begin();
  }
  size_t Last(const std::string& entry) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find(log_.rbegin(), log_.rend(), entry);
    return it == log_.rend() ? log_.size() : log_.size() - 1 - (it - log_.rbegin());
  }

 private:
  Outcome* Get(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = outcomes_[name];
    if (!slot) slot = std::make_unique<Outcome>();
    return slot.get();
  }
  void Log(const std::string& entry) {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back(entry);
  }
  std::mutex mu_;
  std::vector<std::string> log_;
  std::map<std::string, std::unique_ptr<Outcome>> outcomes_;
};

std::vector<int64_t> Alone(ml::LanguageModel& lm, const ml::GenerateRequest& r) {
  auto out = lm.Generate({r}, nullptr);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? (*out)[0].tokens : std::vector<int64_t>{};
}

TEST(LmBatcherTest, ParsesModes) {
  EXPECT_EQ(*LmBatcher::ParseMode("continuous"), LmBatcher::Mode::kContinuous);
  EXPECT_EQ(*LmBatcher::ParseMode("static"), LmBatcher::Mode::kStatic);
  EXPECT_EQ(LmBatcher::ParseMode("dynamic").status().code(), StatusCode::kInvalidArgument);
}

// A submits B after its 3rd token; B must start before A ends (continuous) or after (static),
// and both must produce what they produce alone.
void RunJoin(LmBatcher::Mode mode) {
  auto lm = TinyModel();
  ASSERT_NE(lm, nullptr);
  auto a = Request({5, 6, 7, 8, 9, 10, 11}, 30, 11);
  auto b = Request({42, 43}, 8, 99);  // shorter prompt than A's filled columns: right-aligned
  Recorder rec;
  LmBatcher::Stats stats;
  {
    LmBatcher batcher(*lm, {.max_batch = 4, .window = std::chrono::microseconds(0), .mode = mode});
    batcher.Submit(rec.Job("a", a, [&](int n) {
      if (n == 3) batcher.Submit(rec.Job("b", b));  // from the scheduler thread, between steps
    }));
    rec.Wait("a");
    rec.Wait("b");
    stats = batcher.stats();
  }
  ASSERT_TRUE(rec["a"].result.ok()) << rec["a"].result.status().ToString();
  ASSERT_TRUE(rec["b"].result.ok()) << rec["b"].result.status().ToString();
  EXPECT_EQ(rec["a"].result->tokens, rec["a"].tokens);
  EXPECT_EQ(rec["a"].tokens.size(), 30u);
  EXPECT_EQ(rec["b"].tokens.size(), 8u);
  EXPECT_EQ(rec["a"].result->finish_reason, "length");
  EXPECT_EQ(rec["b"].result->prompt_tokens, 2);
  EXPECT_EQ(stats.requests, 2);
  EXPECT_EQ(stats.batches, 2);
  EXPECT_EQ(stats.tokens, 38);
  if (mode == LmBatcher::Mode::kContinuous) {
    EXPECT_LT(rec.First("b token"), rec.Last("a token"));
    EXPECT_EQ(stats.joined_running, 1);
    EXPECT_EQ(stats.largest_batch, 2);
    EXPECT_LT(stats.steps, 38);  // shared steps
  } else {
    EXPECT_GT(rec.First("b token"), rec.First("a done"));
    EXPECT_EQ(stats.joined_running, 0);
    EXPECT_EQ(stats.largest_batch, 1);
    EXPECT_EQ(stats.steps, 38);
  }
  // Seeded sampling is per request: the same tokens as each request alone.
  EXPECT_EQ(rec["a"].tokens, Alone(*lm, a));
  EXPECT_EQ(rec["b"].tokens, Alone(*lm, b));
}

TEST(LmBatcherTest, ContinuousNewcomerJoinsTheRunningBatch) { RunJoin(LmBatcher::Mode::kContinuous); }
TEST(LmBatcherTest, StaticNewcomerWaitsForTheBatchToEnd) { RunJoin(LmBatcher::Mode::kStatic); }

// A burst queued while A decodes (B, C, D submitted at once, with ragged prompts, one longer
// than A's filled columns) joins at ONE step boundary in ONE prefill; E, beyond max_batch,
// waits for the first free slot. Every seeded request still produces its tokens alone.
TEST(LmBatcherTest, BurstJoinsTheRunningBatchInOnePrefill) {
  auto lm = TinyModel();
  ASSERT_NE(lm, nullptr);
  auto a = Request({5, 6, 7}, 24, 21);
  auto b = Request({40}, 6, 22);
  auto c = Request({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, 10, 23);  // > A's columns
  auto d = Request({60, 61, 62, 63}, 12, 24);
  auto e = Request({70, 71}, 5, 25);
  const std::pair<const char*, const ml::GenerateRequest*> all[] = {{"a", &a}, {"b", &b}, {"c", &c}, {"d", &d}, {"e", &e}};
  Recorder rec;
  LmBatcher::Stats stats;
  {
    LmBatcher batcher(*lm, {.max_batch = 4, .window = std::chrono::microseconds(0)});
    batcher.Submit(rec.Job("a", a, [&](int n) {
      if (n != 2) return;
      for (size_t i = 1; i < std::size(all); ++i) batcher.Submit(rec.Job(all[i].first, *all[i].second));
    }));
    for (const char* name : {"a", "b", "c", "d", "e"}) rec.Wait(name);
    stats = batcher.stats();
  }
  EXPECT_EQ(stats.requests, 5);
  EXPECT_EQ(stats.joined_running, 4);
  EXPECT_EQ(stats.batches, 3);  // A; B, C and D together; E
  EXPECT_EQ(stats.largest_batch, 4);
  EXPECT_LT(rec.Last("b token"), rec.First("e token"));  // B (6 tokens) frees the first slot
  EXPECT_GT(rec.First("e token"), rec.First("b done"));
  for (const char* name : {"b", "c", "d"}) {
    EXPECT_LT(rec.First(std::string(name) + " token"), rec.Last("a token")) << name;
  }
  for (const auto& [name, req] : all) {
    ASSERT_TRUE(rec[name].result.ok()) << name;
    EXPECT_EQ(rec[name].tokens, Alone(*lm, *req)) << name;
    EXPECT_EQ(static_cast<int>(rec[name].tokens.size()), req->sampling.max_tokens) << name;
  }
}

TEST(LmBatcherTest, FinishedSequenceFreesItsSlotForAQueuedOne) {
  auto lm = TinyModel();
  ASSERT_NE(lm, nullptr);
  // Slots: 2. A is long, B short; C and D wait in the queue and take B's slot in turn.
  auto a = Request({1, 2, 3}, 40, 1);
  auto b = Request({4, 5, 6, 7, 8, 9}, 3, 2);
  auto c = Request({10}, 4, 3);
  auto d = Request({11, 12, 13, 14}, 5, 4);
  auto greedy = Request({20, 21, 22}, 6, 0);
  greedy.sampling.temperature = 0;
  greedy.sampling.repetition_penalty = 1.0;
  Recorder rec;
  LmBatcher::Stats stats;
  {
    LmBatcher batcher(*lm, {.max_batch = 2, .window = std::chrono::seconds(30)});
    // The long window ends as soon as two requests are queued.
    batcher.Submit(rec.Job("a", a));
    batcher.Submit(rec.Job("b", b, [&](int n) {
      if (n == 1) {
        batcher.Submit(rec.Job("c", c));
        batcher.Submit(rec.Job("d", d));
        batcher.Submit(rec.Job("g", greedy));
      }
    }));
    for (const char* name : {"a", "b", "c", "d", "g"}) rec.Wait(name);
    stats = batcher.stats();
  }
  EXPECT_EQ(stats.largest_batch, 2);
  EXPECT_EQ(stats.requests, 5);
  EXPECT_EQ(stats.joined_running, 3);
  EXPECT_LT(rec.First("c token"), rec.Last("a token"));
  EXPECT_LT(rec.First("d token"), rec.Last("a token"));
  EXPECT_GT(rec.First("c token"), rec.First("b done"));  // waited for a free slot
  EXPECT_GT(rec.First("d token"), rec.First("c done"));
  const std::pair<const char*, const ml::GenerateRequest*> all[] = {
      {"a", &a}, {"b", &b}, {"c", &c}, {"d", &d}, {"g", &greedy}};
  for (const auto& [name, req] : all) {
    ASSERT_TRUE(rec[name].result.ok()) << name;
    EXPECT_EQ(rec[name].tokens, Alone(*lm, *req)) << name;
    EXPECT_EQ(static_cast<int>(rec[name].tokens.size()), req->sampling.max_tokens) << name;
  }
}

TEST(LmBatcherTest, CancelledJobLeavesAtTheNextStepAndQueuedOneNeverStarts) {
  auto lm = TinyModel();
  ASSERT_NE(lm, nullptr);
  auto gone = std::make_shared<std::atomic<bool>>(false);
  auto never = std::make_shared<std::atomic<bool>>(true);
  Recorder rec;
  LmBatcher::Stats stats;
  {
    LmBatcher batcher(*lm, {.max_batch = 4, .window = std::chrono::microseconds(0)});
    auto job = rec.Job("a", Request({1, 2, 3}, 50, 1), [&](int n) {
      if (n == 3) *gone = true;
    });
    job.cancelled = [gone] { return gone->load(); };
    batcher.Submit(std::move(job));
    auto queued = rec.Job("q", Request({4, 5}, 10, 2));
    queued.cancelled = [never] { return never->load(); };
    batcher.Submit(std::move(queued));
    auto zero = rec.Job("z", Request({7}, 0, 3));
    batcher.Submit(std::move(zero));
    for (const char* name : {"a", "q", "z"}) rec.Wait(name);
    stats = batcher.stats();
  }
  ASSERT_TRUE(rec["a"].result.ok());
  EXPECT_EQ(rec["a"].result->finish_reason, "cancelled");
  EXPECT_EQ(rec["a"].tokens.size(), 3u);  // dropped before sampling a 4th
  ASSERT_TRUE(rec["q"].result.ok());
  EXPECT_EQ(rec["q"].result->finish_reason, "cancelled");
  EXPECT_TRUE(rec["q"].tokens.empty());
  ASSERT_TRUE(rec["z"].result.ok());
  EXPECT_EQ(rec["z"].result->finish_reason, "length");
  EXPECT_TRUE(rec["z"].result->tokens.empty());
  EXPECT_EQ(stats.stopped_early, 2);
}

TEST(LmBatcherTest, StopTokenEndsOnlyItsSequenceAndBadRequestFailsAlone) {
  auto lm = TinyModel();
  ASSERT_NE(lm, nullptr);
  auto probe = Request({30, 31, 32}, 12, 8);
  auto expected = Alone(*lm, probe);
  ASSERT_EQ(expected.size(), 12u);
  auto stopping = probe;
  stopping.sampling.stop_tokens = {expected[4]};
  auto first_stop = std::find(expected.begin(), expected.end(), expected[4]) - expected.begin();
  auto bad = Request({1, 2, 500}, 4, 1);  // id outside the vocabulary
  Recorder rec;
  {
    LmBatcher batcher(*lm, {.max_batch = 4, .window = std::chrono::seconds(30)});
    batcher.Submit(rec.Job("s", stopping));
    batcher.Submit(rec.Job("x", bad));
    batcher.Submit(rec.Job("o", Request({9, 9, 9}, 10, 5)));
    batcher.Submit(rec.Job("p", Request({8}, 10, 6)));
    for (const char* name : {"s", "x", "o", "p"}) rec.Wait(name);
  }
  ASSERT_TRUE(rec["s"].result.ok());
  EXPECT_EQ(rec["s"].result->finish_reason, "stop");
  EXPECT_EQ(rec["s"].tokens, std::vector<int64_t>(expected.begin(), expected.begin() + first_stop + 1));
  EXPECT_EQ(rec["x"].result.status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(rec["o"].result.ok());
  EXPECT_EQ(rec["o"].tokens.size(), 10u);
  ASSERT_TRUE(rec["p"].result.ok());
  EXPECT_EQ(rec["p"].tokens.size(), 10u);
}

}  // namespace
}  // namespace sskai::serving
