// src/ml/safetensors.cc — safetensors read (mmap) / write, sharded checkpoints. Torch-free.
#include "ml/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace sskai::ml::safetensors {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // same limit as the reference implementation

struct DTypeRow {
  DType dtype;
  const char* name;
  size_t size;
};
constexpr DTypeRow kDTypes[] = {
    {DType::kBool, "BOOL", 1}, {DType::kU8, "U8", 1},   {DType::kI8, "I8", 1},
    {DType::kI16, "I16", 2},   {DType::kU16, "U16", 2}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI32, "I32", 4}, {DType::kU32, "U32", 4},
    {DType::kF32, "F32", 4},   {DType::kF64, "F64", 8}, {DType::kI64, "I64", 8},
    {DType::kU64, "U64", 8},
};

Status Bad(const std::string& where, const std::string& what) {
  return Status::InvalidArgument("safetensors " + where + ": " + what);
}

}  // namespace

Result<DType> ParseDType(const std::string& name) {
  for (const auto& row : kDTypes) {
    if (name == row.name) return row.dtype;
  }
  return Status::InvalidArgument("unsupported safetensors dtype '" + name + "'");
}

const char* DTypeName(DType dtype) {
  for (const auto& row : kDTypes) {
    if (row.dtype == dtype) return row.name;
  }
  return "?";
}

size_t DTypeSize(DType dtype) {
  for (const auto& row : kDTypes) {
    if (row.dtype == dtype) return row.size;
  }
  return 0;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Status ParseHeader(const std::string& header_json, uint64_t data_size, const std::string& where,
                   std::vector<TensorInfo>* tensors, std::map<std::string, std::string>* metadata) {
  json header = json::parse(header_json, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) return Bad(where, "header is not a JSON object");
  tensors->clear();
  metadata->clear();
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) return Bad(where, "__metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) return Bad(where, "__metadata__ value '" + m.key() + "' is not a string");
        (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    std::string at = "tensor '" + name + "': ";
    if (!entry.is_object()) return Bad(where, at + "entry is not an object");
    TensorInfo info;
    info.name = name;
    auto dt = entry.find("dtype");
    if (dt == entry.end() || !dt->is_string()) return Bad(where, at + "missing dtype");
    auto parsed = ParseDType(dt->get<std::string>());
    if (!parsed.ok()) return Bad(where, at + parsed.status().message());
    info.dtype = *parsed;
    auto shape = entry.find("shape");
    if (shape == entry.end() || !shape->is_array()) return Bad(where, at + "missing shape");
    uint64_t bytes = DTypeSize(info.dtype);
    for (const json& d : *shape) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0)) {
        return Bad(where, at + "shape has a non-integer or negative dimension");
      }
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && bytes > (uint64_t{1} << 62) / dim) return Bad(where, at + "shape overflows");
      bytes *= dim;
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    auto off = entry.find("data_offsets");
    if (off == entry.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      return Bad(where, at + "data_offsets must be [begin, end]");
    }
    info.begin = (*off)[0].get<uint64_t>();
    info.end = (*off)[1].get<uint64_t>();
    if (info.end < info.begin) return Bad(where, at + "data_offsets end < begin");
    if (info.end > data_size) {
      return Bad(where, at + "data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                            "] point outside the data (" + std::to_string(data_size) + " bytes)");
    }
    if (info.end - info.begin != bytes) {
      return Bad(where, at + "byte length " + std::to_string(info.end - info.begin) + " does not match dtype and shape (" +
                            std::to_string(bytes) + ")");
    }
    tensors->push_back(std::move(info));
  }
  // Ranges must tile the buffer exactly: no overlap, no hole, nothing after the last one.
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : *tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  for (const TensorInfo* t : by_offset) {
    if (t->begin != pos) {
      return Bad(where, "tensor '" + t->name + "': data " + (t->begin < pos ? "overlaps another tensor" : "leaves a hole"));
    }
    pos = t->end;
  }
  if (pos != data_size) return Bad(where, "data buffer has " + std::to_string(data_size - pos) + " trailing bytes");
  std::sort(tensors->begin(), tensors->end(), [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  return Status::Ok();
}

Result<std::unique_ptr<File>> File::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("safetensors " + path + ": no such file");
    return Status::InvalidArgument("safetensors " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::InvalidArgument("safetensors " + path + ": stat failed");
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return Bad(path, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return Bad(path, std::string("mmap failed: ") + std::strerror(errno));
  std::unique_ptr<File> file(new File());
  file->path_ = path;
  file->map_ = map;
  file->map_size_ = size;
  const auto* bytes = static_cast<const uint8_t*>(map);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n > kMaxHeader) return Bad(path, "header length " + std::to_string(n) + " exceeds 100 MB");
  if (n > size - 8) {
    return Bad(path, "header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) +
                         " bytes): truncated?");
  }
  file->data_ = bytes + 8 + n;
  std::string header(reinterpret_cast<const char*>(bytes + 8), n);
  SSKAI_RETURN_IF_ERROR(ParseHeader(header, size - 8 - n, path, &file->tensors_, &file->metadata_));
  return file;
}

File::~File() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

const TensorInfo* File::Find(const std::string& name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& t, const std::string& n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

Status Write(const std::string& path, const std::vector<TensorView>& tensors,
             const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorView*> order;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__") return Bad(path, "invalid tensor name '" + t.name + "'");
    uint64_t expect = DTypeSize(t.dtype);
    for (int64_t d : t.shape) {
      if (d < 0) return Bad(path, "tensor '" + t.name + "': negative dimension");
      expect *= static_cast<uint64_t>(d);
    }
    if (expect != t.bytes) return Bad(path, "tensor '" + t.name + "': byte length does not match dtype and shape");
    order.push_back(&t);
  }
  // Largest element size first, then by name: every tensor starts aligned to its element size.
  std::sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
    size_t sa = DTypeSize(a->dtype), sb = DTypeSize(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorView* t : order) {
    if (header.contains(t->name)) return Bad(path, "duplicate tensor '" + t->name + "'");
    header[t->name] = {{"dtype", DTypeName(t->dtype)}, {"shape", t->shape}, {"data_offsets", {offset, offset + t->bytes}}};
    offset += t->bytes;
  }
  std::string text = header.dump();  // nlohmann's object keeps keys sorted
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::Internal("safetensors " + path + ": cannot create " + tmp);
    uint64_t n = text.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const TensorView* t : order) out.write(static_cast<const char*>(t->data), static_cast<std::streamsize>(t->bytes));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return Status::Internal("safetensors " + path + ": write failed");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::Internal("safetensors " + path + ": rename failed: " + ec.message());
  return Status::Ok();
}

