// src/ml/lm_decoder.cc — the continuous-batching decoder (see LmDecoder in ml.h).
//
// Layout: the batch's KV cache has a number of allocated rows and a shared column axis; every
// decode step appends one column to the rows in use ([0, rows_)). A row in use holds one
// sequence or is a hole (its sequence finished or was cancelled). Rope positions are per
// sequence, so a sequence's columns need not start at 0: it occupies [first_col, len) of its
// row and `valid_` masks everything else, stale columns of an earlier occupant included.
//
// Admission (Add): all newcomers of one call are prefilled together in a cache of their own
// (left-padded to the longest prompt, ONE forward), then scattered into free rows (holes first)
// right-aligned so their prompts end at column len - 1: only their own columns are copied, the
// running rows are not touched. Only when they do not fit — no free allocated row, a prompt
// longer than the columns filled so far, or too little capacity left for their max_tokens — is
// the batch rebuilt (Relayout): live rows packed to the top, the dead column prefix (columns no
// live sequence uses) dropped, rows and capacity sized with slack so the following joins fit in
// place. A step also rebuilds when holes are more than half of the rows in use or the dead
// prefix more than half of the columns, which bounds the compute wasted on them; rebuilds are
// thus amortized over many joins and leaves instead of costing a full copy of the cache each.
//
// Prefill is not chunked: a newcomer's whole prompt runs in one forward at a step boundary, so
// running sequences wait for it once (prompts are bounded by the context; see BENCHMARKS.md).
#include <algorithm>
#include <numeric>

#include "ml/lm_decode.h"

namespace sskai::ml {

namespace {

constexpr int64_t kMinSlackColumns = 16;

struct Sequence {
  int64_t id = -1;  // -1: a hole
  SamplingParams sampling;
  std::vector<int64_t> history;  // prompt + generated ids (repetition penalty)
  GenerateResult result;
  std::mt19937_64 rng;
  int64_t next_pos = 0;    // rope position of the next token fed
  int64_t next_token = 0;  // the token fed by the next forward
  int64_t first_col = 0;   // first cache column of this sequence (earlier ones are not its own)

  bool live() const { return id >= 0; }
  int64_t remaining() const { return sampling.max_tokens - static_cast<int64_t>(result.tokens.size()); }
};

// The newcomers of one Add, prefilled in their own cache (first_col counts from its column 0).
struct Prefilled {
  KvCache cache;         // [k, kv_heads, P, head_dim], P = cache.len = longest prompt
  torch::Tensor valid;   // [k, P] bool
  torch::Tensor logits;  // [k, V]
  std::vector<Sequence> seqs;
  int64_t most_remaining = 0;
};

class Decoder : public LmDecoder {
 public:
  Decoder(LmCore* core, int max_batch) : core_(core), max_batch_(std::max(1, max_batch)) {}

  Result<std::vector<int64_t>> Add(const std::vector<GenerateRequest>& requests) override {
    if (requests.empty()) return std::vector<int64_t>{};
    SSKAI_RETURN_IF_ERROR(Check(requests));
    int64_t k = static_cast<int64_t>(requests.size());
    if (active_ + k > max_batch_) {
      return Status::ResourceExhausted("the decode batch has " + std::to_string(max_batch_ - active_) +
                                       " free slots, " + std::to_string(k) + " requested");
    }
    Prefilled fresh;
    try {
      fresh = Prefill(requests);
    } catch (const std::exception& e) {  // the running batch is untouched
      return Status::Internal(std::string("prefill failed: ") + e.what());
    }
    std::vector<int64_t> ids;
    for (const auto& s : fresh.seqs) ids.push_back(s.id);
    try {
      std::vector<int64_t> rows = FreeRows(k);
      if (!Fits(fresh, rows)) {
        Relayout(k, fresh.cache.len, fresh.most_remaining);
        rows = FreeRows(k);
      }
      Place(fresh, rows);
    } catch (const std::exception& e) {
      Reset();
      return Status::Internal(std::string("joining the decode batch failed: ") + e.what());
    }
    return ids;
  }

  Result<std::vector<FinishedSequence>> Step(const SequenceCallback& on_token) override {
    std::vector<FinishedSequence> finished;
    if (active_ == 0) return finished;
    try {
      torch::NoGradGuard no_grad;
      auto host = logits_.narrow(0, 0, rows_).to(torch::kCPU).contiguous();
      const float* row0 = host.data_ptr<float>();
      int64_t vocab = core_->config().vocab_size;
      for (int64_t b = 0; b < rows_; ++b) {
        Sequence& s = seqs_[b];
        if (!s.live()) continue;
        std::string reason;
        if (s.sampling.max_tokens == 0) {
          reason = "length";
        } else {
          std::vector<float> row(row0 + b * vocab, row0 + (b + 1) * vocab);
          int64_t token = Sample(std::move(row), s.sampling, s.history, &s.rng);
          s.history.push_back(token);
          s.result.tokens.push_back(token);
          s.next_token = token;
          bool go = on_token ? on_token(s.id, token) : true;
          const auto& stops = s.sampling.stop_tokens;
          if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
            reason = "stop";
          } else if (!go) {
            reason = "cancelled";
          } else if (s.remaining() <= 0) {
            reason = "length";
          }
        }
        if (!reason.empty()) {
          s.result.finish_reason = reason;
          finished.push_back({s.id, std::move(s.result)});
          Vacate(b);
        }
      }
      if (active_ == 0) {
        Reset();
        return finished;
      }
      if (Sparse()) Relayout(0, 0, 0);
      Forward();
      return finished;
    } catch (const std::exception& e) {
      Reset();
      return Status::Internal(std::string("decode step failed: ") + e.what());
    }
  }

