// `sskai plan train|serve` against the real server binary with its default catalog.
#include <gtest/gtest.h>

#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

TEST(PlanCliTest, TrainAndServePlansPrintTheServersTable) {
  TempDir dir;
  TestServer server(dir.path());
  Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started.ToString();

  int status = 0;
  json catalog = server.CallJson("GET", "/v1/catalog", nullptr, &status);
  ASSERT_EQ(status, 200) << catalog.dump();
  EXPECT_GT(catalog["offerings"].get<int>(), 0);

  std::string out, err;
  int code = server.RunCli({"plan", "train", "--params", "1.3e9", "--layers", "24", "--d-model",
                            "2048", "--tokens", "2e10", "--deadline-hours", "48"},
                           &out, &err);
  ASSERT_EQ(code, 0) << out << err;
  json plan = server.CallJson("POST", "/v1/plans",
                              {{"kind", "train"},
                               {"workload", {{"params", 1.3e9}, {"layers", 24}, {"d_model", 2048},
                                             {"tokens", 2e10}}},
                               {"deadline_hours", 48}},
                              &status);
  ASSERT_EQ(status, 200) << plan.dump();
  std::string best = plan["best"]["instance_type"];
  EXPECT_TRUE(out.find(best) != std::string::npos || out.find("spot") != std::string::npos) << out;

  out.clear();
  code = server.RunCli({"--json", "plan", "serve", "--mean-rps", "1", "--peak-rps", "3",
                        "--latency-ms", "1000", "--request-gflops", "2", "--model-gib", "0.5"},
                       &out, &err);
  ASSERT_EQ(code, 0) << out << err;
  json served = json::parse(out, nullptr, false);
  ASSERT_FALSE(served.is_discarded()) << out;
  EXPECT_EQ(served["kind"], "serve");

  // A bad request is a non-zero exit naming the problem.
  code = server.RunCli({"plan", "train", "--params", "1.3e9", "--tokens", "2e10",
                        "--deadline-hours", "48", "--max-nodes", "1000"},
                       &out, &err);
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("max_nodes"), std::string::npos) << err;
}

}  // namespace
}  // namespace sskai::testing
