// Serving against the real binary: a serverless endpoint scales to zero and back with zero
// failed requests (100 concurrent clients on a cold endpoint), the Open Inference Protocol v2
// round-trip with the protocol's documented example, /metrics, a replica killed under load,
// overload at ~10x capacity (429 + Retry-After, recovery), dynamic batching (answers equal the
// unbatched ones; a bad request fails alone), and the gateway's caches (revoke/delete/patch take
// effect on the next request).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <chrono>
#include <thread>

#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

using Steady = std::chrono::steady_clock;

class ServingE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    files_ = new TempDir();
    server_ = new TestServer(dir_->path());
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    std::string csv = WriteSklearnCsv("iris", files_->path());
    ASSERT_EQ(server_->UploadFile("/v1/datasets/iris/versions?filename=iris.csv", csv).status, 201);
    int status = 0;
    json job = server_->CallJson("POST", "/v1/jobs", {{"dataset", "iris"}, {"model", "iris-mlp"}},
                                 &status);
    ASSERT_EQ(status, 201) << job.dump();
    json done = server_->WaitForJob(job["id"].get<int64_t>(), 120);
    ASSERT_EQ(done["state"], "succeeded") << done.dump();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete files_;
    delete dir_;
  }

  // Polls GET /v1/endpoints/{name} until `state` (any state when "").
  static json WaitState(const std::string& name, const std::string& state, double seconds) {
    auto deadline = Steady::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    json ep;
    while (Steady::now() < deadline) {
      ep = server_->CallJson("GET", "/v1/endpoints/" + name);
      if (ep.value("state", "") == state) return ep;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return ep;
  }

  static std::string Rows() {
    return json::array({{{"f0", 5.1}, {"f1", 3.5}, {"f2", 1.4}, {"f3", 0.2}}}).dump();
  }

  static TempDir* dir_;
  static TempDir* files_;
  static TestServer* server_;
};
TempDir* ServingE2eTest::dir_ = nullptr;
TempDir* ServingE2eTest::files_ = nullptr;
TestServer* ServingE2eTest::server_ = nullptr;

TEST_F(ServingE2eTest, ServerlessScalesToZeroAndBackWithoutFailedRequests) {
  int status = 0;
  json ep = server_->CallJson(
      "POST", "/v1/endpoints",
      {{"name", "fn"}, {"model", "iris-mlp"}, {"mode", "serverless"},
       {"config", {{"idle_timeout_ms", 1500}, {"scale_down_delay_ms", 0},
                   {"stable_window_ms", 2000}, {"panic_window_ms", 500}}}},
      &status);
  ASSERT_EQ(status, 201) << ep.dump();
  EXPECT_EQ(ep["state"], "idle");
  EXPECT_EQ(ep["mode"], "serverless");
  EXPECT_EQ(ep["config"]["min_replicas"], 0);

  for (int round = 0; round < 2; ++round) {
    // 100 clients at once on a cold endpoint: every one is answered 200.
    std::atomic<int> ok{0};
    std::vector<std::string> failures;
    std::mutex mu;
    std::vector<std::thread> clients;
    auto t0 = Steady::now();
    for (int idx = 0; idx < 100; ++idx) {
      clients.emplace_back([&] {
        auto r = server_->Call("POST", "/v1/endpoints/fn/predict", Rows());
        if (r.status == 200) {
          ok += 1;
        } else {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back(std::to_string(r.status) + " " + r.body);
        }
      });
    }
    for (auto& t : clients) t.join();
    double ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
    EXPECT_EQ(ok.load(), 100) << (failures.empty() ? "" : failures[0]);
    std::cout << "round " << round << ": 100 cold clients answered in " << ms << " ms\n";
    // Idle for 1.5 s: back to zero replicas.
    json idle = WaitState("fn", "idle", 15);
    ASSERT_EQ(idle["state"], "idle") << idle.dump();
    EXPECT_TRUE(idle["replicas"].empty()) << idle.dump();
  }
  json metrics = server_->CallJson("GET", "/v1/endpoints/fn/metrics", nullptr, &status);
  ASSERT_EQ(status, 200) << metrics.dump();
  EXPECT_EQ(metrics["requests"], 200);
  EXPECT_EQ(metrics["errors"], 0);
  EXPECT_GE(metrics["cold_starts"].get<int>(), 2);
  EXPECT_GT(metrics["queue"]["waited"].get<int>(), 0);
  EXPECT_GE(metrics["replica_history"].size(), 3u);  // 0 -> 1 -> 0 -> ...

  auto prom = server_->Call("GET", "/metrics");
  ASSERT_EQ(prom.status, 200) << prom.body;
  EXPECT_NE(prom.body.find("sskai_endpoint_requests_total{endpoint=\"fn\""), std::string::npos)
      << prom.body;
  EXPECT_NE(prom.body.find("sskai_endpoint_cold_starts_total{endpoint=\"fn\""), std::string::npos);
  EXPECT_NE(prom.body.find("# TYPE sskai_endpoint_request_duration_seconds histogram"),
            std::string::npos);

  // Replica-seconds: every replica's usage record is closed once it stopped.
  json usage = server_->CallJson("GET", "/v1/usage?limit=1000");
  int endpoint_records = 0;
  for (const auto& u : usage["items"]) {
    if (u["subject_kind"] != "endpoint" || u["subject_id"] != ep["id"]) continue;
    ++endpoint_records;
    EXPECT_FALSE(u["ended_at"].is_null()) << u.dump();
  }
  EXPECT_GE(endpoint_records, 2);
}

