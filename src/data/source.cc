#include "data/source.h"

#include <cstring>

namespace sskai::data::internal {
namespace {

constexpr size_t kHeadBytes = 512;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}
bool IsGzip(std::string_view h) { return StartsWith(h, "\x1f\x8b"); }
bool IsZip(std::string_view h) {
  return StartsWith(h, std::string_view("PK\3\4", 4)) || StartsWith(h, std::string_view("PK\5\6", 4));
}
bool IsTar(std::string_view h) { return h.size() >= 262 && h.substr(257, 5) == "ustar"; }
bool IsIdx(std::string_view h) {
  if (h.size() < 4 || h[0] != 0 || h[1] != 0) return false;
  unsigned char type = static_cast<unsigned char>(h[2]);
  bool known = type == 0x08 || type == 0x09 || (type >= 0x0B && type <= 0x0E);
  return known && h[3] >= 1 && h[3] <= 4;
}

Format TextFormat(std::string_view h) {
  if (StartsWith(h, "\xEF\xBB\xBF")) h.remove_prefix(3);
  while (!h.empty() && (h.front() == ' ' || h.front() == '\t' || h.front() == '\r' ||
                        h.front() == '\n')) {
    h.remove_prefix(1);
  }
  return StartsWith(h, "{") ? Format::kJsonl : Format::kCsv;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(),
                                                suffix.data(), suffix.size()) == 0;
}

