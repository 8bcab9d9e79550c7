#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "data/data.h"
#include "data/testdata.h"

namespace sskai::data {
namespace {

using nlohmann::json;
using testdata::TempDir;
using testdata::WriteFileBytes;

Result<DatasetInfo> InspectText(const TempDir& dir, const std::string& text,
                                const std::string& target = "") {
  InspectOptions options;
  options.target = target;
  return Inspect(WriteFileBytes(dir.File("d.csv"), text), options);
}

std::string ErrorOf(const TempDir& dir, const std::string& text, const std::string& target = "") {
  auto info = InspectText(dir, text, target);
  if (info.ok()) return "ok";
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  return info.status().message();
}

json ColumnStats(const DatasetInfo& info, const std::string& name) {
  json stats = json::parse(info.stats_json);
  for (const json& c : stats["columns"]) {
    if (c["name"] == name) return c;
  }
  return json();
}

TEST(CsvTest, InspectsIris) {
  TempDir dir;
  auto info = Inspect(testdata::WriteSklearnCsv("iris", dir.path()), {});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->format, Format::kCsv);
  EXPECT_EQ(info->rows, 150);
  EXPECT_EQ(info->target, "target");
  EXPECT_EQ(info->task, "classification");
  json schema = json::parse(info->schema_json);
  ASSERT_EQ(schema["columns"].size(), 5u);
  EXPECT_EQ(schema["columns"][0]["name"], "sepal_length");
  EXPECT_EQ(schema["columns"][0]["type"], "number");
  EXPECT_EQ(schema["columns"][4]["type"], "integer");
  json stats = json::parse(info->stats_json);
  EXPECT_EQ(stats["class_counts"], json({{"0", 50}, {"1", 50}, {"2", 50}}));
  json sepal = ColumnStats(*info, "sepal_length");
  EXPECT_DOUBLE_EQ(sepal["min"].get<double>(), 4.3);
  EXPECT_DOUBLE_EQ(sepal["max"].get<double>(), 7.9);
  EXPECT_NEAR(sepal["mean"].get<double>(), 5.8433, 1e-4);
  EXPECT_NEAR(sepal["std"].get<double>(), 0.8253, 1e-4);  // population std
}

TEST(CsvTest, InspectsWineBreastCancerAndDigits) {
  TempDir dir;
  struct Case { const char* name; int64_t rows; size_t columns; size_t classes; };
  for (const Case& c : {Case{"wine", 178, 14, 3}, Case{"breast_cancer", 569, 31, 2},
                        Case{"digits", 1797, 65, 10}}) {
    auto info = Inspect(testdata::WriteSklearnCsv(c.name, dir.path()), {});
    ASSERT_TRUE(info.ok()) << c.name << ": " << info.status().ToString();
    EXPECT_EQ(info->rows, c.rows) << c.name;
    EXPECT_EQ(info->task, "classification") << c.name;
    EXPECT_EQ(json::parse(info->schema_json)["columns"].size(), c.columns) << c.name;
    EXPECT_EQ(json::parse(info->stats_json)["class_counts"].size(), c.classes) << c.name;
  }
}

TEST(CsvTest, InspectsGzippedCsv) {
  TempDir dir;
  std::string csv = testdata::ReadFileBytes(testdata::WriteSklearnCsv("iris", dir.path()));
  std::string gz = WriteFileBytes(dir.File("iris.csv.gz"), testdata::Gzip(csv));
  auto info = Inspect(gz, {});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->format, Format::kCsv);
  EXPECT_EQ(info->rows, 150);
  EXPECT_EQ(info->task, "classification");
}

TEST(CsvTest, InfersTypesMissingValuesAndTasks) {
  TempDir dir;
  auto info = InspectText(dir,
                          "i,x,b,s,y\n"
                          "1,1.5,true,red,0.5\n"
                          "2,,False,NA,1.5\n"
                          "NaN,2.5,?,blue,2.25\n"
                          "4,null,TRUE,red,3\n");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  json schema = json::parse(info->schema_json);
  std::vector<std::string> types;
  std::vector<int> missing;
  for (const json& c : schema["columns"]) {
    types.push_back(c["type"]);
    missing.push_back(c["missing"]);
  }
  EXPECT_THAT(types, testing::ElementsAre("integer", "number", "boolean", "string", "number"));
  EXPECT_THAT(missing, testing::ElementsAre(1, 2, 1, 1, 0));
  EXPECT_EQ(info->task, "regression");
  json s = ColumnStats(*info, "s");
  EXPECT_EQ(s["distinct"], 2);
  EXPECT_EQ(s["top"][0], json({{"value", "red"}, {"count", 2}}));
  json i = ColumnStats(*info, "i");
  EXPECT_DOUBLE_EQ(i["mean"].get<double>(), 7.0 / 3);
}

