// tests/ml/legacy_model_test.cc — CNN files written before the convolutions lost their bias
// (redundant in front of BatchNorm) still load and predict as before, and an old checkpoint
// resumes in its own layout to the weights the old engine ended with.
//
// testdata/legacy_cnn_model.sskai and legacy_cnn_checkpoint-15.sskai were written by the engine
// of commit 2734f11 (conv1/conv2 with a bias) training Images() below with Spec() (4 epochs of 5
// steps; the checkpoint is the one after epoch 3); kOldProbabilities are that engine's
// predictions for the first 6 images with the model file. How they were made:
// testdata/legacy_cnn.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ml/ml.h"
#include "ml/test_util.h"

namespace sskai::ml {
namespace {

using testing::TempDir;

// The files were written on an AVX2 machine. On an AVX-512 CPU oneDNN's convolution kernels sum
// in another order: predictions still agree to ~1e-7, but the resume test's four SGD steps grow
// the difference to ~1e-3 (measured on a Zen 5 VM). Pinning oneDNN to its AVX2 kernels (it reads
// this once, at first use, after this initializer; the engine library is loaded later) gives the
// writing machine's arithmetic back: 1e-7 there too. An explicit setting in the environment wins.
const bool kOneDnnPinnedToAvx2 = setenv("ONEDNN_MAX_CPU_ISA", "AVX2", /*overwrite=*/0) == 0;

const std::string kTestData = SSKAI_TEST_SOURCE_DIR "/ml/testdata/";

// The 2734f11 engine's output, printed with %.17g.
const std::vector<std::vector<double>> kOldProbabilities = {
    {0.77451395988464355, 0.037218410521745682, 0.18826770782470703},
    {0.052307773381471634, 0.94371861219406128, 0.0039735804311931133},
    {0.0097827380523085594, 0.00026219378923997283, 0.98995506763458252},
    {0.79810988903045654, 0.026059633120894432, 0.17583054304122925},
    {0.30373147130012512, 0.46592143177986145, 0.23034718632698059},
    {0.21014119684696198, 0.025219131261110306, 0.76463967561721802},
};

// 96 grey 4x4 images: LCG noise plus a faint row whose position is the class (3 classes).
data::ImageData Images() {
  data::ImageData d;
  d.count = 96;
  d.height = 4;
  d.width = 4;
  uint32_t state = 12345;
  for (int64_t idx = 0; idx < d.count * 16; ++idx) {
    state = state * 1664525u + 1013904223u;
    d.pixels.push_back(static_cast<uint8_t>((state >> 24) & 0xff));
  }
  for (int64_t idx = 0; idx < d.count; ++idx) {
    const int64_t label = idx % 3;
    d.labels.push_back(label);
    for (int64_t px = 0; px < 4; ++px) {
      uint8_t& pixel = d.pixels[idx * 16 + label * 4 + px];
      pixel = static_cast<uint8_t>(std::min(255, pixel + 90));
    }
  }
  d.classes = {"a", "b", "c"};
  return d;
}

TrainSpec Spec() {
  TrainSpec spec;
  spec.epochs = 4;
  spec.batch_size = 16;
  spec.learning_rate = 0.02;
  return spec;
}

// The model's class probabilities for the first 6 images.
std::vector<std::vector<double>> Predict(const std::string& model_path) {
  auto predictor = sskai_ml_engine()->LoadPredictor(model_path);
  EXPECT_TRUE(predictor.ok()) << predictor.status().ToString();
  if (!predictor.ok()) return {};
  const data::ImageData d = Images();
  std::string batch = "[";
  for (int64_t idx = 0; idx < 6; ++idx) {
    batch += idx ? ",[" : "[";
    for (int64_t px = 0; px < 16; ++px) batch += (px ? "," : "") + std::to_string(d.pixels[idx * 16 + px]);
    batch += "]";
  }
  auto out = (*predictor)->PredictJson(batch + "]");
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? out->probabilities : std::vector<std::vector<double>>{};
}

// Folding the bias into the running mean is exact in real arithmetic; in float it moves where
// the rounding happens, so the outputs agree to float precision (measured: < 1e-7).
void ExpectOldProbabilities(const std::vector<std::vector<double>>& probabilities) {
  ASSERT_EQ(probabilities.size(), kOldProbabilities.size());
  double max_difference = 0;
  for (size_t row = 0; row < probabilities.size(); ++row) {
    ASSERT_EQ(probabilities[row].size(), kOldProbabilities[row].size());
    for (size_t k = 0; k < probabilities[row].size(); ++k) {
      EXPECT_NEAR(probabilities[row][k], kOldProbabilities[row][k], 1e-6) << "image " << row << ", class " << k;
      max_difference = std::max(max_difference, std::abs(probabilities[row][k] - kOldProbabilities[row][k]));
    }
  }
  std::printf("[legacy cnn] largest difference from the old engine's probabilities: %.2e\n", max_difference);
}

TEST(LegacyCnnTest, ModelWithConvBiasPredictsAsTheOldEngineDid) {
  ExpectOldProbabilities(Predict(kTestData + "legacy_cnn_model.sskai"));
}

TEST(LegacyCnnTest, CheckpointWithConvBiasResumesToTheOldEnginesWeights) {
  TempDir dir;
  auto r = sskai_ml_engine()->TrainImages(Images(), Spec(), kTestData + "legacy_cnn_checkpoint-15.sskai",
                                          dir.Sub("work"), {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->resumed_from_epoch, 3);
  EXPECT_EQ(r->epochs_run, 1);
  ExpectOldProbabilities(Predict(r->model_path));
}

// A fresh model (no conv bias) trains and predicts; its file has nothing to fold.
TEST(LegacyCnnTest, NewModelRoundTrips) {
  TempDir dir;
  auto r = sskai_ml_engine()->TrainImages(Images(), Spec(), "", dir.Sub("work"), {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto probabilities = Predict(r->model_path);
  ASSERT_EQ(probabilities.size(), 6u);
  EXPECT_GT(r->metrics.at("val_accuracy"), 0.5);
}

}  // namespace
}  // namespace sskai::ml
