// User TorchScript models against the real binary: upload (validated by running), serve through
// the simple predict route and OIP v2 with outputs equal to PyTorch's, bad uploads refused with
// nothing registered, fine-tuning as a job. Reference models and outputs come from
// tests/e2e/reference/torchscript_ref.py run with Debian's python3-torch; skipped without it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

const char* kPython = "/usr/bin/python3";

bool HavePythonTorch() {
  std::string cmd = std::string(kPython) + " -c 'import torch' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

void Flat(const json& v, std::vector<double>* out) {
  if (v.is_array()) {
    for (const auto& x : v) Flat(x, out);
  } else {
    out->push_back(v.get<double>());
  }
}

double MaxAbsDiff(const json& a, const json& b) {
  std::vector<double> x, y;
  Flat(a, &x);
  Flat(b, &y);
  if (x.size() != y.size()) return INFINITY;
  double worst = 0;
  for (size_t idx = 0; idx < x.size(); ++idx) worst = std::max(worst, std::fabs(x[idx] - y[idx]));
  return worst;
}

class TorchScriptE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!HavePythonTorch()) return;
    dir_ = new TempDir();
    files_ = new TempDir();
    std::string cmd = std::string(kPython) + " " + SSKAI_SOURCE_DIR "/tests/e2e/reference/torchscript_ref.py " +
                      files_->path();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    refs_ = new json(json::parse(ReadFile(files_->path() + "/refs.json")));
    server_ = new TestServer(dir_->path(), {"--max-model-upload-mib", "1"});
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete refs_;
    delete files_;
    delete dir_;
  }
  void SetUp() override {
    if (!server_) GTEST_SKIP() << "python3-torch is not installed (/usr/bin/python3 -c 'import torch')";
  }

  static std::string File(const std::string& name) { return files_->path() + "/" + name; }

  static json MlpSpec() {
    return {{"inputs", {{{"name", "x"}, {"shape", {-1, 4}}, {"dtype", "float32"}, {"range", {-3, 3}}}}},
            {"outputs", {{{"name", "logits"}, {"shape", {-1, 3}}}}},
            {"task", "tensor"}};
  }
  static json CnnSpec() {
    return {{"inputs", {{{"name", "image"}, {"shape", {-1, 1, 8, 8}}, {"dtype", "float32"}}}},
            {"task", "classification"},
            {"classes", {"c0", "c1", "c2", "c3", "c4"}}};
  }

  // Uploads `file` as model `name` with `spec`; returns the response.
  static http::ClientResponse Upload(const std::string& name, const std::string& file, const json& spec) {
    return server_->UploadFile("/v1/models/" + name + "/versions?filename=x.pt&spec=" + http::UrlEncode(spec.dump()),
                               file);
  }

  static TempDir* dir_;
  static TempDir* files_;
  static TestServer* server_;
  static json* refs_;
};
TempDir* TorchScriptE2eTest::dir_ = nullptr;
TempDir* TorchScriptE2eTest::files_ = nullptr;
TestServer* TorchScriptE2eTest::server_ = nullptr;
json* TorchScriptE2eTest::refs_ = nullptr;

