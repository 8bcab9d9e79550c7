// Image class folders: <class>/<image>.pgm|.ppm (binary netpbm P5/P6) inside a zip/tar.
#include <algorithm>
#include <map>
#include <set>

#include "data/formats.h"

namespace sskai::data::internal {
namespace {

struct Netpbm {
  int64_t channels = 1, width = 0, height = 0, maxval = 255;
};

bool IsSpace(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Reads one header number, skipping whitespace and # comments.
Result<int64_t> HeaderNumber(BufferedReader* in, const std::string& where) {
  int c = in->Get();
  while (true) {
    if (c == '#') {
      while (c >= 0 && c != '\n') c = in->Get();
    } else if (IsSpace(c)) {
      c = in->Get();
    } else {
      break;
    }
  }
  if (c < '0' || c > '9') {
    if (!in->status().ok()) return in->status();
    return Status::InvalidArgument(where + ": malformed netpbm header");
  }
  int64_t v = 0;
  while (c >= '0' && c <= '9') {
    v = v * 10 + (c - '0');
    if (v > (1 << 24)) return Status::InvalidArgument(where + ": netpbm size is too large");
    c = in->Get();
  }
  if (!IsSpace(c)) return Status::InvalidArgument(where + ": malformed netpbm header");
  return v;  // the single whitespace byte after the number is consumed
}

Result<Netpbm> ReadHeader(BufferedReader* in, const std::string& where) {
  Netpbm h;
  int p = in->Get(), kind = in->Get();
  if (p != 'P' || (kind != '5' && kind != '6')) {
    return Status::InvalidArgument(where + ": not a binary PGM/PPM image");
  }
  h.channels = kind == '5' ? 1 : 3;
  SSKAI_ASSIGN_OR_RETURN(h.width, HeaderNumber(in, where));
  SSKAI_ASSIGN_OR_RETURN(h.height, HeaderNumber(in, where));
  SSKAI_ASSIGN_OR_RETURN(h.maxval, HeaderNumber(in, where));
  if (h.width == 0 || h.height == 0) return Status::InvalidArgument(where + ": empty image");
  if (h.maxval == 0 || h.maxval > 255) {
    return Status::InvalidArgument(where + ": maxval " + std::to_string(h.maxval) +
                                   " is not supported; only 8-bit images (maxval <= 255)");
  }
  return h;
}

std::string ClassOf(const std::string& name) {
  size_t slash = name.rfind('/');
  if (slash == std::string::npos) return "";
  size_t start = name.rfind('/', slash - 1);
  start = start == std::string::npos ? 0 : start + 1;
  return name.substr(start, slash - start);
}

std::string Shape(const Netpbm& h) {
  return std::to_string(h.width) + "x" + std::to_string(h.height) + "x" +
         std::to_string(h.channels);
}

}  // namespace

Result<ImageData> ReadImageFolder(const std::string& path, const Layout& layout,
                                  const InspectOptions& options, bool keep_pixels) {
  std::set<std::string> class_set;
  std::set<std::string> images;
  for (const EntryInfo& e : layout.entries) {
    if (e.kind != EntryKind::kNetpbm) continue;
    std::string cls = ClassOf(e.name);
    if (cls.empty()) {
      return Status::InvalidArgument(layout.label + " entry '" + e.name +
                                     "': images must be inside a class folder "
                                     "(<class>/<image>.pgm)");
    }
    class_set.insert(cls);
    images.insert(e.name);
  }
  ImageData data;
  data.classes.assign(class_set.begin(), class_set.end());
  std::map<std::string, int64_t> class_index;
  for (size_t idx = 0; idx < data.classes.size(); ++idx) class_index[data.classes[idx]] = idx;

  Budget budget{options.max_uncompressed_bytes};
  SSKAI_ASSIGN_OR_RETURN(auto archive, ArchiveReader::OpenFile(path, ArchiveReader::Mode::kArchive,
                                                               layout.label, &budget));
  Netpbm first;
  std::string first_name;
  std::string raw;
  while (true) {
    SSKAI_ASSIGN_OR_RETURN(bool more, archive->Next());
    if (!more) break;
    const std::string name = archive->entry_name();
    if (images.count(name) == 0) continue;
    SSKAI_ASSIGN_OR_RETURN(auto content, Content::OpenEntry(archive.get(), &budget));
    const std::string& where = content->where();
    SSKAI_ASSIGN_OR_RETURN(Netpbm h, ReadHeader(content->reader(), where));
    if (first_name.empty()) {
      first = h;
      first_name = name;
      data.channels = h.channels;
      data.height = h.height;
      data.width = h.width;
    } else if (h.width != first.width || h.height != first.height ||
               h.channels != first.channels) {
      return Status::InvalidArgument(
          where + ": image is " + Shape(h) + " (width x height x channels) but '" + first_name +
          "' is " + Shape(first) +
          "; all images must have the same size and channels (resizing is not supported)");
    }
    size_t bytes = static_cast<size_t>(h.width * h.height * h.channels);
    raw.resize(bytes);
    SSKAI_ASSIGN_OR_RETURN(size_t got, ReadFull(content->reader(), raw.data(), bytes));
    if (got != bytes) {
      return Status::InvalidArgument(where + ": expected " + std::to_string(bytes) +
                                     " bytes of pixels, found " + std::to_string(got));
    }
    data.labels.push_back(class_index[ClassOf(name)]);
    ++data.count;
    if (!keep_pixels) continue;
    size_t plane = static_cast<size_t>(h.width * h.height);
    size_t base = data.pixels.size();
    data.pixels.resize(base + bytes);
    for (size_t px = 0; px < plane; ++px) {
      for (int64_t ch = 0; ch < h.channels; ++ch) {
        auto v = static_cast<unsigned char>(raw[px * h.channels + ch]);
        if (h.maxval != 255) v = static_cast<unsigned char>(std::min<int64_t>(255, v * 255 / h.maxval));
        data.pixels[base + ch * plane + px] = v;
      }
    }
  }
  return data;
}

}  // namespace sskai::data::internal