std::string Basename(const std::string& name) {
  size_t slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

Result<EntryKind> Classify(const std::string& label, const std::string& name,
                           std::string_view head) {
  std::string lower = Lower(name);
  if (EndsWith(lower, ".gz")) lower.resize(lower.size() - 3);
  auto unsupported = [&](const char* what) {
    return Status::InvalidArgument(label + " entry '" + name + "': " + what +
                                   " is not supported; convert to PGM/PPM");
  };
  if (Basename(lower) == "classes.txt") return EntryKind::kClassesTxt;
  if (IsIdx(head)) {
    unsigned char type = static_cast<unsigned char>(head[2]);
    if (type == 0x08 && head[3] == 3) return EntryKind::kIdxImages;
    if (type == 0x08 && head[3] == 1) return EntryKind::kIdxLabels;
    char magic[16];
    std::snprintf(magic, sizeof(magic), "0x0000%02x%02x", type,
                  static_cast<unsigned char>(head[3]));
    return Status::InvalidArgument(
        label + " entry '" + name + "': IDX magic " + magic +
        " is not supported; expected unsigned-byte images (0x00000803) or labels (0x00000801)");
  }
  if (head.size() >= 3 && head[0] == 'P' && (head[1] == '5' || head[1] == '6') &&
      std::strchr(" \t\r\n#", head[2]) != nullptr) {
    return EntryKind::kNetpbm;
  }
  if (head.size() >= 3 && head[0] == 'P' && head[1] >= '1' && head[1] <= '4' &&
      std::strchr(" \t\r\n#", head[2]) != nullptr) {
    return Status::InvalidArgument(label + " entry '" + name +
                                   "': plain-text or bitmap netpbm (P1-P4) is not supported; "
                                   "use binary PGM (P5) or PPM (P6)");
  }
  if (StartsWith(head, "\x89PNG")) return unsupported("PNG");
  if (StartsWith(head, "\xFF\xD8\xFF")) return unsupported("JPEG");
  if (StartsWith(head, "GIF8")) return unsupported("GIF");
  if (StartsWith(head, "BM") && (EndsWith(lower, ".bmp"))) return unsupported("BMP");
  if (StartsWith(head, "RIFF") && head.size() >= 12 && head.substr(8, 4) == "WEBP") {
    return unsupported("WebP");
  }
  for (const char* ext : {".csv", ".tsv", ".jsonl", ".ndjson", ".json"}) {
    if (EndsWith(lower, ext)) return EntryKind::kText;
  }
  return EntryKind::kOther;
}

Status CheckRequested(const InspectOptions& options, Format detected, bool text) {
  if (options.format.empty() || options.format == "auto") return Status::Ok();
  SSKAI_ASSIGN_OR_RETURN(Format requested, ParseFormat(options.format));
  if (requested == detected) return Status::Ok();
  if (text && (requested == Format::kCsv || requested == Format::kJsonl)) return Status::Ok();
  return Status::InvalidArgument(std::string("format '") + FormatName(requested) +
                                 "' was requested but the file holds " +
                                 FormatName(detected) + " data");
}

Format Requested(const InspectOptions& options, Format detected) {
  auto parsed = ParseFormat(options.format);
  return parsed.ok() ? *parsed : detected;
}

Status LoneIdx() {
  return Status::InvalidArgument(
      "a single IDX file is not a dataset: upload a zip or tar archive (optionally gzipped) "
      "holding both the IDX images file and the IDX labels file");
}

Result<Layout> SurveyArchive(const std::string& path, const InspectOptions& options,
                             Layout layout) {
  Budget budget{options.max_uncompressed_bytes};
  SSKAI_ASSIGN_OR_RETURN(auto archive, ArchiveReader::OpenFile(path, ArchiveReader::Mode::kArchive,
                                                               layout.label, &budget));
  int idx = 0, netpbm = 0;
  std::vector<std::string> texts;
  std::string first_text_head;
  while (true) {
    SSKAI_ASSIGN_OR_RETURN(bool more, archive->Next());
    if (!more) break;
    SSKAI_ASSIGN_OR_RETURN(auto content, Content::OpenEntry(archive.get(), &budget));
    SSKAI_ASSIGN_OR_RETURN(std::string_view head, content->reader()->Peek(kHeadBytes));
    EntryInfo info{archive->entry_name()};
    SSKAI_ASSIGN_OR_RETURN(info.kind, Classify(layout.label, info.name, head));
    if (info.kind == EntryKind::kIdxImages || info.kind == EntryKind::kIdxLabels) ++idx;
    if (info.kind == EntryKind::kNetpbm) ++netpbm;
    if (info.kind == EntryKind::kText) {
      if (texts.empty()) first_text_head = std::string(head);
      texts.push_back(info.name);
    }
    if (info.kind != EntryKind::kOther) layout.entries.push_back(std::move(info));
  }
  if (idx > 0 && netpbm > 0) {
    return Status::InvalidArgument(layout.label +
                                   " archive mixes IDX files and netpbm images; upload one "
                                   "dataset per archive");
  }
  if (idx > 0) {
    layout.format = Format::kIdx;
  } else if (netpbm > 0) {
    layout.format = Format::kImageFolder;
  } else if (texts.size() == 1) {
    layout.format = TextFormat(first_text_head);
    layout.text_entry = texts.front();
    SSKAI_RETURN_IF_ERROR(CheckRequested(options, layout.format, true));
    layout.format = Requested(options, layout.format);
    return layout;
  } else if (texts.size() > 1) {
    std::string names;
    for (const auto& name : texts) names += (names.empty() ? "'" : ", '") + name + "'";
    return Status::InvalidArgument(layout.label + " archive holds " +
                                   std::to_string(texts.size()) + " data files (" + names +
                                   "); expected exactly one CSV or JSONL file");
  } else {
    return Status::InvalidArgument(
        layout.label +
        " archive holds no supported dataset: expected an IDX images file and labels file, "
        "<class>/<image>.pgm|.ppm class folders, or one .csv/.jsonl file");
  }
  SSKAI_RETURN_IF_ERROR(CheckRequested(options, layout.format, false));
  return layout;
}

}  // namespace

Status At(const std::string& where, const Status& status) {
  return where.empty() || status.ok() ? status : status.WithPrefix(where);
}

