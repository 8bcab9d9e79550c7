// src/ml/lm_decode.h — generation over LmCore (internal to libsskai_ml.so): request checks and
// sampling (lm_decode.cc), and the continuous-batching decoder behind LanguageModel::NewDecoder
// and Generate (lm_decoder.cc: KV-cache layout, in-place joins, when the batch is rebuilt).
#pragma once

// libtorch: from sskai_ml's precompiled header (src/ml/CMakeLists.txt).

#include <memory>
#include <random>
#include <vector>

#include "ml/lm_model.h"

namespace sskai::ml {

// Longest sequence a request may use: dynamic NTK scaling extends max_position_embeddings.
int64_t ContextLength(const LmConfig& config);

// kInvalidArgument for empty ids or ids outside the vocabulary, naming `what`.
Status CheckIds(const LmConfig& config, const std::vector<int64_t>& ids, const char* what);

// Picks the next token from one row of logits (pure; the RNG carries the request's seed).
int64_t Sample(std::vector<float> logits, const SamplingParams& s, const std::vector<int64_t>& history,
               std::mt19937_64* rng);

// A decoder over `core` (borrowed; must outlive it).
std::unique_ptr<LmDecoder> NewLmDecoder(LmCore* core, int max_batch);

}  // namespace sskai::ml
