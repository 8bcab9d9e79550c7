#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/data.h"
#include "data/testdata.h"

namespace sskai::data {
namespace {

using nlohmann::json;
using testdata::Entry;
using testdata::TempDir;
using testdata::WriteArchive;

std::string Idx(uint8_t ndims, std::vector<uint32_t> dims, size_t data_bytes, uint8_t fill = 7) {
  std::string s = {0, 0, 8, static_cast<char>(ndims)};
  for (uint32_t d : dims) {
    s += static_cast<char>(d >> 24);
    s += static_cast<char>(d >> 16);
    s += static_cast<char>(d >> 8);
    s += static_cast<char>(d);
  }
  return s + std::string(data_bytes, static_cast<char>(fill));
}

std::string Labels(std::vector<uint8_t> labels) {
  std::string s = Idx(1, {static_cast<uint32_t>(labels.size())}, 0);
  for (uint8_t l : labels) s += static_cast<char>(l);
  return s;
}

std::string Pgm(int w, int h, uint8_t start, const char* magic = "P5", int channels = 1) {
  std::string s = std::string(magic) + "\n# comment\n" + std::to_string(w) + " " +
                  std::to_string(h) + "\n255\n";
  for (int idx = 0; idx < w * h * channels; ++idx) s += static_cast<char>(start + idx);
  return s;
}

std::string ErrorOf(const std::string& path) {
  auto info = Inspect(path, {});
  if (info.ok()) return "ok";
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  return info.status().message();
}

TEST(IdxTest, InspectsAndLoadsFashionMnistTestSplit) {
  TempDir dir;
  std::string tar = testdata::WriteFashionMnistArchive(dir.path(), 0, true);  // .gz entries
  auto info = Inspect(tar, {});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->format, Format::kIdx);
  EXPECT_EQ(info->rows, 10000);
  EXPECT_EQ(info->target, "label");
  EXPECT_EQ(info->task, "classification");
  json stats = json::parse(info->stats_json);
  EXPECT_EQ(stats["height"], 28);
  EXPECT_EQ(stats["class_counts"]["0"], 1000);
  EXPECT_EQ(stats["class_counts"]["9"], 1000);

  auto images = LoadImages(tar, {});
  ASSERT_TRUE(images.ok()) << images.status().ToString();
  EXPECT_EQ(images->count, 10000);
  EXPECT_EQ(images->channels, 1);
  EXPECT_EQ(images->pixels.size(), 10000u * 28 * 28);
  EXPECT_EQ(images->labels[0], 9);  // ankle boot
  EXPECT_EQ(images->classes.size(), 10u);
  EXPECT_EQ(images->classes[3], "3");
  std::string raw = testdata::GunzipFile(std::string(testdata::kFashionDir) +
                                         "/t10k-images-idx3-ubyte.gz");
  EXPECT_EQ(std::string(images->pixels.begin(), images->pixels.begin() + 784), raw.substr(16, 784));