TEST(CsvTest, InfersClassificationOnlyForFewDistinctIntegers) {
  TempDir dir;
  std::string few = "x,y\n", many = "x,y\n", strings = "x,y\n", bools = "x,y\n";
  for (int idx = 0; idx < 100; ++idx) {
    few += std::to_string(idx) + "," + std::to_string(idx % 3) + "\n";
    many += std::to_string(idx) + "," + std::to_string(idx) + "\n";
    strings += std::to_string(idx) + "," + (idx % 2 ? "cat" : "dog") + "\n";
    bools += std::to_string(idx) + "," + (idx % 2 ? "true" : "false") + "\n";
  }
  EXPECT_EQ(InspectText(dir, few)->task, "classification");
  EXPECT_EQ(InspectText(dir, many)->task, "regression");
  EXPECT_EQ(InspectText(dir, strings)->task, "classification");
  EXPECT_EQ(InspectText(dir, bools)->task, "classification");
  // Classes sort numerically.
  auto info = InspectText(dir, "x,y\n1,10\n2,9\n3,100\n4,10\n5,9\n6,100\n7,9\n");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(nlohmann::ordered_json::parse(info->stats_json)["class_counts"].dump(),
            R"({"9":3,"10":2,"100":2})");
}

TEST(CsvTest, HonoursTargetOption) {
  TempDir dir;
  auto info = InspectText(dir, "a,b,c\nx,1,2\ny,3,4\nx,5,6\n", "a");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->target, "a");
  EXPECT_EQ(info->task, "classification");
  EXPECT_EQ(ErrorOf(dir, "a,b,c\n1,2,3\n", "x"),
            "target column 'x' does not exist; columns are: a, b, c");
}

TEST(CsvTest, ParsesQuotesCrlfAndOtherSeparators) {
  TempDir dir;
  std::string path = WriteFileBytes(
      dir.File("q.csv"),
      "name,quote,n\r\n\"Smith, J\",\"He said \"\"hi\"\"\",1\r\n\"multi\nline\",,2\r\n");
  auto preview = PreviewJson(path, {}, 10);
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  json rows = json::parse(*preview);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["name"], "Smith, J");
  EXPECT_EQ(rows[0]["quote"], "He said \"hi\"");
  EXPECT_EQ(rows[1]["name"], "multi\nline");
  EXPECT_EQ(rows[1]["n"], "2");

  auto semi = InspectText(dir, "a;b;c\n1,5;2;x\n3;4;y\n4;4;x\n");
  ASSERT_TRUE(semi.ok()) << semi.status().ToString();
  EXPECT_EQ(json::parse(semi->schema_json)["separator"], ";");
  EXPECT_EQ(json::parse(semi->schema_json)["columns"][0]["type"], "string");
  auto tab = InspectText(dir, "a\tb\n1\t2\n3\t4\n");
  ASSERT_TRUE(tab.ok()) << tab.status().ToString();
  EXPECT_EQ(json::parse(tab->schema_json)["columns"].size(), 2u);
}

TEST(CsvTest, PreviewStopsAtLimit) {
  TempDir dir;
  auto preview = PreviewJson(testdata::WriteSklearnCsv("iris", dir.path()), {}, 3);
  ASSERT_TRUE(preview.ok());
  json rows = json::parse(*preview);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], json({{"sepal_length", "5.1"}, {"sepal_width", "3.5"},
                           {"petal_length", "1.4"}, {"petal_width", "0.2"}, {"target", "0"}}));
}

TEST(CsvTest, ReportsErrorsWithLineAndColumn) {
  TempDir dir;
  EXPECT_EQ(ErrorOf(dir, ""), "file is empty");
  EXPECT_EQ(ErrorOf(dir, "\n\n"), "file is empty: expected a header row");
  EXPECT_EQ(ErrorOf(dir, "a,b,c\n"), "the file has a header but no data rows");
  EXPECT_EQ(ErrorOf(dir, "a,b,c,d,e\n1,2,3,4,5\n\n1,2,3,4,5\n\"x\ny\",2,3,4,5\n1,2,3,4\n"),
            "line 7: expected 5 fields, got 4");
  EXPECT_EQ(ErrorOf(dir, "a,b,a\n1,2,3\n"), "line 1: duplicate column name 'a' (columns 1 and 3)");
  EXPECT_EQ(ErrorOf(dir, "a,,c\n1,2,3\n"), "line 1: column 2 has an empty name");
  EXPECT_EQ(ErrorOf(dir, "a,b\n1,2\n3,\xff\xfe\n"), "line 3, column 2: invalid UTF-8");
  EXPECT_EQ(ErrorOf(dir, "a,b\n1,2\n3,4\n5,\"open\n6,7\n"),
            "line 4: unterminated quoted field (column 2)");
  EXPECT_EQ(ErrorOf(dir, "a,b\n1,\"x\"y\n"),
            "line 2, column 2: unexpected character after a closing quote");
  EXPECT_EQ(ErrorOf(dir, "a,b\n1,2\n3,NA\n"), "line 3: the target column 'b' has no value");
  EXPECT_THAT(ErrorOf(dir, "onlyone\n1\n"), testing::HasSubstr("at least one feature column"));
}

TEST(CsvTest, MissingFileIsNotFound) {
  auto info = Inspect("/nonexistent/sskai.csv", {});
  EXPECT_EQ(info.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sskai::data
