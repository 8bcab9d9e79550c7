#include "artifacts/fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace sskai::artifacts {

Status ErrnoStatus(const std::string& what, const std::string& path) {
  const int err = errno;
  std::string message = what + " '" + path + "': " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(std::move(message));
  return Status::Internal(std::move(message));
}

Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Internal("cannot create directory '" + dir + "': " + ec.message());
  return Status::Ok();
}

Status WriteAll(int fd, const void* data, size_t n, const std::string& path) {
  const auto* bytes = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t written = ::write(fd, bytes, n);
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot write", path);
    }
    bytes += written;
    n -= static_cast<size_t>(written);
  }
  return Status::Ok();
}

Status FsyncPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path);
  Status status = ::fsync(fd) == 0 ? Status::Ok() : ErrnoStatus("cannot fsync", path);
  ::close(fd);
  return status;
}

Status TouchPath(const std::string& path) {
  if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) != 0) return ErrnoStatus("cannot touch", path);
  return Status::Ok();
}

Result<FileInfo> StatPath(const std::string& path) {
  struct stat st {};
  FileInfo info;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return info;
    return ErrnoStatus("cannot stat", path);
  }
  info.exists = true;
  info.regular = S_ISREG(st.st_mode);
  info.size = static_cast<uint64_t>(st.st_size);
  info.mtime_seconds =
      static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) * 1e-9;
  return info;
}

}  // namespace sskai::artifacts
