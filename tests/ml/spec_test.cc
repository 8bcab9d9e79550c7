// tests/ml/spec_test.cc — TrainSpec JSON parsing and validation.
#include <gtest/gtest.h>

#include "ml/ml.h"

namespace sskai::ml {
namespace {

TEST(TrainSpecTest, EmptyObjectGivesDefaults) {
  auto spec = TrainSpecFromJson("{}");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  TrainSpec defaults;
  EXPECT_EQ(spec->epochs, defaults.epochs);
  EXPECT_EQ(spec->optimizer, "adam");
  EXPECT_EQ(spec->hidden, defaults.hidden);
  EXPECT_TRUE(TrainSpecFromJson("").ok());
}

TEST(TrainSpecTest, RoundTripsThroughJson) {
  TrainSpec in;
  in.model = "mlp";
  in.task = "regression";
  in.epochs = 7;
  in.batch_size = 16;
  in.learning_rate = 0.0123;
  in.optimizer = "sgd";
  in.weight_decay = 1e-4;
  in.validation_split = 0.25;
  in.seed = 18446744073709551615ull;
  in.hidden = {5, 3};
  in.threads = 2;
  auto out = TrainSpecFromJson(TrainSpecToJson(in));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->model, in.model);
  EXPECT_EQ(out->task, in.task);
  EXPECT_EQ(out->epochs, 7);
  EXPECT_EQ(out->batch_size, 16);
  EXPECT_EQ(out->learning_rate, 0.0123);
  EXPECT_EQ(out->optimizer, "sgd");
  EXPECT_EQ(out->weight_decay, 1e-4);
  EXPECT_EQ(out->validation_split, 0.25);
  EXPECT_EQ(out->seed, in.seed);
  EXPECT_EQ(out->hidden, in.hidden);
  EXPECT_EQ(out->threads, 2);
}

TEST(TrainSpecTest, RejectsOutOfRangeValuesNamingTheField) {
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {R"({"epochs": -1})", "epochs: must be 0 (auto) or between 1 and 10000, got -1"},
      {R"({"epochs": 10001})", "epochs: must be 0 (auto) or between 1 and 10000, got 10001"},
      {R"({"epochs": 2.5})", "epochs: must be an integer, got 2.5"},
      {R"({"epochs": "5"})", "epochs: must be an integer, got \"5\""},
      {R"({"batch_size": 0})", "batch_size: must be between 1 and 65536, got 0"},
      {R"({"learning_rate": 0})", "learning_rate: must be greater than 0 and at most 10, got 0"},
      {R"({"validation_split": 1})", "validation_split: must be greater than 0 and less than 1, got 1"},
      {R"({"optimizer": "rmsprop"})", "optimizer: must be one of adam, adamw, sgd, got \"rmsprop\""},
      {R"({"model": "transformer"})", "model: must be one of auto, cnn, mlp, got \"transformer\""},
      {R"({"hidden": []})", "hidden: must be an array of 1 to 8 layer sizes, got []"},
      {R"({"hidden": [8, 0]})", "hidden[1]: must be an integer between 1 and 65536, got 0"},
      {R"({"seed": -3})", "seed: must be a non-negative integer, got -3"},
      {R"({"threads": 1000})", "threads: must be between 0 and 256, got 1000"},
  };
  for (const auto& c : cases) {
    auto spec = TrainSpecFromJson(c.json);
    ASSERT_FALSE(spec.ok()) << c.json;
    EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_EQ(spec.status().message(), c.message) << c.json;
  }
}

TEST(TrainSpecTest, RejectsUnknownKeysAndNonObjects) {
  auto spec = TrainSpecFromJson(R"({"epoch": 3})");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("unknown hyperparameter 'epoch'"), std::string::npos);
  EXPECT_EQ(TrainSpecFromJson("[1]").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TrainSpecFromJson("{").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TrainSpecFromJson(R"({"model":"cnn","task":"regression"})").status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sskai::ml
