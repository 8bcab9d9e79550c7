// src/tokenizer/regex_split.h — private: a pre-tokenizer step that splits text with a PCRE2
// regex compiled in UTF + UCP mode (so \p{L}, \s and lookahead behave as in Hugging Face's
// Oniguruma patterns), JIT-compiled when available.
// Thread-safety: immutable after Create; Split may run concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sskai::tokenizer::internal {

// GPT-2's pattern (ByteLevel pre-tokenizer with use_regex) and Llama-3's.
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

class RegexSplit {
 public:
  enum class Behavior { kIsolated, kRemoved };
  // `literal`: the pattern is a plain string (tokenizer.json {"String": ...}).
  static Result<std::unique_ptr<RegexSplit>> Create(std::string_view pattern, bool literal,
                                                    Behavior behavior, bool invert);
  ~RegexSplit();
  RegexSplit(const RegexSplit&) = delete;
  RegexSplit& operator=(const RegexSplit&) = delete;

  // Appends the pieces of valid UTF-8 `text` (views into it) to *out: with kIsolated, every
  // match and every gap between matches (in order); with kRemoved, only the gaps. `invert`
  // swaps the roles of matches and gaps.
  Status Split(std::string_view text, std::vector<std::string_view>* out) const;

 private:
  RegexSplit() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Behavior behavior_ = Behavior::kIsolated;
  bool invert_ = false;
};

}  // namespace sskai::tokenizer::internal
