// The local-filesystem BlobStore: <root>/blobs/<ab>/<sha256>, temp files in <root>/tmp.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <system_error>
#include <utility>

#include "artifacts/artifacts.h"
#include "artifacts/fs_util.h"
#include "common/sha256.h"

namespace sskai::artifacts {

BlobWriter::~BlobWriter() = default;

namespace {

Status CheckSha(const std::string& sha256) {
  if (IsSha256Hex(sha256)) return Status::Ok();
  return Status::InvalidArgument("invalid sha256 '" + sha256.substr(0, 80) +
                                 "': expected 64 lower-case hex characters");
}

class LocalBlobStore;

class LocalBlobWriter final : public BlobWriter {
 public:
  LocalBlobWriter(LocalBlobStore& store, int fd, std::string temp_path)
      : store_(store), fd_(fd), temp_path_(std::move(temp_path)) {}
  ~LocalBlobWriter() override { Abort(); }

  using BlobWriter::Write;
  Status Write(const void* data, size_t n) override;
  Result<std::string> Commit() override;
  void Abort() override;
  uint64_t bytes_written() const override { return bytes_; }

 private:
  LocalBlobStore& store_;
  int fd_;
  std::string temp_path_;
  Sha256 hash_;
  uint64_t bytes_ = 0;
  bool done_ = false;
};

class LocalBlobStore final : public BlobStore {
 public:
  LocalBlobStore(std::string root, const Clock& clock)
      : blobs_dir_(root + "/blobs"), tmp_dir_(root + "/tmp"), clock_(clock) {}

  Result<std::unique_ptr<BlobWriter>> NewWriter() override {
    SSKAI_ASSIGN_OR_RETURN(auto temp, CreateTemp("blob-"));
    return std::unique_ptr<BlobWriter>(
        std::make_unique<LocalBlobWriter>(*this, temp.first, std::move(temp.second)));
  }

  Result<std::string> Adopt(const std::string& file_path, const std::string& sha256) override {
    if (!sha256.empty()) SSKAI_RETURN_IF_ERROR(CheckSha(sha256));
    SSKAI_ASSIGN_OR_RETURN(FileInfo info, StatPath(file_path));
    if (!info.exists) return Status::NotFound("file '" + file_path + "' not found");
    if (!info.regular) return Status::InvalidArgument("'" + file_path + "' is not a regular file");
    SSKAI_ASSIGN_OR_RETURN(std::string actual, Sha256File(file_path));
    if (!sha256.empty() && actual != sha256) {
      return Status::InvalidArgument("sha256 mismatch for '" + file_path + "': expected " +
                                     sha256 + ", got " + actual);
    }
    SSKAI_RETURN_IF_ERROR(FsyncPath(file_path));
    // Move into our temp dir first (a copy when on another filesystem), then install.
    SSKAI_ASSIGN_OR_RETURN(auto temp, CreateTemp("adopt-"));
    ::close(temp.first);
    if (::rename(file_path.c_str(), temp.second.c_str()) != 0) {
      if (errno != EXDEV) {
        Status status = ErrnoStatus("cannot move", file_path);
        ::unlink(temp.second.c_str());
        return status;
      }
      std::error_code ec;
      std::filesystem::copy_file(file_path, temp.second,
                                 std::filesystem::copy_options::overwrite_existing, ec);
      Status synced = ec ? Status::Internal("cannot copy '" + file_path + "': " + ec.message())
                         : FsyncPath(temp.second);
      if (!synced.ok()) {
        ::unlink(temp.second.c_str());
        return synced;
      }
      ::unlink(file_path.c_str());
    }
    SSKAI_RETURN_IF_ERROR(Install(temp.second, actual));
    return actual;
  }

  Result<std::string> PutString(std::string_view data) override {
    SSKAI_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer, NewWriter());
    SSKAI_RETURN_IF_ERROR(writer->Write(data.data(), data.size()));
    return writer->Commit();
  }

