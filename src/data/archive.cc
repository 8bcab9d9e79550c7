#include "data/archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <string_view>
#include <vector>

namespace sskai::data::internal {

long ArchiveReadCallback(struct archive* a, void* client, const void** buffer) {  // NOLINT
  auto* self = static_cast<ArchiveReader*>(client);
  if (self->source_buf_.empty()) self->source_buf_.resize(1 << 16);
  auto k = self->source_->Read(self->source_buf_.data(), self->source_buf_.size());
  if (!k.ok()) {
    self->source_status_ = k.status();
    archive_set_error(a, EIO, "%s", k.status().message().c_str());
    return -1;
  }
  *buffer = self->source_buf_.data();
  return static_cast<long>(*k);  // NOLINT
}

namespace {

std::vector<std::string_view> SplitPath(std::string_view name) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    parts.push_back(name.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

bool Skipped(const std::string& name) {
  for (std::string_view part : SplitPath(name)) {
    if (part == "__MACOSX" || (!part.empty() && part.front() == '.')) return true;
  }
  return false;
}

}  // namespace

Status CheckEntryPath(const std::string& label, const std::string& name) {
  auto escape = [&] {
    return Status::InvalidArgument(label + " entry '" + name + "': path escapes the archive");
  };
  if (name.empty() || name.front() == '/' || name.front() == '\\') return escape();
  if (name.size() >= 2 && name[1] == ':') return escape();  // "C:..."
  if (name.find('\\') != std::string::npos) {
    // A backslash is a separator on Windows: "..\\x" or "a\\..\\..\\x" would escape there.
    std::string slashed = name;
    for (char& c : slashed) {
      if (c == '\\') c = '/';
    }
    for (std::string_view part : SplitPath(slashed)) {
      if (part == "..") return escape();
    }
  }
  for (std::string_view part : SplitPath(name)) {
    if (part == "..") return escape();
  }
  return Status::Ok();
}

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::Create(Mode mode, std::string label,
                                                             Budget* budget) {
  struct archive* a = archive_read_new();
  if (a == nullptr) return Status::Internal("archive_read_new failed");
  archive_read_support_filter_all(a);
  if (mode == Mode::kArchive) {
    archive_read_support_format_zip(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
  } else {
    archive_read_support_format_raw(a);
  }
  return std::unique_ptr<ArchiveReader>(new ArchiveReader(a, mode, std::move(label), budget));
}

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::OpenFile(const std::string& path,
                                                               Mode mode, std::string label,
                                                               Budget* budget) {
  SSKAI_ASSIGN_OR_RETURN(auto reader, Create(mode, std::move(label), budget));
  if (archive_read_open_filename(reader->a_, path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return reader->Error("cannot open");
  }
  return reader;
}

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::OpenStream(ByteStream* in, Mode mode,
                                                                 std::string label,
                                                                 Budget* budget) {
  SSKAI_ASSIGN_OR_RETURN(auto reader, Create(mode, std::move(label), budget));
  reader->source_ = in;
  if (archive_read_open(reader->a_, reader.get(), nullptr, &ArchiveReadCallback, nullptr) !=
      ARCHIVE_OK) {
    if (!reader->source_status_.ok()) return reader->source_status_;
    return reader->Error("cannot open");
  }
  return reader;
}

ArchiveReader::~ArchiveReader() { archive_read_free(a_); }

Status ArchiveReader::Error(const std::string& what) const {
  if (!source_status_.ok()) return source_status_;
  const char* text = archive_error_string(a_);
  std::string where = entry_name_.empty() ? label_ : label_ + " entry '" + entry_name_ + "'";
  return Status::InvalidArgument(where + ": " + what + ": " +
                                 (text ? text : "corrupt or unsupported data"));
}

Result<bool> ArchiveReader::Next() {
  while (true) {
    struct archive_entry* entry = nullptr;
    int rc = archive_read_next_header(a_, &entry);
    if (rc == ARCHIVE_EOF) return false;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return Error("cannot read the next entry");
    const char* raw = archive_entry_pathname(entry);
    std::string name = raw ? raw : "";
    while (name.size() >= 2 && name[0] == '.' && name[1] == '/') name.erase(0, 2);
    if (mode_ == Mode::kCompressed) return true;  // the one stream; its name means nothing
    entry_name_ = name;
    if (name.empty() && archive_entry_filetype(entry) == AE_IFDIR) continue;  // "./"
    SSKAI_RETURN_IF_ERROR(CheckEntryPath(label_, name));
    if (archive_entry_filetype(entry) != AE_IFREG) continue;
    if (Skipped(name)) continue;
    return true;
  }
}

Result<size_t> ArchiveReader::ReadData(char* buf, size_t n) {
  la_ssize_t k = archive_read_data(a_, buf, n);
  if (k < 0) return Error("cannot read data");
  budget_->used += static_cast<uint64_t>(k);
  if (budget_->used > budget_->limit) {
    return Status::InvalidArgument(
        label_ + ": data expands to more than " + std::to_string(budget_->limit) +
        " bytes (max_uncompressed_bytes); refusing to unpack a possible archive bomb");
  }
  return static_cast<size_t>(k);
}

namespace {
class EntryStreamImpl : public ByteStream {
 public:
  explicit EntryStreamImpl(ArchiveReader* reader) : reader_(reader) {}
  Result<size_t> Read(char* buf, size_t n) override { return reader_->ReadData(buf, n); }

 private:
  ArchiveReader* reader_;
};
}  // namespace

std::unique_ptr<ByteStream> ArchiveReader::EntryStream() {
  return std::make_unique<EntryStreamImpl>(this);
}

}  // namespace sskai::data::internal
