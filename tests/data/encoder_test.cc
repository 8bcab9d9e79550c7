#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data/data.h"

namespace sskai::data {
namespace {

TabularEncoder MakeEncoder() {
  TabularEncoder::Column age{.name = "age", .mean = 40, .stddev = 10, .type = "integer"};
  TabularEncoder::Column smoker{.name = "smoker", .mean = 0.25, .stddev = 1, .type = "boolean"};
  TabularEncoder::Column color{.name = "color", .numeric = false,
                               .categories = {"red", "blue", ""}, .type = "string"};
  auto enc = TabularEncoder::Create({age, smoker, color}, {"no", "yes"}, "classification", "label");
  EXPECT_TRUE(enc.ok()) << enc.status().ToString();
  return *enc;
}

std::string ErrorOf(const TabularEncoder& enc, const std::string& rows) {
  int64_t n = 0;
  auto x = enc.EncodeRowsJson(rows, &n);
  if (x.ok()) return "ok";
  EXPECT_EQ(x.status().code(), StatusCode::kInvalidArgument);
  return x.status().message();
}

TEST(EncoderTest, RoundTripsThroughJson) {
  TabularEncoder enc = MakeEncoder();
  EXPECT_EQ(enc.features(), 5);
  auto back = TabularEncoder::FromJson(enc.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->features(), 5);
  EXPECT_EQ(back->task(), "classification");
  EXPECT_EQ(back->target(), "label");
  EXPECT_THAT(back->classes(), testing::ElementsAre("no", "yes"));
  EXPECT_THAT(back->columns(), testing::ElementsAre("age", "smoker", "color"));
  ASSERT_EQ(back->spec.size(), 3u);
  EXPECT_EQ(back->spec[0].mean, 40);
  EXPECT_TRUE(back->spec[1].numeric);
  EXPECT_FALSE(back->spec[2].numeric);
  EXPECT_THAT(back->spec[2].categories, testing::ElementsAre("red", "blue", ""));
  EXPECT_EQ(back->ToJson(), enc.ToJson());
}

TEST(EncoderTest, EncodesObjectsArraysAndBareObjects) {
  TabularEncoder enc = MakeEncoder();
  int64_t n = 0;
  auto x = enc.EncodeRowsJson(
      R"([{"age":50,"smoker":true,"color":"blue","label":"yes"},
          ["30", "false", "green"],
          {"age":null},
          [40, 1, null]])",
      &n);
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  EXPECT_EQ(n, 4);
  EXPECT_THAT(*x, testing::ElementsAre(1, 1, 0, 1, 0,       //
                                       -1, 0, 0, 0, 1,      // unknown color -> ""
                                       0, 0.25, 0, 0, 1,    // all missing
                                       0, 1, 0, 0, 1));
  auto one = enc.EncodeRowsJson(R"({"age":60,"smoker":false,"color":"red"})", &n);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(n, 1);
  EXPECT_THAT(*one, testing::ElementsAre(2, 0, 1, 0, 0));
  auto none = enc.EncodeRowsJson("[]", &n);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(n, 0);
}

TEST(EncoderTest, ReportsRowAndFieldErrors) {
  TabularEncoder enc = MakeEncoder();
  EXPECT_EQ(ErrorOf(enc, R"([{"foo":1}])"), "row 1: unknown field 'foo'");
  EXPECT_EQ(ErrorOf(enc, R"([{"age":1},{"age":"abc"}])"),
            "row 2, field 'age': expected a number, got \"abc\"");
  EXPECT_EQ(ErrorOf(enc, R"([[1,true,"red"],[1,true,"red"],[1,true]])"),
            "row 3: expected 3 values, got 2");
  EXPECT_EQ(ErrorOf(enc, R"([{"smoker":"maybe"}])"),
            "row 1, field 'smoker': expected a boolean, got \"maybe\"");
  EXPECT_EQ(ErrorOf(enc, R"([{"color":[1]}])"), "row 1, field 'color': expected a string, got [1]");
  EXPECT_EQ(ErrorOf(enc, R"([{"age":true}])"), "row 1, field 'age': expected a number, got true");
  EXPECT_EQ(ErrorOf(enc, R"([5])"), "row 1: expected an object or an array, got number");
  EXPECT_EQ(ErrorOf(enc, R"("x")"), "expected a JSON array of rows (objects or arrays) or one object");
  EXPECT_THAT(ErrorOf(enc, "[{"), testing::StartsWith("invalid JSON: parse error"));
}

TEST(EncoderTest, RejectsBadEncoderJson) {
  EXPECT_FALSE(TabularEncoder::FromJson("{").ok());
  EXPECT_FALSE(TabularEncoder::FromJson(R"({"version":1,"columns":[]})").ok());
  auto bad_task = TabularEncoder::FromJson(
      R"({"version":1,"task":"ranking","classes":[],"columns":[{"name":"a","type":"number","mean":0,"std":1}]})");
  EXPECT_THAT(bad_task.status().message(), testing::HasSubstr("unknown task 'ranking'"));
}

}  // namespace
}  // namespace sskai::data
