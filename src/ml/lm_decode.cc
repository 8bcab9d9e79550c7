// src/ml/lm_decode.cc — the continuous-batching decoder (see LmDecoder in ml.h).
//
// Layout: the batch's KV cache holds one row per running sequence (rows are dense: a sequence
// that leaves is compacted away) and a shared column axis; every decode step appends one
// column for all rows. Rope positions are per sequence, so a sequence's columns need not start
// at 0: each sequence occupies the columns [first_col, len) of its row and `valid_` masks the
// rest. Newcomers are prefilled in a cache of their own (left-padded to the longest newcomer)
// and copied in right-aligned; whenever the rows change, the columns no sequence uses any more
// (the "dead prefix") are dropped, so the attention span stays at most the longest live
// sequence, and the capacity is sized so the current rows can finish without growing.
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

namespace {

struct Sequence {
  int64_t id = 0;
  SamplingParams sampling;
  std::vector<int64_t> history;  // prompt + generated ids (repetition penalty)
  GenerateResult result;
  std::mt19937_64 rng;
  int64_t next_pos = 0;   // rope position of the next token fed
  int64_t first_col = 0;  // first cache column of this sequence (earlier ones are padding)

  int64_t remaining() const { return sampling.max_tokens - static_cast<int64_t>(result.tokens.size()); }
};

// The newcomers of one Add, prefilled in their own cache.
struct Prefilled {
  KvCache cache;
  torch::Tensor valid;   // [k, len] bool
  torch::Tensor logits;  // [k, V]
  std::vector<Sequence> seqs;
};

class Decoder : public LmDecoder {
 public:
  Decoder(LmCore* core, int max_batch) : core_(core), max_batch_(std::max(1, max_batch)) {}

  Result<std::vector<int64_t>> Add(const std::vector<GenerateRequest>& requests) override {
    if (requests.empty()) return std::vector<int64_t>{};
    const LmConfig& c = core_->config();
    for (size_t i = 0; i < requests.size(); ++i) {
      const auto& r = requests[i];
      SSKAI_RETURN_IF_ERROR(CheckIds(c, r.prompt, ("request " + std::to_string(i) + " prompt").c_str()));
      if (r.sampling.max_tokens < 0) return Status::InvalidArgument("max_tokens must be >= 0");
      if (r.sampling.top_p <= 0 || r.sampling.top_p > 1) return Status::InvalidArgument("top_p must be in (0, 1]");
      if (r.sampling.repetition_penalty <= 0) return Status::InvalidArgument("repetition_penalty must be > 0");
      int64_t need = static_cast<int64_t>(r.prompt.size()) + r.sampling.max_tokens;
      if (need > ContextLength(c)) {
        return Status::InvalidArgument("request " + std::to_string(i) + ": prompt (" + std::to_string(r.prompt.size()) +
                                       " tokens) + max_tokens exceeds the context (" +
                                       std::to_string(ContextLength(c)) + ")");
      }
    }
    if (seqs_.size() + requests.size() > static_cast<size_t>(max_batch_)) {
      return Status::ResourceExhausted("the decode batch has " + std::to_string(max_batch_ - active()) +
                                       " free slots, " + std::to_string(requests.size()) + " requested");
    }
    Prefilled fresh;
    try {
      fresh = Prefill(requests);
    } catch (const std::exception& e) {  // the running batch is untouched
      return Status::Internal(std::string("prefill failed: ") + e.what());
    }
    std::vector<int64_t> ids;
    for (const auto& s : fresh.seqs) ids.push_back(s.id);
    std::vector<int64_t> keep(seqs_.size());
    std::iota(keep.begin(), keep.end(), 0);
    try {
      Relayout(keep, &fresh);
    } catch (const std::exception& e) {
      Reset();
      return Status::Internal(std::string("joining the decode batch failed: ") + e.what());
    }
    return ids;
  }

