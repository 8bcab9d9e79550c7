#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data/data.h"
#include "data/testdata.h"

namespace sskai::data {
namespace {

using testdata::TempDir;
using testdata::WriteArchive;

const char* kCsv = "a,b\n1,x\n2,y\n3,x\n";

std::string ErrorOf(const std::string& path, InspectOptions options = {}) {
  auto info = Inspect(path, options);
  if (info.ok()) return "ok";
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  return info.status().message();
}

TEST(ArchiveTest, RejectsEntriesThatEscape) {
  TempDir dir;
  EXPECT_EQ(ErrorOf(WriteArchive(dir.File("z.zip"), "zip",
                                 {{"ok.csv", kCsv}, {"../../etc/passwd", "root"}})),
            "zip entry '../../etc/passwd': path escapes the archive");
  EXPECT_EQ(ErrorOf(WriteArchive(dir.File("t.tar"), "tar", {{"/etc/passwd", "root"}})),
            "tar entry '/etc/passwd': path escapes the archive");
  // libarchive turns zip backslashes into slashes; tar keeps them.
  EXPECT_EQ(ErrorOf(WriteArchive(dir.File("b.zip"), "zip", {{"a\\..\\..\\x.csv", kCsv}})),
            "zip entry 'a/../../x.csv': path escapes the archive");
  EXPECT_EQ(ErrorOf(WriteArchive(dir.File("b.tar"), "tar", {{"..\\x.csv", kCsv}})),
            "tar entry '..\\x.csv': path escapes the archive");
  EXPECT_EQ(ErrorOf(WriteArchive(dir.File("m.tar.gz"), "tar.gz", {{"a/../../x.csv", kCsv}})),
            "tar entry 'a/../../x.csv': path escapes the archive");
  EXPECT_EQ(ErrorOf(WriteArchive(dir.File("c.zip"), "zip", {{"C:/x.csv", kCsv}})),
            "zip entry 'C:/x.csv': path escapes the archive");
}

TEST(ArchiveTest, StopsAtTheUncompressedLimit) {
  TempDir dir;
  std::string big = "a,b\n";
  while (big.size() < (4u << 20)) big += "1,0\n";
  InspectOptions options;
  options.max_uncompressed_bytes = 1u << 20;
  for (const char* kind : {"zip", "tar.gz", "gz"}) {
    std::string path = WriteArchive(dir.File(std::string("bomb.") + kind), kind, {{"big.csv", big}});
    EXPECT_THAT(ErrorOf(path, options), testing::HasSubstr("more than 1048576 bytes (max_uncompressed_bytes)"))
        << kind;
    EXPECT_EQ(ErrorOf(path), "ok") << kind;  // the default limit is fine
  }
  std::string idx = testdata::WriteFashionMnistArchive(dir.path(), 0, true);
  EXPECT_THAT(ErrorOf(idx, options), testing::HasSubstr("max_uncompressed_bytes"));
}

TEST(ArchiveTest, ReadsOneCsvOrJsonlEntryAndIgnoresJunk) {
  TempDir dir;
  std::string zip = WriteArchive(dir.File("d.zip"), "zip",
                                 {{"__MACOSX/._data.csv", "junk"},
                                  {".hidden.csv", "junk"},
                                  {"folder/data.csv", kCsv},
                                  {"folder/README.txt", "notes"}});
  auto info = Inspect(zip, {});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->format, Format::kCsv);
  EXPECT_EQ(info->rows, 3);
  auto preview = PreviewJson(zip, {}, 1);
  ASSERT_TRUE(preview.ok());
  EXPECT_EQ(*preview, R"([{"a":"1","b":"x"}])");

  std::string gz_entry = WriteArchive(dir.File("g.tar"), "tar",
                                      {{"t.jsonl.gz", testdata::Gzip("{\"text\":\"a\"}\n")}});
  auto jsonl = Inspect(gz_entry, {});
  ASSERT_TRUE(jsonl.ok()) << jsonl.status().ToString();
  EXPECT_EQ(jsonl->format, Format::kJsonl);

  std::string bad = WriteArchive(dir.File("bad.zip"), "zip", {{"x/d.csv", "a,b\n1,2\n3\n"}});
  EXPECT_EQ(ErrorOf(bad), "entry 'x/d.csv': line 3: expected 2 fields, got 1");
}

TEST(ArchiveTest, ReportsArchivesWithoutOneDataset) {
  TempDir dir;
  EXPECT_THAT(ErrorOf(WriteArchive(dir.File("e.zip"), "zip", {{"notes.txt", "x"}})),
              testing::HasSubstr("zip archive holds no supported dataset"));
  EXPECT_EQ(ErrorOf(WriteArchive(dir.File("two.zip"), "zip", {{"a.csv", kCsv}, {"b.csv", kCsv}})),
            "zip archive holds 2 data files ('a.csv', 'b.csv'); expected exactly one CSV or "
            "JSONL file");
}

TEST(ArchiveTest, ChecksTheRequestedFormat) {
  TempDir dir;
  std::string csv = testdata::WriteFileBytes(dir.File("d.csv"), kCsv);
  InspectOptions options;
  options.format = "idx";
  EXPECT_EQ(ErrorOf(csv, options), "format 'idx' was requested but the file holds csv data");
  options.format = "parquet";
  EXPECT_THAT(ErrorOf(csv, options), testing::HasSubstr("unknown dataset format 'parquet'"));
  options.format = "csv";
  EXPECT_EQ(ErrorOf(csv, options), "ok");
  EXPECT_EQ(FormatName(Format::kImageFolder), std::string("image_folder"));
  EXPECT_EQ(*ParseFormat("jsonl"), Format::kJsonl);
}

}  // namespace
}  // namespace sskai::data
