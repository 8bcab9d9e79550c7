// sentencepiece: models trained with spm_train (BPE and unigram) on a real corpus at test time;
// our Encode must equal spm_encode --output_format=id on every line, and decode round-trips.
#include <unistd.h>

#include "testdata.h"

namespace sskai::tokenizer {
namespace {

namespace fs = std::filesystem;
using testing::ReadAll;
using testing::WriteAll;

class SentencePieceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SentencePieceTest, MatchesSpmEncodeOnEveryLine) {
  const std::string type = GetParam();
  fs::path dir = fs::temp_directory_path() / ("sskai_spm_" + type + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // Corpus: the fortunes' lines (non-empty), the first 6,000 train, all are encoded.
  std::vector<std::string> lines;
  for (const std::string& fortune : testing::Fortunes()) {
    std::istringstream in(fortune);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.find_first_not_of(" \t") != std::string::npos) lines.push_back(line);
    }
  }
  ASSERT_GT(lines.size(), 20000u);
  std::string train, all;
  for (size_t idx = 0; idx < lines.size(); ++idx) {
    if (idx < 6000) train += lines[idx] + "\n";
    all += lines[idx] + "\n";
  }
  WriteAll(dir / "train.txt", train);
  WriteAll(dir / "all.txt", all);
  std::string prefix = (dir / "m").string();
  std::string cmd = "spm_train --input=" + (dir / "train.txt").string() + " --model_prefix=" + prefix +
                    " --vocab_size=800 --model_type=" + type +
                    " --character_coverage=1.0 --byte_fallback=true --minloglevel=2 > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  cmd = "spm_encode --model=" + prefix + ".model --output_format=id < " + (dir / "all.txt").string() + " > " +
        (dir / "ids.txt").string() + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  auto tok = LoadTokenizer(prefix + ".model");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->Kind(), "sentencepiece");
  EXPECT_EQ((*tok)->VocabSize(), 800u);
  std::istringstream ids_in(ReadAll(dir / "ids.txt"));
  std::string id_line;
  size_t mismatches = 0, continuations = 0;
  for (size_t idx = 0; idx < lines.size(); ++idx) {
    ASSERT_TRUE(std::getline(ids_in, id_line)) << "spm_encode gave fewer lines";
    std::vector<TokenId> expected;
    std::istringstream fields(id_line);
    TokenId id;
    while (fields >> id) expected.push_back(id);
    auto ids = (*tok)->Encode(lines[idx], false);
    ASSERT_TRUE(ids.ok());
    if (*ids != expected && ++mismatches <= 3) ADD_FAILURE() << "line " << idx << ": " << lines[idx];
    // Streaming decode gives the same text as Decode.
    StreamDecoder stream(**tok);
    std::string streamed;
    for (TokenId t : *ids) streamed += *stream.Push(t);
    streamed += stream.Flush();
    const std::string full = *(*tok)->Decode(*ids, true);
    EXPECT_EQ(streamed, full) << lines[idx];
    // A continuation (generated ids after a prompt) keeps its word-start space: the prompt's
    // text plus the streamed rest is the whole line's text.
    const size_t cut = ids->size() / 2;
    const std::string head = *(*tok)->Decode(std::span<const TokenId>(ids->data(), cut), true);
    if (cut > 0 && full.starts_with(head) && head.find("\xEF\xBF\xBD") == std::string::npos) {
      StreamDecoder rest(**tok, /*skip_special=*/true, /*at_start=*/false);
      std::string tail;
      for (size_t t = cut; t < ids->size(); ++t) tail += *rest.Push((*ids)[t]);
      tail += rest.Flush();
      EXPECT_EQ(head + tail, full) << lines[idx];
      ++continuations;
    }
  }
  EXPECT_GT(continuations, lines.size() / 2);
  EXPECT_EQ(mismatches, 0u);
  std::cout << "[spm " << type << "] " << lines.size() << " lines equal to spm_encode\n";
  EXPECT_EQ((*tok)->Encode("hi", true)->front(), *(*tok)->Special().bos);
  EXPECT_EQ((*tok)->Decode(std::vector<TokenId>{800}, false).status().code(), StatusCode::kInvalidArgument);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Models, SentencePieceTest, ::testing::Values("bpe", "unigram"));

TEST(SentencePieceLoadTest, MissingOrCorruptModel) {
  EXPECT_EQ(LoadTokenizer("/nonexistent/tokenizer.model").status().code(), StatusCode::kNotFound);
  fs::path bad = fs::temp_directory_path() / ("sskai_bad_" + std::to_string(::getpid()) + ".model");
  WriteAll(bad, "not a model");
  EXPECT_EQ(LoadTokenizer(bad.string()).status().code(), StatusCode::kInvalidArgument);
  fs::remove(bad);
}

}  // namespace
}  // namespace sskai::tokenizer
