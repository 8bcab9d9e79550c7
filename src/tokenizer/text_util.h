// src/tokenizer/text_util.h — private: UTF-8 helpers, GPT-2's byte<->unicode table, NFC.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sskai::tokenizer::internal {

// Offset of the first byte that does not start a valid UTF-8 sequence, or npos when `text` is
// valid UTF-8 (overlongs, surrogates and code points above U+10FFFF are invalid).
size_t FirstInvalidUtf8(std::string_view text);

// Length of the valid UTF-8 sequence starting at text[pos] (1..4), 0 when invalid, and -1 when it
// is a valid but incomplete prefix cut by the end of `text`.
int Utf8SequenceLength(std::string_view text, size_t pos);

// Copies `bytes`, replacing each maximal invalid subsequence with U+FFFD (like
// String::from_utf8_lossy and TextDecoder).
std::string RepairUtf8(std::string_view bytes);

void AppendUtf8(uint32_t code_point, std::string* out);

// GPT-2's bytes_to_unicode(): byte b <-> a printable code point. ByteToChar()[b] is the code point;
// CharToByte(cp) returns -1 for code points outside the table.
const std::array<uint32_t, 256>& ByteToChar();
int CharToByte(uint32_t code_point);

// Maps raw bytes to their byte-level spelling (UTF-8 of the mapped code points) and back. The
// reverse keeps characters outside the table as their own UTF-8 bytes.
std::string BytesToByteLevel(std::string_view bytes);
std::string ByteLevelToBytes(std::string_view byte_level);

// Unicode NFC of valid UTF-8 `text` (ICU). ASCII text is returned unchanged without a copy cost.
Result<std::string> NormalizeNfc(std::string_view text);

inline bool IsAscii(std::string_view text) {
  for (unsigned char c : text) {
    if (c >= 0x80) return false;
  }
  return true;
}

}  // namespace sskai::tokenizer::internal
