// tests/ml/image_test.cc — CNN training on a Fashion-MNIST subset and the image predictor.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "ml/datasets.h"
#include "ml/ml.h"
#include "ml/test_util.h"

namespace sskai::ml {
namespace {

using testing::ReadFile;
using testing::TempDir;

std::string InstanceJson(const data::ImageData& d, int64_t idx) {
  const int64_t size = d.channels * d.height * d.width;
  std::string out = "[";
  for (int64_t px = 0; px < size; ++px) {
    out += (px ? "," : "") + std::to_string(d.pixels[idx * size + px]);
  }
  return out + "]";
}

// [H][W] nesting of one grayscale image.
std::string NestedJson(const data::ImageData& d, int64_t idx) {
  std::string out = "[";
  for (int64_t row = 0; row < d.height; ++row) {
    out += row ? ",[" : "[";
    for (int64_t col = 0; col < d.width; ++col) {
      out += (col ? "," : "") + std::to_string(d.pixels[idx * d.height * d.width + row * d.width + col]);
    }
    out += "]";
  }
  return out + "]";
}

class ImageModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    data::ImageData train = testing::LoadFashionMnist("train", 4000);
    ASSERT_EQ(train.count, 4000) << "Fashion-MNIST missing";
    auto started = std::chrono::steady_clock::now();
    auto r = sskai_ml_engine()->TrainImages(train, TrainSpec{}, "", dir_->Sub("w"), {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("[accuracy] fashion-mnist 4k subset: val_accuracy %.4f, %.1f s\n", r->metrics.at("val_accuracy"),
                seconds);
    result_ = new TrainResult(*r);
    auto p = sskai_ml_engine()->LoadPredictor(r->model_path);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    predictor_ = p->release();
    test_ = new data::ImageData(testing::LoadFashionMnist("t10k", 300));
  }
  static void TearDownTestSuite() {
    delete predictor_;
    delete result_;
    delete test_;
    delete dir_;
  }
  void SetUp() override {
    if (!predictor_) GTEST_SKIP() << "model training failed";
  }

  void SubsetReachesReasonableAccuracy() {
    EXPECT_GE(result_->metrics.at("val_accuracy"), 0.80);
    EXPECT_NE(result_->metadata_json.find(R"("kind":"image")"), std::string::npos);
  }

  void PredictsUnseenImagesInOneBatch() {
    std::string batch = R"({"instances":[)";
    for (int64_t idx = 0; idx < test_->count; ++idx) batch += (idx ? "," : "") + InstanceJson(*test_, idx);
    batch += "]}";
    auto out = predictor_->PredictJson(batch);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_EQ(out->labels.size(), static_cast<size_t>(test_->count));
    int correct = 0;
    for (int64_t idx = 0; idx < test_->count; ++idx) {
      correct += out->labels[idx] == test_->classes[test_->labels[idx]];
      double sum = 0;
      for (double p : out->probabilities[idx]) sum += p;
      EXPECT_NEAR(sum, 1.0, 1e-6);
    }
    EXPECT_GE(correct, 0.78 * test_->count);
    EXPECT_EQ(out->classes, test_->classes);
  }

  void AcceptsFlatNestedAndAliasedInputsAlike() {
    auto flat = predictor_->PredictJson("[" + InstanceJson(*test_, 0) + "]");
    ASSERT_TRUE(flat.ok()) << flat.status().ToString();
    for (const std::string& input :
         {InstanceJson(*test_, 0), "[" + NestedJson(*test_, 0) + "]", "[[" + NestedJson(*test_, 0) + "]]",
          R"({"inputs":[)" + NestedJson(*test_, 0) + "]}"}) {
      auto out = predictor_->PredictJson(input);
      ASSERT_TRUE(out.ok()) << out.status().ToString();
      EXPECT_EQ(out->labels, flat->labels);
      EXPECT_EQ(out->probabilities, flat->probabilities);
    }
  }

  void RejectsWrongShapesWithAClearMessage() {
    auto out = predictor_->PredictJson(R"({"instances":[[1,2,3,4,5,6,7,8,9,10]]})");
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(out.status().message(), "instance 0: expected 784 values (1x28x28), got 10");
    EXPECT_EQ(predictor_->PredictJson(R"([["a"]])").status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(predictor_->PredictJson("[]").status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(predictor_->PredictJson("{\"x\":1}").status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(predictor_->PredictJson("not json").status().code(), StatusCode::kInvalidArgument);
  }

  void PredictsConcurrentlyWithIdenticalResults() {
    std::string input = "[" + InstanceJson(*test_, 1) + "," + InstanceJson(*test_, 2) + "]";
    auto expected = predictor_->PredictJson(input);
    ASSERT_TRUE(expected.ok());
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int round = 0; round < 10; ++round) {
          auto out = predictor_->PredictJson(input);
          if (!out.ok() || out->probabilities != expected->probabilities) ++mismatches;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(mismatches.load(), 0);
  }

  void LoadPredictorRejectsCorruptFiles() {
    std::string bytes = ReadFile(result_->model_path);
    std::string torn = dir_->Sub("torn.sskai");
    testing::WriteFile(torn, bytes.substr(0, bytes.size() - 100));
    EXPECT_EQ(sskai_ml_engine()->LoadPredictor(torn).status().code(), StatusCode::kInvalidArgument);
    std::string pickle = dir_->Sub("model.pt");
    testing::WriteFile(pickle, "\x80\x02}q\x00.");
    EXPECT_EQ(sskai_ml_engine()->LoadPredictor(pickle).status().code(), StatusCode::kInvalidArgument);
  }

  static TempDir* dir_;
  static TrainResult* result_;
  static Predictor* predictor_;
  static data::ImageData* test_;
};
TempDir* ImageModelTest::dir_ = nullptr;
TrainResult* ImageModelTest::result_ = nullptr;
Predictor* ImageModelTest::predictor_ = nullptr;
data::ImageData* ImageModelTest::test_ = nullptr;

// One ctest case: training the model once per process dominates the cost.
TEST_F(ImageModelTest, TrainsOnASubsetAndServesPredictions) {
  SubsetReachesReasonableAccuracy();
  PredictsUnseenImagesInOneBatch();
  AcceptsFlatNestedAndAliasedInputsAlike();
  RejectsWrongShapesWithAClearMessage();
  PredictsConcurrentlyWithIdenticalResults();
  LoadPredictorRejectsCorruptFiles();
}

TEST(ImageResumeTest, CnnResumeIsBitIdentical) {
  TempDir dir;
  data::ImageData d = testing::LoadFashionMnist("train", 400);
  ASSERT_EQ(d.count, 400);
  TrainSpec spec;
  spec.epochs = 3;
  auto straight = sskai_ml_engine()->TrainImages(d, spec, "", dir.Sub("a"), {});
  ASSERT_TRUE(straight.ok()) << straight.status().ToString();
  std::string saved = dir.Sub("e1.ckpt");
  TrainCallbacks crash;
  crash.on_checkpoint = [&](const std::string& path, int epoch) {
    std::filesystem::copy_file(path, saved);
    return Status::Unavailable("crash");
  };
  ASSERT_FALSE(sskai_ml_engine()->TrainImages(d, spec, "", dir.Sub("b"), crash).ok());
  auto resumed = sskai_ml_engine()->TrainImages(d, spec, saved, dir.Sub("c"), {});
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed->resumed_from_epoch, 1);
  EXPECT_TRUE(ReadFile(resumed->model_path) == ReadFile(straight->model_path));
}

}  // namespace
}  // namespace sskai::ml
