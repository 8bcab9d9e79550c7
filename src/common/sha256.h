// src/common/sha256.h — streaming SHA-256 (OpenSSL) for content addressing.
// Thread-safety: a Sha256 object is externally synchronized.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sskai {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // Lower-case hex digest; the object must not be updated afterwards.
  std::string HexDigest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Hex SHA-256 of a string.
std::string Sha256Hex(std::string_view data);
// Hex SHA-256 of a file, streamed. Errors: kNotFound, kInternal (read error).
Result<std::string> Sha256File(const std::string& path);
// True when `s` is 64 lower-case hex characters.
bool IsSha256Hex(std::string_view s);

}  // namespace sskai
