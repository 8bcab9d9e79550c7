// tests/ml/number_rows_test.cc — the strict numeric-rows reader (src/ml/number_rows.h): the bodies it
// takes give the numbers a JSON document parse gives (double, then float), and it declines every
// other body so the general path answers those.
#include "ml/number_rows.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

namespace sskai::ml {
namespace {

using nlohmann::json;

// The numbers of the rows as a JSON document parse reads them.
std::vector<float> Reference(const std::string& body) {
  json j = json::parse(body);
  if (j.is_object()) j = j.begin().value();
  std::vector<float> out;
  std::function<void(const json&)> flatten = [&](const json& v) {
    if (v.is_number()) {
      out.push_back(v.get<float>());
    } else {
      for (const auto& e : v) flatten(e);
    }
  };
  flatten(j);
  return out;
}

void ExpectTaken(const std::string& body, size_t width, int64_t want_rows) {
  SCOPED_TRACE(body.substr(0, 120));
  int64_t rows = -1;
  auto got = ParseNumberRows(body, width, &rows);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(rows, want_rows);
  EXPECT_EQ(*got, Reference(body));
}

void ExpectDeclined(const std::string& body, size_t width) {
  int64_t rows = -1;
  EXPECT_FALSE(ParseNumberRows(body, width, &rows).has_value()) << body;
}

TEST(NumberRowsTest, TakesRowsEnvelopesAndOneFlatRow) {
  ExpectTaken("[[1,2,3],[4,5,6]]", 3, 2);
  ExpectTaken(" {\"instances\": [[1, 2.5, -3e2]] } ", 3, 1);
  ExpectTaken("{\"inputs\":[[0,-0,1E-3],[7,8,9]]}", 3, 2);
  ExpectTaken("{\"rows\":[1,2,3]}", 3, 1);
  ExpectTaken("[0.1, 0.2, 0.30000000000000004]", 3, 1);
  ExpectTaken("[[[1,2],[3,4]],[[5,6],[7,8]]]", 4, 2);  // nested rows are flattened
  ExpectTaken("[[1,[2,[3]]]]", 3, 1);
  ExpectTaken("\n[\t[1\r,2]\n]\n", 2, 1);
  ExpectTaken("[[123456789012345, 3.4028234663852886e38, 1e-50]]", 3, 1);  // float rounding as the reference
}

TEST(NumberRowsTest, RandomRowsMatchTheDocumentParse) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> value(-1e6, 1e6);
  for (int round = 0; round < 50; ++round) {
    const size_t width = 1 + rng() % 40, rows = 1 + rng() % 5;
    json body = json::array();
    for (size_t r = 0; r < rows; ++r) {
      json row = json::array();
      for (size_t k = 0; k < width; ++k) {
        if (rng() % 3 == 0) {
          row.push_back(static_cast<int64_t>(value(rng)));
        } else {
          row.push_back(value(rng) / std::pow(10.0, static_cast<double>(rng() % 12)));
        }
      }
      body.push_back(row);
    }
    ExpectTaken(rng() % 2 ? body.dump() : json{{"instances", body}}.dump(), width, static_cast<int64_t>(rows));
  }
}

TEST(NumberRowsTest, DeclinesEverythingElse) {
  for (const char* body : {
           "", "[]", "[[]]", "{}", "{\"instances\":[]}", "[[1,2],[3]]", "[[1,2,3]]", "[1,2,3]", "[1]", "[[1,2],3]",
           "[[1,\"2\"]]", "[[1,null]]", "[[true,2]]", "[[1,2],]", "[[1,2]", "[[1,2]] x", "[[01,2]]", "[[1.,2]]",
           "[[.5,2]]", "[[+1,2]]", "[[1e,2]]", "[[NaN,2]]", "[[Infinity,2]]", "[[1e400,2]]",
           "[[1234567890123456,2]]", "{\"instances\":[[1,2]],\"x\":1}", "{\"other\":[[1,2]]}",
           "{\"inst\\u0061nces\":[[1,2]]}", "[[[[[[[[[[1,2]]]]]]]]]]", "[{\"a\":1,\"b\":2}]", "[[1 2]]"}) {
    ExpectDeclined(body, 2);
  }
  ExpectDeclined("[1,2,3]", 0);
}

}  // namespace
}  // namespace sskai::ml
