// LM jobs end to end with the real binary: a tiny Llama-shaped model pretrained by `sskai lm
// pretrain` (its own sentencepiece tokenizer), fine-tuned with LoRA on a JSONL chat dataset through
// POST /v1/jobs {"kind":"lm"}; the result is a "finetuned" model version with eval loss and
// perplexity. A run preempted with notice (spot-sim chaos) resumes from its packed checkpoint and
// ends with an adapter bit-identical to an uninterrupted run. Bad requests answer 400/404 naming
// the field. `sskai finetune` uploads, submits and follows; public models are shared with every
// user for reading, fine-tuning and deploying, but only their owner (or an admin) changes them.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

namespace fs = std::filesystem;

// The tiny base model, built once per test binary (a few seconds).
const std::string& TinyModelDir() {
  static TempDir* dir = new TempDir();  // lives for the whole process
  static std::string model;
  if (!model.empty()) return model;
  std::string corpus = dir->path() + "/corpus.txt";
  std::string text;
  const char* lines[] = {"The cat sat on the mat.", "A dog barked at the moon.", "Birds sing in the morning.",
                         "Fish swim in the deep blue sea.", "The sun rises in the east."};
  for (int rep = 0; rep < 8; ++rep) {
    for (const char* l : lines) text += std::string(l) + "\n\n";
  }
  WriteFile(corpus, text);
  model = dir->path() + "/tiny";
  std::string spec = R"({"config": {"hidden_size": 64, "layers": 2, "heads": 4, "vocab_size": 300,
      "max_position_embeddings": 128}, "hyperparameters": {"max_steps": 4, "batch_size": 4, "max_seq_len": 64,
      "threads": 1, "eval_split": 0}})";
  std::string cmd = BinaryPath() + " lm pretrain --corpus " + corpus + " --out " + model + " --spec '" + spec +
                    "' > " + dir->path() + "/pretrain.log 2>&1";
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << ReadFile(dir->path() + "/pretrain.log");
  return model;
}

class LmFinetuneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(TinyModelDir() + "/config.json")) << "pretraining the tiny model failed";
    server_ = std::make_unique<TestServer>(dir_.path(), std::vector<std::string>{"--max-running-jobs", "2"});
    { Status started = server_->Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
    std::string jsonl;
    const char* pairs[][2] = {{"Hi", "Hello there!"}, {"Who are you?", "A tiny model."}, {"Tell me a fact.", "Cats purr."},
                              {"Bye", "See you soon."}, {"What is blue?", "The sea and the sky."}};
    for (int rep = 0; rep < 4; ++rep) {
      for (const auto& p : pairs) {
        jsonl += std::string(R"({"messages": [{"role": "user", "content": ")") + p[0] +
                 R"("}, {"role": "assistant", "content": ")" + p[1] + "\"}]}\n";
      }
    }
    std::string path = files_.path() + "/chat.jsonl";
    WriteFile(path, jsonl);
    auto up = server_->UploadFile("/v1/datasets/chat/versions", path);
    ASSERT_EQ(up.status, 201) << up.body;
  }
  json Body(const std::string& model) {
    return {{"kind", "lm"}, {"base_model", TinyModelDir()}, {"dataset", "chat"}, {"model", model},
            {"hyperparameters", {{"max_steps", 6}, {"batch_size", 2}, {"max_seq_len", 64}, {"eval_split", 0.2},
                                 {"checkpoint_every", 2}, {"learning_rate", 0.01}, {"threads", 1},
                                 {"lora", {{"rank", 4}, {"alpha", 8}, {"dropout", 0.1}}}}}};
  }
  int64_t Submit(const json& body) {
    int status = 0;
    json job = server_->CallJson("POST", "/v1/jobs", body, &status);
    EXPECT_EQ(status, 201) << job.dump();
    return job.value("id", 0);
  }
  std::string Logs(int64_t id) { return server_->Call("GET", "/v1/jobs/" + std::to_string(id) + "/logs").body; }

  TempDir dir_, files_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(LmFinetuneTest, LoraFineTuneRegistersAFinetunedVersionWithEvalLoss) {
  int64_t id = Submit(Body("chatty"));
  json job = server_->WaitForJob(id, 120);
  ASSERT_EQ(job["state"], "succeeded") << job.dump() << Logs(id);
  EXPECT_EQ(job["kind"], "lm");
  json mv = server_->CallJson("GET", "/v1/models/chatty/versions/1");
  EXPECT_EQ(mv["kind"], "finetuned") << mv.dump();
  EXPECT_GT(mv["metrics"].value("eval_loss", 0.0), 0.0) << mv.dump();
  EXPECT_GT(mv["metrics"].value("perplexity", 0.0), 1.0) << mv.dump();
  EXPECT_LT(mv["metrics"].value("eval_loss", 99.0), mv["metrics"].value("eval_loss_before", 0.0)) << mv.dump();
  const json& manifest = mv["metadata"];
  EXPECT_EQ(manifest["type"], "lm");
  EXPECT_TRUE(manifest["files"].contains("adapter_model.safetensors")) << manifest.dump();
  EXPECT_TRUE(manifest["files"].contains("adapter_config.json")) << manifest.dump();
  EXPECT_EQ(manifest["adapter"]["rank"], 4);
  EXPECT_EQ(manifest["chat_template"], "chatml");
  // Precision "auto" (the default) resolved per machine; the version and the log say which.
  std::string precision = manifest.value("training_precision", "");
  EXPECT_TRUE(precision == "fp32" || precision == "bf16") << manifest.dump();
  EXPECT_NE(Logs(id).find("training: done in " + precision + " (precision auto)"), std::string::npos) << Logs(id);
  // Per-step metrics: loss, learning rate and throughput through the worker metrics route.
  json metrics = server_->CallJson("GET", "/v1/jobs/" + std::to_string(id) + "/metrics");
  ASSERT_EQ(metrics["items"].size(), 6u) << metrics.dump();
  EXPECT_TRUE(metrics["items"][0]["values"].contains("loss"));
  EXPECT_TRUE(metrics["items"][0]["values"].contains("lr"));
  EXPECT_TRUE(metrics["items"][0]["values"].contains("tokens_per_second"));
}

