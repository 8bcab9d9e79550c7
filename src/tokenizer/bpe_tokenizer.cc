#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <limits>

#include "tokenizer/text_util.h"

namespace sskai::tokenizer::internal {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Create(BpeConfig config) {
  std::unique_ptr<BpeTokenizer> tok(new BpeTokenizer(std::move(config)));
  SSKAI_RETURN_IF_ERROR(tok->Build());
  return tok;
}

Status BpeTokenizer::Build() {
  size_t size = config_.token_strings.size();
  for (const AddedToken& added : config_.added) {
    if (added.id < 0) return Status::InvalidArgument("added_tokens: negative id");
    size = std::max(size, static_cast<size_t>(added.id) + 1);
  }
  token_bytes_.assign(size, std::string());
  is_special_.assign(size, false);
  for (size_t id = 0; id < config_.token_strings.size(); ++id) {
    const std::string& spelling = config_.token_strings[id];
    if (spelling.empty()) continue;
    token_bytes_[id] = ByteLevelToBytes(spelling);
    by_bytes_.emplace(token_bytes_[id], static_cast<TokenId>(id));
    by_string_.emplace(spelling, static_cast<TokenId>(id));
  }
  for (size_t idx = 0; idx < config_.added.size(); ++idx) {
    const AddedToken& added = config_.added[idx];
    if (added.content.empty()) return Status::InvalidArgument("added_tokens: empty content");
    token_bytes_[added.id] = added.content;
    is_special_[added.id] = added.special;
    by_string_.emplace(added.content, added.id);
    added_by_first_byte_[static_cast<unsigned char>(added.content[0])].push_back(static_cast<int>(idx));
  }
  for (auto& candidates : added_by_first_byte_) {
    std::stable_sort(candidates.begin(), candidates.end(), [this](int a, int b) {
      return config_.added[a].content.size() > config_.added[b].content.size();
    });
  }
  for (int b = 0; b < 256; ++b) {
    auto it = by_bytes_.find(std::string(1, static_cast<char>(b)));
    byte_ids_[b] = it == by_bytes_.end() ? -1 : it->second;
  }
  merges_.reserve(config_.merges.size() * 2);
  for (size_t rank = 0; rank < config_.merges.size(); ++rank) {
    const auto& [left, right] = config_.merges[rank];
    auto a = by_string_.find(left);
    auto b = by_string_.find(right);
    auto merged = by_string_.find(left + right);
    if (a == by_string_.end() || b == by_string_.end() || merged == by_string_.end()) {
      return Status::InvalidArgument("model.merges[" + std::to_string(rank) + "] '" + left + " " +
                                     right + "' uses a token missing from model.vocab");
    }
    merges_.emplace(PairKey(a->second, b->second),
                    Merge{static_cast<int32_t>(rank), merged->second});
  }
  config_.merges.clear();
  config_.merges.shrink_to_fit();
  return Status::Ok();
}

Status BpeTokenizer::EncodeWord(std::string_view bytes, std::vector<TokenId>* out,
                                std::vector<TokenId>* word) const {
  if (bytes.empty()) return Status::Ok();
  if (bytes.size() == 1 && byte_ids_[static_cast<unsigned char>(bytes[0])] >= 0) {
    out->push_back(byte_ids_[static_cast<unsigned char>(bytes[0])]);
    return Status::Ok();
  }
  if (config_.ignore_merges) {
    auto it = by_bytes_.find(std::string(bytes));
    if (it != by_bytes_.end()) {
      out->push_back(it->second);
      return Status::Ok();
    }
  }
  word->clear();
  for (unsigned char b : bytes) {
    TokenId id = byte_ids_[b];
    if (id < 0) {
      return Status::InvalidArgument("byte " + std::to_string(b) + " has no token in the vocabulary");
    }
    word->push_back(id);
  }
  if (word->size() > kLongWord) {
    MergeLongWord(word);
    out->insert(out->end(), word->begin(), word->end());
    return Status::Ok();
  }
  // GPT-2's loop: merge every occurrence of the lowest-ranked adjacent pair, left to right,
  // until no adjacent pair has a merge. Quadratic, and the fastest for ordinary words.
  while (word->size() > 1) {
    int32_t best_rank = std::numeric_limits<int32_t>::max();
    TokenId best_left = -1, best_right = -1, best_merged = -1;
    for (size_t pos = 0; pos + 1 < word->size(); ++pos) {
      auto it = merges_.find(PairKey((*word)[pos], (*word)[pos + 1]));
      if (it != merges_.end() && it->second.rank < best_rank) {
        best_rank = it->second.rank;
        best_left = (*word)[pos];
        best_right = (*word)[pos + 1];
        best_merged = it->second.merged;
      }
    }
    if (best_merged < 0) break;
    size_t write = 0;
    for (size_t read = 0; read < word->size(); ++read) {
      if (read + 1 < word->size() && (*word)[read] == best_left && (*word)[read + 1] == best_right) {
        (*word)[write++] = best_merged;
        ++read;
      } else {
        (*word)[write++] = (*word)[read];
      }
    }
    word->resize(write);
  }
  out->insert(out->end(), word->begin(), word->end());
  return Status::Ok();
}

// The same merges in O(n log n) for long pre-tokens (a run of 1 MB of letters must not take
// minutes): a min-heap of (rank, position) over a linked list of symbols. Popping the lowest rank,
// leftmost first, gives exactly GPT-2's order; stale entries are skipped when popped.
void BpeTokenizer::MergeLongWord(std::vector<TokenId>* word) const {
  struct Candidate {
    int32_t rank;
    int32_t left;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  const int32_t n = static_cast<int32_t>(word->size());
  std::vector<int32_t> prev(n), next(n);
  for (int32_t pos = 0; pos < n; ++pos) {
    prev[pos] = pos - 1;
    next[pos] = pos + 1 < n ? pos + 1 : -1;
  }
  std::vector<Candidate> heap;
  auto push = [&](int32_t left) {
    if (left < 0 || next[left] < 0) return;
    auto it = merges_.find(PairKey((*word)[left], (*word)[next[left]]));
    if (it == merges_.end()) return;
    heap.push_back({it->second.rank, left});
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (int32_t pos = 0; pos + 1 < n; ++pos) push(pos);
  std::vector<bool> dead(n, false);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    Candidate c = heap.back();
    heap.pop_back();
    if (dead[c.left] || next[c.left] < 0) continue;
    auto it = merges_.find(PairKey((*word)[c.left], (*word)[next[c.left]]));
    if (it == merges_.end() || it->second.rank != c.rank) continue;  // stale
    int32_t right = next[c.left];
    (*word)[c.left] = it->second.merged;
    dead[right] = true;
    next[c.left] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.left;
    push(prev[c.left]);
    push(c.left);
  }
  size_t write = 0;
  for (int32_t pos = 0; pos < n; ++pos) {
    if (!dead[pos]) (*word)[write++] = (*word)[pos];
  }
  word->resize(write);
}

Status BpeTokenizer::EncodeText(std::string_view text, std::vector<TokenId>* out) const {
  if (text.empty()) return Status::Ok();
  std::string owned;
  std::string_view view = text;
  if (config_.nfc) {
    SSKAI_ASSIGN_OR_RETURN(owned, NormalizeNfc(text));
    view = owned;
  }
  if (config_.add_prefix_space && view.front() != ' ') {
    owned = " " + std::string(view);
    view = owned;
  }
  std::vector<std::string_view> pieces{view};
  std::vector<std::string_view> next;
  for (const auto& split : config_.splits) {
    next.clear();
    for (std::string_view piece : pieces) SSKAI_RETURN_IF_ERROR(split->Split(piece, &next));
    pieces.swap(next);
  }
  std::vector<TokenId> scratch;
  for (std::string_view piece : pieces) SSKAI_RETURN_IF_ERROR(EncodeWord(piece, out, &scratch));
  return Status::Ok();
}

std::pair<size_t, int> BpeTokenizer::FindAdded(std::string_view text, size_t from) const {
  for (size_t pos = from; pos < text.size(); ++pos) {
    const auto& candidates = added_by_first_byte_[static_cast<unsigned char>(text[pos])];
    for (int idx : candidates) {
      const std::string& content = config_.added[idx].content;
      if (text.compare(pos, content.size(), content) == 0) return {pos, idx};
    }
  }
  return {std::string_view::npos, -1};
}

Result<std::vector<TokenId>> BpeTokenizer::Encode(std::string_view text, bool add_special) const {
  size_t bad = FirstInvalidUtf8(text);
  if (bad != std::string_view::npos) {
    return Status::InvalidArgument("text is not valid UTF-8 at byte " + std::to_string(bad));
  }
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 4);
  if (add_special) ids.insert(ids.end(), config_.prefix_ids.begin(), config_.prefix_ids.end());
  size_t pos = 0;
  while (pos <= text.size()) {
    auto [start, idx] = FindAdded(text, pos);
    if (idx < 0) {
      SSKAI_RETURN_IF_ERROR(EncodeText(text.substr(pos), &ids));
      break;
    }
    const AddedToken& added = config_.added[idx];
    size_t segment_end = start;
    if (added.lstrip) {
      while (segment_end > pos && IsSpace(text[segment_end - 1])) --segment_end;
    }
    SSKAI_RETURN_IF_ERROR(EncodeText(text.substr(pos, segment_end - pos), &ids));
    ids.push_back(added.id);
    pos = start + added.content.size();
    if (added.rstrip) {
      while (pos < text.size() && IsSpace(text[pos])) ++pos;
    }
  }
  if (add_special) ids.insert(ids.end(), config_.suffix_ids.begin(), config_.suffix_ids.end());
  return ids;
}

Result<std::string> BpeTokenizer::TokenBytes(TokenId id, bool /*first*/) const {
  if (id < 0 || static_cast<size_t>(id) >= token_bytes_.size()) {
    return Status::InvalidArgument("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                                   std::to_string(token_bytes_.size()) + ")");
  }
  return token_bytes_[id];
}

Result<std::string> BpeTokenizer::Decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string bytes;
  for (TokenId id : ids) {
    SSKAI_ASSIGN_OR_RETURN(std::string piece, TokenBytes(id, false));
    if (skip_special && is_special_[id]) continue;
    bytes += piece;
  }
  return RepairUtf8(bytes);
}

std::optional<TokenId> BpeTokenizer::TokenToId(std::string_view token) const {
  auto it = by_string_.find(std::string(token));
  if (it == by_string_.end()) return std::nullopt;
  return it->second;
}

Result<std::string> BpeTokenizer::IdToToken(TokenId id) const {
  SSKAI_RETURN_IF_ERROR(TokenBytes(id, false).status());
  if (static_cast<size_t>(id) < config_.token_strings.size() && !config_.token_strings[id].empty()) {
    return config_.token_strings[id];
  }
  return token_bytes_[id];
}

}  // namespace sskai::tokenizer::internal