  Result<GenerateResult> Cancel(int64_t sequence) override {
    auto it = std::find_if(seqs_.begin(), seqs_.end(), [&](const Sequence& s) { return s.id == sequence; });
    if (sequence < 0 || it == seqs_.end()) {
      return Status::NotFound("sequence " + std::to_string(sequence) + " is not in the batch");
    }
    GenerateResult result = std::move(it->result);
    result.finish_reason = "cancelled";
    Vacate(it - seqs_.begin());  // a hole: no tensor work, the next Add or Step reuses or drops it
    if (active_ == 0) Reset();
    return result;
  }

  int active() const override { return static_cast<int>(active_); }

 private:
  Status Check(const std::vector<GenerateRequest>& requests) const {
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
    return Status::Ok();
  }

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
      out.most_remaining = std::max(out.most_remaining, s.remaining());
      out.seqs.push_back(std::move(s));
    }
    out.valid = valid.to(dev);
    out.cache = core_->NewCache(k, longest);
    auto hidden = core_->Hidden(torch::tensor(ids, torch::kLong).view({k, longest}).to(dev),
                                torch::tensor(pos, torch::kLong).view({k, longest}).to(dev), out.valid, &out.cache);
    out.logits = core_->Head(hidden.select(1, longest - 1));  // [k,V]: lm_head on the last column only
    return out;
  }

  // The rows `k` newcomers would take: holes first, then rows after the ones in use.
  std::vector<int64_t> FreeRows(int64_t k) const {
    std::vector<int64_t> rows;
    for (int64_t b = 0; b < rows_ && static_cast<int64_t>(rows.size()) < k; ++b) {
      if (!seqs_[b].live()) rows.push_back(b);
    }
    for (int64_t b = rows_; static_cast<int64_t>(rows.size()) < k; ++b) rows.push_back(b);
    return rows;
  }

  // Whether `fresh` can be placed into `rows` without rebuilding the batch.
  bool Fits(const Prefilled& fresh, const std::vector<int64_t>& rows) const {
    if (active_ == 0 || cache_.k.empty()) return false;
    if (rows.back() >= cache_.k[0].size(0)) return false;  // not allocated
    if (fresh.cache.len > cache_.len) return false;        // cannot right-align the prompt
    return cache_.len + fresh.most_remaining <= valid_.size(1);
  }

  // Copies the newcomers into `rows`, their prompts ending at column cache_.len - 1.
  void Place(Prefilled& fresh, const std::vector<int64_t>& rows) {
    torch::NoGradGuard no_grad;
    int64_t span = fresh.cache.len, start = cache_.len - span;
    auto idx = torch::tensor(rows, torch::kLong).to(core_->device());
    for (size_t l = 0; l < cache_.k.size(); ++l) {
      cache_.k[l].narrow(2, start, span).index_copy_(0, idx, fresh.cache.k[l]);
      cache_.v[l].narrow(2, start, span).index_copy_(0, idx, fresh.cache.v[l]);
    }
    valid_.index_fill_(0, idx, false);  // stale columns of an earlier occupant
    valid_.narrow(1, start, span).index_copy_(0, idx, fresh.valid);
    logits_.index_copy_(0, idx, fresh.logits);
    for (size_t i = 0; i < rows.size(); ++i) {
      int64_t row = rows[i];
      if (row >= rows_) {
        rows_ = row + 1;
        seqs_.resize(rows_);
      }
      seqs_[row] = std::move(fresh.seqs[i]);
      seqs_[row].first_col += start;
      ++active_;
    }
  }

  // Rebuilds the batch from its live rows (in order, packed from row 0) with room for
  // `extra_rows` more rows, at least `min_span` filled columns and `min_tail` free columns: drops
  // the dead column prefix and right-aligns the live rows at the new column len.
  void Relayout(int64_t extra_rows, int64_t min_span, int64_t min_tail) {
    torch::NoGradGuard no_grad;
    torch::Device dev = core_->device();
    std::vector<int64_t> live;
    int64_t dead = cache_.len, tail = std::max<int64_t>(1, min_tail);
    for (int64_t b = 0; b < rows_; ++b) {
      if (!seqs_[b].live()) continue;
      live.push_back(b);
      dead = std::min(dead, seqs_[b].first_col);
      tail = std::max(tail, seqs_[b].remaining());
    }
    int64_t kept = static_cast<int64_t>(live.size());
    int64_t old_span = kept > 0 ? cache_.len - dead : 0, span = std::max(old_span, min_span);
    // Slack so that later joins fit in place: twice the rows needed (up to max_batch) and as many
    // free columns again as the longest tail.
    int64_t alloc = std::min<int64_t>(max_batch_, 2 * (kept + extra_rows));
    int64_t capacity = span + 2 * tail + kMinSlackColumns;
    KvCache next = core_->NewCache(alloc, capacity);
    next.len = span;
    auto valid = torch::zeros({alloc, capacity}, torch::TensorOptions().dtype(torch::kBool).device(dev));
    auto logits = torch::zeros({alloc, core_->config().vocab_size}, torch::TensorOptions().dtype(torch::kFloat).device(dev));
    std::vector<Sequence> next_seqs;
    if (kept > 0) {
      auto idx = torch::tensor(live, torch::kLong).to(dev);
      auto place = [&](const torch::Tensor& from, torch::Tensor& to, int64_t dim) {
        to.narrow(0, 0, kept).narrow(dim, span - old_span, old_span).copy_(from.narrow(dim, dead, old_span).index_select(0, idx));
      };
      for (size_t l = 0; l < next.k.size(); ++l) {
        place(cache_.k[l], next.k[l], 2);
        place(cache_.v[l], next.v[l], 2);
      }
      place(valid_, valid, 1);
      logits.narrow(0, 0, kept).copy_(logits_.index_select(0, idx));
      for (int64_t b : live) {
        next_seqs.push_back(std::move(seqs_[b]));
        next_seqs.back().first_col += span - old_span - dead;
      }
    }
    cache_ = std::move(next);
    valid_ = valid;
    logits_ = logits;
    seqs_ = std::move(next_seqs);
    rows_ = kept;
  }

  // Makes row `b` a hole and drops trailing holes from the rows in use.
  void Vacate(int64_t b) {
    seqs_[b] = Sequence();
    --active_;
    while (rows_ > 0 && !seqs_[rows_ - 1].live()) --rows_;
    seqs_.resize(rows_);
  }

  // Too many holes or dead columns for the rows and columns every step computes over.
  bool Sparse() const {
    int64_t dead = cache_.len;
    for (int64_t b = 0; b < rows_; ++b) {
      if (seqs_[b].live()) dead = std::min(dead, seqs_[b].first_col);
    }
    bool holes = 2 * (rows_ - active_) > rows_;
    bool dead_columns = dead >= kMinSlackColumns && 2 * dead > cache_.len;
    return holes || dead_columns || cache_.len >= valid_.size(1);
  }

  // Feeds every live row its next token (holes a dummy one) and keeps the next logits.
  void Forward() {
    torch::NoGradGuard no_grad;
    torch::Device dev = core_->device();
    std::vector<int64_t> ids(rows_, 0), pos(rows_, 0);
    for (int64_t b = 0; b < rows_; ++b) {
      if (!seqs_[b].live()) continue;
      ids[b] = seqs_[b].next_token;
      pos[b] = seqs_[b].next_pos++;
    }
    KvCache view;  // the rows in use of cache_ (views: the forward writes into cache_)
    for (size_t l = 0; l < cache_.k.size(); ++l) {
      view.k.push_back(cache_.k[l].narrow(0, 0, rows_));
      view.v.push_back(cache_.v[l].narrow(0, 0, rows_));
    }
    view.len = cache_.len;
    auto valid = valid_.narrow(0, 0, rows_);
    valid.select(1, cache_.len).fill_(true);
    auto out = core_->Forward(torch::tensor(ids, torch::kLong).view({rows_, 1}).to(dev),
                              torch::tensor(pos, torch::kLong).view({rows_, 1}).to(dev), valid, &view);
    cache_.len = view.len;
    logits_.narrow(0, 0, rows_).copy_(out.select(1, 0));
  }

  void Reset() {
    seqs_.clear();
    rows_ = 0;
    active_ = 0;
    cache_ = KvCache();
    valid_ = torch::Tensor();
    logits_ = torch::Tensor();
  }

  LmCore* core_;
  int64_t max_batch_;
  int64_t next_id_ = 0;
  int64_t rows_ = 0;            // rows in use (live sequences and holes), a prefix of the allocated rows
  int64_t active_ = 0;          // live sequences
  std::vector<Sequence> seqs_;  // one per row in use
  KvCache cache_;               // [allocated rows, kv_heads, capacity, head_dim] per layer
  torch::Tensor valid_;         // [allocated rows, capacity] bool: which columns each row attends to
  torch::Tensor logits_;        // [allocated rows, V]: the next token's logits of every live row
};

}  // namespace

std::unique_ptr<LmDecoder> NewLmDecoder(LmCore* core, int max_batch) {
  return std::make_unique<Decoder>(core, max_batch);
}

}  // namespace sskai::ml
