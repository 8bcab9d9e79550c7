// src/artifacts/artifacts.h — content-addressed blob store for dataset files, model weights and
// checkpoints. A blob is named by the lower-case hex sha256 of its bytes; identical content is
// stored once. The metadata store (store/) records which blobs are referenced; CollectGarbage()
// removes the rest.
//
// BlobStore is an interface so an S3-compatible store can be added later; OpenLocalBlobStore()
// keeps blobs on a local filesystem: <root>/blobs/<first 2 hex>/<sha256>, temp files in <root>/tmp.
//
// Thread-safety: BlobStore is thread-safe. A BlobWriter is externally synchronized (one thread)
// and must not outlive the BlobStore that made it.
// Every sha256 argument is validated (64 lower-case hex chars; kInvalidArgument otherwise), so a
// caller-supplied digest can never become a path traversal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sskai::artifacts {

// Streams one blob into a temp file while hashing it.
class BlobWriter {
 public:
  virtual ~BlobWriter();  // aborts if neither committed nor aborted
  // Appends bytes. Errors: kInternal (disk full, I/O), kFailedPrecondition (after Commit/Abort).
  virtual Status Write(const void* data, size_t n) = 0;
  Status Write(std::string_view data) { return Write(data.data(), data.size()); }
  // fsyncs and renames the temp file into place; if the blob already exists, drops the temp
  // file and refreshes the blob's mtime (so GC's age guard protects it). Returns the sha256 hex.
  // Errors: kInternal, kFailedPrecondition (already committed/aborted).
  virtual Result<std::string> Commit() = 0;
  // Removes the temp file. Idempotent.
  virtual void Abort() = 0;
  virtual uint64_t bytes_written() const = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // A writer with a fresh temp file. Errors: kInternal.
  virtual Result<std::unique_ptr<BlobWriter>> NewWriter() = 0;
  // Adopts `file_path` (e.g. a streamed HTTP upload, best placed in temp_dir()) by rename after
  // checking its sha256 against `sha256` ("" = compute only). On success the file is consumed
  // (moved into place, or deleted when the blob already exists) and the sha256 is returned. On a
  // mismatch nothing is stored and the file is left where it is (the caller removes it).
  // Errors: kInvalidArgument (malformed or mismatched sha256), kNotFound (no such file),
  // kInternal.
  virtual Result<std::string> Adopt(const std::string& file_path, const std::string& sha256) = 0;
  // Stores `data`; returns its sha256.
  virtual Result<std::string> PutString(std::string_view data) = 0;

  // False for a malformed sha256.
  virtual bool Exists(const std::string& sha256) = 0;
  // Errors below: kInvalidArgument (malformed sha256), kNotFound (no such blob), kInternal.
  virtual Result<uint64_t> Size(const std::string& sha256) = 0;
  // A readable local path of the blob; valid until the blob is removed.
  virtual Result<std::string> LocalPath(const std::string& sha256) = 0;
  // The blob's bytes; kPayloadTooLarge when it is larger than `max_bytes`.
  virtual Result<std::string> ReadString(const std::string& sha256, uint64_t max_bytes) = 0;
  virtual Status Remove(const std::string& sha256) = 0;
  // Every stored sha256, sorted.
  virtual Result<std::vector<std::string>> List() = 0;
  // A directory on the same filesystem as the blobs: stream uploads here, then Adopt() them.
  virtual std::string temp_dir() const = 0;

  struct GcStats {
    int64_t removed = 0;       // blobs removed
    uint64_t bytes = 0;        // bytes freed by removed blobs
    int64_t kept = 0;          // blobs kept (referenced or too young)
    int64_t temp_removed = 0;  // stale temp files removed
  };
  // Removes blobs not in `referenced` whose mtime is older than `min_age_seconds` (protects
  // blobs whose reference is not recorded yet), plus temp files older than that.
  // Errors: kInternal (cannot list); individual removal failures are skipped and counted as kept.
  virtual Result<GcStats> CollectGarbage(const std::set<std::string>& referenced,
                                         double min_age_seconds) = 0;
};

// Opens (creating directories as needed) a local blob store under `root_dir`. `clock` (borrowed,
// must outlive the store) supplies "now" for GC ages.
// Errors: kInternal (cannot create or write the directories).
Result<std::unique_ptr<BlobStore>> OpenLocalBlobStore(const std::string& root_dir,
                                                      const Clock& clock = SystemClock::Default());

// Makes `dir` a directory whose entries are symlinks named by the keys of `files` (plain file
// names: no '/', not "." or "..") to the local paths of the blobs named by the values (sha256),
// e.g. an LM file set (config.json, model.safetensors, ...) materialized for the engine at
// <data>/lm/<manifest sha256>/. Idempotent: an existing `dir` holding every name is returned as
// is. Created atomically (a sibling temp directory renamed into place), so a concurrent caller
// or a crash never leaves a half-populated `dir`. Returns `dir`.
// Thread-safety: safe to call concurrently (also from several processes) for the same `dir`.
// Errors: kInvalidArgument (bad file name or sha256), kNotFound (a blob is missing),
// kFailedPrecondition (`dir` exists but lacks some names), kInternal (filesystem).
Result<std::string> MaterializeFileSet(BlobStore& blobs,
                                       const std::map<std::string, std::string>& files,
                                       const std::string& dir);

}  // namespace sskai::artifacts
