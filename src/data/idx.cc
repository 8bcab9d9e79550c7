// IDX image sets (MNIST layout) inside a zip/tar: one images file (magic 0x00000803: n, h, w,
// uint8 pixels), one labels file (0x00000801: n, uint8 labels), optional classes.txt.
#include <algorithm>
#include <map>

#include "data/formats.h"
#include "data/values.h"

namespace sskai::data::internal {
namespace {

constexpr size_t kChunk = 1 << 16;

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Reads the rest of `in`: appended to `out` when given, else only counted.
Result<uint64_t> Drain(ByteStream* in, std::vector<uint8_t>* out, uint64_t reserve) {
  if (out != nullptr) out->reserve(std::min<uint64_t>(reserve, 64u << 20));
  std::string buf(kChunk, '\0');
  uint64_t total = 0;
  while (true) {
    SSKAI_ASSIGN_OR_RETURN(size_t k, in->Read(buf.data(), buf.size()));
    if (k == 0) return total;
    total += k;
    if (out != nullptr) out->insert(out->end(), buf.data(), buf.data() + k);
  }
}

}  // namespace

Result<ImageData> ReadIdx(const std::string& path, const Layout& layout,
                          const InspectOptions& options, bool keep_pixels) {
  std::map<std::string, EntryKind> kinds;
  std::string images_name, labels_name;
  for (const EntryInfo& e : layout.entries) {
    kinds[e.name] = e.kind;
    std::string* slot = e.kind == EntryKind::kIdxImages   ? &images_name
                        : e.kind == EntryKind::kIdxLabels ? &labels_name
                                                          : nullptr;
    if (slot == nullptr) continue;
    if (!slot->empty()) {
      return Status::InvalidArgument(
          layout.label + " archive holds two IDX " +
          (e.kind == EntryKind::kIdxImages ? "images" : "labels") + " files ('" + *slot +
          "' and '" + e.name + "'); expected exactly one images file and one labels file");
    }
    *slot = e.name;
  }
  if (images_name.empty() || labels_name.empty()) {
    return Status::InvalidArgument(
        layout.label + " archive has an IDX " + (images_name.empty() ? "labels" : "images") +
        " file but no IDX " + (images_name.empty() ? "images file (magic 0x00000803)"
                                                   : "labels file (magic 0x00000801)") +
        "; both are needed");
  }

  Budget budget{options.max_uncompressed_bytes};
  SSKAI_ASSIGN_OR_RETURN(auto archive, ArchiveReader::OpenFile(path, ArchiveReader::Mode::kArchive,
                                                               layout.label, &budget));
  ImageData data;
  std::vector<uint8_t> labels;
  std::vector<std::string> class_names;
  uint32_t label_count = 0;
  while (true) {
    SSKAI_ASSIGN_OR_RETURN(bool more, archive->Next());
    if (!more) break;
    auto kind = kinds.find(archive->entry_name());
    if (kind == kinds.end()) continue;
    SSKAI_ASSIGN_OR_RETURN(auto content, Content::OpenEntry(archive.get(), &budget));
    const std::string& where = content->where();
    BufferedReader* in = content->reader();
    unsigned char header[16];
    if (kind->second == EntryKind::kIdxImages) {
      SSKAI_ASSIGN_OR_RETURN(size_t got, ReadFull(in, reinterpret_cast<char*>(header), 16));
      if (got < 16) return Status::InvalidArgument(where + ": truncated IDX header");
      data.count = BigEndian32(header + 4);
      data.height = BigEndian32(header + 8);
      data.width = BigEndian32(header + 12);
      if (data.count == 0 || data.height == 0 || data.width == 0) {
        return Status::InvalidArgument(where + ": IDX images file declares no pixels (" +
                                       std::to_string(data.count) + " images of " +
                                       std::to_string(data.height) + "x" +
                                       std::to_string(data.width) + ")");
      }
      uint64_t expected = static_cast<uint64_t>(data.count) * static_cast<uint64_t>(data.height) *
                          static_cast<uint64_t>(data.width);
      SSKAI_ASSIGN_OR_RETURN(uint64_t found,
                             Drain(in, keep_pixels ? &data.pixels : nullptr, expected));
      if (found != expected) {
        return Status::InvalidArgument(where + ": expected " + std::to_string(expected) +
                                       " bytes of pixels, found " + std::to_string(found));
      }
    } else if (kind->second == EntryKind::kIdxLabels) {
      SSKAI_ASSIGN_OR_RETURN(size_t got, ReadFull(in, reinterpret_cast<char*>(header), 8));
      if (got < 8) return Status::InvalidArgument(where + ": truncated IDX header");
      label_count = BigEndian32(header + 4);
      SSKAI_ASSIGN_OR_RETURN(uint64_t found, Drain(in, &labels, label_count));
      if (found != label_count) {
        return Status::InvalidArgument(where + ": expected " + std::to_string(label_count) +
                                       " labels, found " + std::to_string(found));
      }
    } else if (kind->second == EntryKind::kClassesTxt) {
      std::string line;
      while (true) {
        auto got = in->ReadLine(&line, 4096);
        if (!got.ok()) return At(where, got.status());
        if (!*got) break;
        class_names.emplace_back(Trim(line));
      }
      while (!class_names.empty() && class_names.back().empty()) class_names.pop_back();
      for (size_t idx = 0; idx < class_names.size(); ++idx) {
        if (class_names[idx].empty() || FindInvalidUtf8(class_names[idx]) != std::string::npos) {
          return Status::InvalidArgument(where + ": line " + std::to_string(idx + 1) +
                                         ": class names must be non-empty UTF-8");
        }
      }
    }
  }
  if (static_cast<int64_t>(label_count) != data.count) {
    return Status::InvalidArgument("IDX images file '" + images_name + "' has " +
                                   std::to_string(data.count) + " images but labels file '" +
                                   labels_name + "' has " + std::to_string(label_count) +
                                   " labels");
  }
  int max_label = 0;
  for (uint8_t l : labels) max_label = std::max<int>(max_label, l);
  if (class_names.empty()) {
    for (int idx = 0; idx <= max_label; ++idx) class_names.push_back(std::to_string(idx));
  } else if (max_label >= static_cast<int>(class_names.size())) {
    auto at = std::find(labels.begin(), labels.end(), max_label) - labels.begin();
    return Status::InvalidArgument("labels file '" + labels_name + "': label " +
                                   std::to_string(max_label) + " (item " +
                                   std::to_string(at + 1) + ") is out of range: classes.txt names " +
                                   std::to_string(class_names.size()) + " classes");
  }
  data.channels = 1;
  data.labels.assign(labels.begin(), labels.end());
  data.classes = std::move(class_names);
  return data;
}

}  // namespace sskai::data::internal
