// Hugging Face tokenizer.json: Llama-3's pre-tokenizer regex, added/special tokens, the
// post-processor, NFC, and clear errors for kinds we do not support.
#include <unistd.h>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "testdata.h"
#include "tokenizer/regex_split.h"
#include "tokenizer/text_util.h"

namespace sskai::tokenizer {
namespace {

using internal::RegexSplit;
using Pieces = std::vector<std::string>;

Pieces SplitWith(std::string_view pattern, std::string_view text) {
  auto split = RegexSplit::Create(pattern, false, RegexSplit::Behavior::kIsolated, false);
  EXPECT_TRUE(split.ok()) << split.status().ToString();
  std::vector<std::string_view> views;
  EXPECT_TRUE((*split)->Split(text, &views).ok());
  return Pieces(views.begin(), views.end());
}

TEST(Llama3RegexTest, DigitsGoInGroupsOfThree) {
  EXPECT_EQ(SplitWith(internal::kLlama3Pattern, "1234567 x"), (Pieces{"123", "456", "7", " x"}));
}

TEST(Llama3RegexTest, ContractionsAreCaseInsensitive) {
  EXPECT_EQ(SplitWith(internal::kLlama3Pattern, "I'M HE'LL we've"),
            (Pieces{"I", "'M", " HE", "'LL", " we", "'ve"}));
  // GPT-2's pattern is case-sensitive: "'M" is punctuation then a letter.
  EXPECT_EQ(SplitWith(internal::kGpt2Pattern, "I'M"), (Pieces{"I", "'", "M"}));
}

TEST(Llama3RegexTest, NewlinesAndSpaces) {
  EXPECT_EQ(SplitWith(internal::kLlama3Pattern, "a\n\nb"), (Pieces{"a", "\n\n", "b"}));
  EXPECT_EQ(SplitWith(internal::kLlama3Pattern, "x;\n\ny"), (Pieces{"x", ";\n\n", "y"}));
  EXPECT_EQ(SplitWith(internal::kLlama3Pattern, "hello   world  "), (Pieces{"hello", "  ", " world", "  "}));
  EXPECT_EQ(SplitWith(internal::kLlama3Pattern, "(été)"), (Pieces{"(été", ")"}));
  EXPECT_EQ(SplitWith(internal::kLlama3Pattern, "  \n  x"), (Pieces{"  \n", " ", " x"}));
}

TEST(QwenRegexTest, SplitsDigitsOneByOne) {
  // Qwen2's pattern differs from Llama-3's only in \p{N} (one digit per piece).
  constexpr std::string_view kQwen2Pattern =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  EXPECT_EQ(SplitWith(kQwen2Pattern, "x 2024"), (Pieces{"x", " ", "2", "0", "2", "4"}));
}

// A tiny byte-level vocabulary: the 256 byte tokens, a few merges, Llama-3-style added tokens.
std::string TinyTokenizerJson(bool nfc) {
  nlohmann::json vocab = nlohmann::json::object();
  const auto& chars = internal::ByteToChar();
  for (int b = 0; b < 256; ++b) {
    std::string s;
    internal::AppendUtf8(chars[b], &s);
    vocab[s] = b;
  }
  vocab["he"] = 256;
  vocab["ll"] = 257;
  vocab["hell"] = 258;
  vocab["hello"] = 259;
  vocab["Ġw"] = 260;
  vocab["Ġwo"] = 261;
  nlohmann::json merges = {"h e", "l l", "he ll", "hell o", "Ġ w", "Ġw o"};
  nlohmann::json added = nlohmann::json::array();
  auto add = [&](int id, const char* content, bool special) {
    added.push_back({{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", special}});
  };
  add(300, "<|begin_of_text|>", true);
  add(301, "<|end_of_text|>", true);
  add(302, "<|eot_id|>", true);
  add(303, "<|start_header_id|>", true);
  return nlohmann::json{
      {"added_tokens", added},
      {"normalizer", nfc ? nlohmann::json{{"type", "NFC"}} : nlohmann::json()},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", std::string(internal::kLlama3Pattern)}}},
           {"behavior", "Isolated"}, {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                    {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens", {{"<|begin_of_text|>", {{"id", "<|begin_of_text|>"}, {"ids", {300}}, {"tokens", {"<|begin_of_text|>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"ignore_merges", true}, {"vocab", vocab}, {"merges", merges}}}}
      .dump();
}

TEST(HfTokenizerJsonTest, MergesAddedTokensAndPostProcessor) {
  auto tok = LoadHfTokenizerJson(TinyTokenizerJson(false));
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->VocabSize(), 304u);
  EXPECT_EQ((*tok)->Special().bos, 300);
  EXPECT_EQ((*tok)->Special().eos, 301);
  auto ids = (*tok)->Encode("hello wo<|eot_id|>hell", true);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  EXPECT_EQ(*ids, (std::vector<TokenId>{300, 259, 261, 302, 258}));
  EXPECT_EQ(*(*tok)->Decode(*ids, false), "<|begin_of_text|>hello wo<|eot_id|>hell");
  EXPECT_EQ(*(*tok)->Decode(*ids, true), "hello wohell");
  EXPECT_EQ((*tok)->TokenToId("Ġwo"), 261);
  EXPECT_EQ(*(*tok)->IdToToken(261), "Ġwo");
  EXPECT_TRUE((*tok)->IsSpecial(302));
  EXPECT_FALSE((*tok)->IsSpecial(259));
  // An added token's text inside a word is still matched first.
  EXPECT_EQ(*(*tok)->Encode("he<|eot_id|>", false), (std::vector<TokenId>{256, 302}));
}

TEST(HfTokenizerJsonTest, ModelDirectoryAppliesTokenizerConfigSpecials) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("sskai_tokdir_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  testing::WriteAll(dir / "tokenizer.json", TinyTokenizerJson(false));
  testing::WriteAll(dir / "tokenizer_config.json",
                    R"({"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|eot_id|>"}, "pad_token": null})");
  auto tok = LoadTokenizer(dir.string());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->Special().bos, 300);
  EXPECT_EQ((*tok)->Special().eos, 302);
  EXPECT_FALSE((*tok)->Special().pad.has_value());
  fs::remove_all(dir);
}

TEST(HfTokenizerJsonTest, ConcurrentEncodesAgree) {
  auto tok = LoadHfTokenizerJson(TinyTokenizerJson(true));
  ASSERT_TRUE(tok.ok());
  const std::string text = "hello world<|eot_id|> héllo wo 12345\n\n";
  const auto expected = *(*tok)->Encode(text, true);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 500; ++round) {
        if (*(*tok)->Encode(text, true) != expected) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(HfTokenizerJsonTest, NfcNormalizerComposes) {
  auto nfc = LoadHfTokenizerJson(TinyTokenizerJson(true));
  auto raw = LoadHfTokenizerJson(TinyTokenizerJson(false));
  ASSERT_TRUE(nfc.ok() && raw.ok());
  // "e" + U+0301 (combining acute) composes to U+00E9 (two bytes instead of three).
  EXPECT_EQ((*nfc)->Encode("e\xCC\x81", false)->size(), 2u);
  EXPECT_EQ((*raw)->Encode("e\xCC\x81", false)->size(), 3u);
  EXPECT_EQ(*(*nfc)->Decode(*(*nfc)->Encode("e\xCC\x81", false), false), "\xC3\xA9");
}

TEST(HfTokenizerJsonTest, UnsupportedKindsAreClearErrors) {
  auto doc = nlohmann::json::parse(TinyTokenizerJson(false));
  doc["model"]["type"] = "WordPiece";
  auto wp = LoadHfTokenizerJson(doc.dump());
  EXPECT_EQ(wp.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wp.status().message().find("model.type 'WordPiece'"), std::string::npos);
  doc = nlohmann::json::parse(TinyTokenizerJson(false));
  doc["pre_tokenizer"] = {{"type", "Metaspace"}};
  EXPECT_NE(LoadHfTokenizerJson(doc.dump()).status().message().find("Metaspace"), std::string::npos);
  doc = nlohmann::json::parse(TinyTokenizerJson(false));
  doc["model"]["merges"].push_back("x yz");
  EXPECT_NE(LoadHfTokenizerJson(doc.dump()).status().message().find("model.merges[6]"), std::string::npos);
  doc = nlohmann::json::parse(TinyTokenizerJson(false));
  doc["model"]["continuing_subword_prefix"] = "";  // as Qwen2's file has it: fine
  doc["model"]["end_of_word_suffix"] = "";
  EXPECT_TRUE(LoadHfTokenizerJson(doc.dump()).ok());
  doc["model"]["continuing_subword_prefix"] = "##";
  EXPECT_NE(LoadHfTokenizerJson(doc.dump()).status().message().find("continuing_subword_prefix"),
            std::string::npos);
  EXPECT_EQ(LoadHfTokenizerJson("{not json").status().code(), StatusCode::kInvalidArgument);
  doc = nlohmann::json::parse(TinyTokenizerJson(false));
  doc["model"]["vocab"] = "oops";
  EXPECT_EQ(LoadHfTokenizerJson(doc.dump()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadTokenizer("/nonexistent/tokenizer.json").status().code(), StatusCode::kNotFound);
}

TEST(StreamDecoderTest, EmitsOnlyCompleteUtf8) {
  auto tok = LoadTokenizer(testing::Gpt2Dir());
  ASSERT_TRUE(tok.ok());
  const std::string text = "naïve 世界 🎉🎉 done";
  auto ids = (*tok)->Encode(text, false);
  ASSERT_TRUE(ids.ok());
  StreamDecoder decoder(**tok);
  std::string joined;
  for (TokenId id : *ids) {
    auto piece = decoder.Push(id);
    ASSERT_TRUE(piece.ok());
    EXPECT_EQ(internal::FirstInvalidUtf8(*piece), std::string_view::npos) << "partial UTF-8 emitted";
    joined += *piece;
  }
  joined += decoder.Flush();
  EXPECT_EQ(joined, text);
  // An unfinished character is held, then flushed as U+FFFD.
  auto emoji = (*tok)->Encode("🎉", false);
  ASSERT_GT(emoji->size(), 1u);
  EXPECT_EQ(*decoder.Push(emoji->front()), "");
  EXPECT_EQ(decoder.Flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(decoder.Push(-1).status().code(), StatusCode::kInvalidArgument);
  // Special tokens are skipped by default.
  EXPECT_EQ(*decoder.Push(50256), "");
}

}  // namespace
}  // namespace sskai::tokenizer
