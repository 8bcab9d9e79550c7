#include "data/stream.h"

#include <cerrno>
#include <cstring>

namespace sskai::data::internal {

Result<size_t> ReadFull(ByteStream* in, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    SSKAI_ASSIGN_OR_RETURN(size_t k, in->Read(buf + got, n - got));
    if (k == 0) break;
    got += k;
  }
  return got;
}

Result<std::unique_ptr<FileStream>> FileStream::Open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Status::NotFound("cannot open '" + path + "': " + std::strerror(errno));
  }
  return std::unique_ptr<FileStream>(new FileStream(f, path));
}

FileStream::~FileStream() { std::fclose(file_); }

Result<size_t> FileStream::Read(char* buf, size_t n) {
  size_t k = std::fread(buf, 1, n, file_);
  if (k == 0 && std::ferror(file_)) {
    return Status::Internal("cannot read '" + path_ + "': " + std::strerror(errno));
  }
  return k;
}

int BufferedReader::Refill() {
  if (eof_ || !status_.ok()) return -1;
  pos_ = end_ = 0;
  auto k = in_->Read(buf_.data(), buf_.size());
  if (!k.ok()) {
    status_ = k.status();
    return -1;
  }
  if (*k == 0) {
    eof_ = true;
    return -1;
  }
  end_ = *k;
  return static_cast<unsigned char>(buf_[pos_++]);
}

Result<size_t> BufferedReader::Read(char* buf, size_t n) {
  if (pos_ == end_) {
    if (!status_.ok()) return status_;
    if (eof_) return size_t{0};
    if (n >= buf_.size()) return in_->Read(buf, n);  // large reads skip the buffer
    if (Refill() < 0) return status_.ok() ? Result<size_t>(size_t{0}) : Result<size_t>(status_);
    --pos_;
  }
  size_t k = std::min(n, end_ - pos_);
  std::memcpy(buf, buf_.data() + pos_, k);
  pos_ += k;
  return k;
}

Result<std::string_view> BufferedReader::Peek(size_t n) {
  if (end_ - pos_ < n && !eof_) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
    if (buf_.size() < n) buf_.resize(n);
    while (end_ < n) {
      SSKAI_ASSIGN_OR_RETURN(size_t k, in_->Read(buf_.data() + end_, buf_.size() - end_));
      if (k == 0) {
        eof_ = true;
        break;
      }
      end_ += k;
    }
  }
  if (!status_.ok()) return status_;
  return std::string_view(buf_.data() + pos_, std::min(n, end_ - pos_));
}

Result<bool> BufferedReader::ReadLine(std::string* line, size_t max_bytes) {
  line->clear();
  bool any = false;
  while (true) {
    if (pos_ == end_) {
      if (Refill() < 0) {
        if (!status_.ok()) return status_;
        break;
      }
      --pos_;
    }
    any = true;
    const char* start = buf_.data() + pos_;
    const void* nl = std::memchr(start, '\n', end_ - pos_);
    size_t take = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : end_ - pos_;
    if (line->size() + take > max_bytes) {
      return Status::InvalidArgument("line is longer than " + std::to_string(max_bytes) +
                                     " bytes");
    }
    line->append(start, take);
    pos_ += take;
    if (nl) {
      ++pos_;
      if (!line->empty() && line->back() == '\r') line->pop_back();
      return true;
    }
  }
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return any;
}

}  // namespace sskai::data::internal
