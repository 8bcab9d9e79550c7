// Socket-free tests of the API routes: auth, ownership, pagination, validation, OpenAPI.
#include "api/api_fixture.h"

namespace sskai::api {
namespace {

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

// Without a ready replica requests wait in the activator queue; with no queue room: 429.
TEST_F(ApiRouterTest, PredictWithoutAReadyReplicaAndNoQueueRoomIs429) {
  store::ModelVersion mv;
  mv.kind = "uploaded";
  mv.blob_sha256 = std::string(64, 'c');
  auto added = store_->AddModelVersion(admin_id_, "iris", mv);
  ASSERT_TRUE(added.ok());
  http::Response deployed =
      Call("POST", "/v1/endpoints", admin_token_,
           R"({"name":"iris-ep","model":"iris","config":{"queue_limit":0}})");
  ASSERT_EQ(deployed.status, 201) << deployed.body;
  EXPECT_EQ(Body(deployed)["state"], "deploying");
  http::Response empty = Call("POST", "/v1/endpoints/iris-ep/predict", admin_token_, "");
  EXPECT_EQ(empty.status, 400);
  http::Response r = Call("POST", "/v1/endpoints/iris-ep/predict", admin_token_, R"({"rows":[]})");
  EXPECT_EQ(r.status, 429);
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
  // Every route but the web console's catch-all (GET /{path...}, not part of the API).
  std::vector<http::RouteInfo> routes;
  for (const auto& route : router_->routes()) {
    if (route.pattern != "/{path...}") routes.push_back(route);
  }
  ASSERT_FALSE(routes.empty());
  EXPECT_EQ(operations, routes.size());
  EXPECT_EQ(routes.size() + 1, router_->routes().size());
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

}  // namespace
}  // namespace sskai::api