TEST_F(LmFinetuneTest, NoticedPreemptionsResumeToABitIdenticalAdapter) {
  int64_t straight = Submit(Body("straight"));
  json chaotic_body = Body("chaotic");
  chaotic_body["executor"] = "spot-sim";
  chaotic_body["offering"] = "g5.xlarge@use1-az1";
  chaotic_body["chaos"] = {{"after_steps", 2}};  // notice after 2 more steps on every launch
  int64_t chaotic = Submit(chaotic_body);
  json a = server_->WaitForJob(straight, 180);
  json b = server_->WaitForJob(chaotic, 180);
  ASSERT_EQ(a["state"], "succeeded") << a.dump() << Logs(straight);
  ASSERT_EQ(b["state"], "succeeded") << b.dump() << Logs(chaotic);
  EXPECT_GE(b["preemptions"].get<int>(), 2) << b.dump();
  json ma = server_->CallJson("GET", "/v1/models/straight/versions/1");
  json mb = server_->CallJson("GET", "/v1/models/chaotic/versions/1");
  EXPECT_EQ(ma["metadata"]["files"]["adapter_model.safetensors"], mb["metadata"]["files"]["adapter_model.safetensors"])
      << "adapter weights differ after preemptions\n" << Logs(chaotic);
  EXPECT_EQ(ma["metrics"]["eval_loss"], mb["metrics"]["eval_loss"]);
  EXPECT_NE(Logs(chaotic).find("resuming the LM job from its checkpoint"), std::string::npos) << Logs(chaotic);
}