  Result<std::vector<FinishedSequence>> Step(const SequenceCallback& on_token) override {
    std::vector<FinishedSequence> finished;
    if (seqs_.empty()) return finished;
    try {
      torch::NoGradGuard no_grad;
      auto host = logits_.to(torch::kCPU).contiguous();
      const float* row0 = host.data_ptr<float>();
      int64_t vocab = core_->config().vocab_size;
      std::vector<int64_t> keep, feed;
      for (size_t b = 0; b < seqs_.size(); ++b) {
        Sequence& s = seqs_[b];
        std::string reason;
        if (s.sampling.max_tokens == 0) {
          reason = "length";
        } else {
          std::vector<float> row(row0 + b * vocab, row0 + (b + 1) * vocab);
          int64_t token = Sample(std::move(row), s.sampling, s.history, &s.rng);
          s.history.push_back(token);
          s.result.tokens.push_back(token);
          bool go = on_token ? on_token(s.id, token) : true;
          const auto& stops = s.sampling.stop_tokens;
          if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
            reason = "stop";
          } else if (!go) {
            reason = "cancelled";
          } else if (s.remaining() <= 0) {
            reason = "length";
          }
          if (reason.empty()) feed.push_back(token);
        }
        if (reason.empty()) {
          keep.push_back(static_cast<int64_t>(b));
        } else {
          s.result.finish_reason = reason;
          finished.push_back({s.id, std::move(s.result)});
        }
      }
      if (keep.size() < seqs_.size()) Relayout(keep, nullptr);
      if (!seqs_.empty()) Forward(feed);
      return finished;
    } catch (const std::exception& e) {
      Reset();
      return Status::Internal(std::string("decode step failed: ") + e.what());
    }
  }

  Result<GenerateResult> Cancel(int64_t sequence) override {
    auto it = std::find_if(seqs_.begin(), seqs_.end(), [&](const Sequence& s) { return s.id == sequence; });
    if (it == seqs_.end()) return Status::NotFound("sequence " + std::to_string(sequence) + " is not in the batch");
    GenerateResult result = std::move(it->result);
    result.finish_reason = "cancelled";
    std::vector<int64_t> keep;
    for (size_t b = 0; b < seqs_.size(); ++b) {
      if (seqs_[b].id != sequence) keep.push_back(static_cast<int64_t>(b));
    }
    try {
      Relayout(keep, nullptr);
    } catch (const std::exception& e) {
      Reset();
      return Status::Internal(std::string("removing a sequence failed: ") + e.what());
    }
    return result;
  }

  int active() const override { return static_cast<int>(seqs_.size()); }

 private:
  Prefilled Prefill(const std::vector<GenerateRequest>& requests) {
    torch::NoGradGuard no_grad;
    core_->set_training(false);
    torch::Device dev = core_->device();
    int64_t k = static_cast<int64_t>(requests.size()), longest = 0;
    for (const auto& r : requests) longest = std::max<int64_t>(longest, static_cast<int64_t>(r.prompt.size()));
    // Left-pad prompts so every sequence ends at column `longest - 1`.
    std::vector<int64_t> ids(k * longest, 0), pos(k * longest, 0);
    auto valid = torch::zeros({k, longest}, torch::kBool);
    Prefilled out;
    for (int64_t b = 0; b < k; ++b) {
      const auto& prompt = requests[b].prompt;
      int64_t len = static_cast<int64_t>(prompt.size()), pad = longest - len;
      for (int64_t t = 0; t < len; ++t) {
        ids[b * longest + pad + t] = prompt[t];
        pos[b * longest + pad + t] = t;
      }
      valid.select(0, b).narrow(0, pad, len).fill_(true);
      Sequence s;
      s.id = next_id_++;
      s.sampling = requests[b].sampling;
      s.history = prompt;
      s.result.prompt_tokens = len;
      s.rng.seed(requests[b].sampling.seed);
      s.next_pos = len;
      s.first_col = pad;
      out.seqs.push_back(std::move(s));
    }
    out.valid = valid.to(dev);
    out.cache = core_->NewCache(k, longest);
    out.logits = core_->Forward(torch::tensor(ids, torch::kLong).view({k, longest}).to(dev),
                                torch::tensor(pos, torch::kLong).view({k, longest}).to(dev), out.valid, &out.cache)
                     .select(1, longest - 1);  // [k,V]
    return out;
  }

