#include "tokenizer/text_util.h"

#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <vector>

namespace sskai::tokenizer::internal {

int Utf8SequenceLength(std::string_view text, size_t pos) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  unsigned char c = s[pos];
  if (c < 0x80) return 1;
  int len;
  uint32_t min;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  uint32_t cp = c & (0x7F >> len);
  for (int k = 1; k < len; ++k) {
    if (pos + k >= n) {
      // Valid so far? Check the second byte's range for 3/4-byte leads when we have it.
      return -1;
    }
    unsigned char cc = s[pos + k];
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
    if (k == 1) {
      // Reject overlong / surrogate / > U+10FFFF as early as the second byte.
      if (len == 3 && c == 0xE0 && cc < 0xA0) return 0;
      if (len == 3 && c == 0xED && cc > 0x9F) return 0;
      if (len == 4 && c == 0xF0 && cc < 0x90) return 0;
      if (len == 4 && c == 0xF4 && cc > 0x8F) return 0;
    }
  }
  if (cp < min) return 0;
  return len;
}

size_t FirstInvalidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    int len = Utf8SequenceLength(text, pos);
    if (len <= 0) return pos;
    pos += static_cast<size_t>(len);
  }
  return std::string_view::npos;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string RepairUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    int len = Utf8SequenceLength(bytes, pos);
    if (len > 0) {
      out.append(bytes.substr(pos, static_cast<size_t>(len)));
      pos += static_cast<size_t>(len);
      continue;
    }
    // One U+FFFD per maximal invalid prefix: skip the lead byte and its valid continuations.
    size_t skip = 1;
    unsigned char c = static_cast<unsigned char>(bytes[pos]);
    if (len < 0 || (c >= 0xC2 && c <= 0xF4)) {
      while (pos + skip < bytes.size() && skip < 4 &&
             (static_cast<unsigned char>(bytes[pos + skip]) & 0xC0) == 0x80 &&
             Utf8SequenceLength(bytes.substr(0, pos + skip + 1), pos) < 0) {
        ++skip;
      }
    }
    out.append("\xEF\xBF\xBD");
    pos += skip;
  }
  return out;
}

namespace {

struct ByteTables {
  std::array<uint32_t, 256> to_char{};
  std::array<int16_t, 512> to_byte{};
  ByteTables() {
    to_byte.fill(-1);
    std::array<bool, 256> printable{};
    for (int b = '!'; b <= '~'; ++b) printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
    uint32_t n = 0;
    for (int b = 0; b < 256; ++b) {
      to_char[b] = printable[b] ? static_cast<uint32_t>(b) : 256 + n++;
      to_byte[to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteTables& Tables() {
  static const ByteTables tables;
  return tables;
}

}  // namespace

const std::array<uint32_t, 256>& ByteToChar() { return Tables().to_char; }

int CharToByte(uint32_t cp) { return cp < 512 ? Tables().to_byte[cp] : -1; }

std::string BytesToByteLevel(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) AppendUtf8(Tables().to_char[b], &out);
  return out;
}

std::string ByteLevelToBytes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    int len = Utf8SequenceLength(s, pos);
    if (len <= 0) {  // not UTF-8: keep the byte
      out.push_back(s[pos++]);
      continue;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(s.data() + pos);
    uint32_t cp = len == 1 ? p[0] : len == 2 ? ((p[0] & 0x1F) << 6) | (p[1] & 0x3F) : 0xFFFFFFFF;
    int byte = CharToByte(cp);
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
    } else {
      out.append(s.substr(pos, static_cast<size_t>(len)));
    }
    pos += static_cast<size_t>(len);
  }
  return out;
}

Result<std::string> NormalizeNfc(std::string_view text) {
  if (IsAscii(text)) return std::string(text);
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&err);
  if (U_FAILURE(err)) return Status::Internal("ICU NFC unavailable");
  int32_t len16 = 0;
  u_strFromUTF8(nullptr, 0, &len16, text.data(), static_cast<int32_t>(text.size()), &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) return Status::InvalidArgument("not UTF-8");
  err = U_ZERO_ERROR;
  std::vector<UChar> src(static_cast<size_t>(len16) + 1);
  u_strFromUTF8(src.data(), len16 + 1, nullptr, text.data(), static_cast<int32_t>(text.size()), &err);
  if (U_FAILURE(err)) return Status::InvalidArgument("not UTF-8");
  std::vector<UChar> dst(static_cast<size_t>(len16) * 3 + 16);
  int32_t dst_len = unorm2_normalize(nfc, src.data(), len16, dst.data(),
                                     static_cast<int32_t>(dst.size()), &err);
  if (U_FAILURE(err)) return Status::Internal("ICU NFC failed");
  std::string out(static_cast<size_t>(dst_len) * 3 + 4, '\0');
  int32_t out_len = 0;
  u_strToUTF8(out.data(), static_cast<int32_t>(out.size()), &out_len, dst.data(), dst_len, &err);
  if (U_FAILURE(err)) return Status::Internal("ICU UTF-8 conversion failed");
  out.resize(static_cast<size_t>(out_len));
  return out;
}

}  // namespace sskai::tokenizer::internal
