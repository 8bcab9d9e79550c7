// The API router driven socket-free through http::Router::Dispatch with a real store and blob
// store, controllers over a fake executor, and a fake clock.
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <set>
#include <string>

#include "api/api.h"
#include "artifacts/artifacts.h"
#include "common/thread_pool.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "planner/planner.h"
#include "serving/serving.h"
#include "store/store.h"
#include "testing/fake_executor.h"
#include "testing/scratch_dir.h"

namespace sskai::api {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class ApiRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::Store::Open(dir_.path() + "/meta.db");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
    auto blobs = artifacts::OpenLocalBlobStore(dir_.Sub("artifacts"), clock_);
    ASSERT_TRUE(blobs.ok());
    blobs_ = std::move(blobs).value();
    jobs::JobController::Options job_options;
    job_options.binary = "/bin/false";
    job_options.log_dir = dir_.Sub("logs");
    jobs_ = std::make_unique<jobs::JobController>(
        job_options, *store_, executor_, clock_,
        [](const store::Job&) -> Result<std::string> { return std::string("tok"); },
        [](const store::Job&) {});
    serving::EndpointManager::Options ep_options;
    ep_options.binary = "/bin/false";
    ep_options.run_dir = dir_.Sub("run");
    ep_options.log_dir = dir_.Sub("logs");
    ep_options.proxy_threads = 1;
    endpoints_ = std::make_unique<serving::EndpointManager>(ep_options, *store_, *blobs_,
                                                            executor_, clock_);
    ctx_ = std::make_unique<ApiContext>(ApiContext{*store_, *blobs_, *jobs_, *endpoints_, clock_,
                                                   pool_});
    auto catalog = planner::LoadCatalog(SSKAI_TEST_CATALOG_DIR);
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = std::move(catalog).value();
    ctx_->catalog = &catalog_;
    router_ = BuildRouter(*ctx_);