TEST_F(TorchScriptE2eTest, ScriptedAndTracedModelsServeExactlyPyTorchsOutputs) {
  struct Case { std::string file, net; json spec; };
  std::vector<Case> cases = {{"mlp_scripted.pt", "mlp", MlpSpec()}, {"mlp_traced.pt", "mlp", MlpSpec()},
                             {"cnn_scripted.pt", "cnn", CnnSpec()}, {"cnn_traced.pt", "cnn", CnnSpec()}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    std::string model = c.file.substr(0, c.file.find('.'));
    std::replace(model.begin(), model.end(), '_', '-');
    auto up = Upload(model, File(c.file), c.spec);
    ASSERT_EQ(up.status, 201) << up.body;
    json v = json::parse(up.body);
    EXPECT_EQ(v["kind"], "torchscript");
    EXPECT_EQ(v["task"], c.spec["task"]);
    EXPECT_EQ(v["metadata"]["observed_outputs"][0]["shape"],
              c.net == "mlp" ? json::array({-1, 3}) : json::array({-1, 5}));

    int status = 0;
    json ep = server_->CallJson("POST", "/v1/endpoints", {{"name", model}, {"model", model}}, &status);
    ASSERT_EQ(status, 201) << ep.dump();
    const json& ref = (*refs_)[c.net];
    auto r = server_->Call("POST", "/v1/endpoints/" + model + "/predict", json{{"instances", ref["input"]}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    json pred = json::parse(r.body);
    EXPECT_LE(MaxAbsDiff(pred["outputs"][0]["data"], ref["output"]), 1e-5) << r.body;
    EXPECT_EQ(pred["outputs"][0]["shape"][0], ref["input"].size());
    if (c.net == "cnn") {
      EXPECT_LE(MaxAbsDiff(pred["probabilities"], ref["probabilities"]), 1e-6);
      ASSERT_EQ(pred["predictions"].size(), 3u);
      EXPECT_EQ(pred["predictions"][0].get<std::string>().substr(0, 1), "c");
    } else {
      EXPECT_LE(MaxAbsDiff(pred["predictions"], ref["output"]), 1e-5);  // tensor task: output 0 nested
    }

    // OIP v2: metadata from the spec, infer by tensor name.
    json meta = server_->CallJson("GET", "/v2/models/" + model, nullptr, &status);
    ASSERT_EQ(status, 200) << meta.dump();
    EXPECT_EQ(meta["inputs"][0]["name"], c.spec["inputs"][0]["name"]);
    EXPECT_EQ(meta["inputs"][0]["datatype"], "FP32");
    std::vector<double> flat;
    Flat(ref["input"], &flat);
    json shape = c.net == "mlp" ? json::array({ref["input"].size(), 4}) : json::array({ref["input"].size(), 1, 8, 8});
    json request = {{"inputs", {{{"name", c.spec["inputs"][0]["name"]}, {"shape", shape}, {"datatype", "FP32"},
                                 {"data", flat}}}}};
    json answer = server_->CallJson("POST", "/v2/models/" + model + "/infer", request, &status);
    ASSERT_EQ(status, 200) << answer.dump();
    const json* raw = nullptr;
    for (const auto& o : answer["outputs"]) {
      if (o["name"] == (c.net == "mlp" ? "logits" : "output-0")) raw = &o;
    }
    ASSERT_NE(raw, nullptr) << answer.dump();
    EXPECT_LE(MaxAbsDiff((*raw)["data"], ref["output"]), 1e-5);
    // A wrong shape is the caller's error, named.
    request["inputs"][0]["shape"] = json::array({1, 7});
    request["inputs"][0]["data"] = std::vector<double>(7, 0.0);
    answer = server_->CallJson("POST", "/v2/models/" + model + "/infer", request, &status);
    EXPECT_EQ(status, 400) << answer.dump();

    EXPECT_EQ(server_->Call("DELETE", "/v1/endpoints/" + model).status / 100, 2);
  }
}

TEST_F(TorchScriptE2eTest, CliUploadsWithASpecFile) {
  WriteFile(File("spec.json"), MlpSpec().dump());
  std::string out, err;
  int rc = server_->RunCli({"models", "upload", File("mlp_scripted.pt"), "--name", "cli-mlp", "--spec", File("spec.json")},
                           &out, &err);
  ASSERT_EQ(rc, 0) << out << err;
  EXPECT_NE(out.find("version 1"), std::string::npos) << out;
  EXPECT_EQ(server_->CallJson("GET", "/v1/models/cli-mlp")["latest"]["kind"], "torchscript");
}

TEST_F(TorchScriptE2eTest, BadUploadsAreRefusedAndNothingIsRegistered) {
  std::string good = ReadFile(File("mlp_scripted.pt"));
  WriteFile(File("notzip.pt"), "this is not a model\n");
  WriteFile(File("truncated.pt"), good.substr(0, good.size() / 2));
  WriteFile(File("huge.pt"), std::string(2 << 20, 'x'));  // over --max-model-upload-mib 1
  json bad_input = MlpSpec();
  bad_input["inputs"][0]["shape"] = {-1, 5};
  json wrong_output = MlpSpec();
  wrong_output["outputs"][0]["shape"] = {-1, 10};
  json wrong_classes = CnnSpec();
  wrong_classes["classes"] = {"a", "b"};
  struct Case { std::string file; json spec; int status; std::string message; };
  std::vector<Case> cases = {
      {"notzip.pt", MlpSpec(), 400, "not a zip"},
      {"truncated.pt", MlpSpec(), 400, "truncated or corrupt"},
      {"eager_pickle.pt", MlpSpec(), 400, "pickled eager PyTorch model"},
      {"legacy_pickle.pt", MlpSpec(), 400, "Python pickle"},
      {"mlp_scripted.pt", bad_input, 400, "forward failed"},
      {"mlp_scripted.pt", wrong_output, 400, "output 0 has shape [4,3], spec says [-1,10]"},
      {"cnn_scripted.pt", wrong_classes, 400, "task classification needs [-1,2]"},
      {"mlp_scripted.pt", json{{"inputs", {{{"shape", {-1, "4"}}}}}}, 400, "spec.inputs[0].shape[1]"},
      {"mlp_scripted.pt", json{{"inputs", json::array()}}, 400, "spec.inputs"},
      {"huge.pt", MlpSpec(), 413, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file + " " + c.spec.dump());
    auto r = Upload("bad", File(c.file), c.spec);
    EXPECT_EQ(r.status, c.status) << r.body;
    if (!c.message.empty()) EXPECT_NE(r.body.find(c.message), std::string::npos) << r.body;
  }
  // No spec at all.
  auto r = server_->UploadFile("/v1/models/bad/versions", File("mlp_scripted.pt"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("'spec'"), std::string::npos) << r.body;
  EXPECT_EQ(server_->Call("GET", "/v1/models/bad").status, 404);  // nothing registered
  EXPECT_EQ(server_->Call("GET", "/healthz").status, 200);          // server up
  // The blob store holds no leftovers of refused uploads beyond what GC sweeps: a good upload works.
  EXPECT_EQ(Upload("bad", File("mlp_scripted.pt"), MlpSpec()).status, 201);
}

TEST_F(TorchScriptE2eTest, FineTunesAnUploadedScriptedMlpAndTheResultLoadsInPython) {
  json spec = {{"inputs", {{{"name", "x"}, {"shape", {-1, 4}}, {"dtype", "float32"}, {"range", {-3, 3}}}}},
               {"task", "classification"},
               {"classes", {"setosa", "versicolor", "virginica"}}};
  ASSERT_EQ(Upload("mlp-cls", File("mlp_scripted.pt"), spec).status, 201);
  ASSERT_EQ(server_->UploadFile("/v1/datasets/blobs/versions?filename=train.csv", File("train.csv")).status, 201);
  int status = 0;
  json job = server_->CallJson("POST", "/v1/jobs",
                               {{"dataset", "blobs"}, {"model", "mlp-tuned"}, {"base_model", "mlp-cls"},
                                {"hyperparameters", {{"epochs", 15}, {"learning_rate", 0.01}, {"batch_size", 16}}}},
                               &status);
  ASSERT_EQ(status, 201) << job.dump();
  json done = server_->WaitForJob(job["id"].get<int64_t>(), 300);
  ASSERT_EQ(done["state"], "succeeded") << done.dump();
  json metrics = server_->CallJson("GET", "/v1/jobs/" + job["id"].dump() + "/metrics");
  ASSERT_GE(metrics["items"].size(), 2u) << metrics.dump();
  double first = metrics["items"].front()["values"].value("train_loss", 0.0);
  double last = metrics["items"].back()["values"].value("train_loss", 0.0);
  EXPECT_LT(last, first * 0.5) << metrics.dump();

  json v = server_->CallJson("GET", "/v1/models/mlp-tuned/versions/latest");
  EXPECT_EQ(v["kind"], "trained");
  EXPECT_EQ(v["task"], "classification");
  EXPECT_GT(v["metrics"].value("val_accuracy", 0.0), 0.8) << v.dump();
  // The result is a plain TorchScript archive: Python loads it and its loss is lower than the base's.
  auto trained = server_->Call("GET", "/v1/models/mlp-tuned/versions/latest/content");
  ASSERT_EQ(trained.status, 200);
  WriteFile(File("tuned.pt"), trained.body);
  std::string check = std::string(kPython) + " " + SSKAI_SOURCE_DIR "/tests/e2e/reference/torchscript_ref.py --check ";
  auto loss_of = [&](const std::string& model) {
    std::string out_path = File("loss.txt");
    int rc = std::system((check + model + " " + File("train.csv") + " > " + out_path).c_str());
    return rc == 0 ? std::stod(ReadFile(out_path)) : -1.0;
  };
  double base_loss = loss_of(File("mlp_scripted.pt")), tuned_loss = loss_of(File("tuned.pt"));
  ASSERT_GE(tuned_loss, 0) << "the trained model does not load in Python";
  EXPECT_LT(tuned_loss, base_loss * 0.5) << base_loss << " -> " << tuned_loss;

  // The trained version serves and profiles like the upload.
  json profile = server_->CallJson("POST", "/v1/models/mlp-tuned/versions/latest/profile",
                                   {{"batch_sizes", {1, 8}}, {"repeats", 3}, {"warmup", 1}}, &status);
  ASSERT_EQ(status, 200) << profile.dump();
  EXPECT_EQ(profile["model_kind"], "torchscript");
  EXPECT_EQ(profile["parameters"], 4 * 16 + 16 + 16 * 3 + 3);
  EXPECT_EQ(profile["measurements"].size(), 4u);  // inference + train_step at 2 batch sizes
}

// A job naming a base that is not TorchScript, or a tensor-task base, is refused up front.
TEST_F(TorchScriptE2eTest, TrainingRequestsAreValidated) {
  ASSERT_EQ(Upload("tensor-only", File("mlp_scripted.pt"), MlpSpec()).status, 201);
  ASSERT_EQ(server_->UploadFile("/v1/datasets/blobs2/versions?filename=train.csv", File("train.csv")).status, 201);
  int status = 0;
  json r = server_->CallJson("POST", "/v1/jobs", {{"dataset", "blobs2"}, {"model", "m"}, {"base_model", "tensor-only"}},
                             &status);
  EXPECT_EQ(status, 400) << r.dump();
  r = server_->CallJson("POST", "/v1/jobs", {{"dataset", "blobs2"}, {"model", "m"}, {"base_model", "nope"}}, &status);
  EXPECT_EQ(status, 404) << r.dump();
}

}  // namespace
}  // namespace sskai::testing
