// tests/ml/lm_decoder_test.cc — the continuous-batching decoder (LanguageModel::NewDecoder):
// newcomers admitted together (one batched prefill of ragged prompts) into free rows of a running
// batch, sequences leaving and being cancelled in any order, prompts longer than the running
// columns and tails longer than the capacity (which rebuild the batch): every request still
// produces exactly the tokens it produces alone (seeded sampling, stop tokens, max_tokens).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "ml/lm_test_util.h"
#include "ml/ml.h"

namespace sskai::ml {
namespace {

std::vector<int64_t> Alone(LanguageModel& lm, const GenerateRequest& r) {
  auto out = lm.Generate({r}, nullptr);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? (*out)[0].tokens : std::vector<int64_t>{};
}

// A request with a random prompt (1..max_prompt ids), max_tokens 0..max_tokens and, alternately,
// greedy or seeded sampling with top-k/top-p/repetition penalty; some have a stop token.
GenerateRequest RandomRequest(std::mt19937_64& rng, int index, int max_prompt, int max_tokens) {
  GenerateRequest r;
  int len = 1 + static_cast<int>(rng() % max_prompt);
  for (int t = 0; t < len; ++t) r.prompt.push_back(static_cast<int64_t>(rng() % 61));
  r.sampling.max_tokens = static_cast<int>(rng() % (max_tokens + 1));
  if (index % 2 == 0) {
    r.sampling.temperature = 0;
  } else {
    r.sampling.temperature = 0.9;
    r.sampling.top_k = 30;
    r.sampling.top_p = 0.95;
    r.sampling.repetition_penalty = 1.2;
    r.sampling.seed = static_cast<uint64_t>(1000 + index);
  }
  if (index % 5 == 3) r.sampling.stop_tokens = {static_cast<int64_t>(rng() % 61)};
  return r;
}

struct Tracked {
  size_t request = 0;
  std::vector<int64_t> streamed;
  bool cancelled = false;
  bool done = false;
  GenerateResult result;
};

// Drives one decoder through a random schedule: at each step boundary a random number of the
// waiting requests (up to the free slots) is added in ONE Add call, sometimes a running sequence
// is cancelled, then one step runs. Returns per request what it produced.
std::vector<Tracked> RunSchedule(LanguageModel& lm, const std::vector<GenerateRequest>& reqs, int max_batch,
                                 uint64_t seed, int* batched_adds) {
  std::mt19937_64 rng(seed);
  auto decoder = lm.NewDecoder(max_batch);
  std::map<int64_t, Tracked> running;
  std::vector<Tracked> out(reqs.size());
  size_t next = 0;
  *batched_adds = 0;
  for (int guard = 0; (next < reqs.size() || !running.empty()) && guard < 10000; ++guard) {
    int free_slots = max_batch - decoder->active();
    EXPECT_EQ(decoder->active(), static_cast<int>(running.size()));
    int want = free_slots > 0 ? static_cast<int>(rng() % (free_slots + 1)) : 0;
    if (running.empty() && want == 0 && next < reqs.size()) want = 1;
    std::vector<GenerateRequest> group;
    for (int i = 0; i < want && next + group.size() < reqs.size(); ++i) group.push_back(reqs[next + group.size()]);
    if (!group.empty()) {
      auto ids = decoder->Add(group);
      EXPECT_TRUE(ids.ok()) << ids.status().ToString();
      if (!ids.ok()) break;
      for (size_t i = 0; i < ids->size(); ++i) running[(*ids)[i]].request = next + i;
      *batched_adds += group.size() > 1 ? 1 : 0;
      next += group.size();
    }
    if (!running.empty() && rng() % 7 == 0) {
      auto it = std::next(running.begin(), static_cast<long>(rng() % running.size()));
      auto result = decoder->Cancel(it->first);
      EXPECT_TRUE(result.ok());
      it->second.cancelled = true;
      it->second.result = *result;
      out[it->second.request] = it->second;
      running.erase(it);
    }
    auto finished = decoder->Step([&](int64_t sequence, int64_t token) {
      running.at(sequence).streamed.push_back(token);
      return true;
    });
    EXPECT_TRUE(finished.ok()) << finished.status().ToString();
    if (!finished.ok()) break;
    for (auto& f : *finished) {
      Tracked& t = running.at(f.sequence);
      t.done = true;
      t.result = std::move(f.result);
      out[t.request] = t;
      running.erase(f.sequence);
    }
  }
  EXPECT_EQ(decoder->active(), 0);
  return out;
}

TEST(LmDecoderTest, JoinsAndLeavesInAnyOrderGiveEveryRequestItsOwnTokens) {
  auto lm = testing::TinyLm(7);
  ASSERT_NE(lm, nullptr);
  for (uint64_t schedule : {1u, 2u, 3u}) {
    std::mt19937_64 rng(schedule * 77);
    std::vector<GenerateRequest> reqs;
    // Long prompts (up to 40) join batches whose columns are shorter; long tails (up to 40)
    // outgrow the capacity sized for the running rows.
    for (int i = 0; i < 24; ++i) reqs.push_back(RandomRequest(rng, i, 40, 40));
    int batched_adds = 0;
    auto out = RunSchedule(*lm, reqs, 5, schedule, &batched_adds);
    EXPECT_GT(batched_adds, 0) << "schedule " << schedule << " never added several requests at once";
    for (size_t i = 0; i < reqs.size(); ++i) {
      SCOPED_TRACE("schedule " + std::to_string(schedule) + " request " + std::to_string(i));
      auto alone = Alone(*lm, reqs[i]);
      const Tracked& t = out[i];
      ASSERT_TRUE(t.done || t.cancelled);
      EXPECT_EQ(t.result.tokens, t.streamed);
      EXPECT_EQ(t.result.prompt_tokens, static_cast<int64_t>(reqs[i].prompt.size()));
      if (t.cancelled) {
        EXPECT_EQ(t.result.finish_reason, "cancelled");
        ASSERT_LE(t.streamed.size(), alone.size());
        EXPECT_EQ(t.streamed, std::vector<int64_t>(alone.begin(), alone.begin() + t.streamed.size()));
      } else {
        EXPECT_EQ(t.streamed, alone);
        const auto& stops = reqs[i].sampling.stop_tokens;
        bool stopped = !alone.empty() && std::find(stops.begin(), stops.end(), alone.back()) != stops.end();
        EXPECT_EQ(t.result.finish_reason, stopped ? "stop" : "length");
      }
    }
  }
}

TEST(LmDecoderTest, RefusesMoreThanItsSlotsAndBadRequestsWithoutTouchingTheBatch) {
  auto lm = testing::TinyLm(8);
  ASSERT_NE(lm, nullptr);
  GenerateRequest a;
  a.prompt = {1, 2, 3};
  a.sampling.temperature = 0;
  a.sampling.max_tokens = 12;
  auto decoder = lm->NewDecoder(2);
  auto id = decoder->Add({a});
  ASSERT_TRUE(id.ok());
  std::vector<int64_t> tokens;
  auto collect = [&](int64_t, int64_t token) {
    tokens.push_back(token);
    return true;
  };
  ASSERT_TRUE(decoder->Step(collect).ok());
  EXPECT_EQ(decoder->Add({a, a}).status().code(), StatusCode::kResourceExhausted);
  GenerateRequest bad = a;
  bad.prompt = {1, 99};  // outside the vocabulary (61)
  auto refused = decoder->Add({a, bad});
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("request 1"), std::string::npos) << refused.status().ToString();
  EXPECT_EQ(decoder->Cancel(12345).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(decoder->active(), 1);
  while (decoder->active() > 0) ASSERT_TRUE(decoder->Step(collect).ok());
  EXPECT_EQ(tokens, Alone(*lm, a));
}

}  // namespace
}  // namespace sskai::ml
