// `sskai tokenize` / `sskai detokenize` through the real binary: no server, no token.
#include <unistd.h>

#include "testdata.h"

namespace sskai::tokenizer {
namespace {

namespace fs = std::filesystem;
using testing::ReadAll;
using testing::WriteAll;

std::string Binary() {
  const char* bin = std::getenv("SSKAI_BINARY");
  return bin != nullptr ? bin : "";
}

TEST(TokenizeCliTest, TokenizeAndDetokenizeRoundTripLineByLine) {
  if (Binary().empty()) GTEST_SKIP() << "SSKAI_BINARY not set (run through ctest)";
  fs::path dir = fs::temp_directory_path() / ("sskai_tokcli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::vector<std::string> lines = {"Hello world", "", "It's 2024: naïve café — 世界 🎉", "  spaces  "};
  std::string input;
  for (const auto& l : lines) input += l + "\n";
  WriteAll(dir / "in.txt", input);
  // No server is running and SSKAI_SERVER points nowhere: the verbs must not care.
  std::string env = "env SSKAI_SERVER=http://127.0.0.1:1 SSKAI_TOKEN= ";
  std::string cmd = env + Binary() + " tokenize " + testing::Gpt2Dir() + " --file " + (dir / "in.txt").string() +
                    " > " + (dir / "ids.txt").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto tok = LoadTokenizer(testing::Gpt2Dir());
  ASSERT_TRUE(tok.ok());
  std::string expected;
  for (const auto& l : lines) {
    auto ids = (*tok)->Encode(l, false);
    for (size_t idx = 0; idx < ids->size(); ++idx) expected += (idx ? " " : "") + std::to_string((*ids)[idx]);
    expected += "\n";
  }
  EXPECT_EQ(ReadAll(dir / "ids.txt"), expected);
  EXPECT_EQ(ReadAll(dir / "ids.txt").substr(0, 10), "15496 995\n");

  cmd = env + Binary() + " detokenize " + testing::Gpt2Dir() + "/encoder.json < " + (dir / "ids.txt").string() +
        " > " + (dir / "text.txt").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_EQ(ReadAll(dir / "text.txt"), input);

  // Bad input: a clear error naming the line, non-zero exit.
  WriteAll(dir / "bad.txt", "15496\n12 x3\n");
  cmd = Binary() + " detokenize " + testing::Gpt2Dir() + " --file " + (dir / "bad.txt").string() + " > /dev/null 2> " +
        (dir / "err.txt").string();
  EXPECT_NE(std::system(cmd.c_str()), 0);
  EXPECT_NE(ReadAll(dir / "err.txt").find("line 2: 'x3' is not a token id"), std::string::npos)
      << ReadAll(dir / "err.txt");
  cmd = Binary() + " tokenize /nonexistent < /dev/null 2> " + (dir / "err.txt").string();
  EXPECT_NE(std::system(cmd.c_str()), 0);
  EXPECT_NE(ReadAll(dir / "err.txt").find("no such file"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sskai::tokenizer
