// "executor": "slurm" on a server without a Slurm backend: a 400 naming the field for jobs and
// endpoints (create and config), nothing created; accepted once the server has one.
#include <gmock/gmock.h>

#include "api_fixture.h"

namespace sskai::api {
namespace {

using ExecutorCheckTest = ApiRouterTest;

TEST_F(ExecutorCheckTest, SlurmWithoutASlurmBackendIs400NamingTheField) {
  ASSERT_FALSE(ctx_->cluster.slurm);
  AddCsvDataset(admin_id_, "iris");
  json job = {{"dataset", "iris"}, {"model", "m"}, {"executor", "slurm"}};
  http::Response r = Call("POST", "/v1/jobs", admin_token_, job.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(Message(r), ::testing::HasSubstr("field 'executor'"));
  EXPECT_THAT(Message(r), ::testing::HasSubstr("no Slurm backend"));
  EXPECT_TRUE(Body(Call("GET", "/v1/jobs", admin_token_))["items"].empty());

  store::ModelVersion v;
  v.kind = "trained";
  v.task = "classification";
  v.blob_sha256 = std::string(64, 'c');
  v.created_at = 1;
  ASSERT_TRUE(store_->AddModelVersion(admin_id_, "m", v).ok());
  json ep = {{"name", "e"}, {"model", "m"}, {"executor", "slurm"}};
  r = Call("POST", "/v1/endpoints", admin_token_, ep.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(Message(r), ::testing::HasSubstr("field 'executor'"));
  ep.erase("executor");
  ep["config"] = {{"executor", "slurm"}};
  r = Call("POST", "/v1/endpoints", admin_token_, ep.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(Message(r), ::testing::HasSubstr("field 'config.executor'"));
  EXPECT_EQ(store_->GetEndpoint(admin_id_, "e").status().code(), StatusCode::kNotFound);

  // Local is fine, and PATCH cannot move an endpoint onto Slurm either.
  ep["config"] = {{"executor", "local"}};
  ep["mode"] = "serverless";
  http::Response made = Call("POST", "/v1/endpoints", admin_token_, ep.dump());
  ASSERT_EQ(made.status, 201) << made.body;
  r = Call("PATCH", "/v1/endpoints/e", admin_token_, json{{"config", {{"executor", "slurm"}}}}.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(Message(r), ::testing::HasSubstr("config.executor"));

  // With a Slurm backend the same job is accepted.
  ctx_->cluster.slurm = true;
  r = Call("POST", "/v1/jobs", admin_token_, job.dump());
  EXPECT_EQ(r.status, 201) << r.body;
}

}  // namespace
}  // namespace sskai::api
