// The CLI's table and value formatting helpers.
#include <stdlib.h>
#include <time.h>

#include <gtest/gtest.h>

#include <iostream>
#include <regex>
#include <sstream>
#include <string>

#include "cli/client.h"

namespace sskai::cli {
namespace {

// Captures std::cout for the lifetime of the object.
class CaptureCout {
 public:
  CaptureCout() : old_(std::cout.rdbuf(out_.rdbuf())) {}
  ~CaptureCout() { std::cout.rdbuf(old_); }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::streambuf* old_;
};

std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows) {
  CaptureCout capture;
  PrintTable(header, rows);
  return capture.str();
}

TEST(PrintTableTest, AlignsColumnsToTheWidestCellPlusTwoSpaces) {
  EXPECT_EQ(Table({"ID", "NAME", "STATE"}, {{"1", "alpha", "running"}, {"22", "b", "queued"}}),
            "ID  NAME   STATE\n"
            "1   alpha  running\n"
            "22  b      queued\n");
}

TEST(PrintTableTest, WideHeaderSetsTheWidth) {
  EXPECT_EQ(Table({"IDENTIFIER", "X"}, {{"7", "y"}}),
            "IDENTIFIER  X\n"
            "7           y\n");
}

TEST(PrintTableTest, TrimsTrailingSpacesAndPadsShortRows) {
  EXPECT_EQ(Table({"A", "B", "C"}, {{"x", "", ""}, {"yy"}}),
            "A   B  C\n"
            "x\n"
            "yy\n");
  EXPECT_EQ(Table({"A", "B", "C"}, {{"", "", "z"}}),
            "A  B  C\n"
            "      z\n");
}

TEST(PrintTableTest, ExtraCellsBeyondTheHeaderAreDropped) {
  EXPECT_EQ(Table({"A"}, {{"1", "extra"}}), "A\n1\n");
}

TEST(PrintTableTest, EmptyTableSaysNone) {
  EXPECT_EQ(Table({"ID", "NAME"}, {}), "ID  NAME\n(none)\n");
}

TEST(CellTest, RendersScalarsCompactly) {
  EXPECT_EQ(Cell(nullptr), "-");
  EXPECT_EQ(Cell(json()), "-");
  EXPECT_EQ(Cell("plain text"), "plain text");  // no quotes
  EXPECT_EQ(Cell(""), "");
  EXPECT_EQ(Cell(42), "42");
  EXPECT_EQ(Cell(-7), "-7");
  EXPECT_EQ(Cell(true), "true");
  EXPECT_EQ(Cell(0.123456), "0.1235");
  EXPECT_EQ(Cell(2.5), "2.5");
  EXPECT_EQ(Cell(1234567.0), "1.235e+06");
  EXPECT_EQ(Cell(json::parse(R"({"a":1})")), R"({"a":1})");
  EXPECT_EQ(Cell(json::parse("[1,2]")), "[1,2]");
}

TEST(FormatBytesTest, UsesBinaryUnits) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1), "1 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1024), "1.0 KiB");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(5.0 * 1024 * 1024), "5.0 MiB");
  EXPECT_EQ(FormatBytes(3.25 * 1024 * 1024 * 1024), "3.2 GiB");  // %.1f rounds half to even
  EXPECT_EQ(FormatBytes(2.0 * 1024 * 1024 * 1024 * 1024), "2.0 TiB");
  // TiB is the largest unit.
  EXPECT_EQ(FormatBytes(1024.0 * 1024 * 1024 * 1024 * 1024), "1024.0 TiB");
}

TEST(FormatTimeTest, ZeroOrNegativeIsADash) {
  EXPECT_EQ(FormatTime(0), "-");
  EXPECT_EQ(FormatTime(-5), "-");
}

TEST(FormatTimeTest, FormatsLocalTime) {
  const char* old_tz = getenv("TZ");
  std::string saved = old_tz ? old_tz : "";
  setenv("TZ", "UTC", 1);
  tzset();
  EXPECT_EQ(FormatTime(1700000000), "2023-11-14 22:13:20");
  EXPECT_EQ(FormatTime(1700000000.9), "2023-11-14 22:13:20");  // truncated to the second
  if (old_tz) {
    setenv("TZ", saved.c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
  EXPECT_TRUE(std::regex_match(FormatTime(1), std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")));
}

TEST(UrlPartTest, EncodesReservedCharacters) {
  EXPECT_EQ(UrlPart("iris-v1.2_x~"), "iris-v1.2_x~");
  EXPECT_EQ(UrlPart("a b/c"), "a%20b%2Fc");
}

}  // namespace
}  // namespace sskai::cli
