// The LM job spec: defaults, round trip, and errors naming the field.
#include <gtest/gtest.h>

#include "lmdata/lmdata.h"

namespace sskai::lmdata {
namespace {

TEST(JobSpecTest, FineTuneDefaultsAndRoundTrip) {
  auto s = ParseLmJobSpec(R"({"base_model": "tiny:2", "hyperparameters": {"lora": {"rank": 4, "target_modules": ["q_proj", "v_proj"]},
      "max_steps": 12, "batch_size": 2, "grad_accum": 3, "checkpoint_every": 5, "learning_rate": 0.001}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->base_model, "tiny:2");
  EXPECT_FALSE(s->pretrain.has_value());
  EXPECT_TRUE(s->train.lora);
  EXPECT_EQ(s->train.lora_spec.rank, 4);
  EXPECT_EQ(s->train.lora_spec.alpha, 8);
  EXPECT_EQ(s->train.lora_spec.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_EQ(s->output, "adapter");
  EXPECT_EQ(s->train.precision, "auto");
  EXPECT_TRUE(s->block_diagonal);
  EXPECT_EQ(ResolveSteps(*s, 1000), 12);
  auto back = ParseLmJobSpec(LmJobSpecToJson(*s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(LmJobSpecToJson(*back), LmJobSpecToJson(*s));
}

TEST(JobSpecTest, PretrainConfigAndEpochSteps) {
  auto s = ParseLmJobSpec(R"({"config": {"hidden_size": 64, "layers": 2, "heads": 4, "vocab_size": 500,
      "max_position_embeddings": 128}, "hyperparameters": {"epochs": 2, "batch_size": 4}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE(s->pretrain.has_value());
  EXPECT_FALSE(s->train.lora);
  EXPECT_EQ(s->output, "merged");
  EXPECT_EQ(s->train.max_seq_len, 128);
  EXPECT_EQ(ResolveSteps(*s, 10), 5);
  auto bf16 = ParseLmJobSpec(R"({"base_model": "a", "hyperparameters": {"precision": "bf16", "block_diagonal": false}})");
  ASSERT_TRUE(bf16.ok()) << bf16.status().ToString();
  EXPECT_EQ(bf16->train.precision, "bf16");
  EXPECT_FALSE(bf16->block_diagonal);
  EXPECT_EQ(ParseLmJobSpec(LmJobSpecToJson(*bf16))->train.precision, "bf16");
  ml::LmConfig c = s->pretrain->ToLmConfig(500, 1, 2);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.intermediate_size, 192);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2}));
  auto back = ParseLmJobSpec(LmJobSpecToJson(*s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(LmJobSpecToJson(*back), LmJobSpecToJson(*s));
}

TEST(JobSpecTest, ErrorsNameTheField) {
  struct Case {
    std::string body, message;
  } cases[] = {
      {R"({})", "field 'base_model': give exactly one"},
      {R"({"base_model": "a", "config": {}})", "field 'base_model': give exactly one"},
      {R"({"base_model": 3})", "field 'base_model': expected"},
      {R"({"base_model": "a", "hyperparameters": {"lr": 1}})", "field 'hyperparameters.lr': unknown field"},
      {R"({"base_model": "a", "hyperparameters": {"lora": {"rank": 0}}})", "field 'hyperparameters.lora.rank': expected 1..1024, got 0"},
      {R"({"base_model": "a", "hyperparameters": {"lora": {"target_modules": ["x"]}}})", "field 'hyperparameters.lora.target_modules[0]'"},
      {R"({"base_model": "a", "hyperparameters": {"method": "full", "output": "adapter"}})", "field 'hyperparameters.output'"},
      {R"({"base_model": "a", "hyperparameters": {"method": "full", "lora": {}}})", "field 'hyperparameters.lora': given with method 'full'"},
      {R"({"base_model": "a", "hyperparameters": {"learning_rate": -1}})", "field 'hyperparameters.learning_rate'"},
      {R"({"base_model": "a", "hyperparameters": {"batch_size": 1.5}})", "field 'hyperparameters.batch_size': expected an integer"},
      {R"({"base_model": "a", "hyperparameters": {"eval_split": 0.9}})", "field 'hyperparameters.eval_split'"},
      {R"({"base_model": "a", "hyperparameters": {"chat_template": "jinja"}})", "field 'hyperparameters.chat_template'"},
      {R"({"base_model": "a", "hyperparameters": {"precision": "fp8"}})", "field 'hyperparameters.precision': expected one of 'auto', 'bf16', 'fp32', got 'fp8'"},
      {R"({"base_model": "a", "hyperparameters": {"precision": 16}})", "field 'hyperparameters.precision': expected a string"},
      {R"({"base_model": "a", "hyperparameters": {"block_diagonal": "yes"}})", "field 'hyperparameters.block_diagonal': expected a boolean"},
      {R"({"config": {"hidden_size": 65, "heads": 4}})", "field 'config.hidden_size': must be a multiple"},
      {R"({"config": {"depth": 2}})", "field 'config.depth': unknown field"},
      {R"({"config": {"max_position_embeddings": 64}, "hyperparameters": {"max_seq_len": 128}})", "field 'hyperparameters.max_seq_len': exceeds"},
      {R"({"config": {}, "hyperparameters": {"method": "lora"}})", "field 'hyperparameters.method'"},
  };
  for (const auto& c : cases) {
    auto s = ParseLmJobSpec(c.body);
    ASSERT_FALSE(s.ok()) << c.body;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(c.message), std::string::npos)
        << "got: " << s.status().message() << "\nwant: " << c.message;
  }
}

}  // namespace
}  // namespace sskai::lmdata
