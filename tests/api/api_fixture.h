// tests/api/api_fixture.h — the ApiRouterTest fixture shared by the api test files.
// The API router driven socket-free through http::Router::Dispatch with a real store and blob
// store, controllers over a fake executor, and a fake clock.
#pragma once

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
    catalogs_.Set(std::make_shared<const planner::Catalog>(catalog_));
    ctx_->catalogs = &catalogs_;
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
  planner::CatalogHolder catalogs_;
  std::unique_ptr<ApiContext> ctx_;
  std::shared_ptr<http::Router> router_;
  std::string token_path_;
  std::string admin_token_;
  int64_t admin_id_ = 0;
};

}  // namespace sskai::api