Result<std::vector<std::string>> WriteCheckpoint(const std::string& dir, const std::string& base,
                                                 const std::vector<TensorView>& tensors,
                                                 const std::map<std::string, std::string>& metadata,
                                                 uint64_t max_shard_bytes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  uint64_t total = 0;
  for (const auto& t : tensors) total += t.bytes;
  if (max_shard_bytes == 0 || total <= max_shard_bytes) {
    std::string name = base + ".safetensors";
    SSKAI_RETURN_IF_ERROR(Write(dir + "/" + name, tensors, metadata));
    return std::vector<std::string>{name};
  }
  // Greedy shards in name order (as transformers does), each up to max_shard_bytes.
  std::vector<const TensorView*> sorted;
  for (const auto& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](const TensorView* a, const TensorView* b) { return a->name < b->name; });
  std::vector<std::vector<TensorView>> shards(1);
  uint64_t in_shard = 0;
  for (const TensorView* t : sorted) {
    if (in_shard > 0 && in_shard + t->bytes > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(*t);
    in_shard += t->bytes;
  }
  auto pad5 = [](size_t v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%05zu", v);
    return std::string(buf);
  };
  std::vector<std::string> names;
  json weight_map = json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    std::string name = base + "-" + pad5(i + 1) + "-of-" + pad5(shards.size()) + ".safetensors";
    SSKAI_RETURN_IF_ERROR(Write(dir + "/" + name, shards[i], metadata));
    for (const auto& t : shards[i]) weight_map[t.name] = name;
    names.push_back(name);
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  std::string index_name = base + ".safetensors.index.json";
  std::string tmp = dir + "/" + index_name + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << index.dump(2) << "\n";
    if (!out) return Status::Internal("safetensors: cannot write " + tmp);
  }
  fs::rename(tmp, dir + "/" + index_name, ec);
  if (ec) return Status::Internal("safetensors: rename " + index_name + ": " + ec.message());
  names.push_back(index_name);
  return names;
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& dir) {
  auto ckpt = std::make_unique<Checkpoint>();
  std::string index_path = dir + "/model.safetensors.index.json";
  std::vector<std::string> files;
  json weight_map;
  if (fs::exists(index_path)) {
    std::ifstream in(index_path);
    json index = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      return Status::InvalidArgument(index_path + ": not a safetensors index (needs a weight_map object)");
    }
    weight_map = index["weight_map"];
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
      if (!it.value().is_string()) return Status::InvalidArgument(index_path + ": weight_map['" + it.key() + "'] is not a file name");
      std::string f = it.value().get<std::string>();
      if (f.find('/') != std::string::npos || f == "..") return Status::InvalidArgument(index_path + ": bad shard name '" + f + "'");
      if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
    }
  } else if (fs::exists(dir + "/model.safetensors")) {
    files.push_back("model.safetensors");
  } else {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().extension() == ".safetensors") files.push_back(e.path().filename().string());
    }
    if (files.size() != 1) {
      return Status::NotFound(dir + ": no model.safetensors (or index) " +
                              (files.empty() ? std::string("and no .safetensors file") : std::string("and several .safetensors files")));
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    SSKAI_ASSIGN_OR_RETURN(auto file, File::Open(dir + "/" + f));
    for (const auto& info : file->tensors()) {
      if (!weight_map.is_null()) {
        auto w = weight_map.find(info.name);
        if (w == weight_map.end() || w->get<std::string>() != f) continue;  // not this shard's per the index
      }
      if (ckpt->entries_.count(info.name)) {
        return Status::InvalidArgument(dir + ": tensor '" + info.name + "' appears in two shards");
      }
      ckpt->entries_[info.name] = Entry{file.get(), &info};
    }
    ckpt->files_.push_back(std::move(file));
  }
  if (!weight_map.is_null()) {
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
      if (!ckpt->entries_.count(it.key())) {
        return Status::InvalidArgument(index_path + ": tensor '" + it.key() + "' is not in " + it.value().get<std::string>());
      }
    }
  }
  return ckpt;
}

Checkpoint::Entry Checkpoint::Find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? Entry{nullptr, nullptr} : it->second;
}

std::vector<std::string> Checkpoint::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, e] : entries_) names.push_back(name);
  return names;
}

const std::map<std::string, std::string>& Checkpoint::metadata() const {
  static const std::map<std::string, std::string> kEmpty;
  return files_.empty() ? kEmpty : files_.front()->metadata();
}

}  // namespace sskai::ml::safetensors
