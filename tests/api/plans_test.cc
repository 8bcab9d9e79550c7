// Socket-free tests of the planner routes: POST /v1/plans and GET /v1/catalog.
#include "api/api_fixture.h"

namespace sskai::api {
namespace {

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
  catalogs_.Set(nullptr);
  ctx_->catalog_error = "/nowhere: manifest.txt not found";
  http::Response r = Call("POST", "/v1/plans", admin_token_, TrainPlanBody().dump());
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(Message(r).find("manifest.txt not found"), std::string::npos) << r.body;
  EXPECT_EQ(Call("GET", "/v1/catalog", admin_token_).status, 503);
}

}  // namespace
}  // namespace sskai::api
