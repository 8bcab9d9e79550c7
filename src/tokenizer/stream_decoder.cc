#include "tokenizer/text_util.h"
#include "tokenizer/tokenizer.h"

namespace sskai::tokenizer {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special, bool at_start)
    : tokenizer_(tokenizer), skip_special_(skip_special), at_start_(at_start), first_(at_start) {}

Result<std::string> StreamDecoder::Push(TokenId id) {
  if (skip_special_) {
    SSKAI_RETURN_IF_ERROR(tokenizer_.TokenBytes(id, false).status());
    if (tokenizer_.IsSpecial(id)) return std::string();
  }
  SSKAI_ASSIGN_OR_RETURN(std::string bytes, tokenizer_.TokenBytes(id, first_));
  first_ = false;
  pending_ += bytes;
  // Emit everything up to the last position where an unfinished (but so far valid) sequence
  // starts; invalid bytes are repaired now, since more bytes cannot fix them.
  size_t pos = 0;
  size_t keep_from = pending_.size();
  while (pos < pending_.size()) {
    int len = internal::Utf8SequenceLength(pending_, pos);
    if (len < 0) {
      keep_from = pos;
      break;
    }
    pos += len > 0 ? static_cast<size_t>(len) : 1;
  }
  std::string out = internal::RepairUtf8(std::string_view(pending_).substr(0, keep_from));
  pending_.erase(0, keep_from);
  return out;
}

std::string StreamDecoder::Flush() {
  std::string out = internal::RepairUtf8(pending_);
  pending_.clear();
  first_ = at_start_;
  return out;
}

}  // namespace sskai::tokenizer
