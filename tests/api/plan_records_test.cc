// Socket-free tests of kept plans (ids, jobs/endpoints recording theirs), catalog refresh, and
// model profiles (stored, and used by the planner in place of hand-typed numbers).
#include <filesystem>

#include <gmock/gmock.h>

#include "api/api_fixture.h"

namespace sskai::api {
namespace {

json ServePlanBody() {
  return json{{"kind", "serve"},
              {"traffic", {{"mean_rps", 2}, {"peak_rps", 10}, {"active_hours_per_day", 8}}},
              {"request_gflops", 0.5},
              {"model_memory_gib", 1}};
}

json TrainPlanBody() {
  return json{{"kind", "train"},
              {"workload", {{"params", 1.3e9}, {"tokens", 2e10}}},
              {"deadline_hours", 48}};
}

// A model version with a blob, owned by `owner`.
int64_t AddModel(store::Store& store, int64_t owner, const std::string& name) {
  store::ModelVersion v;
  v.kind = "trained";
  v.task = "classification";
  v.blob_sha256 = std::string(64, 'c');
  v.created_at = 1;
  auto added = store.AddModelVersion(owner, name, v);
  EXPECT_TRUE(added.ok()) << added.status().ToString();
  return added.ok() ? added->id : 0;
}

TEST_F(ApiRouterTest, PlansAreKeptAndJobsAndEndpointsRecordTheirs) {
  http::Response r = Call("POST", "/v1/plans", admin_token_, TrainPlanBody().dump());
  ASSERT_EQ(r.status, 200) << r.body;
  int64_t train_id = Body(r)["id"].get<int64_t>();
  http::Response got = Call("GET", "/v1/plans/" + std::to_string(train_id), admin_token_);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Body(got)["best"], Body(r)["best"]);
  EXPECT_EQ(Body(got)["request"]["deadline_hours"], 48);
  http::Response list = Call("GET", "/v1/plans", admin_token_);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(Body(list)["items"][0]["id"], train_id);

  // Another user sees none of them.
  auto [bob, bob_token] = AddUser("bob");
  EXPECT_EQ(Call("GET", "/v1/plans/" + std::to_string(train_id), bob_token).status, 404);

