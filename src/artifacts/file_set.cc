// MaterializeFileSet: a directory of symlinks to blobs (an LM's Hugging Face layout on disk).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <random>
#include <system_error>

#include "artifacts/artifacts.h"
#include "artifacts/fs_util.h"

namespace sskai::artifacts {

namespace {

namespace fs = std::filesystem;

Status CheckFileName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return Status::InvalidArgument("file set: invalid file name '" + name.substr(0, 80) + "'");
  }
  return Status::Ok();
}

// True when `dir` already holds every name of `files`.
bool Complete(const std::map<std::string, std::string>& files, const std::string& dir) {
  for (const auto& [name, sha] : files) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(fs::path(dir) / name, ec))) return false;
  }
  return true;
}

std::string RandomSuffix() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%08x%08x", rd(), rd());
  return buf;
}

}  // namespace

Result<std::string> MaterializeFileSet(BlobStore& blobs,
                                       const std::map<std::string, std::string>& files,
                                       const std::string& dir) {
  if (dir.empty()) return Status::InvalidArgument("file set: empty directory");
  std::map<std::string, std::string> paths;
  for (const auto& [name, sha] : files) {
    SSKAI_RETURN_IF_ERROR(CheckFileName(name));
    auto path = blobs.LocalPath(sha);
    if (!path.ok()) return path.status().WithPrefix("file set: " + name);
    std::error_code ec;
    paths[name] = fs::absolute(*path, ec).string();
    if (ec) return Status::Internal("file set: " + *path + ": " + ec.message());
  }
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (Complete(files, dir)) return dir;
    return Status::FailedPrecondition("file set: directory '" + dir +
                                      "' exists but lacks some of the files");
  }
  const fs::path target(dir);
  SSKAI_RETURN_IF_ERROR(MakeDirs(target.parent_path().string()));
  const std::string temp = dir + ".tmp-" + RandomSuffix();
  SSKAI_RETURN_IF_ERROR(MakeDirs(temp));
  auto cleanup = [&temp] {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
  };
  for (const auto& [name, path] : paths) {
    const std::string link = temp + "/" + name;
    if (::symlink(path.c_str(), link.c_str()) != 0) {
      Status st = ErrnoStatus("symlink", link);
      cleanup();
      return st;
    }
  }
  if (::rename(temp.c_str(), dir.c_str()) != 0) {
    const int err = errno;
    cleanup();
    // Another caller won the race: its directory is as good as ours.
    if ((err == EEXIST || err == ENOTEMPTY) && Complete(files, dir)) return dir;
    errno = err;
    return ErrnoStatus("rename to", dir);
  }
  IgnoreError(FsyncPath(target.parent_path().string()));
  return dir;
}

}  // namespace sskai::artifacts
