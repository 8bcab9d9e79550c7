// Train/eval split and packing of examples into sequences (pure).
#include <algorithm>
#include <cmath>
#include <random>

#include "lmdata/lmdata.h"

namespace sskai::lmdata {

SplitResult SplitTrainEval(std::vector<ml::LmExample> examples, double eval_fraction, uint64_t seed) {
  SplitResult out;
  const size_t n = examples.size();
  size_t n_eval = 0;
  if (eval_fraction > 0 && n >= 2) {
    n_eval = static_cast<size_t>(std::llround(static_cast<double>(n) * eval_fraction));
    n_eval = std::clamp<size_t>(n_eval, 1, n - 1);
  }
  // Fisher–Yates over indices with mt19937_64 (whose output sequence the standard fixes), so
  // the split is the same on every platform.
  std::vector<size_t> order(n);
  for (size_t idx = 0; idx < n; ++idx) order[idx] = idx;
  std::mt19937_64 rng(seed ^ 0x5eed5a1177ULL);
  for (size_t idx = n; idx > 1; --idx) {
    size_t pick = static_cast<size_t>(rng() % idx);
    std::swap(order[idx - 1], order[pick]);
  }
  std::vector<uint8_t> is_eval(n, 0);
  for (size_t idx = 0; idx < n_eval; ++idx) is_eval[order[idx]] = 1;
  for (size_t idx = 0; idx < n; ++idx) {
    (is_eval[idx] ? out.eval : out.train).push_back(std::move(examples[idx]));
  }
  return out;
}

namespace {

bool AnyTarget(const ml::LmExample& ex) {
  return std::any_of(ex.target.begin() + (ex.target.empty() ? 0 : 1), ex.target.end(),
                     [](uint8_t t) { return t != 0; });
}

// The example's pieces of at most `max_len` ids, the first id of each piece not a target.
std::vector<ml::LmExample> Pieces(const ml::LmExample& ex, size_t max_len, bool split_long, PackStats* stats) {
  std::vector<ml::LmExample> out;
  std::vector<uint8_t> target = ex.target;
  if (target.size() != ex.ids.size()) {  // implicit mask: every position after the first
    target.assign(ex.ids.size(), 1);
  }
  for (size_t start = 0; start < ex.ids.size(); start += max_len) {
    size_t end = std::min(ex.ids.size(), start + max_len);
    ml::LmExample piece;
    piece.ids.assign(ex.ids.begin() + static_cast<std::ptrdiff_t>(start), ex.ids.begin() + static_cast<std::ptrdiff_t>(end));
    piece.target.assign(target.begin() + static_cast<std::ptrdiff_t>(start), target.begin() + static_cast<std::ptrdiff_t>(end));
    piece.target[0] = 0;
    if (AnyTarget(piece)) out.push_back(std::move(piece));
    if (!split_long) {
      if (end < ex.ids.size()) ++stats->truncated;
      break;
    }
  }
  if (out.empty()) ++stats->dropped;
  return out;
}

}  // namespace

std::vector<ml::LmExample> Pack(const std::vector<ml::LmExample>& examples, int max_seq_len, bool pack,
                                bool split_long, PackStats* stats, bool block_diagonal) {
  PackStats local;
  PackStats* st = stats != nullptr ? stats : &local;
  *st = PackStats{};
  const size_t max_len = static_cast<size_t>(std::max(2, max_seq_len));
  std::vector<ml::LmExample> out;
  ml::LmExample cur;
  int32_t pieces = 0;  // in `cur`
  auto flush = [&] {
    pieces = 0;
    if (cur.ids.empty()) return;
    out.push_back(std::move(cur));
    cur = ml::LmExample{};
  };
  for (const auto& ex : examples) {
    if (ex.ids.empty()) continue;
    ++st->examples;
    for (auto& piece : Pieces(ex, max_len, split_long, st)) {
      if (!pack || cur.ids.size() + piece.ids.size() > max_len) flush();
      cur.ids.insert(cur.ids.end(), piece.ids.begin(), piece.ids.end());
      cur.target.insert(cur.target.end(), piece.target.begin(), piece.target.end());
      if (block_diagonal) cur.document.insert(cur.document.end(), piece.ids.size(), pieces);
      ++pieces;
    }
  }
  flush();
  for (const auto& seq : out) {
    st->tokens += static_cast<int64_t>(seq.ids.size());
    st->target_tokens += std::count(seq.target.begin(), seq.target.end(), uint8_t{1});
  }
  st->sequences = static_cast<int64_t>(out.size());
  return out;
}

}  // namespace sskai::lmdata