  auto preview = PreviewJson(tar, {}, 2);
  ASSERT_TRUE(preview.ok());
  EXPECT_EQ(json::parse(*preview)[0], json({{"label", "9"}, {"width", 28}, {"height", 28}}));
}

TEST(IdxTest, ReadsZipsTarGzAndClassesTxt) {
  TempDir dir;
  std::string tar = testdata::WriteFashionMnistArchive(dir.path(), 500, false);
  auto images = LoadImages(tar, {});
  ASSERT_TRUE(images.ok()) << images.status().ToString();
  EXPECT_EQ(images->count, 500);

  std::vector<Entry> entries = {{"data/imgs.bin", Idx(3, {3, 2, 2}, 12)},
                                {"data/lbls.bin", Labels({0, 2, 1})},
                                {"data/classes.txt", "cat\ndog\nbird\n"},
                                {"README.md", "hello"}};
  for (const char* kind : {"zip", "tar.gz"}) {
    std::string path = WriteArchive(dir.File(std::string("small.") + kind), kind, entries);
    auto loaded = LoadImages(path, {});
    ASSERT_TRUE(loaded.ok()) << kind << ": " << loaded.status().ToString();
    EXPECT_EQ(loaded->count, 3);
    EXPECT_THAT(loaded->classes, testing::ElementsAre("cat", "dog", "bird"));
    EXPECT_THAT(loaded->labels, testing::ElementsAre(0, 2, 1));
  }
}

TEST(IdxTest, ReportsBrokenSets) {
  TempDir dir;
  std::string truncated = WriteArchive(
      dir.File("t.tar"), "tar",
      {{"train-images-idx3-ubyte", Idx(3, {60000, 28, 28}, 1000)},
       {"train-labels-idx1-ubyte", Labels(std::vector<uint8_t>(60000, 1))}});
  EXPECT_EQ(ErrorOf(truncated),
            "entry 'train-images-idx3-ubyte': expected 47040000 bytes of pixels, found 1000");
  std::string mismatch = WriteArchive(dir.File("m.zip"), "zip",
                                      {{"i", Idx(3, {3, 2, 2}, 12)}, {"l", Labels({0, 1})}});
  EXPECT_EQ(ErrorOf(mismatch), "IDX images file 'i' has 3 images but labels file 'l' has 2 labels");
  std::string no_labels = WriteArchive(dir.File("n.zip"), "zip", {{"i", Idx(3, {3, 2, 2}, 12)}});
  EXPECT_THAT(ErrorOf(no_labels), testing::HasSubstr("no IDX labels file"));
  std::string two = WriteArchive(dir.File("two.zip"), "zip",
                                 {{"a", Idx(3, {1, 1, 1}, 1)}, {"b", Idx(3, {1, 1, 1}, 1)},
                                  {"l", Labels({0})}});
  EXPECT_THAT(ErrorOf(two), testing::HasSubstr("two IDX images files ('a' and 'b')"));
  std::string bad_class = WriteArchive(dir.File("c.zip"), "zip",
                                       {{"i", Idx(3, {2, 1, 1}, 2)}, {"l", Labels({0, 5})},
                                        {"classes.txt", "a\nb\n"}});
  EXPECT_EQ(ErrorOf(bad_class),
            "labels file 'l': label 5 (item 2) is out of range: classes.txt names 2 classes");
  std::string floats = WriteArchive(dir.File("f.zip"), "zip",
                                    {{"f", std::string("\0\0\x0d\x03", 4) + "xxxx"}});
  EXPECT_THAT(ErrorOf(floats), testing::HasSubstr("IDX magic 0x00000d03 is not supported"));
}

TEST(IdxTest, RejectsALoneIdxFile) {
  TempDir dir;
  std::string raw = testdata::WriteFileBytes(dir.File("images"), Idx(3, {1, 2, 2}, 4));
  EXPECT_THAT(ErrorOf(raw), testing::HasSubstr("upload a zip or tar archive"));
  std::string gz = testdata::WriteFileBytes(dir.File("images.gz"), testdata::Gzip(Idx(1, {1}, 1)));
  EXPECT_THAT(ErrorOf(gz), testing::HasSubstr("holding both the IDX images file and the IDX labels"));
}

TEST(ImageFolderTest, LoadsClassFolders) {
  TempDir dir;
  std::string path = WriteArchive(dir.File("f.zip"), "zip",
                                  {{"dogs/1.pgm", Pgm(3, 2, 10)},
                                   {"cats/a.pgm", Pgm(3, 2, 20)},
                                   {"cats/b.pgm", Pgm(3, 2, 30)},
                                   {"__MACOSX/cats/._a.pgm", "junk"},
                                   {"cats/.DS_Store", "junk"}});
  auto info = Inspect(path, {});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->format, Format::kImageFolder);
  EXPECT_EQ(info->rows, 3);
  EXPECT_EQ(json::parse(info->stats_json)["class_counts"], json({{"cats", 2}, {"dogs", 1}}));
  auto images = LoadImages(path, {});
  ASSERT_TRUE(images.ok()) << images.status().ToString();
  EXPECT_THAT(images->classes, testing::ElementsAre("cats", "dogs"));
  EXPECT_THAT(images->labels, testing::ElementsAre(1, 0, 0));
  EXPECT_EQ(images->width, 3);
  EXPECT_EQ(images->height, 2);
  ASSERT_EQ(images->pixels.size(), 18u);
  EXPECT_EQ(images->pixels[0], 10);
  EXPECT_EQ(images->pixels[6], 20);
}