// Data parallel on the local executor: 2 worker processes shard every micro-batch and sum their
// gradients; rank 0 alone reports. Same global batch, no dropout: the 1-task job's eval loss.
TEST_F(LmFinetuneTest, TwoLocalTasksFineTuneLikeOne) {
  json one_body = Body("one-task"), two_body = Body("two-tasks");
  for (json* b : {&one_body, &two_body}) (*b)["hyperparameters"]["lora"]["dropout"] = 0.0;
  two_body["tasks"] = 2;
  two_body["executor"] = "local";
  int64_t one = Submit(one_body), two = Submit(two_body);
  json a = server_->WaitForJob(one, 180);
  json b = server_->WaitForJob(two, 180);
  ASSERT_EQ(a["state"], "succeeded") << a.dump() << Logs(one);
  ASSERT_EQ(b["state"], "succeeded") << b.dump() << Logs(two);
  // Rank 1 finishes its (unreported) evaluation after rank 0 completed the job.
  std::string logs = Logs(two);
  for (int idx = 0; idx < 600 && logs.find("worker: rank 1 done") == std::string::npos; ++idx) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    logs = Logs(two);
  }
  EXPECT_NE(logs.find("data-parallel rank 1 of 2"), std::string::npos) << logs;
  EXPECT_NE(logs.find("worker: rank 1 done"), std::string::npos) << logs;
  json ma = server_->CallJson("GET", "/v1/models/one-task/versions/1");
  json mb = server_->CallJson("GET", "/v1/models/two-tasks/versions/1");
  double loss_a = ma["metrics"].value("eval_loss", -1.0);
  EXPECT_NEAR(mb["metrics"].value("eval_loss", -2.0), loss_a, 1e-4 * std::abs(loss_a)) << ma.dump() << mb.dump();
  json metrics = server_->CallJson("GET", "/v1/jobs/" + std::to_string(two) + "/metrics");
  EXPECT_EQ(metrics["items"].size(), 6u) << "rank 0 alone reports per-step metrics: " << metrics.dump();
}

TEST_F(LmFinetuneTest, PretrainsFromScratchWithItsOwnTokenizer) {
  std::string jsonl;
  for (int rep = 0; rep < 6; ++rep) {
    for (const char* t : {"Roses are red.", "Violets are blue.", "Sugar is sweet.", "And so are you."}) {
      jsonl += std::string(R"({"text": ")") + t + "\"}\n";
    }
  }
  std::string path = files_.path() + "/poems.jsonl";
  WriteFile(path, jsonl);
  ASSERT_EQ(server_->UploadFile("/v1/datasets/poems/versions", path).status, 201);
  json body = {{"kind", "lm"}, {"dataset", "poems"},
               {"config", {{"hidden_size", 32}, {"layers", 1}, {"heads", 2}, {"vocab_size", 320},
                           {"max_position_embeddings", 64}}},
               {"hyperparameters", {{"max_steps", 3}, {"batch_size", 2}, {"threads", 1}, {"eval_split", 0.25}}}};
  int64_t id = Submit(body);
  json job = server_->WaitForJob(id, 120);
  ASSERT_EQ(job["state"], "succeeded") << job.dump() << Logs(id);
  json mv = server_->CallJson("GET", "/v1/models/poems-lm/versions/1");
  EXPECT_EQ(mv["kind"], "finetuned") << mv.dump();
  const json& manifest = mv["metadata"];
  EXPECT_EQ(manifest["adapter"], false);
  EXPECT_EQ(manifest["tokenizer"], "tokenizer.model");
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json"}) {
    EXPECT_TRUE(manifest["files"].contains(f)) << f << " " << manifest.dump();
  }
  EXPECT_EQ(manifest["config"]["vocab_size"], 320);
  EXPECT_GT(mv["metrics"].value("perplexity", 0.0), 1.0) << mv.dump();
}

TEST_F(LmFinetuneTest, BadRequestsNameTheField) {
  struct Case {
    json patch;
    int status;
    std::string message;
  } cases[] = {
      {{{"base_model", "/nonexistent/model"}}, 404, "field 'base_model'"},
      {{{"base_model", "nosuchmodel:3"}}, 404, "field 'base_model': model 'nosuchmodel' not found"},
      {{{"hyperparameters", {{"lora", {{"rank", 0}}}}}}, 400, "field 'hyperparameters.lora.rank'"},
      {{{"hyperparameters", {{"steps", 3}}}}, 400, "field 'hyperparameters.steps': unknown field"},
      {{{"dataset", "nope"}}, 404, "field 'dataset'"},
      {{{"config", {{"hidden_size", 64}}}}, 400, "field 'base_model': give exactly one"},
  };
  for (const auto& c : cases) {
    json body = Body("bad");
    body.update(c.patch);
    int status = 0;
    json resp = server_->CallJson("POST", "/v1/jobs", body, &status);
    EXPECT_EQ(status, c.status) << c.patch.dump() << " -> " << resp.dump();
    EXPECT_NE(resp.dump().find(c.message), std::string::npos) << c.patch.dump() << " -> " << resp.dump();
  }
  json jobs = server_->CallJson("GET", "/v1/jobs");
  EXPECT_EQ(jobs["items"].size(), 0u) << "nothing is stored for a bad request";
}

