// tests/ml/tabular_predict_test.cc — the tabular predictor, with and without a fitted encoder; a
// few rows (the fused MLP forward on AVX2+FMA CPUs, mlp_kernels.h) answer as a large batch (the
// module's forward) does.
#include <gtest/gtest.h>

#include <cmath>

#include "ml/datasets.h"
#include "ml/ml.h"
#include "ml/test_util.h"

namespace sskai::ml {
namespace {

using testing::TempDir;

TEST(TabularPredictTest, RawFeatureRowsWithoutEncoder) {
  TempDir dir;
  data::TabularData d = testing::LoadSklearnCsv("iris.csv");
  auto r = sskai_ml_engine()->TrainTabular(d, TrainSpec{}, "", dir.Sub("w"), {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto p = sskai_ml_engine()->LoadPredictor(r->model_path);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  // Rows 0 (setosa), 60 (versicolor), 140 (virginica), already standardized.
  std::string rows = "[";
  for (int row : {0, 60, 140}) {
    rows += row ? ",[" : "[";
    for (int col = 0; col < 4; ++col) rows += (col ? "," : "") + std::to_string(d.x[row * 4 + col]);
    rows += "]";
  }
  rows += "]";
  auto out = (*p)->PredictJson(rows);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->labels, (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
  EXPECT_EQ(out->classes, d.classes);
  ASSERT_EQ(out->probabilities.size(), 3u);
  EXPECT_EQ(out->probabilities[0].size(), 3u);
  auto wrong = (*p)->PredictJson("[[1,2]]");
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong.status().message(), "instance 0: expected 4 values, got 2");
  EXPECT_NE((*p)->metadata_json().find(R"("model":"mlp")"), std::string::npos);
}

TEST(TabularPredictTest, AFewRowsAnswerAsTheSameRowsInALargeBatch) {
  TempDir dir;
  data::TabularData d = testing::LoadSklearnCsv("iris.csv");
  TrainSpec spec;
  spec.hidden = {32, 16};  // two hidden layers
  auto r = sskai_ml_engine()->TrainTabular(d, spec, "", dir.Sub("w"), {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto p = sskai_ml_engine()->LoadPredictor(r->model_path);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto row_json = [&](int row) {
    std::string out = "[";
    for (int col = 0; col < 4; ++col) out += (col ? "," : "") + std::to_string(d.x[row * 4 + col]);
    return out + "]";
  };
  std::string big = "[";  // 70 rows: more than the fused path takes (64), so the module's GEMMs
  for (int idx = 0; idx < 70; ++idx) big += (idx ? "," : "") + row_json(idx * 2);
  big += "]";
  auto batch = (*p)->PredictJson(big);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->labels.size(), 70u);
  for (int idx = 0; idx < 70; ++idx) {
    auto one = (*p)->PredictJson("[" + row_json(idx * 2) + "]");
    ASSERT_TRUE(one.ok()) << one.status().ToString();
    ASSERT_EQ(one->labels.size(), 1u);
    EXPECT_EQ(one->labels[0], batch->labels[idx]) << "row " << idx * 2;
    ASSERT_EQ(one->probabilities[0].size(), 3u);
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_NEAR(one->probabilities[0][k], batch->probabilities[idx][k], 1e-5) << "row " << idx * 2;
    }
  }
  double sum = 0;
  for (double v : batch->probabilities[0]) sum += v;
  EXPECT_NEAR(sum, 1.0, 1e-5);
}

TEST(TabularPredictTest, EncodesNamedColumnsWithTheTrainingEncoder) {
  TempDir dir;
  std::string csv = dir.Sub("people.csv");
  std::string text = "age,city,bought\n";
  for (int idx = 0; idx < 200; ++idx) {
    int age = 18 + (idx * 7) % 60;
    const char* city = idx % 3 == 0 ? "paris" : (idx % 3 == 1 ? "rome" : "oslo");
    text += std::to_string(age) + "," + city + "," + (age > 45 ? "yes" : "no") + "\n";
  }
  testing::WriteFile(csv, text);
  auto d = data::LoadTabular(csv, {}, "");
  if (!d.ok() && d.status().code() == StatusCode::kUnavailable) GTEST_SKIP() << "data module not built";
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  auto r = sskai_ml_engine()->TrainTabular(*d, TrainSpec{}, "", dir.Sub("w"), {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GE(r->metrics.at("val_accuracy"), 0.9);
  EXPECT_NE(r->metadata_json.find(R"("columns":["age","city"])"), std::string::npos) << r->metadata_json;
  auto p = sskai_ml_engine()->LoadPredictor(r->model_path);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto out = (*p)->PredictJson(R"({"instances":[{"age":20,"city":"rome"},{"age":70,"city":"oslo"}]})");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->labels, (std::vector<std::string>{"no", "yes"}));
  auto bare = (*p)->PredictJson(R"([{"age":20,"city":"rome"}])");
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_EQ((*p)->PredictJson(R"([{"age":"old","city":"rome"}])").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sskai::ml
