// src/data/stream.h — byte streams used by every format reader (internal to the data module).
// Thread-safety: externally synchronized.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sskai::data::internal {

// A forward-only source of bytes.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads up to `n` bytes into `buf`; 0 means end of data.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

// Reads `n` bytes unless the stream ends first; returns how many were read.
Result<size_t> ReadFull(ByteStream* in, char* buf, size_t n);

// A plain file. Errors: kNotFound when it cannot be opened.
class FileStream : public ByteStream {
 public:
  static Result<std::unique_ptr<FileStream>> Open(const std::string& path);
  ~FileStream() override;
  Result<size_t> Read(char* buf, size_t n) override;

 private:
  explicit FileStream(std::FILE* f, std::string path) : file_(f), path_(std::move(path)) {}
  std::FILE* file_;
  std::string path_;
};

// Buffers another stream; adds peeking, fast per-byte reads and line reads.
class BufferedReader : public ByteStream {
 public:
  explicit BufferedReader(ByteStream* in) : in_(in), buf_(kChunk, '\0') {}

  Result<size_t> Read(char* buf, size_t n) override;
  // Up to `n` bytes ahead without consuming them (fewer only at end of data).
  Result<std::string_view> Peek(size_t n);
  // Next byte (0..255), or -1 at end of data or on error (then status() is not OK).
  int Get() {
    if (pos_ < end_) return static_cast<unsigned char>(buf_[pos_++]);
    return Refill();
  }
  // The next byte without consuming it, or -1.
  int PeekByte() {
    if (pos_ < end_) return static_cast<unsigned char>(buf_[pos_]);
    int c = Refill();
    if (c >= 0) --pos_;
    return c;
  }
  // Reads a line without its "\n" / "\r\n"; false at end of data. A line longer than
  // `max_bytes` is kInvalidArgument.
  Result<bool> ReadLine(std::string* line, size_t max_bytes);
  const Status& status() const { return status_; }

 private:
  static constexpr size_t kChunk = 1 << 16;
  int Refill();
  ByteStream* in_;
  std::string buf_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  Status status_;
};

}  // namespace sskai::data::internal