    token_path_ = dir_.path() + "/admin.token";
    auto token = BootstrapAdmin(*store_, clock_, token_path_);
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    admin_token_ = *token;
    auto admin = store_->GetUserByName("admin");
    ASSERT_TRUE(admin.ok());
    admin_id_ = admin->id;
  }
  void TearDown() override {
    router_.reset();
    endpoints_.reset();
    jobs_.reset();
  }

  http::Response Call(const std::string& method, const std::string& target,
                      const std::string& token, const std::string& body = "") {
    http::Request req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.body_size = body.size();
    req.headers["x-request-id"] = "test";
    if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
    auto promise = std::make_shared<std::promise<http::Response>>();
    auto future = promise->get_future();
    router_->Dispatch(req, [promise](http::Response r) { promise->set_value(std::move(r)); });
    if (future.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << method << " " << target << " never answered";
      return {};
    }
    return future.get();
  }

  static json Body(const http::Response& r) {
    json j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j;
  }
  static std::string Message(const http::Response& r) {
    json j = Body(r);
    return j.is_object() && j.contains("error") ? j["error"].value("message", "") : "";
  }

  // A second, non-admin user with a token.
  std::pair<int64_t, std::string> AddUser(const std::string& name) {
    http::Response r = Call("POST", "/v1/users", admin_token_, json{{"name", name}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    json b = Body(r);
    return {b["user"]["id"].get<int64_t>(), b["token"].get<std::string>()};
  }

  int64_t AddCsvDataset(int64_t owner, const std::string& name) {
    store::DatasetVersion v;
    v.blob_sha256 = std::string(64, 'b');
    v.format = "csv";
    v.rows = 3;
    v.schema_json = json{{"columns", json::array({json{{"name", "sepal"}}, json{{"name", "petal"}},
                                                  json{{"name", "species"}}})}}
                        .dump();
    v.created_at = 1;
    auto added = store_->AddDatasetVersion(owner, name, v);
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    return added.ok() ? added->id : 0;
  }

  int64_t AddJob(int64_t owner) {
    store::Job job;
    job.owner_id = owner;
    job.name = "j";
    job.output_model = "m";
    job.created_at = 1;
    auto created = store_->CreateJob(job);
    EXPECT_TRUE(created.ok());
    return created.ok() ? created->id : 0;
  }

  sskai::testing::ScratchDir dir_;
  FakeClock clock_;
  ThreadPool pool_{2};
  sskai::testing::FakeExecutor executor_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<artifacts::BlobStore> blobs_;
  std::unique_ptr<jobs::JobController> jobs_;
  std::unique_ptr<serving::EndpointManager> endpoints_;
  planner::Catalog catalog_;
  std::unique_ptr<ApiContext> ctx_;
  std::shared_ptr<http::Router> router_;
  std::string token_path_;
  std::string admin_token_;
  int64_t admin_id_ = 0;
};

TEST_F(ApiRouterTest, BootstrapWritesAPrivateTokenFileOnce) {
  EXPECT_EQ(admin_token_.rfind("sk_", 0), 0u);
  EXPECT_EQ(admin_token_.size(), 3u + 64u);
  std::ifstream in(token_path_);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, admin_token_);
  struct stat st {};
  ASSERT_EQ(stat(token_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto again = BootstrapAdmin(*store_, clock_, token_path_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, "");  // users exist: nothing created
  http::Response me = Call("GET", "/v1/me", admin_token_);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(Body(me)["name"], "admin");
  EXPECT_EQ(Body(me)["admin"], true);
}

TEST_F(ApiRouterTest, MissingOrWrongCredentialsAre401) {
  http::Response none = Call("GET", "/v1/me", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(Body(none)["error"]["code"], "unauthenticated");
  EXPECT_NE(Message(none).find("Authorization"), std::string::npos) << none.body;
  bool has_www_auth = false;
  for (const auto& [k, v] : none.headers) has_www_auth |= (k == "WWW-Authenticate" && v == "Bearer");
  EXPECT_TRUE(has_www_auth);

  http::Response wrong = Call("GET", "/v1/jobs", "sk_" + std::string(64, '0'));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(Message(wrong), "invalid or revoked token");

  http::Request basic;
  basic.method = "GET";
  basic.target = "/v1/me";
  basic.headers["authorization"] = "Basic YWRtaW46eA==";
  http::Response scheme;
  router_->Dispatch(basic, [&](http::Response r) { scheme = std::move(r); });
  EXPECT_EQ(scheme.status, 401);
  EXPECT_NE(Message(scheme).find("Bearer"), std::string::npos);

  // Async routes authenticate too.
  EXPECT_EQ(Call("POST", "/v1/endpoints/x/predict", "", "{}").status, 401);
  // Public routes need no token.
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
  EXPECT_EQ(Call("GET", "/readyz", "").status, 200);
  EXPECT_EQ(Call("GET", "/v1/openapi.json", "").status, 200);
}

TEST_F(ApiRouterTest, ExpiredAndRevokedTokensAre401) {
  auto [bob, bob_token] = AddUser("bob");
  http::Response tokens = Call("GET", "/v1/tokens", bob_token);
  ASSERT_EQ(tokens.status, 200);
  ASSERT_EQ(Body(tokens)["items"].size(), 1u);
  EXPECT_FALSE(Body(tokens)["items"][0].contains("token_hash"));
  int64_t token_id = Body(tokens)["items"][0]["id"];
  EXPECT_EQ(Call("DELETE", "/v1/tokens/" + std::to_string(token_id), bob_token).status, 200);
  EXPECT_EQ(Call("GET", "/v1/me", bob_token).status, 401);
}

TEST_F(ApiRouterTest, NonAdminsCannotManageUsers) {
  auto [bob, bob_token] = AddUser("bob");
  http::Response r = Call("POST", "/v1/users", bob_token, R"({"name":"eve"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Call("GET", "/v1/users", bob_token).status, 403);
  EXPECT_EQ(Call("POST", "/v1/admin/gc", bob_token).status, 403);
  EXPECT_EQ(Call("GET", "/v1/users", admin_token_).status, 200);
}

TEST_F(ApiRouterTest, OtherUsersResourcesAre404) {
  auto [bob, bob_token] = AddUser("bob");
  int64_t job = AddJob(bob);
  AddCsvDataset(bob, "bobs-data");
  store::Endpoint ep;
  ep.owner_id = bob;
  ep.name = "bobs-endpoint";
  ASSERT_TRUE(store_->CreateEndpoint(ep).ok());
  std::string job_path = "/v1/jobs/" + std::to_string(job);

  EXPECT_EQ(Call("GET", job_path, bob_token).status, 200);
  EXPECT_EQ(Call("GET", job_path, admin_token_).status, 404);
  EXPECT_EQ(Call("GET", job_path + "/logs", admin_token_).status, 404);
  EXPECT_EQ(Call("GET", job_path + "/metrics", admin_token_).status, 404);
  http::Response cancel = Call("POST", job_path + "/cancel", admin_token_);
  EXPECT_EQ(cancel.status, 404);
  EXPECT_EQ(store_->GetJob(0, job)->state, jobs::kQueued);  // untouched

  EXPECT_EQ(Call("GET", "/v1/datasets/bobs-data", bob_token).status, 200);
  EXPECT_EQ(Call("GET", "/v1/datasets/bobs-data", admin_token_).status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/datasets/bobs-data", admin_token_).status, 404);
  EXPECT_EQ(Call("GET", "/v1/endpoints/bobs-endpoint", bob_token).status, 200);
  EXPECT_EQ(Call("GET", "/v1/endpoints/bobs-endpoint", admin_token_).status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/endpoints/bobs-endpoint", admin_token_).status, 404);
  EXPECT_EQ(Call("POST", "/v1/endpoints/bobs-endpoint/predict", admin_token_, "{}").status, 404);

  // Lists are scoped too.
  EXPECT_EQ(Body(Call("GET", "/v1/jobs", admin_token_))["items"].size(), 0u);
  EXPECT_EQ(Body(Call("GET", "/v1/jobs", bob_token))["items"].size(), 1u);
  EXPECT_EQ(Body(Call("GET", "/v1/datasets", admin_token_))["items"].size(), 0u);
}

TEST_F(ApiRouterTest, PaginationValidatesAndPages) {
  http::Response zero = Call("GET", "/v1/jobs?limit=0", admin_token_);
  EXPECT_EQ(zero.status, 400);
  EXPECT_NE(Message(zero).find("query parameter 'limit'"), std::string::npos) << zero.body;
  EXPECT_EQ(Call("GET", "/v1/jobs?limit=1001", admin_token_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/jobs?limit=-3", admin_token_).status, 400);
  http::Response abc = Call("GET", "/v1/jobs?after=abc", admin_token_);
  EXPECT_EQ(abc.status, 400);
  EXPECT_NE(Message(abc).find("query parameter 'after'"), std::string::npos) << abc.body;
  EXPECT_NE(Message(abc).find("'abc'"), std::string::npos) << abc.body;
  EXPECT_EQ(Call("GET", "/v1/events?limit=x", admin_token_).status, 400);

  int64_t first = AddJob(admin_id_);
  int64_t second = AddJob(admin_id_);
  json page1 = Body(Call("GET", "/v1/jobs?limit=1", admin_token_));
  ASSERT_EQ(page1["items"].size(), 1u);
  ASSERT_FALSE(page1["next_after"].is_null());
  json page2 = Body(Call("GET", "/v1/jobs?limit=1&after=" + page1["next_after"].dump(), admin_token_));
  ASSERT_EQ(page2["items"].size(), 1u);
  std::set<int64_t> ids = {page1["items"][0]["id"].get<int64_t>(),
                           page2["items"][0]["id"].get<int64_t>()};
  EXPECT_EQ(ids, (std::set<int64_t>{first, second}));
  json page3 = Body(Call("GET", "/v1/jobs?limit=1&after=" + page2["next_after"].dump(), admin_token_));
  EXPECT_TRUE(page3["items"].empty() || page2["next_after"].is_null());
}

TEST_F(ApiRouterTest, BadIdPathParamIs400) {
  http::Response r = Call("GET", "/v1/jobs/abc", admin_token_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Call("GET", "/v1/jobs/999", admin_token_).status, 404);
}

TEST_F(ApiRouterTest, SubmitJobValidatesTheRequest) {
  AddCsvDataset(admin_id_, "iris");
  auto post = [&](const json& body) { return Call("POST", "/v1/jobs", admin_token_, body.dump()); };

  http::Response empty = Call("POST", "/v1/jobs", admin_token_, "");
  EXPECT_EQ(empty.status, 400);
  http::Response not_json = Call("POST", "/v1/jobs", admin_token_, "{nope");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_NE(Message(not_json).find("not valid JSON"), std::string::npos);

  http::Response no_dataset = post({{"model", "m"}});
  EXPECT_EQ(no_dataset.status, 400);
  EXPECT_EQ(Message(no_dataset), "field 'dataset' is required");

  http::Response wrong_type = post({{"dataset", 5}, {"model", "m"}});
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_NE(Message(wrong_type).find("field 'dataset': expected a string"), std::string::npos);

  http::Response unknown = post({{"dataset", "nope"}, {"model", "m"}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(Message(unknown).find("dataset 'nope' not found"), std::string::npos);

  http::Response bad_model = post({{"dataset", "iris"}, {"model", "a/b"}});
  EXPECT_EQ(bad_model.status, 400);
  EXPECT_NE(Message(bad_model).find("field 'model'"), std::string::npos);

  http::Response bad_target = post({{"dataset", "iris"}, {"model", "m"}, {"target", "colour"}});
  EXPECT_EQ(bad_target.status, 400);
  EXPECT_NE(Message(bad_target).find("column 'colour' does not exist"), std::string::npos)
      << Message(bad_target);
  EXPECT_NE(Message(bad_target).find("columns are: sepal, petal, species"), std::string::npos)
      << Message(bad_target);

  http::Response bad_hyper =
      post({{"dataset", "iris"}, {"model", "m"}, {"hyperparameters", {{"epochs", -1}}}});
  EXPECT_EQ(bad_hyper.status, 400);
  EXPECT_NE(Message(bad_hyper).find("hyperparameters"), std::string::npos) << Message(bad_hyper);
  EXPECT_NE(Message(bad_hyper).find("epochs"), std::string::npos) << Message(bad_hyper);

  http::Response unknown_hyper =
      post({{"dataset", "iris"}, {"model", "m"}, {"hyperparameters", {{"lr", 0.1}}}});
  EXPECT_EQ(unknown_hyper.status, 400);
  EXPECT_NE(Message(unknown_hyper).find("'lr'"), std::string::npos) << Message(unknown_hyper);

  http::Response hyper_type = post({{"dataset", "iris"}, {"model", "m"}, {"hyperparameters", 3}});
  EXPECT_EQ(hyper_type.status, 400);
  EXPECT_NE(Message(hyper_type).find("field 'hyperparameters'"), std::string::npos);

  http::Response bad_arch = post({{"dataset", "iris"}, {"model", "m"}, {"architecture", "rnn"}});
  EXPECT_EQ(bad_arch.status, 400);
  EXPECT_NE(Message(bad_arch).find("field 'architecture'"), std::string::npos);

  http::Response bad_version = post({{"dataset", "iris"}, {"model", "m"}, {"dataset_version", 7}});
  EXPECT_EQ(bad_version.status, 404);
  EXPECT_NE(Message(bad_version).find("has no version 7"), std::string::npos);

  // Nothing was queued by the failures.
  EXPECT_TRUE(store_->ListJobsInStates({jobs::kQueued})->empty());

  http::Response ok = post({{"dataset", "iris"}, {"model", "iris-model"}, {"target", "species"},
                            {"hyperparameters", {{"epochs", 3}}}});
  ASSERT_EQ(ok.status, 201) << ok.body;
  json job = Body(ok);
  EXPECT_EQ(job["state"], "queued");
  EXPECT_EQ(store_->ListJobsInStates({jobs::kQueued})->size(), 1u);
}

TEST_F(ApiRouterTest, CancelThroughTheApi) {
  int64_t job = AddJob(admin_id_);
  std::string path = "/v1/jobs/" + std::to_string(job) + "/cancel";
  http::Response r = Call("POST", path, admin_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "cancelled");
  http::Response again = Call("POST", path, admin_token_);
  EXPECT_EQ(again.status, 409);
  EXPECT_NE(Message(again).find("already cancelled"), std::string::npos);
}

TEST_F(ApiRouterTest, PredictWithoutAReadyReplicaIs503) {
  store::ModelVersion mv;
  mv.kind = "uploaded";
  mv.blob_sha256 = std::string(64, 'c');
  auto added = store_->AddModelVersion(admin_id_, "iris", mv);
  ASSERT_TRUE(added.ok());
  http::Response deployed =
      Call("POST", "/v1/endpoints", admin_token_, R"({"name":"iris-ep","model":"iris"})");
  ASSERT_EQ(deployed.status, 201) << deployed.body;
  EXPECT_EQ(Body(deployed)["state"], "deploying");
  http::Response empty = Call("POST", "/v1/endpoints/iris-ep/predict", admin_token_, "");
  EXPECT_EQ(empty.status, 400);
  http::Response r = Call("POST", "/v1/endpoints/iris-ep/predict", admin_token_, R"({"rows":[]})");
  EXPECT_EQ(r.status, 503);
  bool retry_after = false;
  for (const auto& [k, v] : r.headers) retry_after |= (k == "Retry-After");
  EXPECT_TRUE(retry_after);
  http::Response dup =
      Call("POST", "/v1/endpoints", admin_token_, R"({"name":"iris-ep","model":"iris"})");
  EXPECT_EQ(dup.status, 409);
  http::Response no_model =
      Call("POST", "/v1/endpoints", admin_token_, R"({"name":"x","model":"nope"})");
  EXPECT_EQ(no_model.status, 404);
}

TEST_F(ApiRouterTest, OpenApiListsEveryRegisteredRoute) {
  http::Response r = Call("GET", "/v1/openapi.json", "");
  ASSERT_EQ(r.status, 200);
  json doc = Body(r);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  const json& paths = doc["paths"];
  size_t operations = 0;
  for (const auto& [path, ops] : paths.items()) operations += ops.size();
  const auto& routes = router_->routes();
  ASSERT_FALSE(routes.empty());
  EXPECT_EQ(operations, routes.size());
  for (const auto& route : routes) {
    std::string method = route.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ASSERT_TRUE(paths.contains(route.pattern)) << route.pattern;
    ASSERT_TRUE(paths[route.pattern].contains(method)) << route.method << " " << route.pattern;
    const json& op = paths[route.pattern][method];
    EXPECT_EQ(op["summary"], route.summary) << route.pattern;
    EXPECT_FALSE(route.summary.empty()) << route.method << " " << route.pattern;
    if (route.pattern.find('{') != std::string::npos) {
      EXPECT_TRUE(op.contains("parameters")) << route.pattern;
    }
  }
  // Public routes are marked as needing no security.
  EXPECT_EQ(paths["/healthz"]["get"]["security"], json::array());
  EXPECT_FALSE(paths["/v1/jobs"]["get"].contains("security"));
}


json TrainPlanBody() {
  return json{{"kind", "train"},
              {"workload", {{"params", 1.3e9}, {"layers", 24}, {"d_model", 2048}, {"tokens", 2e10},
                            {"precision", "bf16"}}},
              {"deadline_hours", 48}};
}

TEST_F(ApiRouterTest, TrainPlanAnswersTheCheapestFeasibleRowAndATable) {
  http::Response r = Call("POST", "/v1/plans", admin_token_, TrainPlanBody().dump());
  ASSERT_EQ(r.status, 200) << r.body;
  json plan = Body(r);
  EXPECT_EQ(plan["kind"], "train");
  EXPECT_FALSE(plan["best"]["instance_type"].get<std::string>().empty());
  EXPECT_GT(plan["best"]["expected_cost_usd"].get<double>(), 0);
  EXPECT_TRUE(plan["best"]["meets_deadline"].get<bool>());
  EXPECT_LE(plan["best"]["quantile_hours"].get<double>(), 48.0);
  ASSERT_FALSE(plan["ranked"].empty());
  EXPECT_EQ(plan["ranked"][0]["instance_type"], plan["best"]["instance_type"]);
  for (size_t i = 1; i < plan["ranked"].size(); ++i) {
    EXPECT_LE(plan["ranked"][i - 1]["expected_cost_usd"].get<double>(),
              plan["ranked"][i]["expected_cost_usd"].get<double>());
  }
  EXPECT_TRUE(plan["rejected"].is_array());
  EXPECT_EQ(plan["catalog_date"], catalog_.catalog_date);
  EXPECT_FALSE(plan["reason"].get<std::string>().empty());
  std::string table = plan["table"];
  EXPECT_NE(table.find(plan["best"]["instance_type"].get<std::string>()), std::string::npos) << table;

  // On-demand only: the winner is on-demand.
  json body = TrainPlanBody();
  body["allow_spot"] = false;
  http::Response od = Call("POST", "/v1/plans", admin_token_, body.dump());
  ASSERT_EQ(od.status, 200) << od.body;
  EXPECT_EQ(Body(od)["best"]["market"], "on-demand");
}

TEST_F(ApiRouterTest, ServePlanAndCatalog) {
  json body = {{"kind", "serve"},
               {"traffic", {{"mean_rps", 0.5}, {"peak_rps", 2}, {"active_hours_per_day", 12}}},
               {"latency_objective_ms", 1000},
               {"request_gflops", 2},
               {"model_memory_gib", 0.5}};
  http::Response r = Call("POST", "/v1/plans", admin_token_, body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  json plan = Body(r);
  EXPECT_EQ(plan["kind"], "serve");
  EXPECT_TRUE(plan["best"]["feasible"].get<bool>());
  EXPECT_FALSE(plan["table"].get<std::string>().empty());

  http::Response c = Call("GET", "/v1/catalog", admin_token_);
  ASSERT_EQ(c.status, 200) << c.body;
  json cat = Body(c);
  EXPECT_EQ(cat["offerings"].get<size_t>(), catalog_.offerings.size());
  EXPECT_FALSE(cat["regions"].empty());
  EXPECT_FALSE(cat["gpus"].empty());
  EXPECT_EQ(Call("GET", "/v1/catalog", "").status, 401);
}

TEST_F(ApiRouterTest, PlanRequestsAreValidatedByField) {
  auto post = [&](const json& body) { return Call("POST", "/v1/plans", admin_token_, body.dump()); };
  json bad = TrainPlanBody();
  bad["workload"]["params"] = "big";
  http::Response r = post(bad);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Message(r).find("workload.params"), std::string::npos) << r.body;

  bad = TrainPlanBody();
  bad["workload"]["precision"] = "int3";
  r = post(bad);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Message(r).find("workload.precision"), std::string::npos) << r.body;

  bad = TrainPlanBody();
  bad.erase("deadline_hours");
  r = post(bad);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Message(r).find("deadline_hours"), std::string::npos) << r.body;

  bad = TrainPlanBody();
  bad["max_nodes"] = 0;
  r = post(bad);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Message(r).find("max_nodes"), std::string::npos) << r.body;

  r = post({{"kind", "fly"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Message(r).find("kind"), std::string::npos) << r.body;

  bad = TrainPlanBody();
  bad["instance_types"] = {"no-such.type"};
  r = post(bad);
  EXPECT_EQ(r.status, 404) << r.body;
}

TEST_F(ApiRouterTest, ImpossiblePlansSayWhy) {
  json body = TrainPlanBody();
  body["deadline_hours"] = 0.01;  // 36 seconds for 2e10 tokens
  http::Response r = Call("POST", "/v1/plans", admin_token_, body.dump());
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_FALSE(Message(r).empty());

  body = TrainPlanBody();
  body["workload"] = {{"params", 5e13}, {"tokens", 1e9}};  // ~1 PB of training state
  body["deadline_hours"] = 100000;
  r = Call("POST", "/v1/plans", admin_token_, body.dump());
  EXPECT_GE(r.status, 400) << r.body;
  EXPECT_LT(r.status, 500) << r.body;
  EXPECT_FALSE(Message(r).empty());
}

TEST_F(ApiRouterTest, PlansWithoutACatalogAre503) {
  ctx_->catalog = nullptr;
  ctx_->catalog_error = "/nowhere: manifest.txt not found";
  http::Response r = Call("POST", "/v1/plans", admin_token_, TrainPlanBody().dump());
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(Message(r).find("manifest.txt not found"), std::string::npos) << r.body;
  EXPECT_EQ(Call("GET", "/v1/catalog", admin_token_).status, 503);
}

}  // namespace
}  // namespace sskai::api
