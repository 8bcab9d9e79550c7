#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "data/data.h"
#include "data/testdata.h"

namespace sskai::data {
namespace {

using testdata::TempDir;
using testdata::WriteFileBytes;

TEST(LoadTabularTest, LoadsIrisStandardized) {
  TempDir dir;
  std::string path = testdata::WriteSklearnCsv("iris", dir.path());
  auto data = LoadTabular(path, {}, "");
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->rows, 150);
  EXPECT_EQ(data->features, 4);
  ASSERT_EQ(data->x.size(), 600u);
  ASSERT_EQ(data->y.size(), 150u);
  EXPECT_THAT(data->classes, testing::ElementsAre("0", "1", "2"));
  EXPECT_EQ(data->y[0], 0);
  EXPECT_EQ(data->y[149], 2);
  for (int f = 0; f < 4; ++f) {
    double sum = 0, sq = 0;
    for (int r = 0; r < 150; ++r) {
      sum += data->x[r * 4 + f];
      sq += data->x[r * 4 + f] * data->x[r * 4 + f];
    }
    EXPECT_NEAR(sum / 150, 0, 1e-5) << f;
    EXPECT_NEAR(sq / 150, 1, 1e-4) << f;
  }
  // The encoder turns the first row into the same features at serving time.
  auto enc = TabularEncoder::FromJson(data->encoder_json);
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  EXPECT_EQ(enc->features(), 4);
  int64_t n = 0;
  auto x = enc->EncodeRowsJson(
      R"([{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}])", &n);
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  for (int f = 0; f < 4; ++f) EXPECT_NEAR((*x)[f], data->x[f], 1e-6);
}

TEST(LoadTabularTest, LoadsGzippedDigits) {
  TempDir dir;
  std::string csv = testdata::ReadFileBytes(testdata::WriteSklearnCsv("digits", dir.path()));
  std::string path = WriteFileBytes(dir.File("digits.csv.gz"), testdata::Gzip(csv));
  auto data = LoadTabular(path, {}, "");
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->rows, 1797);
  EXPECT_EQ(data->features, 64);
  EXPECT_EQ(data->classes.size(), 10u);
}

TEST(LoadTabularTest, EncodesStringsBooleansAndMissingValues) {
  TempDir dir;
  std::string path = WriteFileBytes(dir.File("m.csv"),
                                    "num,flag,color,y\n"
                                    "1,true,red,1.5\n"
                                    "NA,false,blue,2.5\n"
                                    "3,,red,-1\n"
                                    "5,true,,0\n");
  auto data = LoadTabular(path, {}, "");
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_TRUE(data->classes.empty());  // regression
  // num (1) + flag (1) + color {red, blue, ""} (3)
  ASSERT_EQ(data->features, 5);
  EXPECT_THAT(data->y, testing::ElementsAre(1.5, 2.5, -1, 0));
  // num: mean 3, population std sqrt(8/3); missing -> 0.
  float z = static_cast<float>(-2 / std::sqrt(8.0 / 3));
  EXPECT_THAT(std::vector<float>(data->x.begin(), data->x.begin() + 5),
              testing::ElementsAre(testing::FloatEq(z), 1, 1, 0, 0));
  EXPECT_THAT(std::vector<float>(data->x.begin() + 5, data->x.begin() + 10),
              testing::ElementsAre(0, 0, 0, 1, 0));
  EXPECT_THAT(std::vector<float>(data->x.begin() + 10, data->x.begin() + 15),
              testing::ElementsAre(testing::FloatEq(0), testing::FloatEq(2.0f / 3), 1, 0, 0));
  EXPECT_THAT(std::vector<float>(data->x.begin() + 15, data->x.begin() + 20),
              testing::ElementsAre(testing::FloatEq(-z), 1, 0, 0, 1));
}

TEST(LoadTabularTest, HonoursTaskAndTarget) {
  TempDir dir;
  std::string path = WriteFileBytes(dir.File("t.csv"),
                                    "label,v\nb,10\na,9\nb,100\na,10\nc,9\n");
  InspectOptions options;
  options.target = "label";
  auto data = LoadTabular(path, options, "");
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_THAT(data->classes, testing::ElementsAre("a", "b", "c"));
  EXPECT_THAT(data->y, testing::ElementsAre(1, 0, 1, 0, 2));

  // A numeric target forced to classification sorts its classes numerically.
  auto numeric = LoadTabular(path, {}, "classification");
  ASSERT_TRUE(numeric.ok()) << numeric.status().ToString();
  EXPECT_THAT(numeric->classes, testing::ElementsAre("9", "10", "100"));
  EXPECT_THAT(numeric->y, testing::ElementsAre(1, 0, 2, 1, 0));

  auto regression = LoadTabular(path, options, "regression");
  EXPECT_EQ(regression.status().message(),
            "target 'label' is a string column; regression needs a numeric target");
  EXPECT_THAT(LoadTabular(path, {}, "clustering").status().message(),
              testing::HasSubstr("unknown task 'clustering'"));
  std::string one = WriteFileBytes(dir.File("one.csv"), "x,y\n1,a\n2,a\n");
  EXPECT_THAT(LoadTabular(one, {}, "").status().message(),
              testing::HasSubstr("has only one class ('a')"));
}

TEST(LoadTabularTest, RejectsNonCsvAndLoadImagesRejectsCsv) {
  TempDir dir;
  std::string jsonl = WriteFileBytes(dir.File("t.jsonl"), "{\"text\":\"a\"}\n");
  EXPECT_EQ(LoadTabular(jsonl, {}, "").status().message(),
            "tabular training needs a CSV dataset, got jsonl");
  std::string csv = WriteFileBytes(dir.File("t.csv"), "a,b\n1,2\n");
  EXPECT_EQ(LoadImages(csv, {}).status().message(),
            "image training needs an IDX or image-folder archive, got csv");
}

}  // namespace
}  // namespace sskai::data