Result<Layout> DetectLayout(const std::string& path, const InspectOptions& options) {
  if (!options.format.empty() && options.format != "auto") {
    SSKAI_RETURN_IF_ERROR(ParseFormat(options.format).status());
  }
  Layout layout;
  SSKAI_ASSIGN_OR_RETURN(auto file, FileStream::Open(path));
  BufferedReader reader(file.get());
  SSKAI_ASSIGN_OR_RETURN(std::string_view head, reader.Peek(kHeadBytes));
  if (head.empty()) return Status::InvalidArgument("file is empty");
  if (IsZip(head)) {
    layout.container = Layout::Container::kArchive;
    layout.label = "zip";
    return SurveyArchive(path, options, std::move(layout));
  }
  if (IsTar(head)) {
    layout.container = Layout::Container::kArchive;
    layout.label = "tar";
    return SurveyArchive(path, options, std::move(layout));
  }
  std::string inner_head;
  if (IsGzip(head)) {
    Budget budget{options.max_uncompressed_bytes};
    SSKAI_ASSIGN_OR_RETURN(auto gz, ArchiveReader::OpenFile(
                                        path, ArchiveReader::Mode::kCompressed, "gzip", &budget));
    SSKAI_ASSIGN_OR_RETURN(bool any, gz->Next());
    if (any) {
      auto stream = gz->EntryStream();
      BufferedReader gz_reader(stream.get());
      SSKAI_ASSIGN_OR_RETURN(std::string_view h, gz_reader.Peek(kHeadBytes));
      inner_head = std::string(h);
    }
    if (IsTar(inner_head)) {
      layout.container = Layout::Container::kArchive;
      layout.label = "tar";
      return SurveyArchive(path, options, std::move(layout));
    }
    layout.container = Layout::Container::kGzip;
    layout.label = "gzip";
    head = inner_head;
    if (head.empty()) return Status::InvalidArgument("file is empty (after gzip decompression)");
  }
  if (IsIdx(head)) return LoneIdx();
  if (IsZip(head)) {
    return Status::InvalidArgument("a gzip-compressed zip archive is not supported; upload the zip");
  }
  layout.format = TextFormat(head);
  SSKAI_RETURN_IF_ERROR(CheckRequested(options, layout.format, true));
  layout.format = Requested(options, layout.format);
  return layout;
}

Result<std::unique_ptr<Content>> Content::OpenEntry(ArchiveReader* outer, Budget* budget) {
  std::unique_ptr<Content> c(new Content());
  c->where_ = "entry '" + outer->entry_name() + "'";
  c->entry_ = outer->EntryStream();
  c->entry_buf_ = std::make_unique<BufferedReader>(c->entry_.get());
  c->reader_ = c->entry_buf_.get();
  SSKAI_ASSIGN_OR_RETURN(std::string_view magic, c->entry_buf_->Peek(2));
  if (IsGzip(magic)) {
    SSKAI_ASSIGN_OR_RETURN(c->inner_,
                           ArchiveReader::OpenStream(c->entry_buf_.get(),
                                                     ArchiveReader::Mode::kCompressed,
                                                     "gzip " + c->where_, budget));
    SSKAI_ASSIGN_OR_RETURN(bool any, c->inner_->Next());
    if (!any) return Status::InvalidArgument(c->where_ + ": empty gzip stream");
    c->inner_entry_ = c->inner_->EntryStream();
    c->inner_buf_ = std::make_unique<BufferedReader>(c->inner_entry_.get());
    c->reader_ = c->inner_buf_.get();
  }
  return c;
}

Result<std::unique_ptr<Content>> Content::OpenText(const std::string& path, const Layout& layout,
                                                   Budget* budget) {
  std::unique_ptr<Content> c(new Content());
  switch (layout.container) {
    case Layout::Container::kPlain: {
      SSKAI_ASSIGN_OR_RETURN(c->file_, FileStream::Open(path));
      c->entry_buf_ = std::make_unique<BufferedReader>(c->file_.get());
      c->reader_ = c->entry_buf_.get();
      return c;
    }
    case Layout::Container::kGzip: {
      SSKAI_ASSIGN_OR_RETURN(c->archive_, ArchiveReader::OpenFile(
                                              path, ArchiveReader::Mode::kCompressed, "gzip", budget));
      SSKAI_ASSIGN_OR_RETURN(bool any, c->archive_->Next());
      if (!any) return Status::InvalidArgument("file is empty (after gzip decompression)");
      c->entry_ = c->archive_->EntryStream();
      c->entry_buf_ = std::make_unique<BufferedReader>(c->entry_.get());
      c->reader_ = c->entry_buf_.get();
      return c;
    }
    case Layout::Container::kArchive:
      break;
  }
  SSKAI_ASSIGN_OR_RETURN(auto archive, ArchiveReader::OpenFile(
                                           path, ArchiveReader::Mode::kArchive, layout.label, budget));
  while (true) {
    SSKAI_ASSIGN_OR_RETURN(bool more, archive->Next());
    if (!more) {
      return Status::Internal("entry '" + layout.text_entry + "' vanished from the archive");
    }
    if (archive->entry_name() == layout.text_entry) break;
  }
  SSKAI_ASSIGN_OR_RETURN(auto entry, OpenEntry(archive.get(), budget));
  entry->archive_ = std::move(archive);  // destroyed after the entry readers: declared first
  return entry;
}

}  // namespace sskai::data::internal