TEST_F(LmFinetuneTest, CliFinetuneUploadsFollowsAndPrintsTheRegisteredVersion) {
  std::string jsonl;
  for (int rep = 0; rep < 4; ++rep) {
    for (const char* p : {"Hi", "Who are you?", "Bye", "Tell me a fact.", "What is blue?"}) {
      jsonl += std::string(R"({"prompt": ")") + p + R"(", "completion": " A short answer."})" + "\n";
    }
  }
  std::string path = files_.path() + "/qa.jsonl";
  WriteFile(path, jsonl);
  std::string out, err;
  int rc = server_->RunCli({"finetune", TinyModelDir(), "--data", path, "--lora-rank", "4", "--alpha", "8",
                            "--steps", "4", "--batch", "2", "--seq-len", "64", "--lr", "0.01",
                            "--checkpoint-every", "2", "--output", "cli-tuned", "--follow"},
                           &out, &err);
  ASSERT_EQ(rc, 0) << out << err;
  EXPECT_NE(out.find("Uploaded qa.jsonl as dataset 'qa' version 1 (20 records)"), std::string::npos) << out;
  EXPECT_NE(out.find("step 4/4"), std::string::npos) << out;
  EXPECT_NE(out.find("tokens/s"), std::string::npos) << out;
  EXPECT_NE(out.find("[checkpoint]"), std::string::npos) << out;
  EXPECT_NE(out.find("Registered model 'cli-tuned' version 1 (LoRA adapter): eval loss"), std::string::npos) << out;
  json mv = server_->CallJson("GET", "/v1/models/cli-tuned/versions/1");
  EXPECT_EQ(mv["kind"], "finetuned") << mv.dump();
  EXPECT_EQ(mv["metadata"]["adapter"]["rank"], 4) << mv.dump();
  // An uploaded dataset is reused by name, and without --follow the job id comes back at once.
  rc = server_->RunCli({"finetune", TinyModelDir(), "--data", "qa:1", "--full", "--steps", "2", "--json"}, &out, &err);
  ASSERT_EQ(rc, 0) << out << err;
  json job = json::parse(out, nullptr, false);
  ASSERT_TRUE(job.is_object()) << out;
  EXPECT_EQ(job["kind"], "lm");
  EXPECT_EQ(server_->WaitForJob(job["id"].get<int64_t>(), 120)["state"], "succeeded");
}

TEST_F(LmFinetuneTest, CliFinetunePrintsTheServersErrorAndExitsNonZero) {
  std::string jsonl;
  for (int line = 1; line <= 20; ++line) {
    jsonl += line == 17 ? R"({"msgs": []})" "\n"
                        : R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]})" "\n";
  }
  std::string path = files_.path() + "/broken.jsonl";
  WriteFile(path, jsonl);
  std::string out, err;
  EXPECT_EQ(server_->RunCli({"finetune", TinyModelDir(), "--data", path, "--follow"}, &out, &err), 1) << out << err;
  EXPECT_NE(err.find("line 17: expected a 'text', 'prompt'/'completion' or 'messages' field"), std::string::npos) << err;
  EXPECT_EQ(server_->RunCli({"finetune", TinyModelDir(), "--data", "chat", "--full", "--lora-rank", "4"}, &out, &err), 1);
  EXPECT_NE(err.find("field 'hyperparameters.lora'"), std::string::npos) << err;
  EXPECT_EQ(server_->RunCli({"finetune", "nosuchmodel", "--data", "chat"}, &out, &err), 1);
  EXPECT_NE(err.find("field 'base_model': model 'nosuchmodel' not found"), std::string::npos) << err;
  EXPECT_EQ(server_->RunCli({"finetune", TinyModelDir(), "--data", "/no/such/file.jsonl"}, &out, &err), 1);
  EXPECT_NE(err.find("no such file: /no/such/file.jsonl"), std::string::npos) << err;
  EXPECT_EQ(server_->CallJson("GET", "/v1/jobs")["items"].size(), 0u) << "nothing is submitted";
  EXPECT_EQ(server_->Call("GET", "/v1/datasets/broken").status, 404) << "nothing is half-uploaded";
}

