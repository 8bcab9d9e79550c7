// tests/ml/safetensors_test.cc — the torch-free safetensors reader/writer: round trips, sharding,
// interop with an independent Python reader, and malformed files.
#include "ml/safetensors.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "ml/test_util.h"

namespace sskai::ml::safetensors {
namespace {

using nlohmann::json;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

std::string Le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A raw file with the given header text and data bytes.
std::string RawFile(const std::string& header, const std::string& data) { return Le64(header.size()) + header + data; }

std::string RunCapture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(SafetensorsTest, WriteThenReadRoundTrips) {
  TempDir dir;
  std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  std::vector<uint16_t> bf = {0x3f80, 0xc000, 0x4040};  // bf16 1, -2, 3
  std::vector<int64_t> i = {42, -1};
  std::string path = dir.Sub("a.safetensors");
  ASSERT_TRUE(Write(path,
                    {{"w", DType::kF32, {2, 3}, f.data(), 24}, {"b", DType::kBF16, {3}, bf.data(), 6},
                     {"idx", DType::kI64, {2}, i.data(), 16}},
                    {{"format", "pt"}})
                  .ok());
  std::string bytes = ReadFile(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u) << "header must be padded so data starts 8-aligned";
  auto file = File::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_EQ((*file)->tensors().size(), 3u);
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  const TensorInfo* w = (*file)->Find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp((*file)->Data(*w), f.data(), 24), 0);
  for (const auto& t : (*file)->tensors()) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>((*file)->Data(t)) % DTypeSize(t.dtype), 0u) << t.name;
  }
  const TensorInfo* b = (*file)->Find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::kBF16);
  EXPECT_EQ(std::memcmp((*file)->Data(*b), bf.data(), 6), 0);
  EXPECT_EQ((*file)->Find("missing"), nullptr);
}

TEST(SafetensorsTest, IndependentPythonReaderReadsOurFile) {
  if (RunCapture("/usr/bin/python3 -c 'import torch; print(1)' 2>/dev/null").find('1') == std::string::npos) {
    GTEST_SKIP() << "python3-torch not installed";
  }
  TempDir dir;
  std::vector<float> f = {1.5f, -2.0f, 3.25f, 4.0f};
  std::vector<uint16_t> bf = {0x3f80, 0xc000, 0x4040};
  std::string path = dir.Sub("x.safetensors");
  ASSERT_TRUE(Write(path, {{"layer.weight", DType::kF32, {2, 2}, f.data(), 16}, {"b", DType::kBF16, {3}, bf.data(), 6}},
                    {{"format", "pt"}, {"by", "sskai"}})
                  .ok());
  std::string out = RunCapture("/usr/bin/python3 " SSKAI_TEST_SOURCE_DIR "/ml/reference/llama_ref.py dump " + path);
  json j = json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["__metadata__"]["by"], "sskai");
  EXPECT_EQ(j["layer.weight"]["dtype"], "F32");
  EXPECT_EQ(j["layer.weight"]["shape"], json({2, 2}));
  EXPECT_DOUBLE_EQ(j["layer.weight"]["sum"].get<double>(), 6.75);
  EXPECT_EQ(j["b"]["values"], json({1.0, -2.0, 3.0}));
}

TEST(SafetensorsTest, ShardedCheckpointWithIndex) {
  TempDir dir;
  std::vector<float> a(100, 1.0f), b(100, 2.0f), c(100, 3.0f);
  auto names = WriteCheckpoint(dir.Sub("m"), "model",
                               {{"a", DType::kF32, {100}, a.data(), 400}, {"b", DType::kF32, {100}, b.data(), 400},
                                {"c", DType::kF32, {10, 10}, c.data(), 400}},
                               {}, 800);
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(*names, (std::vector<std::string>{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                              "model.safetensors.index.json"}));
  json index = json::parse(ReadFile(dir.Sub("m/model.safetensors.index.json")));
  EXPECT_EQ(index["metadata"]["total_size"], 1200);
  EXPECT_EQ(index["weight_map"]["c"], "model-00002-of-00002.safetensors");
  auto ckpt = Checkpoint::Open(dir.Sub("m"));
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  EXPECT_EQ((*ckpt)->Names(), (std::vector<std::string>{"a", "b", "c"}));
  auto e = (*ckpt)->Find("c");
  ASSERT_NE(e.file, nullptr);
  float first;
  std::memcpy(&first, e.file->Data(*e.info), 4);
  EXPECT_EQ(first, 3.0f);

  // An index naming a tensor its shard does not hold is refused, naming the tensor.
  index["weight_map"]["d"] = "model-00001-of-00002.safetensors";
  WriteFile(dir.Sub("m/model.safetensors.index.json"), index.dump());
  auto bad = Checkpoint::Open(dir.Sub("m"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'d'"), std::string::npos) << bad.status().message();
}

struct BadCase {
  const char* what;
  std::string bytes;
  const char* expect;  // substring of the error
};

TEST(SafetensorsTest, MalformedFilesGiveClearErrors) {
  std::string ok_header = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string data(8, '\0');
  std::vector<BadCase> cases = {
      {"too short", "abc", "shorter than"},
      {"header past end", Le64(1000) + "{}", "runs past the end"},
      {"huge header", Le64(1ull << 40), "exceeds"},
      {"not json", RawFile("{nope", data), "not a JSON object"},
      {"truncated data", RawFile(ok_header, data.substr(0, 4)), "outside the data"},
      {"bad dtype", RawFile(R"({"t":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", data), "tensor 't'"},
      {"shape mismatch", RawFile(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data), "does not match"},
      {"overlap",
       RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
               data),
       "overlaps"},
      {"hole", RawFile(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data), "hole"},
      {"trailing", RawFile(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", data), "trailing"},
      {"missing offsets", RawFile(R"({"t":{"dtype":"F32","shape":[2]}})", data), "data_offsets"},
      {"metadata not strings", RawFile(R"({"__metadata__":{"a":1}})", ""), "not a string"},
  };
  TempDir dir;
  for (const auto& c : cases) {
    std::string path = dir.Sub("bad.safetensors");
    WriteFile(path, c.bytes);
    auto f = File::Open(path);
    ASSERT_FALSE(f.ok()) << c.what;
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument) << c.what;
    EXPECT_NE(f.status().message().find(c.expect), std::string::npos) << c.what << ": " << f.status().message();
    EXPECT_NE(f.status().message().find(path), std::string::npos) << c.what << ": names the file";
  }
  auto good = File::Open((WriteFile(dir.Sub("g.safetensors"), RawFile(ok_header, data)), dir.Sub("g.safetensors")));
  EXPECT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(File::Open(dir.Sub("none.safetensors")).status().code(), StatusCode::kNotFound);
}

TEST(SafetensorsTest, WriteRejectsBadInput) {
  TempDir dir;
  float f[2] = {0, 0};
  EXPECT_FALSE(Write(dir.Sub("x.safetensors"), {{"a", DType::kF32, {3}, f, 8}}, {}).ok());
  EXPECT_FALSE(Write(dir.Sub("x.safetensors"), {{"a", DType::kF32, {2}, f, 8}, {"a", DType::kF32, {2}, f, 8}}, {}).ok());
  EXPECT_FALSE(Write(dir.Sub("x.safetensors"), {{"__metadata__", DType::kF32, {2}, f, 8}}, {}).ok());
}

}  // namespace
}  // namespace sskai::ml::safetensors
