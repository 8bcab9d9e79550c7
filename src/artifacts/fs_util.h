// src/artifacts/fs_util.h — private: small POSIX file helpers returning Status.
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace sskai::artifacts {

// "<what> '<path>': <strerror(errno)>" as kInternal (kNotFound for ENOENT).
Status ErrnoStatus(const std::string& what, const std::string& path);
// Creates `dir` and its parents. Errors: kInternal.
Status MakeDirs(const std::string& dir);
// Writes all `n` bytes to `fd`, retrying on EINTR and short writes.
Status WriteAll(int fd, const void* data, size_t n, const std::string& path);
// fsyncs the file or directory at `path`.
Status FsyncPath(const std::string& path);
// Sets the mtime of `path` to now (best effort callers may ignore the result).
Status TouchPath(const std::string& path);

struct FileInfo {
  bool exists = false;
  bool regular = false;
  uint64_t size = 0;
  double mtime_seconds = 0;  // since the Unix epoch
};
// stat(2) of `path`; exists=false when missing. Errors: kInternal for other failures.
Result<FileInfo> StatPath(const std::string& path);

}  // namespace sskai::artifacts
