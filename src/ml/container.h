// src/ml/container.h — the model/checkpoint file container (internal to the ml module; torch-free).
//
// Layout (little-endian):
//   "SSKAIMDL" | u32 version (1) | u64 metadata length | metadata JSON
//   | u64 payload length | payload (torch archive bytes) | 64 hex chars: SHA-256 of all before.
// The trailing digest makes torn or corrupted files detectable without torch.
// Thread-safety: free functions, thread-safe.
#pragma once

#include <string>

#include "common/status.h"

namespace sskai::ml {

inline constexpr char kContainerMagic[] = "SSKAIMDL";
inline constexpr uint32_t kContainerVersion = 1;

struct Container {
  std::string metadata_json;
  std::string payload;
};

// Serializes `container` into bytes.
std::string EncodeContainer(const Container& container);
// Parses bytes. Errors: kInvalidArgument (bad magic, version, truncated, checksum mismatch).
Result<Container> DecodeContainer(const std::string& bytes);

// Writes atomically: `path`.tmp then rename. Errors: kInternal with the OS error.
Status WriteContainerFile(const std::string& path, const Container& container);
// Errors: kNotFound (missing file), kInvalidArgument (not a valid container).
Result<Container> ReadContainerFile(const std::string& path);

}  // namespace sskai::ml
