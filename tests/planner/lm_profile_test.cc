// ProfileLm against published parameter counts and hand-checkable memory arithmetic.
#include <gtest/gtest.h>

#include "planner/planner.h"

namespace sskai::planner {
namespace {

LmShape Llama3_8B() {
  return LmShape{.vocab = 128256, .hidden = 4096, .intermediate = 14336, .layers = 32, .heads = 32,
                 .kv_heads = 8, .head_dim = 128};
}

TEST(LmProfileTest, ParameterCountsMatchPublishedModels) {
  auto llama = ProfileLm(Llama3_8B(), 8192, 1, Precision::kBf16, 0);
  ASSERT_TRUE(llama.ok()) << llama.status().ToString();
  EXPECT_DOUBLE_EQ(llama->params, 8030261248.0);  // Meta-Llama-3-8B
  LmShape qwen{.vocab = 151936, .hidden = 896, .intermediate = 4864, .layers = 24, .heads = 14,
               .kv_heads = 2, .head_dim = 64, .tied_embeddings = true, .qkv_bias = true};
  auto q = ProfileLm(qwen, 2048, 1, Precision::kBf16, 0);
  ASSERT_TRUE(q.ok());
  EXPECT_DOUBLE_EQ(q->params, 494032768.0);  // Qwen2.5-0.5B
}

TEST(LmProfileTest, FlopsAndMemoryFollowTheFormulas) {
  auto p = ProfileLm(Llama3_8B(), 4096, 2, Precision::kBf16, 0);
  ASSERT_TRUE(p.ok());
  // Forward is about 2 FLOPs per parameter plus attention; training is 3x forward.
  EXPECT_GT(p->flops_forward_per_token, 2 * 7.0e9);
  EXPECT_LT(p->flops_forward_per_token, 2 * 8.03e9 + 4 * 32 * 4096 * 4096.0 + 1);
  EXPECT_DOUBLE_EQ(p->flops_train_per_token, 3 * p->flops_forward_per_token);
  EXPECT_DOUBLE_EQ(p->weights_bytes, 2 * p->params);
  EXPECT_DOUBLE_EQ(p->optimizer_bytes, 12 * p->params);  // AdamW m, v + fp32 master
  EXPECT_DOUBLE_EQ(p->kv_cache_bytes_per_token, 2 * 32 * 1024 * 2.0);  // 128 KiB per token
  EXPECT_DOUBLE_EQ(p->training_bytes,
                   p->weights_bytes + p->gradient_bytes + p->optimizer_bytes + p->activation_bytes);
}

TEST(LmProfileTest, LoraTrainsAFractionAndCheckpointsOnlyAdapters) {
  auto full = ProfileLm(Llama3_8B(), 2048, 1, Precision::kBf16, 0);
  auto lora = ProfileLm(Llama3_8B(), 2048, 1, Precision::kBf16, 16);
  ASSERT_TRUE(full.ok() && lora.ok());
  EXPECT_EQ(lora->params, full->params);
  // r=16 on all seven projections of Llama-3-8B: 42M adapter parameters (0.5 %).
  EXPECT_DOUBLE_EQ(lora->trainable_params, 32 * 16.0 * ((4096 + 4096) + 2 * (4096 + 1024) + (4096 + 4096) + 3 * (4096 + 14336)));
  EXPECT_LT(lora->trainable_params, 0.01 * lora->params);
  EXPECT_LT(lora->flops_train_per_token, full->flops_train_per_token);
  EXPECT_LT(lora->checkpoint_bytes, 0.02 * full->checkpoint_bytes);
  EXPECT_LT(lora->training_bytes, full->training_bytes);
}

TEST(LmProfileTest, BadShapesAreErrors) {
  LmShape bad = Llama3_8B();
  bad.kv_heads = 5;
  EXPECT_EQ(ProfileLm(bad, 128, 1, Precision::kBf16, 0).status().code(), StatusCode::kInvalidArgument);
  bad = Llama3_8B();
  bad.hidden = 0;
  EXPECT_EQ(ProfileLm(bad, 128, 1, Precision::kBf16, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ProfileLm(Llama3_8B(), 0, 1, Precision::kBf16, 0).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sskai::planner
