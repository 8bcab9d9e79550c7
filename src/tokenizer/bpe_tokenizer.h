// src/tokenizer/bpe_tokenizer.h — private: byte-level BPE (vocabulary, ranked merges, added
// tokens, normalizer, pre-tokenizer steps, post-processor) behind the Tokenizer interface.
// Loaders (hf_loader.cc) fill a BpeConfig; BpeTokenizer only runs it.
// Thread-safety: immutable after construction; all methods may run concurrently.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/regex_split.h"
#include "tokenizer/tokenizer.h"

namespace sskai::tokenizer::internal {

struct BpeConfig {
  std::vector<std::string> token_strings;  // id -> spelling in the vocabulary ("" for holes)
  // Merges in rank order, as vocabulary spellings ("Ġ", "t").
  std::vector<std::pair<std::string, std::string>> merges;
  bool ignore_merges = false;  // a pre-token found whole in the vocabulary skips the merges
  std::vector<AddedToken> added;
  bool nfc = false;
  bool add_prefix_space = false;
  std::vector<std::unique_ptr<RegexSplit>> splits;  // applied in order
  std::vector<TokenId> prefix_ids;  // post-processor (add_special): before the text's ids
  std::vector<TokenId> suffix_ids;  // and after them
  SpecialTokens special;
};

class BpeTokenizer final : public Tokenizer {
 public:
  static Result<std::unique_ptr<BpeTokenizer>> Create(BpeConfig config);

  std::string_view Kind() const override { return "bpe"; }
  Result<std::vector<TokenId>> Encode(std::string_view text, bool add_special) const override;
  Result<std::string> Decode(std::span<const TokenId> ids, bool skip_special) const override;
  Result<std::string> TokenBytes(TokenId id, bool first) const override;
  size_t VocabSize() const override { return token_bytes_.size(); }
  std::optional<TokenId> TokenToId(std::string_view token) const override;
  Result<std::string> IdToToken(TokenId id) const override;
  const SpecialTokens& Special() const override { return config_.special; }
  std::vector<AddedToken> AddedTokens() const override { return config_.added; }
  bool IsSpecial(TokenId id) const override {
    return id >= 0 && static_cast<size_t>(id) < is_special_.size() && is_special_[id];
  }

  void SetSpecial(const SpecialTokens& special) { config_.special = special; }

 private:
  explicit BpeTokenizer(BpeConfig config) : config_(std::move(config)) {}
  Status Build();
  // Appends the ids of one pre-token (raw bytes).
  Status EncodeWord(std::string_view bytes, std::vector<TokenId>* out,
                    std::vector<TokenId>* scratch) const;
  // Pre-tokens longer than this many bytes merge through a heap instead of GPT-2's rescans.
  static constexpr size_t kLongWord = 48;
  void MergeLongWord(std::vector<TokenId>* word) const;
  Status EncodeText(std::string_view text, std::vector<TokenId>* out) const;
  // Position and index of the leftmost-longest added token at or after `from`, or npos.
  std::pair<size_t, int> FindAdded(std::string_view text, size_t from) const;

  struct Merge {
    int32_t rank;
    TokenId merged;
  };
  static uint64_t PairKey(TokenId a, TokenId b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  BpeConfig config_;
  std::vector<std::string> token_bytes_;  // id -> raw bytes
  std::vector<bool> is_special_;          // id -> special added token
  std::unordered_map<std::string, TokenId> by_bytes_;
  std::unordered_map<std::string, TokenId> by_string_;
  std::array<TokenId, 256> byte_ids_{};  // -1 when the byte has no token
  std::unordered_map<uint64_t, Merge> merges_;
  std::array<std::vector<int>, 256> added_by_first_byte_;  // longest first
};

}  // namespace sskai::tokenizer::internal
