// tests/ml/accuracy_test.cc — full Fashion-MNIST CNN run with default hyperparameters (slow).
#include <gtest/gtest.h>

#include <chrono>

#include "ml/datasets.h"
#include "ml/ml.h"
#include "ml/test_util.h"

namespace sskai::ml {
namespace {

TEST(AccuracyTest, FashionMnistCnnReachesEightyEightPercent) {
  data::ImageData train = testing::LoadFashionMnist("train", 0);
  data::ImageData test = testing::LoadFashionMnist("t10k", 0);
  ASSERT_EQ(train.count, 60000);
  ASSERT_EQ(test.count, 10000);
  testing::TempDir dir;
  TrainCallbacks cb;
  cb.on_epoch = [](const EpochMetrics& m) {
    std::printf("epoch %d/%d train_loss %.4f val_loss %.4f val_accuracy %.4f (%.1f s)\n", m.epoch, m.epochs,
                m.train_loss, m.val_loss, m.metrics.at("val_accuracy"), m.seconds);
    std::fflush(stdout);
  };
  auto started = std::chrono::steady_clock::now();
  auto r = sskai_ml_engine()->TrainImages(train, TrainSpec{}, "", dir.Sub("w"), cb);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_GE(r->metrics.at("val_accuracy"), 0.88);

  auto p = sskai_ml_engine()->LoadPredictor(r->model_path);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  int64_t correct = 0;
  const int64_t size = test.height * test.width;
  for (int64_t start = 0; start < test.count; start += 1000) {
    std::string batch = "[";
    for (int64_t idx = start; idx < start + 1000; ++idx) {
      batch += idx > start ? ",[" : "[";
      for (int64_t px = 0; px < size; ++px) batch += (px ? "," : "") + std::to_string(test.pixels[idx * size + px]);
      batch += "]";
    }
    batch += "]";
    auto out = (*p)->PredictJson(batch);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    for (int64_t idx = 0; idx < 1000; ++idx) correct += out->labels[idx] == test.classes[test.labels[start + idx]];
  }
  double test_accuracy = static_cast<double>(correct) / test.count;
  std::printf("[accuracy] fashion-mnist full: val_accuracy %.4f, t10k accuracy %.4f, train %.1f s\n",
              r->metrics.at("val_accuracy"), test_accuracy, train_s);
  EXPECT_GE(test_accuracy, 0.88);
}

}  // namespace
}  // namespace sskai::ml
