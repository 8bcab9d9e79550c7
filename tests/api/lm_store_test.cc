// LM file sets: RegisterLmVersion (validation, manifest, nothing registered on bad input), the
// files routes (manifest, bytes, Range), blob GC references and MaterializeFileSet.
#include <filesystem>
#include <fstream>

#include "api_fixture.h"
#include "testing/lm_fixture.h"

namespace sskai::api {
namespace {

namespace fs = std::filesystem;

class LmStoreTest : public ApiRouterTest {
 protected:
  // A fresh tiny model directory.
  std::string ModelDir(const std::string& name, const sskai::testing::TinyLmOptions& o = {}) {
    std::string dir = dir_.Sub("src-" + name);
    params_ = sskai::testing::WriteTinyLm(dir, o);
    return dir;
  }
  Result<LmRegistered> Register(const std::string& dir, const std::string& model = "tiny") {
    LmRegistration reg;
    reg.dir = dir;
    reg.source_json = R"({"kind":"import"})";
    return RegisterLmVersion(*ctx_, admin_id_, model, reg);
  }
  // The bad-input contract: 400 naming `what`, no model row, no LM blob referenced.
  void ExpectRejected(const std::string& dir, const std::string& what) {
    auto reg = Register(dir, "bad");
    ASSERT_FALSE(reg.ok());
    EXPECT_EQ(http::HttpStatusFor(reg.status().code()), 400) << reg.status().ToString();
    EXPECT_NE(reg.status().message().find(what), std::string::npos) << reg.status().ToString();
    EXPECT_FALSE(store_->GetModel(admin_id_, "bad").ok());
    auto refs = store_->ReferencedBlobs();
    ASSERT_TRUE(refs.ok());
    EXPECT_TRUE(refs->empty());
  }
  int64_t params_ = 0;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(LmStoreTest, RegistersFileSetWithManifest) {
  std::string dir = ModelDir("one");
  auto reg = Register(dir);
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  EXPECT_EQ(reg->version, 1);
  json m = json::parse(reg->manifest_json);
  EXPECT_EQ(m["type"], "lm");
  std::set<std::string> names;
  for (const auto& [name, sha] : m["files"].items()) names.insert(name);
  EXPECT_EQ(names, (std::set<std::string>{"config.json", "generation_config.json", "model.safetensors",
                                          "tokenizer.json", "tokenizer_config.json"}));
  EXPECT_EQ(m["parameters"], params_);
  EXPECT_EQ(m["tokenizer"], "tokenizer.json");
  EXPECT_EQ(m["chat_template"], "llama3");
  EXPECT_EQ(m["adapter"], false);
  EXPECT_EQ(m["config"]["hidden_size"], 16);
  EXPECT_EQ(m["config"]["num_key_value_heads"], 2);
  EXPECT_EQ(m["source"]["kind"], "import");
  EXPECT_EQ(m["sizes"]["model.safetensors"], fs::file_size(dir + "/model.safetensors"));
  // The source directory is copied, not consumed.
  EXPECT_TRUE(fs::exists(dir + "/model.safetensors"));

  // The model version row: kind, manifest blob, total size.
  auto model = store_->GetModel(admin_id_, "tiny");
  ASSERT_TRUE(model.ok());
  auto mv = store_->GetModelVersion(model->id, 0);
  ASSERT_TRUE(mv.ok());
  EXPECT_EQ(mv->kind, "foundation");
  EXPECT_EQ(mv->task, "lm");
  EXPECT_EQ(mv->blob_sha256, reg->manifest_sha256);
  EXPECT_EQ(*blobs_->ReadString(mv->blob_sha256, 1 << 20), reg->manifest_json);

  // GC keeps every file of the manifest.
  auto refs = store_->ReferencedBlobs();
  ASSERT_TRUE(refs.ok());
  EXPECT_TRUE(refs->count(reg->manifest_sha256));
  for (const auto& [name, sha] : m["files"].items()) EXPECT_TRUE(refs->count(sha.get<std::string>())) << name;
  auto gc = blobs_->CollectGarbage(*refs, 0);
  ASSERT_TRUE(gc.ok());
  EXPECT_EQ(gc->removed, 0);
}

TEST_F(LmStoreTest, FilesRoutesServeManifestBytesAndRanges) {
  std::string dir = ModelDir("routes");
  ASSERT_TRUE(Register(dir).ok());
  http::Response r = Call("GET", "/v1/models/tiny/versions/latest/files", admin_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  json m = Body(r);
  EXPECT_EQ(m["model"], "tiny");
  EXPECT_EQ(m["version"], 1);
  EXPECT_TRUE(m["files"].contains("config.json"));

  r = Call("GET", "/v1/models/tiny/versions/1/files/config.json", admin_token_);
  ASSERT_EQ(r.status, 200);
  auto path = blobs_->LocalPath(m["files"]["config.json"].get<std::string>());
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(r.file_path, *path);
  EXPECT_EQ(ReadFile(*path), ReadFile(dir + "/config.json"));

  const std::string weights = ReadFile(dir + "/model.safetensors");
  http::Request req;
  auto ranged = [&](const std::string& range) {
    http::Request rq;
    rq.method = "GET";
    rq.target = "/v1/models/tiny/versions/1/files/model.safetensors";
    rq.headers["x-request-id"] = "t";
    rq.headers["authorization"] = "Bearer " + admin_token_;
    rq.headers["range"] = range;
    std::promise<http::Response> p;
    router_->Dispatch(rq, [&p](http::Response resp) { p.set_value(std::move(resp)); });
    return p.get_future().get();
  };
  r = ranged("bytes=100-");
  ASSERT_EQ(r.status, 206) << r.body;
  EXPECT_EQ(r.body, weights.substr(100));
  r = ranged("bytes=8-15");
  ASSERT_EQ(r.status, 206);
  EXPECT_EQ(r.body, weights.substr(8, 8));
  bool has_content_range = false;
  for (const auto& [k, v] : r.headers) {
    if (k == "Content-Range") {
      has_content_range = true;
      EXPECT_EQ(v, "bytes 8-15/" + std::to_string(weights.size()));
    }
  }
  EXPECT_TRUE(has_content_range);
  EXPECT_EQ(ranged("bytes=" + std::to_string(weights.size()) + "-").status, 416);

  EXPECT_EQ(Call("GET", "/v1/models/tiny/versions/1/files/README.md", admin_token_).status, 404);
  // Another user sees nothing.
  auto [uid, token] = AddUser("bob");
  EXPECT_EQ(Call("GET", "/v1/models/tiny/versions/1/files", token).status, 404);
}

TEST_F(LmStoreTest, ShardedCheckpointKeepsIndexAndShards) {
  sskai::testing::TinyLmOptions o;
  o.shards = 2;
  std::string dir = ModelDir("sharded", o);
  auto reg = Register(dir);
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  json m = json::parse(reg->manifest_json);
  EXPECT_TRUE(m["files"].contains("model.safetensors.index.json"));
  EXPECT_TRUE(m["files"].contains("model-00001-of-00002.safetensors"));
  EXPECT_TRUE(m["files"].contains("model-00002-of-00002.safetensors"));
  EXPECT_EQ(m["parameters"], params_);
}

TEST_F(LmStoreTest, MaterializeFileSetIsIdempotent) {
  std::string dir = ModelDir("mat");
  auto reg = Register(dir);
  ASSERT_TRUE(reg.ok());
  json m = json::parse(reg->manifest_json);
  std::map<std::string, std::string> files = m["files"].get<std::map<std::string, std::string>>();
  const std::string out = dir_.path() + "/lm/" + reg->manifest_sha256;
  auto made = artifacts::MaterializeFileSet(*blobs_, files, out);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(*made, out);
  for (const auto& [name, sha] : files) {
    EXPECT_TRUE(fs::is_symlink(out + "/" + name)) << name;
    EXPECT_EQ(ReadFile(out + "/" + name), ReadFile(dir + "/" + name)) << name;
  }
  EXPECT_TRUE(artifacts::MaterializeFileSet(*blobs_, files, out).ok());
  // No temp directories left beside it.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir_.path() + "/lm")) { (void)e; ++entries; }
  EXPECT_EQ(entries, 1);
  EXPECT_FALSE(artifacts::MaterializeFileSet(*blobs_, {{"../x", files["config.json"]}}, out + "x").ok());
  EXPECT_FALSE(artifacts::MaterializeFileSet(*blobs_, {{"x", std::string(64, 'a')}}, out + "y").ok());
  EXPECT_FALSE(fs::exists(out + "y"));
}

TEST_F(LmStoreTest, TruncatedSafetensorsIsRejected) {
  std::string dir = ModelDir("trunc");
  fs::resize_file(dir + "/model.safetensors", fs::file_size(dir + "/model.safetensors") / 2);
  ExpectRejected(dir, "model.safetensors");
}

TEST_F(LmStoreTest, CorruptHeaderIsRejected) {
  std::string dir = ModelDir("corrupt");
  {
    std::fstream f(dir + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.write("{{{{garbage", 11);
  }
  ExpectRejected(dir, "model.safetensors");
}

TEST_F(LmStoreTest, HeaderPointingOutsideTheFileIsRejected) {
  std::string dir = ModelDir("outside");
  std::string header = R"({"model.embed_tokens.weight":{"dtype":"F32","shape":[320,16],"data_offsets":[0,20480]}})";
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int b = 0; b < 8; ++b) bytes[b] = static_cast<char>((n >> (8 * b)) & 0xff);
  bytes += header + std::string(100, '\0');
  sskai::testing::WriteTextFile(dir + "/model.safetensors", bytes);
  ExpectRejected(dir, "model.safetensors");
}

TEST_F(LmStoreTest, ConfigMissingFieldIsRejected) {
  std::string dir = ModelDir("config");
  json config = json::parse(ReadFile(dir + "/config.json"));
  config.erase("hidden_size");
  sskai::testing::WriteTextFile(dir + "/config.json", config.dump());
  ExpectRejected(dir, "config.json: missing field 'hidden_size'");
}

TEST_F(LmStoreTest, ConfigNotMatchingWeightsIsRejected) {
  std::string dir = ModelDir("mismatch");
  json config = json::parse(ReadFile(dir + "/config.json"));
  config["num_hidden_layers"] = 3;
  sskai::testing::WriteTextFile(dir + "/config.json", config.dump());
  ExpectRejected(dir, "model.layers.2.self_attn.q_proj.weight");
}

TEST_F(LmStoreTest, UnsupportedTokenizerKindIsRejected) {
  std::string dir = ModelDir("wordpiece");
  sskai::testing::WriteTextFile(dir + "/tokenizer.json",
                                R"({"model":{"type":"WordPiece","vocab":{"a":0}},"pre_tokenizer":null})");
  ExpectRejected(dir, "tokenizer.json");
}

TEST_F(LmStoreTest, MissingTokenizerOrWeightsIsRejected) {
  sskai::testing::TinyLmOptions o;
  o.tokenizer = false;
  ExpectRejected(ModelDir("notok", o), "no tokenizer");
  std::string dir = ModelDir("noweights");
  fs::remove(dir + "/model.safetensors");
  ExpectRejected(dir, "pytorch_model.bin are not accepted");
  std::string shard_dir = ModelDir("missing-shard", {.shards = 2});
  fs::remove(shard_dir + "/model-00002-of-00002.safetensors");
  ExpectRejected(shard_dir, "model-00002-of-00002.safetensors");
}


TEST_F(LmStoreTest, GalleryListsFamiliesWithSizesAndPulledState) {
  std::string dir = ModelDir("gallery");
  LmRegistration reg;
  reg.dir = dir;
  reg.source_json = R"({"kind":"pull","repo":"Qwen/Qwen2.5-0.5B-Instruct","revision":"main"})";
  ASSERT_TRUE(RegisterLmVersion(*ctx_, admin_id_, "qwen-small", reg).ok());
  http::Response r = Call("GET", "/v1/gallery", admin_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  std::map<std::string, json> by_name;
  const json gallery = Body(r);
  for (const auto& item : gallery["items"]) by_name[item["name"].get<std::string>()] = item;
  for (const char* name : {"sskai-demo", "TinyLlama-1.1B-Chat", "Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct",
                           "Llama-3.1-8B-Instruct", "Qwen2.5-0.5B-Instruct", "Qwen2.5-1.5B-Instruct",
                           "Qwen2.5-7B-Instruct", "Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-8B"}) {
    ASSERT_TRUE(by_name.count(name)) << name;
    const json& m = by_name[name];
    EXPECT_GT(m["memory"]["inference_bytes"].get<double>(), m["memory"]["weights_bytes"].get<double>()) << name;
    EXPECT_GT(m["memory"]["lora_bytes"].get<double>(), m["memory"]["inference_bytes"].get<double>()) << name;
    EXPECT_GT(m["memory"]["full_finetune_bytes"].get<double>(), m["memory"]["lora_bytes"].get<double>()) << name;
    EXPECT_FALSE(m["pull_command"].get<std::string>().empty()) << name;
  }
  // Parameter counts of the published models (within 1%).
  auto near = [&](const std::string& name, double expected) {
    EXPECT_NEAR(by_name[name]["parameters"].get<double>(), expected, expected * 0.01) << name;
  };
  near("TinyLlama-1.1B-Chat", 1.100e9);
  near("Llama-3.2-1B-Instruct", 1.236e9);
  near("Llama-3.1-8B-Instruct", 8.030e9);
  near("Qwen2.5-0.5B-Instruct", 0.494e9);
  near("Qwen2.5-7B-Instruct", 7.616e9);
  near("Qwen3-8B", 8.191e9);
  EXPECT_TRUE(by_name["Llama-3.2-1B-Instruct"]["gated"].get<bool>());
  EXPECT_FALSE(by_name["Qwen3-0.6B"]["gated"].get<bool>());
  EXPECT_EQ(by_name["Qwen2.5-0.5B-Instruct"]["pull_command"],
            "sskai models pull Qwen/Qwen2.5-0.5B-Instruct --name Qwen2.5-0.5B-Instruct");
  EXPECT_TRUE(by_name["Qwen2.5-0.5B-Instruct"]["pulled"].get<bool>());
  EXPECT_EQ(by_name["Qwen2.5-0.5B-Instruct"]["model"], "qwen-small");
  EXPECT_FALSE(by_name["Qwen3-8B"]["pulled"].get<bool>());
}

TEST_F(LmStoreTest, LmFileNames) {
  EXPECT_TRUE(IsLmFileName("config.json"));
  EXPECT_TRUE(IsLmFileName("model-00001-of-00004.safetensors"));
  EXPECT_TRUE(IsLmFileName("tokenizer.model"));
  EXPECT_FALSE(IsLmFileName("pytorch_model.bin"));
  EXPECT_FALSE(IsLmFileName("model.pt"));
  EXPECT_FALSE(IsLmFileName("README.md"));
  EXPECT_FALSE(IsLmFileName("../model.safetensors"));
  EXPECT_FALSE(IsLmFileName(".hidden.safetensors"));
}


// The import flow over the API: upload session, streamed files, import, 400 on bad input.
class LmImportTest : public LmStoreTest {
 protected:
  std::string StartUpload() {
    http::Response r = Call("POST", "/v1/uploads", admin_token_);
    EXPECT_EQ(r.status, 201) << r.body;
    return Body(r).value("id", "");
  }
  http::Response PutFile(const std::string& id, const std::string& name, const std::string& path) {
    // The server streams a body to a temp file before the handler runs; do the same.
    const std::string temp = blobs_->temp_dir() + "/body-" + name;
    fs::copy_file(path, temp, fs::copy_options::overwrite_existing);
    http::Request req;
    req.method = "PUT";
    req.target = "/v1/uploads/" + id + "/files/" + name;
    req.body_file = temp;
    req.body_size = fs::file_size(temp);
    req.headers["x-request-id"] = "t";
    req.headers["authorization"] = "Bearer " + admin_token_;
    std::promise<http::Response> p;
    router_->Dispatch(req, [&p](http::Response resp) { p.set_value(std::move(resp)); });
    return p.get_future().get();
  }
  http::Response UploadDir(const std::string& id, const std::string& dir) {
    http::Response last;
    for (const auto& e : fs::directory_iterator(dir)) {
      last = PutFile(id, e.path().filename().string(), e.path().string());
      EXPECT_EQ(last.status, 201) << last.body;
    }
    return last;
  }
};

TEST_F(LmImportTest, ImportsUploadedDirectory) {
  std::string dir = ModelDir("imp", {.shards = 2});
  std::string id = StartUpload();
  UploadDir(id, dir);
  http::Response r = Call("POST", "/v1/models/imported/import", admin_token_, json{{"upload", id}}.dump());
  ASSERT_EQ(r.status, 201) << r.body;
  json v = Body(r);
  EXPECT_EQ(v["model"], "imported");
  EXPECT_EQ(v["version"], 1);
  EXPECT_EQ(v["source"]["kind"], "import");
  EXPECT_TRUE(v["files"].contains("model-00002-of-00002.safetensors"));
  EXPECT_FALSE(v["files"].contains("pytorch_model.bin"));
  // The upload is consumed; the version lists like any other.
  EXPECT_EQ(Call("POST", "/v1/models/imported/import", admin_token_, json{{"upload", id}}.dump()).status, 404);
  r = Call("GET", "/v1/models/imported/versions/1", admin_token_);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["kind"], "foundation");
  EXPECT_EQ(Body(r)["task"], "lm");
  // Another user cannot use someone's upload.
  std::string id2 = StartUpload();
  auto [uid, token] = AddUser("eve");
  EXPECT_EQ(Call("POST", "/v1/models/x/import", token, json{{"upload", id2}}.dump()).status, 404);
}

TEST_F(LmImportTest, BadUploadAnswers400AndRegistersNothing) {
  std::string dir = ModelDir("bad-imp");
  fs::resize_file(dir + "/model.safetensors", 64);
  std::string id = StartUpload();
  UploadDir(id, dir);
  http::Response r = Call("POST", "/v1/models/broken/import", admin_token_, json{{"upload", id}}.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(Message(r).find("model.safetensors"), std::string::npos) << r.body;
  EXPECT_EQ(Call("GET", "/v1/models/broken", admin_token_).status, 404);
  auto refs = store_->ReferencedBlobs();
  ASSERT_TRUE(refs.ok());
  EXPECT_TRUE(refs->empty());
  // Missing field, bad file names.
  EXPECT_EQ(Call("POST", "/v1/models/broken/import", admin_token_, "{}").status, 400);
  std::string id3 = StartUpload();
  EXPECT_EQ(PutFile(id3, "..", dir + "/config.json").status, 400);
}

}  // namespace
}  // namespace sskai::api