TEST_F(ServingE2eTest, OpenInferenceProtocolRoundTripWithTheDocumentedExample) {
  int status = 0;
  server_->CallJson("POST", "/v1/endpoints", {{"name", "oip"}, {"model", "iris-mlp"}}, &status);
  ASSERT_EQ(status, 201);
  auto live = server_->Call("GET", "/v2/health/live", "", "-");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(server_->Call("GET", "/v2/health/ready", "", "-").status, 200);
  json meta = server_->CallJson("GET", "/v2/models/oip", nullptr, &status);
  ASSERT_EQ(status, 200) << meta.dump();
  EXPECT_EQ(meta["name"], "oip");
  EXPECT_EQ(meta["inputs"][0]["shape"], json::array({-1, 4}));
  EXPECT_EQ(server_->Call("GET", "/v2/models/nope").status, 404);
  EXPECT_EQ(server_->Call("GET", "/v2/models/oip", "", "-").status, 401);

  // KServe's documented v2 example for the iris model.
  json request = json::parse(R"({
    "inputs": [
      {
        "name": "input-0",
        "shape": [2, 4],
        "datatype": "FP32",
        "data": [
          [6.8, 2.8, 4.8, 1.4],
          [6.0, 3.4, 4.5, 1.6]
        ]
      }
    ]
  })");
  json answer = server_->CallJson("POST", "/v2/models/oip/infer", request, &status);
  ASSERT_EQ(status, 200) << answer.dump();
  EXPECT_EQ(answer["model_name"], "oip");
  EXPECT_EQ(answer["model_version"], "1");
  ASSERT_GE(answer["outputs"].size(), 1u);
  EXPECT_EQ(answer["outputs"][0]["name"], "label");
  EXPECT_EQ(answer["outputs"][0]["datatype"], "BYTES");
  EXPECT_EQ(answer["outputs"][0]["shape"], json::array({2}));
  EXPECT_EQ(answer["outputs"][0]["data"], json::array({"versicolor", "versicolor"}));
  EXPECT_EQ(answer["outputs"][1]["shape"], json::array({2, 3}));
  json ready = server_->CallJson("GET", "/v2/models/oip/ready", nullptr, &status);
  EXPECT_EQ(status, 200) << ready.dump();

  // Flat data with an id is the same request; the id is echoed.
  request["id"] = "42";
  request["inputs"][0]["data"] = {6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6};
  answer = server_->CallJson("POST", "/v2/models/oip/infer", request, &status);
  ASSERT_EQ(status, 200) << answer.dump();
  EXPECT_EQ(answer["id"], "42");

  // Wrong shape, dtype, data count: 400 naming the input.
  json bad = request;
  bad["inputs"][0]["shape"] = {2, 3};
  bad["inputs"][0]["data"] = {1, 2, 3, 4, 5, 6};
  answer = server_->CallJson("POST", "/v2/models/oip/infer", bad, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(answer.value("error", "").find("input 'input-0'"), std::string::npos) << answer.dump();
  EXPECT_NE(answer.value("error", "").find("[-1, 4]"), std::string::npos) << answer.dump();
  bad = request;
  bad["inputs"][0]["datatype"] = "BYTES";
  answer = server_->CallJson("POST", "/v2/models/oip/infer", bad, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(answer.value("error", "").find("input 'input-0': datatype BYTES"), std::string::npos)
      << answer.dump();
  bad = request;
  bad["inputs"][0]["shape"] = {3, 4};
  answer = server_->CallJson("POST", "/v2/models/oip/infer", bad, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(answer.value("error", "").find("holds 12 values, data has 8"), std::string::npos)
      << answer.dump();
  answer = server_->CallJson("POST", "/v2/models/oip/infer", json{{"inputs", 3}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(answer.value("error", "").find("'inputs'"), std::string::npos) << answer.dump();
}

TEST_F(ServingE2eTest, ReplicaKilledUnderLoadGivesClearErrorsAndIsReplaced) {
  int status = 0;
  server_->CallJson("POST", "/v1/endpoints", {{"name", "ded"}, {"model", "iris-mlp"}}, &status);
  ASSERT_EQ(status, 201);
  json ep = WaitState("ded", "ready", 60);
  ASSERT_EQ(ep["state"], "ready") << ep.dump();
  int pid = ep["replicas"][0]["pid"].get<int>();

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, clear_errors{0}, other{0};
  std::string other_example;
  std::mutex mu;
  std::vector<std::thread> clients;
  for (int idx = 0; idx < 8; ++idx) {
    clients.emplace_back([&] {
      while (!stop) {
        auto r = server_->Call("POST", "/v1/endpoints/ded/predict", Rows());
        if (r.status == 200) {
          ok += 1;
        } else if (r.status == 503 && r.body.find("failed during the request") != std::string::npos) {
          clear_errors += 1;
        } else {
          other += 1;
          std::lock_guard<std::mutex> lock(mu);
          other_example = std::to_string(r.status) + " " + r.body;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int before = ok.load();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  // Keep the load on until a replacement has answered some requests.
  auto deadline = Steady::now() + std::chrono::seconds(30);
  json now;
  while (Steady::now() < deadline) {
    now = server_->CallJson("GET", "/v1/endpoints/ded");
    if (now["restarts"].get<int>() >= 1 && now["state"] == "ready" && ok.load() > before + 50) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(now["state"], "ready") << now.dump();
  EXPECT_GE(now["restarts"].get<int>(), 1);
  EXPECT_NE(now["replicas"][0]["pid"].get<int>(), pid);
  EXPECT_EQ(other.load(), 0) << other_example;  // never a connection error or a vague 5xx
  EXPECT_GT(ok.load(), before);
  std::cout << "kill under load: " << ok.load() << " ok, " << clear_errors.load()
            << " clear 503s\n";
}

TEST_F(ServingE2eTest, OverloadAtTenTimesCapacityShedsWith429AndRecovers) {
  // Capacity: 1 replica x 2 in flight + 4 queued = 6 requests; 64 clients is ~10x that.
  int status = 0;
  server_->CallJson("POST", "/v1/endpoints",
                    {{"name", "over"}, {"model", "iris-mlp"}, {"max_replicas", 1},
                     {"config", {{"replica_concurrency", 2}, {"queue_limit", 4}}}}, &status);
  ASSERT_EQ(status, 201);
  ASSERT_EQ(WaitState("over", "ready", 60)["state"], "ready");

  constexpr int kClients = 64, kPerClient = 30;
  std::atomic<int> ok{0}, shed{0}, shed_without_retry_after{0}, other{0};
  std::mutex mu;
  std::string other_example;
  std::vector<std::thread> clients;
  for (int idx = 0; idx < kClients; ++idx) {
    clients.emplace_back([&] {
      for (int n = 0; n < kPerClient; ++n) {
        auto r = server_->Call("POST", "/v1/endpoints/over/predict", Rows());
        if (r.status == 200) {
          ok += 1;
        } else if (r.status == 429) {
          shed += 1;
          if (r.headers.count("retry-after") == 0) shed_without_retry_after += 1;
        } else {
          other += 1;  // a connection error (-1) or a 5xx would land here
          std::lock_guard<std::mutex> lock(mu);
          other_example = std::to_string(r.status) + " " + r.body;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(other.load(), 0) << other_example;
  EXPECT_GT(shed.load(), 0);
  EXPECT_EQ(shed_without_retry_after.load(), 0);
  EXPECT_GT(ok.load(), 0);
  // Load gone: every request succeeds again, and the server is still healthy.
  EXPECT_EQ(server_->Call("GET", "/healthz").status, 200);
  for (int n = 0; n < 20; ++n) {
    auto r = server_->Call("POST", "/v1/endpoints/over/predict", Rows());
    ASSERT_EQ(r.status, 200) << r.body;
  }
  json metrics = server_->CallJson("GET", "/v1/endpoints/over/metrics");
  EXPECT_EQ(metrics["rejected"].get<int>(), shed.load()) << metrics.dump();
  std::cout << "overload: " << ok.load() << " ok, " << shed.load() << " shed with 429\n";
  server_->Call("DELETE", "/v1/endpoints/over");
}

TEST_F(ServingE2eTest, BatchedAnswersEqualUnbatchedAndABadRequestFailsAlone) {
  int status = 0;
  server_->CallJson("POST", "/v1/endpoints", {{"name", "plain"}, {"model", "iris-mlp"}}, &status);
  ASSERT_EQ(status, 201);
  server_->CallJson("POST", "/v1/endpoints",
                    {{"name", "batched"}, {"model", "iris-mlp"},
                     {"config", {{"batching", {{"max_batch_size", 16}, {"max_delay_ms", 20}}}}}},
                    &status);
  ASSERT_EQ(status, 201);
  ASSERT_EQ(WaitState("plain", "ready", 60)["state"], "ready");
  ASSERT_EQ(WaitState("batched", "ready", 60)["state"], "ready");
  json got = server_->CallJson("GET", "/v1/endpoints/batched");
  EXPECT_EQ(got["config"]["batching"]["max_batch_size"], 16) << got.dump();

  // 16 concurrent requests with different rows (and one with a wrong field) on the batched
  // endpoint; each answer must equal the unbatched endpoint's answer for the same body.
  constexpr int kRequests = 16;
  std::vector<std::string> bodies;
  for (int idx = 0; idx < kRequests; ++idx) {
    double v = 4.0 + 0.25 * idx;
    json row = {{"f0", v}, {"f1", 3.0}, {"f2", 0.3 * idx + 1}, {"f3", 0.1 * idx}};
    if (idx == 5) row = {{"f0", 1}, {"nope", 2}};  // unknown field: that request alone fails
    bodies.push_back(idx % 2 == 0 ? json::array({row}).dump() : json{{"rows", {row, row}}}.dump());
  }
  std::vector<http::ClientResponse> batched(kRequests);
  std::vector<std::thread> threads;
  for (int idx = 0; idx < kRequests; ++idx) {
    threads.emplace_back([&, idx] {
      batched[idx] = server_->Call("POST", "/v1/endpoints/batched/predict", bodies[idx]);
    });
  }
  for (auto& t : threads) t.join();
  for (int idx = 0; idx < kRequests; ++idx) {
    auto plain = server_->Call("POST", "/v1/endpoints/plain/predict", bodies[idx]);
    ASSERT_EQ(batched[idx].status, plain.status) << idx << ": " << batched[idx].body;
    if (idx == 5) {
      EXPECT_EQ(batched[idx].status, 400);
      EXPECT_NE(batched[idx].body.find("nope"), std::string::npos) << batched[idx].body;
      continue;
    }
    json a = json::parse(batched[idx].body), b = json::parse(plain.body);
    EXPECT_EQ(a["predictions"], b["predictions"]) << idx;
    ASSERT_EQ(a["probabilities"].size(), b["probabilities"].size());
    for (size_t row = 0; row < a["probabilities"].size(); ++row) {
      for (size_t k = 0; k < a["probabilities"][row].size(); ++k) {
        EXPECT_NEAR(a["probabilities"][row][k].get<double>(), b["probabilities"][row][k].get<double>(), 1e-5);
      }
    }
  }
  // Batching off again by PATCH: takes effect on the next request (no restart needed).
  server_->CallJson("PATCH", "/v1/endpoints/batched", {{"config", {{"batching", {{"max_batch_size", 1}}}}}},
                    &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(server_->Call("POST", "/v1/endpoints/batched/predict", bodies[0]).status, 200);
  server_->Call("DELETE", "/v1/endpoints/plain");
  server_->Call("DELETE", "/v1/endpoints/batched");
}

TEST_F(ServingE2eTest, CachedAuthAndEndpointLookupsSeeRevokesDeletesAndPatches) {
  int status = 0;
  server_->CallJson("POST", "/v1/endpoints", {{"name", "cache"}, {"model", "iris-mlp"}}, &status);
  ASSERT_EQ(status, 201);
  ASSERT_EQ(WaitState("cache", "ready", 60)["state"], "ready");
  // The local replica (fresh or from the warm pool) listens on a Unix socket under run/, which
  // the gateway forwards over.
  json reps = server_->CallJson("GET", "/v1/endpoints/cache")["replicas"];
  ASSERT_FALSE(reps.empty());
  std::ifstream cmdline("/proc/" + std::to_string(reps[0]["pid"].get<int>()) + "/cmdline");
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  size_t flag = args.find("--unix-socket");
  ASSERT_NE(flag, std::string::npos) << args;
  std::string socket_path = args.substr(flag + 14, args.find('\0', flag + 14) - flag - 14);
  EXPECT_EQ(socket_path.rfind(server_->data_dir() + "/run/", 0), 0u) << socket_path;
  EXPECT_TRUE(std::filesystem::is_socket(socket_path)) << socket_path;
  json created = server_->CallJson("POST", "/v1/tokens", {{"name", "short-lived"}}, &status);
  ASSERT_EQ(status, 201);
  std::string token = created["token"];
  for (int n = 0; n < 3; ++n) {  // warm the caches
    ASSERT_EQ(server_->Call("POST", "/v1/endpoints/cache/predict", Rows(), token).status, 200);
  }
  json tokens = server_->CallJson("GET", "/v1/tokens", nullptr, &status, token);
  int64_t id = 0;
  for (const json& t : tokens["items"]) {
    if (t["name"] == "short-lived") id = t["id"].get<int64_t>();
  }
  ASSERT_GT(id, 0) << tokens.dump();
  ASSERT_EQ(server_->Call("DELETE", "/v1/tokens/" + std::to_string(id)).status, 200);
  EXPECT_EQ(server_->Call("POST", "/v1/endpoints/cache/predict", Rows(), token).status, 401);

  // A patch that the gateway must see at once: a queue limit of 0 and concurrency 1 would not
  // shed a single request, so check the config echo and a served request instead.
  server_->CallJson("PATCH", "/v1/endpoints/cache", {{"config", {{"queue_limit", 0}}}}, &status);
  ASSERT_EQ(status, 200);
  EXPECT_EQ(server_->CallJson("GET", "/v1/endpoints/cache")["config"]["queue_limit"], 0);
  EXPECT_EQ(server_->Call("POST", "/v1/endpoints/cache/predict", Rows()).status, 200);

  ASSERT_EQ(server_->Call("DELETE", "/v1/endpoints/cache").status, 200);
  auto gone = server_->Call("POST", "/v1/endpoints/cache/predict", Rows());
  EXPECT_EQ(gone.status, 404) << gone.body;
}

TEST_F(ServingE2eTest, BadServingSettingsAre400NamingTheField) {
  int status = 0;
  json r = server_->CallJson("POST", "/v1/endpoints",
                             {{"name", "x"}, {"model", "iris-mlp"}, {"mode", "turbo"}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(r.dump().find("field 'mode'"), std::string::npos) << r.dump();
  r = server_->CallJson("POST", "/v1/endpoints",
                        {{"name", "x"}, {"model", "iris-mlp"}, {"config", {{"queue_limit", -1}}}},
                        &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(r.dump().find("field 'queue_limit'"), std::string::npos) << r.dump();
  // No Slurm backend on this server: asking for one is a 400, for endpoints and jobs alike.
  r = server_->CallJson("POST", "/v1/endpoints",
                        {{"name", "x"}, {"model", "iris-mlp"}, {"executor", "slurm"}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(r.dump().find("field 'executor'"), std::string::npos) << r.dump();
  r = server_->CallJson("POST", "/v1/jobs", {{"dataset", "iris"}, {"model", "x"}, {"executor", "slurm"}},
                        &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(r.dump().find("field 'executor'"), std::string::npos) << r.dump();
  EXPECT_EQ(server_->Call("GET", "/v1/endpoints/x").status, 404);  // nothing half-written
  server_->CallJson("POST", "/v1/endpoints", {{"name", "p"}, {"model", "iris-mlp"}, {"mode", "serverless"}}, &status);
  ASSERT_EQ(status, 201);
  r = server_->CallJson("PATCH", "/v1/endpoints/p", {{"max_replicas", 5}}, &status);
  EXPECT_EQ(status, 200) << r.dump();
  EXPECT_EQ(r["config"]["max_replicas"], 5);
  r = server_->CallJson("PATCH", "/v1/endpoints/p", {{"min_replicas", 2}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(r.dump().find("field 'min_replicas'"), std::string::npos) << r.dump();
}

}  // namespace
}  // namespace sskai::testing
