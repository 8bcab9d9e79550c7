// src/data/source.h — works out what an uploaded file is (plain, gzip, zip/tar; which dataset
// format) and opens its content for the format readers (internal to the data module).
// Thread-safety: externally synchronized.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "data/archive.h"
#include "data/data.h"
#include "data/stream.h"

namespace sskai::data::internal {

enum class EntryKind { kIdxImages, kIdxLabels, kNetpbm, kClassesTxt, kText, kOther };

struct EntryInfo {
  std::string name;
  EntryKind kind = EntryKind::kOther;
};

struct Layout {
  enum class Container { kPlain, kGzip, kArchive };
  Container container = Container::kPlain;
  std::string label;               // "zip", "tar" or "gzip": the container in messages
  Format format = Format::kCsv;
  std::vector<EntryInfo> entries;  // kArchive: every entry that is not ignored
  std::string text_entry;          // kArchive holding one CSV/JSONL file: its name
};

// Looks at the file (and, for archives, every entry's first bytes) and decides the format.
// Errors: kNotFound (cannot open), kInvalidArgument (empty, lone IDX file, PNG entries,
// traversal, nothing usable, a requested format that does not match).
Result<Layout> DetectLayout(const std::string& path, const InspectOptions& options);

// An opened byte source: owns the chain of readers behind `reader()`.
class Content {
 public:
  BufferedReader* reader() { return reader_; }
  // "" for a plain or gzip file, "entry 'x'" inside an archive (for error prefixes).
  const std::string& where() const { return where_; }

  // A plain or gzip file, or the CSV/JSONL entry of an archive, per `layout`.
  static Result<std::unique_ptr<Content>> OpenText(const std::string& path,
                                                   const Layout& layout, Budget* budget);
  // The current entry of `outer`; a gzip-compressed entry is decompressed.
  static Result<std::unique_ptr<Content>> OpenEntry(ArchiveReader* outer, Budget* budget);

 private:
  // Declared in creation order so that destruction runs in reverse.
  std::unique_ptr<FileStream> file_;
  std::unique_ptr<ArchiveReader> archive_;
  std::unique_ptr<ByteStream> entry_;
  std::unique_ptr<BufferedReader> entry_buf_;
  std::unique_ptr<ArchiveReader> inner_;
  std::unique_ptr<ByteStream> inner_entry_;
  std::unique_ptr<BufferedReader> inner_buf_;
  BufferedReader* reader_ = nullptr;
  std::string where_;
};

// Adds "where: " to a status's message when `where` is not empty.
Status At(const std::string& where, const Status& status);

}  // namespace sskai::data::internal