  // A job records the plan it was created from.
  AddCsvDataset(admin_id_, "iris");
  json job = {{"dataset", "iris"}, {"model", "m"}, {"plan_id", train_id}};
  http::Response created = Call("POST", "/v1/jobs", admin_token_, job.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  json plan = Body(created)["spec"]["plan"];
  EXPECT_EQ(plan["plan_id"], train_id);
  EXPECT_EQ(plan["choice"]["instance_type"], Body(r)["best"]["instance_type"]);

  // Wrong kind, unknown id, another user's plan: clear errors, nothing created.
  http::Response serve = Call("POST", "/v1/plans", admin_token_, ServePlanBody().dump());
  ASSERT_EQ(serve.status, 200) << serve.body;
  int64_t serve_id = Body(serve)["id"].get<int64_t>();
  job["plan_id"] = serve_id;
  http::Response wrong = Call("POST", "/v1/jobs", admin_token_, job.dump());
  EXPECT_EQ(wrong.status, 400);
  EXPECT_THAT(Message(wrong), ::testing::HasSubstr("is a 'serve' plan"));
  job["plan_id"] = 999;
  EXPECT_EQ(Call("POST", "/v1/jobs", admin_token_, job.dump()).status, 404);
  job["plan_id"] = "one";
  EXPECT_EQ(Call("POST", "/v1/jobs", admin_token_, job.dump()).status, 400);

  // An endpoint records its serve plan.
  AddModel(*store_, admin_id_, "m");
  json ep = {{"name", "e"}, {"model", "m"}, {"plan_id", serve_id}};
  http::Response deployed = Call("POST", "/v1/endpoints", admin_token_, ep.dump());
  ASSERT_EQ(deployed.status, 201) << deployed.body;
  EXPECT_EQ(Body(deployed)["plan"]["plan_id"], serve_id);
  ep["name"] = "e2";
  ep["plan_id"] = train_id;
  EXPECT_EQ(Call("POST", "/v1/endpoints", admin_token_, ep.dump()).status, 400);
  EXPECT_EQ(store_->GetEndpoint(admin_id_, "e2").status().code(), StatusCode::kNotFound);
}

TEST_F(ApiRouterTest, CatalogRefreshIsAllOrNothingAdminOnlyAndKept) {
  ctx_->catalog_prices_dir = dir_.Sub("catalog-prices");
  const std::string head =
      "# as_of=2099-01-02\ninstance_type,region,zone,ondemand_usd_per_hour,spot_usd_per_hour\n";
  json good = {{"files", {{{"name", "/tmp/dec.csv"}, {"text", head + "g5.xlarge,us-east-1,use1-az1,,0.2\n"}}}}};
  json bad = {{"files", {{{"name", "a.csv"}, {"text", head + "g5.xlarge,us-east-1,use1-az1,,0.3\n"}},
                         {{"name", "b.csv"}, {"text", head + "no-such.type,us-east-1,use1-az1,1,0.3\n"}}}}};

  auto [bob, bob_token] = AddUser("bob");
  EXPECT_EQ(Call("POST", "/v1/catalog/refresh", bob_token, good.dump()).status, 403);

  http::Response failed = Call("POST", "/v1/catalog/refresh", admin_token_, bad.dump());
  EXPECT_EQ(failed.status, 400) << failed.body;
  EXPECT_THAT(Message(failed), ::testing::HasSubstr("b.csv"));
  EXPECT_EQ(catalogs_.Get()->prices_date, catalog_.prices_date);  // the first file was not applied
  EXPECT_TRUE(std::filesystem::is_empty(ctx_->catalog_prices_dir) ||
              !std::filesystem::exists(ctx_->catalog_prices_dir));

  http::Response ok = Call("POST", "/v1/catalog/refresh", admin_token_, good.dump());
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Body(ok)["prices_date"], "2099-01-02");
  EXPECT_EQ(Body(Call("GET", "/v1/catalog", admin_token_))["prices_date"], "2099-01-02");
  bool found = false;
  for (const auto& o : catalogs_.Get()->offerings) {
    if (o.instance_type == "g5.xlarge" && o.zone == "use1-az1") {
      found = true;
      EXPECT_DOUBLE_EQ(*o.spot_usd_per_hour, 0.2);
    }
  }
  EXPECT_TRUE(found);
  // The file is kept under a safe name for the next start.
  int kept = 0;
  for (const auto& e : std::filesystem::directory_iterator(ctx_->catalog_prices_dir)) {
    ++kept;
    EXPECT_NE(e.path().filename().string().find("dec.csv"), std::string::npos);
  }
  EXPECT_EQ(kept, 1);
  // Every plan names the prices it used.
  EXPECT_EQ(Body(Call("POST", "/v1/plans", admin_token_, TrainPlanBody().dump()))["prices_date"], "2099-01-02");
  EXPECT_EQ(Call("POST", "/v1/catalog/refresh", admin_token_, "{\"files\": []}").status, 400);
}

TEST_F(ApiRouterTest, ProfilesAreStoredAndFeedThePlanner) {
  auto blob = blobs_->PutString("model bytes");
  ASSERT_TRUE(blob.ok());
  store::ModelVersion v;
  v.kind = "trained";
  v.blob_sha256 = *blob;
  v.created_at = 1;
  ASSERT_TRUE(store_->AddModelVersion(admin_id_, "m", v).ok());
  const std::string base = "/v1/models/m/versions/1/profile";
  EXPECT_EQ(Call("POST", base, admin_token_).status, 503);  // no profiler wired
  http::Response none = Call("GET", base, admin_token_);
  EXPECT_EQ(none.status, 404);
  EXPECT_THAT(Message(none), ::testing::HasSubstr("no profile yet"));
  // Planning from a model without a profile says what to do.
  json train = {{"kind", "train"}, {"model", {{"name", "m"}, {"samples", 1e6}, {"epochs", 2}}}, {"deadline_hours", 10}};
  http::Response unprofiled = Call("POST", "/v1/plans", admin_token_, train.dump());
  EXPECT_EQ(unprofiled.status / 100, 4);
  EXPECT_THAT(Message(unprofiled), ::testing::HasSubstr("sskai models profile m"));

  std::string seen_options;
  ctx_->profile_model = [&](const std::string&, const std::string& options) -> Result<std::string> {
    seen_options = options;
    if (options.find("\"repeats\":0") != std::string::npos) return Status::Internal("the model failed to run");
    return json{{"parameters", 5e6}, {"flops", {{"forward_per_sample", 1e7}}},
                {"memory_bytes", {{"batch", 32}, {"inference", 64.0 * 1024 * 1024}}},
                {"measurements", json::array()}}.dump();
  };
  http::Response failed = Call("POST", base, admin_token_, R"({"repeats":0})");
  EXPECT_EQ(failed.status, 500);
  EXPECT_EQ(Call("GET", base, admin_token_).status, 404);  // a failure is not a profile
  http::Response measured = Call("POST", base, admin_token_, R"({"repeats":5})");
  ASSERT_EQ(measured.status, 200) << measured.body;
  EXPECT_EQ(json::parse(seen_options)["repeats"], 5);
  EXPECT_EQ(Body(Call("GET", base, admin_token_))["parameters"], 5e6);
  EXPECT_EQ(Body(Call("GET", base, admin_token_))["model"], "m v1");

  http::Response plan = Call("POST", "/v1/plans", admin_token_, train.dump());
  ASSERT_EQ(plan.status, 200) << plan.body;
  json request = Body(Call("GET", "/v1/plans/" + std::to_string(Body(plan)["id"].get<int64_t>()), admin_token_))["request"];
  EXPECT_EQ(request["workload"]["params"], 5e6);
  EXPECT_EQ(request["workload"]["tokens"], 2e6);
  EXPECT_EQ(request["workload"]["micro_batch"], 32);
  json serve = ServePlanBody();
  serve.erase("request_gflops");
  serve.erase("model_memory_gib");
  serve["model"] = {{"name", "m"}};
  http::Response served = Call("POST", "/v1/plans", admin_token_, serve.dump());
  ASSERT_EQ(served.status, 200) << served.body;
  json sreq = Body(Call("GET", "/v1/plans/" + std::to_string(Body(served)["id"].get<int64_t>()), admin_token_))["request"];
  EXPECT_DOUBLE_EQ(sreq["request_gflops"].get<double>(), 0.01);
  EXPECT_DOUBLE_EQ(sreq["model_memory_gib"].get<double>(), 1.0 / 16);
}

TEST_F(ApiRouterTest, LmConfigsAreProfiledAndPlanned) {
  json config = {{"model_type", "llama"}, {"vocab_size", 128256}, {"hidden_size", 4096},
                 {"intermediate_size", 14336}, {"num_hidden_layers", 32}, {"num_attention_heads", 32},
                 {"num_key_value_heads", 8}, {"max_position_embeddings", 8192}, {"rms_norm_eps", 1e-5},
                 {"rope_theta", 500000.0}};
  http::Response r = Call("POST", "/v1/profiles/lm", admin_token_,
                          json{{"config", config}, {"seq_len", 2048}, {"lora_rank", 16}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["parameters"], 8030261248.0);
  EXPECT_LT(Body(r)["trainable_parameters"].get<double>(), 1e8);

  json bad = config;
  bad.erase("hidden_size");
  http::Response missing = Call("POST", "/v1/profiles/lm", admin_token_, json{{"config", bad}}.dump());
  EXPECT_EQ(missing.status, 400);
  EXPECT_THAT(Message(missing), ::testing::HasSubstr("hidden_size"));

  // A LoRA fine-tune of the 8B model, planned from its config: a GPU that holds it wins.
  json train = {{"kind", "train"}, {"deadline_hours", 24},
                {"lm", {{"config", config}, {"tokens", 2e8}, {"seq_len", 2048}, {"lora_rank", 16}}}};
  http::Response plan = Call("POST", "/v1/plans", admin_token_, train.dump());
  ASSERT_EQ(plan.status, 200) << plan.body;
  EXPECT_FALSE(Body(plan)["best"]["accelerator"].get<std::string>().empty());
  json request = Body(Call("GET", "/v1/plans/" + std::to_string(Body(plan)["id"].get<int64_t>()), admin_token_))["request"];
  EXPECT_EQ(request["workload"]["params"], 8030261248.0);
  EXPECT_EQ(request["workload"]["layers"], 32);
  train["lm"].erase("tokens");
  EXPECT_EQ(Call("POST", "/v1/plans", admin_token_, train.dump()).status, 400);
}

}  // namespace
}  // namespace sskai::api
