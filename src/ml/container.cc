// src/ml/container.cc — see container.h.
#include "ml/container.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/sha256.h"

namespace sskai::ml {
namespace {

constexpr size_t kMagicSize = 8;
constexpr size_t kDigestSize = 64;

void PutU32(std::string* out, uint32_t v) {
  for (int idx = 0; idx < 4; ++idx) out->push_back(static_cast<char>((v >> (8 * idx)) & 0xff));
}
void PutU64(std::string* out, uint64_t v) {
  for (int idx = 0; idx < 8; ++idx) out->push_back(static_cast<char>((v >> (8 * idx)) & 0xff));
}
uint64_t GetLe(const std::string& bytes, size_t pos, int width) {
  uint64_t v = 0;
  for (int idx = 0; idx < width; ++idx) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[pos + idx])) << (8 * idx);
  }
  return v;
}

}  // namespace

std::string EncodeContainer(const Container& container) {
  std::string out;
  out.reserve(kMagicSize + 4 + 16 + container.metadata_json.size() + container.payload.size() + kDigestSize);
  out.append(kContainerMagic, kMagicSize);
  PutU32(&out, kContainerVersion);
  PutU64(&out, container.metadata_json.size());
  out += container.metadata_json;
  PutU64(&out, container.payload.size());
  out += container.payload;
  out += Sha256Hex(out);
  return out;
}

Result<Container> DecodeContainer(const std::string& bytes) {
  if (bytes.size() < kMagicSize || bytes.compare(0, kMagicSize, kContainerMagic, kMagicSize) != 0) {
    return Status::InvalidArgument("not an sskai model file (bad magic)");
  }
  size_t pos = kMagicSize;
  if (bytes.size() < pos + 4 + 8) return Status::InvalidArgument("model file truncated (header)");
  uint32_t version = static_cast<uint32_t>(GetLe(bytes, pos, 4));
  pos += 4;
  if (version != kContainerVersion) {
    return Status::InvalidArgument("unsupported model file version " + std::to_string(version));
  }
  uint64_t meta_len = GetLe(bytes, pos, 8);
  pos += 8;
  if (meta_len > bytes.size() - pos) return Status::InvalidArgument("model file truncated (metadata)");
  Container c;
  c.metadata_json = bytes.substr(pos, meta_len);
  pos += meta_len;
  if (bytes.size() - pos < 8) return Status::InvalidArgument("model file truncated (payload length)");
  uint64_t payload_len = GetLe(bytes, pos, 8);
  pos += 8;
  if (payload_len > bytes.size() - pos || bytes.size() - pos - payload_len != kDigestSize) {
    return Status::InvalidArgument("model file truncated or has trailing bytes (payload)");
  }
  size_t payload_pos = pos;
  pos += payload_len;
  if (Sha256Hex(std::string_view(bytes).substr(0, pos)) != bytes.substr(pos, kDigestSize)) {
    return Status::InvalidArgument("model file corrupt (checksum mismatch)");
  }
  c.payload = bytes.substr(payload_pos, payload_len);
  return c;
}

Status WriteContainerFile(const std::string& path, const Container& container) {
  std::string bytes = EncodeContainer(container);
  std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Status::Internal("open " + tmp + ": " + std::strerror(errno));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    return Status::Internal("write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::Internal("rename to " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<Container> ReadContainerFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::Internal("read " + path + " failed");
  auto c = DecodeContainer(ss.str());
  if (!c.ok()) return c.status().WithPrefix(path);
  return c;
}

}  // namespace sskai::ml
