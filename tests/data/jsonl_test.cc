#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/data.h"
#include "data/testdata.h"

namespace sskai::data {
namespace {

using nlohmann::json;
using testdata::TempDir;
using testdata::WriteFileBytes;

Result<DatasetInfo> InspectJsonl(const TempDir& dir, const std::string& text) {
  return Inspect(WriteFileBytes(dir.File("d.jsonl"), text), {});
}

std::string ErrorOf(const TempDir& dir, const std::string& text) {
  auto info = InspectJsonl(dir, text);
  if (info.ok()) return "ok";
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  return info.status().message();
}

TEST(JsonlTest, InspectsTextRecords) {
  TempDir dir;
  auto info = InspectJsonl(dir, "{\"text\":\"hello\"}\n\n{\"text\":\"h\xc3\xa9\"}\r\n{\"text\":\"\"}");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->format, Format::kJsonl);
  EXPECT_EQ(info->rows, 3);
  EXPECT_EQ(info->task, "");
  json stats = json::parse(info->stats_json);
  EXPECT_EQ(stats["kind"], "text");
  EXPECT_EQ(stats["characters"]["total"], 7);  // "hé" is 2 characters
  EXPECT_EQ(stats["characters"]["max"], 5);
  EXPECT_EQ(json::parse(info->schema_json)["kind"], "text");
}

TEST(JsonlTest, InspectsPromptCompletionAndChat) {
  TempDir dir;
  auto pc = InspectJsonl(dir, "{\"prompt\":\"2+2=\",\"completion\":\"4\"}\n"
                              "{\"prompt\":\"a\",\"completion\":\"b\",\"extra\":1}\n");
  ASSERT_TRUE(pc.ok()) << pc.status().ToString();
  EXPECT_EQ(json::parse(pc->stats_json)["kind"], "prompt_completion");
  EXPECT_EQ(json::parse(pc->stats_json)["characters"]["total"], 7);

  auto chat = InspectJsonl(
      dir,
      R"({"messages":[{"role":"system","content":"be nice"},{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]})"
      "\n"
      R"({"messages":[{"role":"user","content":"q"},{"role":"tool","content":"r"}]})"
      "\n");
  ASSERT_TRUE(chat.ok()) << chat.status().ToString();
  json stats = json::parse(chat->stats_json);
  EXPECT_EQ(stats["kind"], "chat");
  EXPECT_EQ(stats["records"], 2);
  EXPECT_EQ(stats["messages"]["total"], 5);
  EXPECT_EQ(stats["messages"]["max"], 3);
  EXPECT_EQ(stats["messages"]["roles"]["user"], 2);
}

TEST(JsonlTest, InspectsGzippedJsonl) {
  TempDir dir;
  std::string text;
  for (int idx = 0; idx < 1000; ++idx) text += "{\"text\":\"line " + std::to_string(idx) + "\"}\n";
  auto info = Inspect(WriteFileBytes(dir.File("t.jsonl.gz"), testdata::Gzip(text)), {});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->rows, 1000);
}

TEST(JsonlTest, ReportsErrorsWithLines) {
  TempDir dir;
  std::string pc = "{\"prompt\":\"a\",\"completion\":\"b\"}\n";
  EXPECT_EQ(ErrorOf(dir, pc + pc + pc + pc + pc + pc + pc + "\n{\"text\":\"x\"}\n"),
            "line 9: expected 'prompt'/'completion' like line 1, got 'text'");
  std::string error = ErrorOf(dir, pc + pc + pc + "{\"prompt\": \"a\",\n");
  EXPECT_THAT(error, testing::StartsWith("line 4: invalid JSON: parse error at line 1"));
  EXPECT_EQ(ErrorOf(dir, "{\"text\":\"a\"}\n[1,2]\n"), "line 2: expected a JSON object, got array");
  EXPECT_EQ(ErrorOf(dir, "{\"foo\":1}\n"),
            "line 1: expected a 'text', 'prompt'/'completion' or 'messages' field");
  EXPECT_EQ(ErrorOf(dir, "{\"prompt\":\"a\"}\n"), "line 1: missing field 'completion'");
  EXPECT_EQ(ErrorOf(dir, "{\"text\":5}\n"), "line 1: field 'text' must be a string, got number");
  EXPECT_EQ(ErrorOf(dir, R"({"messages":[{"role":"user","content":"x"},{"role":"bot","content":"y"}]})"),
            "line 1, message 2: role 'bot' is not one of system, user, assistant, tool");
  EXPECT_EQ(ErrorOf(dir, R"({"messages":[]})"), "line 1: 'messages' must be a non-empty array");
  EXPECT_THAT(ErrorOf(dir, "{\"text\":\"\xff\"}\n"), testing::StartsWith("line 1: invalid JSON"));
  EXPECT_EQ(ErrorOf(dir, "{\"text\":\"a\"}\n"), "ok");
}

TEST(JsonlTest, PreviewReturnsTheObjects) {
  TempDir dir;
  std::string path = WriteFileBytes(dir.File("p.jsonl"),
                                    "{\"text\":\"a\"}\n{\"text\":\"b\"}\n{\"text\":\"c\"}\nbroken\n");
  auto preview = PreviewJson(path, {}, 2);
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  EXPECT_EQ(json::parse(*preview), json::parse(R"([{"text":"a"},{"text":"b"}])"));
}

}  // namespace
}  // namespace sskai::data
