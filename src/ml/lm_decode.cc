// src/ml/lm_decode.cc — request checks and sampling shared by the decoder (lm_decoder.cc).
#include "ml/lm_decode.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

namespace sskai::ml {

int64_t ContextLength(const LmConfig& c) {
  double factor = c.rope_type == "dynamic" ? c.rope_factor : 1.0;
  return static_cast<int64_t>(static_cast<double>(c.max_position_embeddings) * factor);
}

Status CheckIds(const LmConfig& c, const std::vector<int64_t>& ids, const char* what) {
  if (ids.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  for (int64_t id : ids) {
    if (id < 0 || id >= c.vocab_size) {
      return Status::InvalidArgument(std::string(what) + " has token id " + std::to_string(id) +
                                     " outside the vocabulary (" + std::to_string(c.vocab_size) + ")");
    }
  }
  return Status::Ok();
}

int64_t Sample(std::vector<float> logits, const SamplingParams& s, const std::vector<int64_t>& history,
               std::mt19937_64* rng) {
  if (s.repetition_penalty != 1.0) {
    std::set<int64_t> seen(history.begin(), history.end());
    for (int64_t id : seen) {
      float& l = logits[id];
      l = l > 0 ? static_cast<float>(l / s.repetition_penalty) : static_cast<float>(l * s.repetition_penalty);
    }
  }
  if (s.temperature <= 0) return std::max_element(logits.begin(), logits.end()) - logits.begin();
  std::vector<int64_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  size_t keep = order.size();
  if (s.top_k > 0) keep = std::min(keep, static_cast<size_t>(s.top_k));
  std::vector<double> probs(keep);
  double max_logit = logits[order[0]] / s.temperature, total = 0;
  for (size_t i = 0; i < keep; ++i) {
    probs[i] = std::exp(logits[order[i]] / s.temperature - max_logit);
    total += probs[i];
  }
  if (s.top_p < 1.0) {
    double cumulative = 0;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probs[i] / total;
      if (cumulative >= s.top_p) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    total = std::accumulate(probs.begin(), probs.begin() + static_cast<std::ptrdiff_t>(keep), 0.0);
  }
  double u = std::uniform_real_distribution<double>(0.0, total)(*rng);
  for (size_t i = 0; i < keep; ++i) {
    u -= probs[i];
    if (u <= 0) return order[i];
  }
  return order[keep - 1];
}

}  // namespace sskai::ml