  bool Exists(const std::string& sha256) override {
    if (!IsSha256Hex(sha256)) return false;
    auto info = StatPath(BlobPath(sha256));
    return info.ok() && info->exists;
  }

  Result<uint64_t> Size(const std::string& sha256) override {
    SSKAI_ASSIGN_OR_RETURN(FileInfo info, StatBlob(sha256));
    return info.size;
  }

  Result<std::string> LocalPath(const std::string& sha256) override {
    SSKAI_RETURN_IF_ERROR(StatBlob(sha256).status());
    return BlobPath(sha256);
  }

  Result<std::string> ReadString(const std::string& sha256, uint64_t max_bytes) override {
    SSKAI_ASSIGN_OR_RETURN(FileInfo info, StatBlob(sha256));
    if (info.size > max_bytes) {
      return Status::PayloadTooLarge("blob " + sha256 + " has " + std::to_string(info.size) +
                                     " bytes, more than the limit of " +
                                     std::to_string(max_bytes));
    }
    std::ifstream in(BlobPath(sha256), std::ios::binary);
    if (!in) return Status::NotFound("blob " + sha256 + " not found");
    std::ostringstream out;
    out << in.rdbuf();
    if (in.bad()) return Status::Internal("read error on blob " + sha256);
    return std::move(out).str();
  }

  Status Remove(const std::string& sha256) override {
    SSKAI_RETURN_IF_ERROR(CheckSha(sha256));
    std::lock_guard lock(mu_);
    if (::unlink(BlobPath(sha256).c_str()) != 0) {
      if (errno == ENOENT) return Status::NotFound("blob " + sha256 + " not found");
      return ErrnoStatus("cannot remove", BlobPath(sha256));
    }
    return Status::Ok();
  }

  Result<std::vector<std::string>> List() override {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& shard : std::filesystem::directory_iterator(blobs_dir_, ec)) {
      const std::string shard_name = shard.path().filename().string();
      if (shard_name.size() != 2) continue;
      std::error_code shard_ec;
      for (const auto& entry : std::filesystem::directory_iterator(shard.path(), shard_ec)) {
        std::string name = entry.path().filename().string();
        if (IsSha256Hex(name) && name.compare(0, 2, shard_name) == 0) out.push_back(std::move(name));
      }
      if (shard_ec) return Status::Internal("cannot list '" + shard.path().string() + "'");
    }
    if (ec) return Status::Internal("cannot list '" + blobs_dir_ + "': " + ec.message());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string temp_dir() const override { return tmp_dir_; }

  Result<GcStats> CollectGarbage(const std::set<std::string>& referenced,
                                 double min_age_seconds) override {
    GcStats stats;
    const double now = clock_.NowSeconds();
    SSKAI_ASSIGN_OR_RETURN(std::vector<std::string> blobs, List());
    for (const std::string& sha : blobs) {
      if (referenced.count(sha) > 0) {
        ++stats.kept;
        continue;
      }
      const std::string path = BlobPath(sha);
      std::lock_guard lock(mu_);  // a concurrent dedup refreshes mtime under the same lock
      auto info = StatPath(path);
      if (!info.ok() || !info->exists) continue;
      if (now - info->mtime_seconds < min_age_seconds || ::unlink(path.c_str()) != 0) {
        ++stats.kept;
        continue;
      }
      ++stats.removed;
      stats.bytes += info->size;
    }
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(tmp_dir_, ec)) {
      const std::string path = entry.path().string();
      auto info = StatPath(path);
      if (!info.ok() || !info->regular || now - info->mtime_seconds < min_age_seconds) continue;
      if (::unlink(path.c_str()) == 0) ++stats.temp_removed;
    }
    return stats;
  }

