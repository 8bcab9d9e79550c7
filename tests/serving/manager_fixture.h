// tests/serving/manager_fixture.h — the EndpointManager test fixture (real store and blob store,
// fake executor and clock, a loopback stand-in replica), shared by the manager's test files.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <atomic>
#include <future>
#include <memory>
#include <string>

#include "artifacts/artifacts.h"
#include "http/http.h"
#include "serving/internal.h"
#include "serving/serving.h"
#include "store/store.h"
#include "testing/fake_executor.h"
#include "testing/scratch_dir.h"

namespace sskai::serving {

using namespace std::chrono_literals;
using sskai::testing::FakeExecutor;

// A stand-in replica: answers /healthz and echoes /predict bodies. With a `key`, it checks
// it like a real replica does (ReplicaKeyMiddleware: 401 without it, /healthz open).
class FakeReplica {
 public:
  explicit FakeReplica(int health_status = 200, std::string key = "") {
    auto router = std::make_shared<http::Router>();
    router->AddSync("GET", "/healthz", [health_status](http::Request&) {
      return http::Response::Json(health_status, R"({"status":"ok"})");
    });
    router->AddSync("POST", "/predict", [](http::Request& req) {
      return http::Response::Json(200, R"({"echo":)" + req.body + "}");
    });
    router->AddSync("GET", "/metadata", [](http::Request&) {
      return http::Response::Json(200, R"({"task":"classification"})");
    });
    http::Server::Options options;
    options.io_threads = 1;
    options.middleware = ReplicaKeyMiddleware(std::move(key));
    auto server = http::Server::Create(options, router);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (server.ok()) server_ = std::move(server).value();
  }
  int port() const { return server_ ? server_->port() : 0; }
  void Stop() { server_.reset(); }

 private:
  std::unique_ptr<http::Server> server_;
};

class EndpointManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::Store::Open(dir_.path() + "/meta.db");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
    auto blobs = artifacts::OpenLocalBlobStore(dir_.Sub("artifacts"), clock_);
    ASSERT_TRUE(blobs.ok()) << blobs.status().ToString();
    blobs_ = std::move(blobs).value();
    auto user = store_->CreateUser("alice", false, 1);
    ASSERT_TRUE(user.ok());
    alice_ = user->id;
    auto sha = blobs_->PutString("fake model weights v1");
    ASSERT_TRUE(sha.ok());
    model_sha_ = *sha;
    model_version_id_ = AddModelVersion(model_sha_);
    options_.binary = "/opt/sskai/bin/sskai";
    options_.run_dir = dir_.Sub("run");
    // The fake replicas below are in-process TCP servers; the Unix socket path to real replicas
    // is covered by tests/http/unix_socket_test.cc and the e2e serving test.
    options_.unix_sockets = false;
    options_.log_dir = dir_.Sub("logs");
    options_.max_restarts = 3;
    options_.ready_timeout = 60s;
    options_.proxy_threads = 2;
    options_.predict_timeout = 5000ms;
    executor_.set_exit_on_sigterm(true);  // StopReplica waits for the exit
    manager_ = std::make_unique<EndpointManager>(options_, *store_, *blobs_, executor_, clock_);
  }
  void TearDown() override { manager_.reset(); }

  int64_t AddModelVersion(const std::string& sha) {
    store::ModelVersion mv;
    mv.kind = "uploaded";
    mv.task = "classification";
    mv.blob_sha256 = sha;
    mv.created_at = 1;
    auto added = store_->AddModelVersion(alice_, "iris", mv);
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    return added.ok() ? added->id : 0;
  }

  int64_t Deploy(const std::string& name, int64_t model_version_id,
                 const std::string& config_json = "") {
    store::Endpoint ep;
    ep.owner_id = alice_;
    ep.name = name;
    ep.model_version_id = model_version_id;
    ep.state = kDeploying;
    ep.config_json = config_json;
    auto created = store_->CreateEndpoint(ep);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? created->id : 0;
  }

  store::Endpoint Get(int64_t id) {
    auto ep = store_->GetEndpointById(id);
    EXPECT_TRUE(ep.ok());
    return ep.ok() ? *ep : store::Endpoint{};
  }

  // The port file of the latest launch (of endpoint `id`).
  std::string PortFile(int64_t id) {
    std::string prefix = options_.run_dir + "/endpoint-" + std::to_string(id) + "-r";
    auto launches = executor_.launches();
    for (auto it = launches.rbegin(); it != launches.rend(); ++it) {
      if (it->spec.argv.back().rfind(prefix, 0) == 0) return it->spec.argv.back();
    }
    return prefix + "?";
  }
  void WritePort(int64_t id, int port) { std::ofstream(PortFile(id)) << port << "\n"; }

  std::future<http::Response> PredictAsync(int64_t id, const std::string& body) {
    auto promise = std::make_shared<std::promise<http::Response>>();
    auto future = promise->get_future();
    store::Endpoint ep = Get(id);
    if (ep.id == 0) ep.id = id;
    manager_->Predict(ep, body, [promise](http::Response r) { promise->set_value(std::move(r)); });
    return future;
  }

  http::Response PredictAndWait(int64_t id, const std::string& body) {
    auto future = PredictAsync(id, body);
    if (future.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "Predict never answered";
      return {};
    }
    return future.get();
  }

  static std::string Header(const http::Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  sskai::testing::ScratchDir dir_;
  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<artifacts::BlobStore> blobs_;
  int64_t alice_ = 0;
  std::string model_sha_;
  int64_t model_version_id_ = 0;
  EndpointManager::Options options_;
  FakeExecutor executor_;
  std::unique_ptr<EndpointManager> manager_;
};

// Replicas on Slurm: scontrol polls are not throttled, download tokens are recorded (minted_,
// revoked_), the server's URL is set, and Restart() stands for a server restart.
class SlurmManagerTest : public EndpointManagerTest {
 protected:
  void SetUp() override {
    EndpointManagerTest::SetUp();
    options_.slurm_poll_interval = 0ms;
    options_.mint_token = [this](int64_t owner, const std::string& name) -> Result<std::string> {
      minted_.push_back(name);
      EXPECT_EQ(owner, alice_);
      return std::string("secret-") + name;
    };
    options_.revoke_token = [this](int64_t, const std::string& name) { revoked_.push_back(name); };
    Restart();
  }
  void Restart() {
    manager_.reset();
    manager_ = std::make_unique<EndpointManager>(options_, *store_, *blobs_, executor_, clock_);
    manager_->set_server_url("http://10.0.0.1:8080");
  }
  std::vector<std::string> minted_, revoked_;
};

}  // namespace sskai::serving
