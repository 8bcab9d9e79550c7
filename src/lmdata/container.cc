// One-file container for a checkpoint directory (the job's checkpoint blob is a single file).
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/sha256.h"
#include "lmdata/lmdata.h"

namespace sskai::lmdata {
namespace {

namespace fs = std::filesystem;
constexpr char kMagic[8] = {'S', 'S', 'K', 'A', 'I', 'L', 'M', 'C'};
constexpr size_t kDigest = 64;  // hex

template <typename T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));  // little-endian hosts only (x86-64, aarch64)
  out->append(buf, sizeof(T));
}

template <typename T>
bool Get(const std::string& in, size_t* pos, size_t end, T* v) {
  if (end - *pos < sizeof(T)) return false;
  std::memcpy(v, in.data() + *pos, sizeof(T));
  *pos += sizeof(T);
  return true;
}

Result<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::Internal("cannot read " + path);
  return data;
}

Status WriteAtomically(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) return Status::Internal("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::Internal("cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

Status PackDirectory(const std::string& dir, const std::string& out_path) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound("no directory " + dir);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
  }
  if (ec) return Status::Internal("cannot list " + dir + ": " + ec.message());
  std::sort(names.begin(), names.end());
  std::string out(kMagic, sizeof(kMagic));
  Put<uint32_t>(&out, static_cast<uint32_t>(names.size()));
  for (const auto& name : names) {
    SSKAI_ASSIGN_OR_RETURN(std::string data, ReadAll(dir + "/" + name));
    Put<uint32_t>(&out, static_cast<uint32_t>(name.size()));
    out += name;
    Put<uint64_t>(&out, data.size());
    out += data;
  }
  out += Sha256Hex(out);
  return WriteAtomically(out_path, out);
}

Status UnpackDirectory(const std::string& in_path, const std::string& dir) {
  SSKAI_ASSIGN_OR_RETURN(std::string in, ReadAll(in_path));
  auto torn = [&](const std::string& why) {
    return Status::InvalidArgument("checkpoint container " + in_path + " is torn or corrupt: " + why);
  };
  if (in.size() < sizeof(kMagic) + 4 + kDigest || std::memcmp(in.data(), kMagic, sizeof(kMagic)) != 0) {
    return torn("bad magic or too short");
  }
  const size_t end = in.size() - kDigest;
  if (Sha256Hex(std::string_view(in.data(), end)) != std::string_view(in.data() + end, kDigest)) {
    return torn("digest mismatch");
  }
  size_t pos = sizeof(kMagic);
  uint32_t count = 0;
  if (!Get(in, &pos, end, &count)) return torn("no file count");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Internal("cannot create " + dir + ": " + ec.message());
  for (uint32_t idx = 0; idx < count; ++idx) {
    uint32_t name_len = 0;
    uint64_t size = 0;
    if (!Get(in, &pos, end, &name_len) || end - pos < name_len) return torn("truncated name");
    std::string name = in.substr(pos, name_len);
    pos += name_len;
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos) {
      return Status::InvalidArgument("checkpoint container " + in_path + ": unsafe file name '" + name + "'");
    }
    if (!Get(in, &pos, end, &size) || end - pos < size) return torn("truncated file " + name);
    SSKAI_RETURN_IF_ERROR(WriteAtomically(dir + "/" + name, in.substr(pos, size)));
    pos += size;
  }
  if (pos != end) return torn("trailing bytes");
  return Status::Ok();
}

}  // namespace sskai::lmdata
