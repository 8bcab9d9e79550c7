// Image classification through the platform: a Fashion-MNIST IDX archive is uploaded, a CNN is
// trained by a worker, deployed, and asked to classify a held-out image. Plus archive abuse.
#include <gtest/gtest.h>

#include "data/testdata.h"
#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

class ImagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path());
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }
  TempDir dir_;
  TempDir files_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(ImagesTest, FashionMnistSubsetTrainsACnnThatServesPredictions) {
  std::string tar = testdata::WriteFashionMnistArchive(files_.path(), 3000, /*test_split=*/false);
  auto up = server_->UploadFile("/v1/datasets/fmnist/versions?filename=fmnist.tar", tar);
  ASSERT_EQ(up.status, 201) << up.body;
  json v = json::parse(up.body);
  EXPECT_EQ(v["format"], "idx");
  EXPECT_EQ(v["rows"], 3000);

  int status = 0;
  json job = server_->CallJson("POST", "/v1/jobs",
                               {{"dataset", "fmnist"}, {"model", "fmnist-cnn"}, {"architecture", "cnn"},
                                {"hyperparameters", {{"epochs", 2}}}}, &status);
  ASSERT_EQ(status, 201) << job.dump();
  json done = server_->WaitForJob(job["id"].get<int64_t>(), 400);
  ASSERT_EQ(done["state"], "succeeded") << done.dump();
  json mv = server_->CallJson("GET", "/v1/models/fmnist-cnn/versions/latest");
  // 2,400 training images, 2 epochs: well above chance (0.1); the full-data run is in BENCHMARKS.md.
  EXPECT_GE(mv["metrics"]["val_accuracy"].get<double>(), 0.70) << mv.dump();

  server_->CallJson("POST", "/v1/endpoints", {{"name", "fm"}, {"model", "fmnist-cnn"}}, &status);
  ASSERT_EQ(status, 201);
  ASSERT_EQ(server_->WaitForEndpoint("fm", "ready", 60)["state"], "ready");
  // The first t10k image is an ankle boot (label 9).
  std::string images = testdata::GunzipFile(std::string(testdata::kFashionDir) + "/t10k-images-idx3-ubyte.gz");
  json pixels = json::array();
  for (int idx = 0; idx < 784; ++idx) pixels.push_back(static_cast<unsigned char>(images[16 + idx]));
  json pred = server_->CallJson("POST", "/v1/endpoints/fm/predict", {{"instances", {pixels}}}, &status);
  ASSERT_EQ(status, 200) << pred.dump();
  EXPECT_EQ(pred["predictions"][0], "9") << pred.dump();
  // A wrongly shaped tensor is the caller's error.
  pred = server_->CallJson("POST", "/v1/endpoints/fm/predict", {{"instances", {{1, 2, 3}}}}, &status);
  EXPECT_EQ(status, 400) << pred.dump();
  EXPECT_NE(pred.dump().find("expected 784 values"), std::string::npos) << pred.dump();
}

TEST_F(ImagesTest, ArchivesCannotEscapeOrLie) {
  std::string evil = testdata::WriteArchive(files_.path() + "/evil.zip", "zip",
                                            {{"../../evil.csv", "a,b\n1,2\n"}});
  auto r = server_->UploadFile("/v1/datasets/evil/versions", evil);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("escapes"), std::string::npos) << r.body;
  std::string lonely = testdata::WriteArchive(files_.path() + "/lonely.tar", "tar",
                                              {{"images-idx3-ubyte", std::string("\0\0\x08\x03\0\0\0\x01\0\0\0\x02\0\0\0\x02\1\2\3\4", 20)}});
  r = server_->UploadFile("/v1/datasets/lonely/versions", lonely);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("label"), std::string::npos) << r.body;
  json listed = server_->CallJson("GET", "/v1/datasets");
  EXPECT_TRUE(listed["items"].empty());
}

}  // namespace
}  // namespace sskai::testing
