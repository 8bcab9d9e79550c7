// The cost ledger through the real binary: a tagged training job priced at --local-price,
// GET /v1/cost (groups, CSV), budgets (CRUD, bad input, refuse_new), `sskai cost` and
// `sskai budgets`.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

TEST(CostE2eTest, TaggedJobIsPricedBudgetsRefuseAndCsvExports) {
  TempDir dir, files;
  // $36/h = $0.01 per second of this machine.
  TestServer server(dir.path(), {"--local-price", "rate:36"});
  Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started.ToString();
  int status = 0;

  // Bad tags are a 400 naming the field, before anything is created.
  json bad = server.CallJson("POST", "/v1/jobs",
                             {{"dataset", "iris"}, {"model", "m"}, {"tags", {{"bad key", "x"}}}}, &status);
  EXPECT_EQ(status, 400) << bad.dump();
  EXPECT_NE(bad.dump().find("tags"), std::string::npos);

  ASSERT_EQ(server.UploadFile("/v1/datasets/iris/versions", WriteSklearnCsv("iris", files.path())).status, 201);
  json job = server.CallJson("POST", "/v1/jobs",
                             {{"dataset", "iris"}, {"model", "iris-mlp"},
                              {"tags", {{"team", "nlp"}, {"project", "demo"}}}}, &status);
  ASSERT_EQ(status, 201) << job.dump();
  EXPECT_EQ(job["tags"]["team"], "nlp");
  int64_t id = job["id"].get<int64_t>();
  ASSERT_EQ(server.WaitForJob(id, 120)["state"], "succeeded");

  // The worker reports success just before it exits; its usage record closes on exit. Wait until
  // the ledger has nothing open (two equal totals 200 ms apart).
  json cost;
  for (int i = 0; i < 100; ++i) {
    cost = server.CallJson("GET", "/v1/cost?group_by=job", nullptr, &status);
    ASSERT_EQ(status, 200) << cost.dump();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    json again = server.CallJson("GET", "/v1/cost?group_by=job", nullptr, &status);
    if (again["total_usd"] == cost["total_usd"]) break;
  }
  EXPECT_EQ(cost["currency"], "USD");
  ASSERT_EQ(cost["groups"].size(), 1u) << cost.dump();
  EXPECT_EQ(cost["groups"][0]["key"], std::to_string(id));
  double seconds = cost["groups"][0]["compute_seconds"].get<double>();
  EXPECT_GT(seconds, 0);
  EXPECT_NEAR(cost["total_usd"].get<double>(), seconds * 0.01, 1e-5);  // hand computation
  EXPECT_EQ(cost["unpriced_seconds"], 0);
  // Totals equal the sum of the entries.
  json entries = server.CallJson("GET", "/v1/cost/entries", nullptr, &status);
  ASSERT_EQ(status, 200);
  double sum = 0;
  for (const auto& e : entries["items"]) sum += e["cost_usd"].get<double>();
  EXPECT_NEAR(sum, cost["total_usd"].get<double>(), 1e-5);
  json by_tag = server.CallJson("GET", "/v1/cost?group_by=tag:team", nullptr, &status);
  ASSERT_EQ(status, 200);
  EXPECT_EQ(by_tag["groups"][0]["key"], "nlp");
  json by_day = server.CallJson("GET", "/v1/cost?group_by=day", nullptr, &status);
  ASSERT_EQ(status, 200);
  EXPECT_NEAR(by_day["total_usd"].get<double>(), cost["total_usd"].get<double>(), 1e-6);

  // CSV export.
  auto csv = server.Call("GET", "/v1/cost?group_by=day&format=csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_NE(csv.headers["content-type"].find("text/csv"), std::string::npos);
  EXPECT_EQ(csv.body.rfind("key,cost_usd,ondemand_usd,savings_usd", 0), 0u) << csv.body;
  EXPECT_NE(csv.body.find("\ntotal,"), std::string::npos);

  // Malformed dates and group_by: 400 naming the field.
  json e1 = server.CallJson("GET", "/v1/cost?from=2024-13-40", nullptr, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(e1.dump().find("'from'"), std::string::npos) << e1.dump();
  server.CallJson("GET", "/v1/cost?group_by=colour", nullptr, &status);
  EXPECT_EQ(status, 400);

  // Budgets: bad input.
  json nb = server.CallJson("POST", "/v1/budgets", {{"name", "neg"}, {"scope", "user"}, {"limit_usd", -1}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(nb.dump().find("limit_usd"), std::string::npos);
  server.CallJson("POST", "/v1/budgets", {{"name", "huge"}, {"scope", "user"}, {"limit_usd", 5e7}}, &status);
  EXPECT_EQ(status, 400);
  json ut = server.CallJson("POST", "/v1/budgets", {{"name", "t"}, {"scope", "tag"}, {"tag_key", "colour"},
                                                    {"tag_value", "red"}, {"limit_usd", 5}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(ut.dump().find("unknown tag"), std::string::npos) << ut.dump();

  // A tag budget of $0.0001 that refuses new work: it is already exceeded by the job above.
  json b = server.CallJson("POST", "/v1/budgets",
                           {{"name", "nlp-team"}, {"scope", "tag"}, {"tag_key", "team"}, {"tag_value", "nlp"},
                            {"period", "monthly"}, {"limit_usd", 0.0001},
                            {"actions", {"alert", "refuse_new"}}}, &status);
  ASSERT_EQ(status, 201) << b.dump();
  EXPECT_EQ(b["state"], "exceeded");
  EXPECT_NEAR(b["spent_usd"].get<double>(), cost["total_usd"].get<double>(), 1e-5);
  EXPECT_GE(b["forecast_usd"].get<double>(), b["spent_usd"].get<double>());
  server.CallJson("POST", "/v1/budgets", {{"name", "nlp-2"}, {"scope", "tag"}, {"tag_key", "team"},
                                          {"tag_value", "nlp"}, {"limit_usd", 5}}, &status);
  EXPECT_EQ(status, 409);  // overlaps the monthly one
  json refused = server.CallJson("POST", "/v1/jobs",
                                 {{"dataset", "iris"}, {"model", "again"}, {"tags", {{"team", "nlp"}}}}, &status);
  EXPECT_EQ(status, 403) << refused.dump();
  EXPECT_NE(refused.dump().find("nlp-team"), std::string::npos) << refused.dump();
  // Other tags are not refused.
  server.CallJson("POST", "/v1/jobs", {{"dataset", "iris"}, {"model", "other"}, {"tags", {{"team", "cv"}}}}, &status);
  EXPECT_EQ(status, 201);

  // Raising the limit lifts the refusal.
  int64_t bid = b["id"].get<int64_t>();
  json raised = server.CallJson("PATCH", "/v1/budgets/" + std::to_string(bid), {{"limit_usd", 1000}}, &status);
  ASSERT_EQ(status, 200) << raised.dump();
  EXPECT_NE(raised["state"], "exceeded");
  server.CallJson("POST", "/v1/jobs", {{"dataset", "iris"}, {"model", "again"}, {"tags", {{"team", "nlp"}}}}, &status);
  EXPECT_EQ(status, 201);

  // CLI.
  std::string out, err;
  ASSERT_EQ(server.RunCli({"cost", "--by", "day"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("TOTAL"), std::string::npos) << out;
  ASSERT_EQ(server.RunCli({"--json", "cost", "--by", "user"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"admin\""), std::string::npos) << out;
  ASSERT_EQ(server.RunCli({"budgets", "list"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("nlp-team"), std::string::npos) << out;
  ASSERT_EQ(server.RunCli({"budgets", "create", "mine", "--limit", "50", "--action", "alert"}, &out, &err), 0) << err;
  EXPECT_EQ(server.RunCli({"budgets", "create", "bad", "--limit=-3"}, &out, &err), 1);
  EXPECT_NE(err.find("limit_usd"), std::string::npos) << err;
  ASSERT_EQ(server.RunCli({"budgets", "delete", std::to_string(bid)}, &out, &err), 0) << err;
  server.CallJson("GET", "/v1/budgets/" + std::to_string(bid), nullptr, &status);
  EXPECT_EQ(status, 404);
}

// A budget with the pause_jobs action checkpoints and pauses a running job once spending passes
// the limit (through the real job controller), and raising the limit resumes it to the end.
TEST(CostE2eTest, ExceededBudgetPausesARunningJobAndRaisingItResumes) {
  TempDir dir, files;
  // $3,600/h = $1 per second of this machine: the first second of training exceeds $0.30, so the
  // enforcer (every 2 s) pauses the job long before its 2,000 epochs end, however fast the machine.
  TestServer server(dir.path(), {"--local-price", "rate:3600"});
  Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started.ToString();
  int status = 0;
  ASSERT_EQ(server.UploadFile("/v1/datasets/bc/versions", WriteSklearnCsv("breast_cancer", files.path())).status, 201);
  json budget = server.CallJson("POST", "/v1/budgets",
                                {{"name", "tight"}, {"scope", "user"}, {"limit_usd", 0.3},
                                 {"actions", json::array({"alert", "pause_jobs"})}}, &status);
  ASSERT_EQ(status, 201) << budget.dump();
  json job = server.CallJson("POST", "/v1/jobs",
                             {{"dataset", "bc"}, {"model", "bc-mlp"},
                              {"checkpoint_interval_seconds", 1},
                              {"hyperparameters", {{"epochs", 2000}}}}, &status);
  ASSERT_EQ(status, 201) << job.dump();
  int64_t id = job["id"].get<int64_t>();
  json seen;
  for (int i = 0; i < 600; ++i) {
    seen = server.CallJson("GET", "/v1/jobs/" + std::to_string(id), nullptr, &status);
    if (seen.value("state", "") == "paused" || seen.value("state", "") == "succeeded") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(seen["state"], "paused") << seen.dump();
  json events = server.CallJson("GET", "/v1/events?kind=budget", nullptr, &status);
  EXPECT_NE(events.dump().find("tight"), std::string::npos) << events.dump();

  json raised = server.CallJson("PATCH", "/v1/budgets/" + budget["id"].dump(), {{"limit_usd", 1000}}, &status);
  ASSERT_EQ(status, 200) << raised.dump();
  json done = server.WaitForJob(id, 240);
  EXPECT_EQ(done["state"], "succeeded") << done.dump();
}

}  // namespace
}  // namespace sskai::testing