TEST(ImageFolderTest, ConvertsPpmToPlanarChannels) {
  TempDir dir;
  std::string path = WriteArchive(dir.File("rgb.tar"), "tar",
                                  {{"root/red/1.ppm", Pgm(2, 1, 0, "P6", 3)},
                                   {"root/blue/1.ppm", Pgm(2, 1, 100, "P6", 3)}});
  auto images = LoadImages(path, {});
  ASSERT_TRUE(images.ok()) << images.status().ToString();
  EXPECT_EQ(images->channels, 3);
  EXPECT_THAT(images->classes, testing::ElementsAre("blue", "red"));
  // Pixels RGB(0,1,2) RGB(3,4,5) -> planes R: 0 3, G: 1 4, B: 2 5.
  EXPECT_THAT(std::vector<int>(images->pixels.begin(), images->pixels.begin() + 6),
              testing::ElementsAre(0, 3, 1, 4, 2, 5));
}

TEST(ImageFolderTest, ReportsUnsupportedAndInconsistentImages) {
  TempDir dir;
  std::string png = WriteArchive(dir.File("p.zip"), "zip",
                                 {{"cat/0.pgm", Pgm(2, 2, 0)}, {"cat/1.png", "\x89PNG\r\n\x1a\n...."}});
  EXPECT_EQ(ErrorOf(png), "zip entry 'cat/1.png': PNG is not supported; convert to PGM/PPM");
  std::string jpeg = WriteArchive(dir.File("j.tar"), "tar", {{"cat/1.jpg", "\xff\xd8\xff\xe0...."}});
  EXPECT_EQ(ErrorOf(jpeg), "tar entry 'cat/1.jpg': JPEG is not supported; convert to PGM/PPM");
  std::string sizes = WriteArchive(dir.File("s.zip"), "zip",
                                   {{"cat/0.pgm", Pgm(2, 2, 0)}, {"dog/1.pgm", Pgm(3, 2, 0)}});
  EXPECT_EQ(ErrorOf(sizes),
            "entry 'dog/1.pgm': image is 3x2x1 (width x height x channels) but 'cat/0.pgm' is "
            "2x2x1; all images must have the same size and channels (resizing is not supported)");
  std::string root = WriteArchive(dir.File("r.zip"), "zip", {{"0.pgm", Pgm(2, 2, 0)}});
  EXPECT_THAT(ErrorOf(root), testing::HasSubstr("images must be inside a class folder"));
  std::string cut = Pgm(4, 4, 0);
  cut.resize(cut.size() - 6);
  std::string truncated = WriteArchive(dir.File("t.zip"), "zip", {{"cat/0.pgm", cut}});
  EXPECT_EQ(ErrorOf(truncated), "entry 'cat/0.pgm': expected 16 bytes of pixels, found 10");
  std::string deep = WriteArchive(dir.File("d.zip"), "zip",
                                  {{"cat/0.pgm", "P5\n2 2\n65535\nxxxxxxxx"}});
  EXPECT_THAT(ErrorOf(deep), testing::HasSubstr("maxval 65535 is not supported"));
}

}  // namespace
}  // namespace sskai::data
