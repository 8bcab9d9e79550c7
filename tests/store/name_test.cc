#include <gtest/gtest.h>

#include "store/store.h"

namespace sskai::store {
namespace {

struct NameCase {
  std::string name;
  bool ok;
  std::string message_part;  // expected in the error message
};

TEST(ValidateNameTest, Table) {
  const std::vector<NameCase> cases = {
      {"iris", true, ""},
      {"Iris_v2.csv", true, ""},
      {"a", true, ""},
      {"a-b.c_d", true, ""},
      {"x.", true, ""},
      {std::string(64, 'n'), true, ""},
      {"", false, "empty"},
      {std::string(65, 'n'), false, "longer than 64"},
      {"a/b", false, "contains '/'"},
      {"../etc/passwd", false, "'/'"},
      {"..", false, "must not start with '.'"},
      {".hidden", false, "must not start with '.'"},
      {"-rf", false, "must not start with '-'"},
      {"a..b", false, "'..'"},
      {"a\\b", false, "contains '\\'"},
      {"a b", false, "contains ' '"},
      {"a\nb", false, "control character"},
      {std::string("a\0b", 3), false, "control character"},
      {"caf\xc3\xa9", false, "non-ASCII"},
      {"%2e%2e", false, "contains '%'"},
      {"a:b", false, "contains ':'"},
  };
  for (const NameCase& c : cases) {
    Status status = ValidateName(c.name);
    EXPECT_EQ(status.ok(), c.ok) << "name: " << c.name;
    if (!c.ok) {
      EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.name;
      EXPECT_NE(status.message().find(c.message_part), std::string::npos)
          << "name: " << c.name << " message: " << status.message();
    }
  }
}

TEST(ValidateNameTest, MessageNamesTheProblem) {
  EXPECT_EQ(ValidateName("a/b").message().rfind("name 'a/b' contains '/'", 0), 0u)
      << ValidateName("a/b").message();
}

}  // namespace
}  // namespace sskai::store