  // Rebuilds the batch from the rows `keep` (ascending) of the current one plus, if given, the
  // prefilled newcomers (appended): drops the dead column prefix, right-aligns both parts and
  // sizes the capacity so every row can finish.
  void Relayout(const std::vector<int64_t>& keep, Prefilled* fresh) {
    torch::NoGradGuard no_grad;
    torch::Device dev = core_->device();
    int64_t kept = static_cast<int64_t>(keep.size());
    int64_t added = fresh != nullptr ? static_cast<int64_t>(fresh->seqs.size()) : 0;
    std::vector<Sequence> next_seqs;
    int64_t dead = cache_.len, most_remaining = 1;
    for (int64_t b : keep) {
      dead = std::min(dead, seqs_[b].first_col);
      most_remaining = std::max(most_remaining, seqs_[b].remaining());
    }
    int64_t old_span = kept > 0 ? cache_.len - dead : 0, new_span = added > 0 ? fresh->cache.len : 0;
    if (fresh != nullptr) {
      for (const auto& s : fresh->seqs) most_remaining = std::max(most_remaining, s.remaining());
    }
    int64_t span = std::max(old_span, new_span), rows = kept + added;
    if (rows == 0) return Reset();
    KvCache next = core_->NewCache(rows, span + most_remaining);
    next.len = span;
    auto valid = torch::zeros({rows, span + most_remaining}, torch::TensorOptions().dtype(torch::kBool).device(dev));
    std::vector<torch::Tensor> logits;
    if (kept > 0) {
      auto idx = torch::tensor(keep, torch::kLong).to(dev);
      auto place = [&](const torch::Tensor& from, torch::Tensor& to) {
        to.narrow(0, 0, kept).narrow(2, span - old_span, old_span).copy_(from.narrow(2, dead, old_span).index_select(0, idx));
      };
      for (size_t l = 0; l < next.k.size(); ++l) {
        place(cache_.k[l], next.k[l]);
        place(cache_.v[l], next.v[l]);
      }
      valid.narrow(0, 0, kept).narrow(1, span - old_span, old_span).copy_(valid_.narrow(1, dead, old_span).index_select(0, idx));
      logits.push_back(logits_.index_select(0, idx));
      for (int64_t b : keep) {
        next_seqs.push_back(std::move(seqs_[b]));
        next_seqs.back().first_col += span - old_span - dead;
      }
    }
    if (added > 0) {
      for (size_t l = 0; l < next.k.size(); ++l) {
        next.k[l].narrow(0, kept, added).narrow(2, span - new_span, new_span).copy_(fresh->cache.k[l]);
        next.v[l].narrow(0, kept, added).narrow(2, span - new_span, new_span).copy_(fresh->cache.v[l]);
      }
      valid.narrow(0, kept, added).narrow(1, span - new_span, new_span).copy_(fresh->valid);
      logits.push_back(fresh->logits);
      for (auto& s : fresh->seqs) {
        next_seqs.push_back(std::move(s));
        next_seqs.back().first_col += span - new_span;
      }
    }
    cache_ = std::move(next);
    valid_ = valid;
    logits_ = logits.size() == 1 ? logits[0] : torch::cat(logits, 0);
    seqs_ = std::move(next_seqs);
  }

  // Feeds one token per row (in row order) and keeps the next logits.
  void Forward(const std::vector<int64_t>& feed) {
    torch::NoGradGuard no_grad;
    if (cache_.len >= valid_.size(1)) {  // Relayout sizes for every row to finish; stay safe
      std::vector<int64_t> all(seqs_.size());
      std::iota(all.begin(), all.end(), 0);
      Relayout(all, nullptr);
    }
    torch::Device dev = core_->device();
    int64_t rows = static_cast<int64_t>(seqs_.size());
    std::vector<int64_t> pos(rows);
    for (int64_t b = 0; b < rows; ++b) pos[b] = seqs_[b].next_pos++;
    valid_.select(1, cache_.len).fill_(true);
    logits_ = core_->Forward(torch::tensor(feed, torch::kLong).view({rows, 1}).to(dev),
                             torch::tensor(pos, torch::kLong).view({rows, 1}).to(dev), valid_, &cache_)
                  .select(1, 0);
  }

  void Reset() {
    seqs_.clear();
    cache_ = KvCache();
    valid_ = torch::Tensor();
    logits_ = torch::Tensor();
  }

  LmCore* core_;
  int max_batch_;
  int64_t next_id_ = 0;
  std::vector<Sequence> seqs_;  // one per cache row, in row order
  KvCache cache_;               // [rows, kv_heads, capacity, head_dim] per layer
  torch::Tensor valid_;         // [rows, capacity] bool: which columns each row attends to
  torch::Tensor logits_;        // [rows, V]: the next token's logits of every row
};

}  // namespace

std::unique_ptr<LmDecoder> NewLmDecoder(LmCore* core, int max_batch) {
  return std::make_unique<Decoder>(core, max_batch);
}

}  // namespace sskai::ml