  // Moves the complete temp file `temp_path` into place as blob `sha256`, or drops it and
  // refreshes the existing blob's mtime when that blob is already stored.
  Status Install(const std::string& temp_path, const std::string& sha256) {
    const std::string path = BlobPath(sha256);
    std::lock_guard lock(mu_);
    auto info = StatPath(path);
    if (info.ok() && info->exists) {
      ::unlink(temp_path.c_str());
      IgnoreError(TouchPath(path));  // best effort: keeps GC's age guard meaningful
      return Status::Ok();
    }
    const std::string shard = blobs_dir_ + "/" + sha256.substr(0, 2);
    Status status = MakeDirs(shard);
    if (status.ok() && ::rename(temp_path.c_str(), path.c_str()) != 0) {
      status = ErrnoStatus("cannot move blob into", path);
    }
    if (!status.ok()) {
      ::unlink(temp_path.c_str());
      return status;
    }
    IgnoreError(FsyncPath(shard));  // best effort: makes the rename durable
    return Status::Ok();
  }

  // Creates an empty temp file; returns its open fd and path.
  Result<std::pair<int, std::string>> CreateTemp(const std::string& prefix) {
    std::string path = tmp_dir_ + "/" + prefix + "XXXXXX";
    const int fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("cannot create temp file in", tmp_dir_);
    return std::make_pair(fd, path);
  }

 private:
  std::string BlobPath(const std::string& sha256) const {
    return blobs_dir_ + "/" + sha256.substr(0, 2) + "/" + sha256;
  }

  Result<FileInfo> StatBlob(const std::string& sha256) {
    SSKAI_RETURN_IF_ERROR(CheckSha(sha256));
    SSKAI_ASSIGN_OR_RETURN(FileInfo info, StatPath(BlobPath(sha256)));
    if (!info.exists) return Status::NotFound("blob " + sha256 + " not found");
    return info;
  }

  const std::string blobs_dir_;
  const std::string tmp_dir_;
  const Clock& clock_;
  std::mutex mu_;  // serializes installs and removals of blob files
};

Status LocalBlobWriter::Write(const void* data, size_t n) {
  if (done_) return Status::FailedPrecondition("blob writer already committed or aborted");
  SSKAI_RETURN_IF_ERROR(WriteAll(fd_, data, n, temp_path_));
  hash_.Update(data, n);
  bytes_ += n;
  return Status::Ok();
}

Result<std::string> LocalBlobWriter::Commit() {
  if (done_) return Status::FailedPrecondition("blob writer already committed or aborted");
  done_ = true;
  Status synced = ::fsync(fd_) == 0 ? Status::Ok() : ErrnoStatus("cannot fsync", temp_path_);
  ::close(fd_);
  fd_ = -1;
  if (!synced.ok()) {
    ::unlink(temp_path_.c_str());
    return synced;
  }
  std::string sha256 = hash_.HexDigest();
  SSKAI_RETURN_IF_ERROR(store_.Install(temp_path_, sha256));
  return sha256;
}

void LocalBlobWriter::Abort() {
  if (done_) return;
  done_ = true;
  ::close(fd_);
  fd_ = -1;
  ::unlink(temp_path_.c_str());
}

}  // namespace

Result<std::unique_ptr<BlobStore>> OpenLocalBlobStore(const std::string& root_dir,
                                                      const Clock& clock) {
  std::error_code ec;
  std::filesystem::path root = std::filesystem::absolute(root_dir, ec);
  if (ec) return Status::Internal("bad blob store root '" + root_dir + "': " + ec.message());
  const std::string root_str = root.lexically_normal().string();
  std::string trimmed = root_str;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  SSKAI_RETURN_IF_ERROR(MakeDirs(trimmed + "/blobs"));
  SSKAI_RETURN_IF_ERROR(MakeDirs(trimmed + "/tmp"));
  if (::access((trimmed + "/tmp").c_str(), W_OK) != 0) {
    return ErrnoStatus("blob store temp dir is not writable", trimmed + "/tmp");
  }
  return std::unique_ptr<BlobStore>(std::make_unique<LocalBlobStore>(trimmed, clock));
}

}  // namespace sskai::artifacts
