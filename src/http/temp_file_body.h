// Internal: a Beast body type that writes a request body to a file while it arrives and hashes
// it with SHA-256 on the way (streaming uploads). Never holds the body in memory.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "common/sha256.h"
#include "http/beast.h"

namespace sskai::http {

struct TempFileBody {
  class reader;
  class value_type {
   public:
    value_type() = default;
    ~value_type() { Close(); }
    value_type(const value_type&) = delete;
    value_type& operator=(const value_type&) = delete;

    // Creates `path` exclusively (mode 0600). Errors: the errno as an error_code.
    beast::error_code Open(const std::string& path) {
      path_ = path;
      fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd_ < 0) return {errno, boost::system::generic_category()};
      sha_ = std::make_unique<Sha256>();
      return {};
    }
    void Close() {
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
    }
    bool is_open() const { return fd_ >= 0; }
    uint64_t size() const { return size_; }
    std::string HexDigest() { return sha_ ? sha_->HexDigest() : Sha256Hex(""); }

   private:
    friend class TempFileBody::reader;
    std::string path_;
    int fd_ = -1;
    uint64_t size_ = 0;
    std::unique_ptr<Sha256> sha_;
  };

  class reader {
   public:
    template <bool kIsRequest, class Fields>
    reader(bhttp::header<kIsRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>&, beast::error_code& ec) {
      ec = body_.is_open() ? beast::error_code() : make_error_code(boost::system::errc::bad_file_descriptor);
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      std::size_t total = 0;
      for (auto buffer : beast::buffers_range_ref(buffers)) {
        const char* data = static_cast<const char*>(buffer.data());
        std::size_t left = buffer.size();
        body_.sha_->Update(data, left);
        while (left > 0) {
          ssize_t n = ::write(body_.fd_, data, left);
          if (n < 0) {
            if (errno == EINTR) continue;
            ec = {errno, boost::system::generic_category()};
            return total;
          }
          data += n;
          left -= static_cast<std::size_t>(n);
          total += static_cast<std::size_t>(n);
          body_.size_ += static_cast<uint64_t>(n);
        }
      }
      ec = {};
      return total;
    }

    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

}  // namespace sskai::http
