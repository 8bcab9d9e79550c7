// src/data/archive.h — zip / tar / gzip reading through libarchive, with the path and size
// guards that uploaded archives need (internal to the data module).
// Thread-safety: externally synchronized.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "data/stream.h"

struct archive;

namespace sskai::data::internal {

// Counts decompressed bytes against the archive-bomb limit.
struct Budget {
  uint64_t limit = 0;
  uint64_t used = 0;
};

// Reads the entries of an archive, or the single stream of a compressed file.
class ArchiveReader {
 public:
  enum class Mode {
    kArchive,     // zip or tar, optionally compressed
    kCompressed,  // one compressed stream (gzip and friends); one entry
  };
  // `label` names the container in messages ("zip", "tar", "gzip").
  static Result<std::unique_ptr<ArchiveReader>> OpenFile(const std::string& path, Mode mode,
                                                         std::string label, Budget* budget);
  // Reads from `in` (must outlive the reader); used for .gz entries inside an archive.
  static Result<std::unique_ptr<ArchiveReader>> OpenStream(ByteStream* in, Mode mode,
                                                           std::string label, Budget* budget);
  ~ArchiveReader();

  // Advances to the next regular file, skipping directories, links, __MACOSX/ and dot-files.
  // False at the end. Errors: an entry path that escapes the archive, corrupt data.
  Result<bool> Next();
  // The current entry's path with any leading "./" removed.
  const std::string& entry_name() const { return entry_name_; }
  // Reads the current entry's data; 0 at its end. Errors: corrupt data, budget exceeded.
  Result<size_t> ReadData(char* buf, size_t n);
  // A stream over the current entry (valid until Next()).
  std::unique_ptr<ByteStream> EntryStream();

 private:
  ArchiveReader(struct archive* a, Mode mode, std::string label, Budget* budget)
      : a_(a), mode_(mode), label_(std::move(label)), budget_(budget) {}
  static Result<std::unique_ptr<ArchiveReader>> Create(Mode mode, std::string label,
                                                       Budget* budget);
  Status Error(const std::string& what) const;

  struct archive* a_;
  Mode mode_;
  std::string label_;
  Budget* budget_;
  std::string entry_name_;
  ByteStream* source_ = nullptr;  // OpenStream only
  std::string source_buf_;
  Status source_status_;
  friend long ArchiveReadCallback(struct archive*, void*, const void**);  // NOLINT
};

// Checks an archive entry path: no absolute paths, no ".." components, no backslashes
// that could mean traversal on Windows, no drive letters. Returns the message on failure.
Status CheckEntryPath(const std::string& label, const std::string& name);

}  // namespace sskai::data::internal
