// tests/ml/container_test.cc — the model/checkpoint file container detects torn files.
#include "ml/container.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace sskai::ml {
namespace {

TEST(ContainerTest, RoundTrips) {
  Container c{R"({"a":1})", std::string("\0\1\2payload", 10)};
  auto back = DecodeContainer(EncodeContainer(c));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->metadata_json, c.metadata_json);
  EXPECT_EQ(back->payload, c.payload);
}

TEST(ContainerTest, RejectsTruncatedCorruptAndForeignBytes) {
  std::string bytes = EncodeContainer({"{}", std::string(1000, 'x')});
  for (size_t len : {size_t{0}, size_t{5}, size_t{12}, size_t{30}, bytes.size() / 2, bytes.size() - 1}) {
    auto r = DecodeContainer(bytes.substr(0, len));
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << "length " << len;
  }
  std::string flipped = bytes;
  flipped[500] ^= 1;
  EXPECT_NE(DecodeContainer(flipped).status().message().find("checksum"), std::string::npos);
  EXPECT_NE(DecodeContainer("PK\3\4 a zip file").status().message().find("bad magic"), std::string::npos);
  EXPECT_EQ(DecodeContainer(bytes + "x").status().code(), StatusCode::kInvalidArgument);
}

TEST(ContainerTest, FileWriteIsAtomicAndReadable) {
  auto dir = std::filesystem::temp_directory_path() / ("sskai_ml_container_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "m.sskai").string();
  ASSERT_TRUE(WriteContainerFile(path, {"{\"k\":2}", "data"}).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto back = ReadContainerFile(path);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->payload, "data");
  EXPECT_EQ(ReadContainerFile((dir / "missing").string()).status().code(), StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sskai::ml