TEST_F(LmFinetuneTest, PublicModelsAreFineTunableAndDeployableByEveryoneButChangedOnlyByTheOwner) {
  std::string out, err;
  ASSERT_EQ(server_->RunCli({"models", "import", TinyModelDir(), "--name", "shared-base"}, &out, &err), 0) << out << err;
  int status = 0;
  json bob = server_->CallJson("POST", "/v1/users", {{"name", "bob"}}, &status);
  ASSERT_EQ(status, 201) << bob.dump();
  const std::string tb = bob["token"];
  // Private (the default): bob sees nothing.
  EXPECT_EQ(server_->Call("GET", "/v1/models/shared-base", "", tb).status, 404);
  EXPECT_EQ(server_->CallJson("GET", "/v1/models", nullptr, nullptr, tb)["items"].size(), 0u);
  std::string path = files_.path() + "/bob.jsonl";
  WriteFile(path, ReadFile(files_.path() + "/chat.jsonl"));
  ASSERT_EQ(server_->UploadFile("/v1/datasets/bobchat/versions", path, tb).status, 201);
  json body = Body("bob-tuned");
  body["base_model"] = "shared-base";
  body["dataset"] = "bobchat";
  server_->CallJson("POST", "/v1/jobs", body, &status, tb);
  EXPECT_EQ(status, 404);

  // The owner publishes it (CLI); bob now lists, reads, fine-tunes and deploys it.
  ASSERT_EQ(server_->RunCli({"models", "visibility", "shared-base", "public"}, &out, &err), 0) << out << err;
  EXPECT_NE(out.find("Model 'shared-base' is now public"), std::string::npos) << out;
  json listed = server_->CallJson("GET", "/v1/models", nullptr, nullptr, tb);
  ASSERT_EQ(listed["items"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["items"][0]["visibility"], "public");
  EXPECT_EQ(server_->Call("GET", "/v1/models/shared-base/versions/1/files", "", tb).status, 200);
  json job = server_->CallJson("POST", "/v1/jobs", body, &status, tb);
  ASSERT_EQ(status, 201) << job.dump();
  // Polls bob's job with bob's token (jobs are private to their owner).
  const std::string job_path = "/v1/jobs/" + job["id"].dump();
  json done;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
       std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    done = server_->CallJson("GET", job_path, nullptr, nullptr, tb);
    const std::string state = done.value("state", "");
    if (state == "succeeded" || state == "failed" || state == "cancelled") break;
  }
  EXPECT_EQ(done["state"], "succeeded") << done.dump() << server_->Call("GET", job_path + "/logs", "", tb).body;
  json tuned = server_->CallJson("GET", "/v1/models/bob-tuned", nullptr, &status, tb);
  EXPECT_EQ(status, 200) << tuned.dump();
  EXPECT_EQ(tuned["visibility"], "private");  // bob's own result stays his
  EXPECT_EQ(server_->Call("GET", "/v1/models/bob-tuned").status, 404) << "the admin does not see bob's private model";
  json ep = server_->CallJson("POST", "/v1/endpoints", {{"name", "bob-base"}, {"model", "shared-base"}}, &status, tb);
  EXPECT_EQ(status, 201) << ep.dump();
  EXPECT_EQ(server_->Call("DELETE", "/v1/endpoints/bob-base", "", tb).status, 200);

  // Only the owner (or an admin) changes it: bob gets 403 and the model stays public.
  json denied = server_->CallJson("PATCH", "/v1/models/shared-base", {{"visibility", "private"}}, &status, tb);
  EXPECT_EQ(status, 403) << denied.dump();
  EXPECT_NE(denied.dump().find("only its owner or an admin"), std::string::npos) << denied.dump();
  EXPECT_EQ(server_->CallJson("GET", "/v1/models/shared-base")["visibility"], "public");
  server_->CallJson("PATCH", "/v1/models/shared-base", {{"visibility", "everyone"}}, &status);
  EXPECT_EQ(status, 400);
  server_->CallJson("PATCH", "/v1/models/shared-base", {{"owner", 2}}, &status);
  EXPECT_EQ(status, 400);
  ASSERT_EQ(server_->RunCli({"models", "visibility", "shared-base", "private"}, &out, &err), 0) << out << err;
  EXPECT_EQ(server_->Call("GET", "/v1/models/shared-base", "", tb).status, 404);
}

}  // namespace
}  // namespace sskai::testing
