#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex_split.h"

#include <pcre2.h>

namespace sskai::tokenizer::internal {

struct RegexSplit::Impl {
  pcre2_code* code = nullptr;
  ~Impl() {
    if (code != nullptr) pcre2_code_free(code);
  }
};

RegexSplit::~RegexSplit() = default;

Result<std::unique_ptr<RegexSplit>> RegexSplit::Create(std::string_view pattern, bool literal,
                                                       Behavior behavior, bool invert) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  uint32_t options = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                    &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(error_code, buf, sizeof(buf));
    return Status::InvalidArgument("pre_tokenizer regex does not compile at offset " +
                                   std::to_string(error_offset) + ": " +
                                   reinterpret_cast<const char*>(buf));
  }
  // JIT is an optimization: when unavailable, pcre2_match interprets.
  static_cast<void>(pcre2_jit_compile(code, PCRE2_JIT_COMPLETE));
  std::unique_ptr<RegexSplit> split(new RegexSplit());
  split->impl_ = std::make_unique<Impl>();
  split->impl_->code = code;
  split->behavior_ = behavior;
  split->invert_ = invert;
  return split;
}

Status RegexSplit::Split(std::string_view text, std::vector<std::string_view>* out) const {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  if (md == nullptr) return Status::Internal("pcre2: out of memory");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;   // where the next search starts
  size_t gap = 0;   // start of the text not yet emitted
  auto emit = [&](size_t from, size_t to, bool is_match) {
    if (to <= from) return;
    bool keep = behavior_ == Behavior::kIsolated || (is_match == invert_);
    if (keep) out->push_back(text.substr(from, to - from));
  };
  Status status;
  while (pos <= text.size()) {
    int rc = pcre2_match(impl_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      status = Status::Internal("pcre2_match failed: " + std::to_string(rc));
      break;
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t start = ov[0], end = ov[1];
    if (end == start) {  // empty match: no piece, step one character
      if (start >= text.size()) break;
      pos = start + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    emit(gap, start, false);
    emit(start, end, true);
    gap = end;
    pos = end;
  }
  emit(gap, text.size(), false);
  pcre2_match_data_free(md);
  return status;
}

}  // namespace sskai::tokenizer::internal
