// src/ml/safetensors.h — the safetensors checkpoint format, torch-free (part of sskai_ml_api, so
// the server can validate `models import` without libtorch).
//
// File layout: u64 little-endian N, then N bytes of UTF-8 JSON header, then the data buffer.
// Header: {"__metadata__": {str: str}?, "<name>": {"dtype": "F32", "shape": [..],
// "data_offsets": [begin, end]}, ...}; offsets are relative to the data buffer, tensors are
// row-major, little-endian. Reading validates every number before use (header length, dtype,
// shape × element size = byte length without overflow, ranges inside the buffer, no overlap,
// no holes) and names the file and tensor in errors. Writing pads the header with spaces so the
// data starts at an 8-byte boundary, orders data by element size (largest first) then name so
// each tensor is aligned, and replaces the file atomically (tmp + rename).
// Sharded checkpoints: `model-00001-of-00003.safetensors`… plus `model.safetensors.index.json`
// ({"metadata": {"total_size": N}, "weight_map": {"<name>": "<file>"}}).
// Thread-safety: a File / Checkpoint is immutable after Open and may be read from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace sskai::ml::safetensors {

enum class DType { kBool, kU8, kI8, kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kF64, kI64, kU64 };

// "F32" → kF32 etc. Errors: kInvalidArgument for an unknown name.
Result<DType> ParseDType(const std::string& name);
const char* DTypeName(DType dtype);
size_t DTypeSize(DType dtype);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte range inside the data buffer
  uint64_t end = 0;
  int64_t numel() const;
};

// A read-only, memory-mapped safetensors file. Tensor bytes are views into the mapping (no copy);
// they stay valid while the File lives.
class File {
 public:
  // Errors: kNotFound (no such file), kInvalidArgument naming the file (and tensor) for any
  // malformed header, range or dtype.
  static Result<std::unique_ptr<File>> Open(const std::string& path);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // sorted by name
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // nullptr when absent.
  const TensorInfo* Find(const std::string& name) const;
  // Pointer to the tensor's first byte in the mapping (may be unaligned for foreign files).
  const uint8_t* Data(const TensorInfo& info) const { return data_ + info.begin; }

 private:
  File() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Parses and validates a header (the JSON text) against a data buffer of `data_size` bytes.
// `where` prefixes errors (usually the file path). Exposed for tests and for validation of
// headers read without mapping.
Status ParseHeader(const std::string& header_json, uint64_t data_size, const std::string& where,
                   std::vector<TensorInfo>* tensors, std::map<std::string, std::string>* metadata);

// A tensor to write: `data` points to numel × DTypeSize(dtype) little-endian row-major bytes.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t bytes = 0;
};

// Writes one file. Errors: kInvalidArgument (duplicate/empty name, "__metadata__" as a name,
// bytes ≠ shape × element size), kInternal (I/O), naming the file.
Status Write(const std::string& path, const std::vector<TensorView>& tensors,
             const std::map<std::string, std::string>& metadata);

// Writes `dir/<base>.safetensors` when everything fits in `max_shard_bytes` (0 = no limit), else
// shards `<base>-0000i-of-0000n.safetensors` plus `<base>.safetensors.index.json`. Returns the
// file names written (relative to dir).
Result<std::vector<std::string>> WriteCheckpoint(const std::string& dir, const std::string& base,
                                                 const std::vector<TensorView>& tensors,
                                                 const std::map<std::string, std::string>& metadata,
                                                 uint64_t max_shard_bytes);

// All tensors of a checkpoint directory: `model.safetensors.index.json` (sharded) if present,
// else `model.safetensors`, else the single `*.safetensors` file there.
class Checkpoint {
 public:
  // Errors: kNotFound (no safetensors in dir), kInvalidArgument (bad index, a weight_map entry
  // whose file lacks the tensor, a tensor in two shards, any file error).
  static Result<std::unique_ptr<Checkpoint>> Open(const std::string& dir);
  struct Entry {
    const File* file;
    const TensorInfo* info;
  };
  // nullopt-like: file == nullptr when absent.
  Entry Find(const std::string& name) const;
  std::vector<std::string> Names() const;  // sorted
  const std::map<std::string, std::string>& metadata() const;  // of the first file

 private:
  std::vector<std::unique_ptr<File>> files_;
  std::map<std::string, Entry> entries_;
};

}  // namespace sskai::ml::safetensors
