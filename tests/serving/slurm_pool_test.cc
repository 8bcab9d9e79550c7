// The warm pool on Slurm, through the EndpointManager with a fake executor: standby jobs are
// submitted with their own key (engine only, no model, no token) and metered as "standby"
// usage; a cold start of a Slurm endpoint takes a ready standby (no new job), sends it the load
// order (model URL, sha256, download token, the replica's new key) and serves through it with
// the new key; a replacement standby is submitted; a crashed server's standby jobs are
// cancelled by its successor; a clean stop cancels them. Each partition has its own pool, and
// a pool grows with the replica launches of its window and shrinks back after it. Plus the load
// order's parsing.
#include <filesystem>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "serving/internal.h"
#include "serving/manager_fixture.h"

namespace sskai::serving {
namespace {

using nlohmann::json;

// A standby replica as `sskai replica --standby` behaves on the wire: keyed, /load switches to
// the key of the load order, then /predict and /metadata answer.
class FakeStandby {
 public:
  explicit FakeStandby(const std::string& key) : key_(std::make_shared<ReplicaKey>(key)) {
    auto router = std::make_shared<http::Router>();
    router->AddSync("GET", "/healthz", [](http::Request&) {
      return http::Response::Json(200, R"({"status":"ok"})");
    });
    router->AddSync("POST", "/load", [this](http::Request& req) {
      auto order = ParseLoadOrder(req.body, ReplicaOptions{});
      if (!order.ok()) return http::ErrorResponse(order.status());
      {
        std::lock_guard<std::mutex> lock(mu_);
        orders_.push_back(req.body);
      }
      if (!order->key.empty()) key_->Set(order->key);
      return http::Response::Json(200, R"({"loaded":true})");
    });
    router->AddSync("POST", "/predict", [](http::Request& req) {
      return http::Response::Json(200, R"({"echo":)" + req.body + "}");
    });
    router->AddSync("GET", "/metadata", [](http::Request&) { return http::Response::Json(200, "{}"); });
    http::Server::Options options;
    options.io_threads = 1;
    options.middleware = ReplicaKeyMiddleware(key_);
    auto server = http::Server::Create(options, router);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (server.ok()) server_ = std::move(server).value();
  }
  int port() const { return server_ ? server_->port() : 0; }
  std::vector<std::string> orders() {
    std::lock_guard<std::mutex> lock(mu_);
    return orders_;
  }
  std::string key() const { return key_->Get(); }

 private:
  std::shared_ptr<ReplicaKey> key_;
  std::mutex mu_;
  std::vector<std::string> orders_;
  std::unique_ptr<http::Server> server_;
};

class SlurmPoolTest : public SlurmManagerTest {
 protected:
  void SetUp() override {
    SlurmManagerTest::SetUp();
    options_.slurm_warm_pools = {{"debug", 1, 1}};
    options_.slurm_default_partition = "debug";
    Restart();
  }
  // Makes the latest launch (a standby) listen at `standby`, and lets the pool see it.
  void StandbyListens(FakeStandby& standby) {
    std::ofstream(executor_.launches().back().spec.argv.back()) << "127.0.0.1:" << standby.port() << "\n";
    manager_->RunOnce();
  }
};

TEST_F(SlurmPoolTest, SubmitsKeyedStandbyJobsMeteredAsStandbyUsage) {
  manager_->RunOnce();
  ASSERT_EQ(executor_.launch_count(), 1u);
  auto spec = executor_.launches()[0].spec;
  EXPECT_EQ(spec.executor, "slurm");
  EXPECT_EQ(spec.partition, "debug");
  EXPECT_FALSE(spec.die_with_parent);
  ASSERT_GE(spec.argv.size(), 7u);
  EXPECT_EQ(spec.argv[2], "--standby");
  EXPECT_EQ(spec.argv[4], "0.0.0.0");
  EXPECT_EQ(spec.env.count("SSKAI_TOKEN"), 0u);  // no model to fetch yet
  EXPECT_EQ(spec.env.at(kReplicaKeyEnv).size(), 64u);
  EXPECT_TRUE(minted_.empty());
  store::Page page;
  auto usage = store_->ListUsage(0, page, 0, 0);
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->items.size(), 1u);
  EXPECT_EQ(usage->items[0].subject_kind, "standby");
  EXPECT_EQ(usage->items[0].owner_id, 0);  // the platform's cost, not a user's
  EXPECT_EQ(usage->items[0].ended_at, 0);
  manager_->RunOnce();
  EXPECT_EQ(executor_.launch_count(), 1u);  // the pool is full
}

TEST_F(SlurmPoolTest, AColdStartTakesAReadyStandbyAndServesWithANewKey) {
  manager_->RunOnce();
  const std::string standby_key = executor_.launches()[0].spec.env.at(kReplicaKeyEnv);
  const int standby_job = executor_.launches()[0].handle.pid;
  FakeStandby standby(standby_key);
  StandbyListens(standby);
  int64_t id = Deploy("fn", model_version_id_, R"({"executor":"slurm","partition":"debug"})");
  auto cold = PredictAsync(id, R"({"rows":[[1]]})");
  manager_->RunOnce();
  ASSERT_EQ(cold.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(cold.get().status, 200);
  // No replica job was submitted: the standby serves, and a replacement standby was submitted.
  ASSERT_EQ(executor_.launch_count(), 2u);
  EXPECT_EQ(executor_.launches()[1].spec.argv[2], "--standby");
  auto info = manager_->Replicas()[id];
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].pid, standby_job);
  auto orders = standby.orders();
  ASSERT_EQ(orders.size(), 1u);
  json order = json::parse(orders[0]);
  EXPECT_EQ(order["model_url"], "http://10.0.0.1:8080/v1/models/iris/versions/1/content");
  EXPECT_EQ(order["model_sha256"], model_sha_);
  ASSERT_EQ(minted_.size(), 1u);
  EXPECT_EQ(order["token"], "secret-" + minted_[0]);
  EXPECT_EQ(revoked_, minted_);  // loaded: the download token is revoked
  EXPECT_NE(standby.key(), standby_key);  // the endpoint's own key from now on
  EXPECT_EQ(standby.key(), order["key"]);
  auto rows = store_->ListEndpointReplicas(id);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].job_id, standby_job);
  // A restarted server derives the replica's new key and serves through it.
  Restart();
  manager_->RunOnce();
  EXPECT_EQ(PredictAndWait(id, "{}").status, 200);
}

TEST_F(SlurmPoolTest, ACrashedServersStandbyJobsAreCancelledAndACleanStopCancelsItsOwn) {
  const std::string left = options_.run_dir + "/slurm-standby-0123456789ab.job";
  std::ofstream(left) << "4242 slurm:0 0\n";
  manager_->RunOnce();
  bool cancelled = false;
  for (const auto& s : executor_.signals()) cancelled = cancelled || (s.pid == 4242 && s.force);
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(std::filesystem::exists(left));
  ASSERT_EQ(executor_.launch_count(), 1u);  // the new standby
  int job = executor_.launches().back().handle.pid;
  const std::string address = executor_.launches().back().spec.argv.back();
  const std::string job_file = address.substr(0, address.size() - 5) + ".job";
  EXPECT_TRUE(std::filesystem::exists(job_file));
  manager_->Stop();
  EXPECT_FALSE(executor_.alive(job));
  EXPECT_FALSE(std::filesystem::exists(job_file));
}

// The standby jobs launched so far (pid → partition), in launch order.
std::vector<std::pair<int, std::string>> Standbys(const FakeExecutor& executor) {
  std::vector<std::pair<int, std::string>> out;
  for (const auto& l : executor.launches()) {
    if (l.spec.argv.size() > 2 && l.spec.argv[2] == "--standby") out.push_back({l.handle.pid, l.spec.partition});
  }
  return out;
}

TEST_F(SlurmPoolTest, EachPartitionHasItsOwnPoolAndAColdStartTakesOnlyFromItsOwn) {
  options_.slurm_warm_pools = {{"debug", 1, 1}, {"gpu", 2, 2}};
  Restart();
  manager_->RunOnce();
  auto standbys = Standbys(executor_);
  ASSERT_EQ(standbys.size(), 3u);
  EXPECT_EQ(standbys[0].second, "debug");
  EXPECT_EQ(standbys[1].second, "gpu");
  EXPECT_EQ(standbys[2].second, "gpu");
  // Only the debug standby is ready: a cold start in gpu must not take it.
  FakeStandby debug_standby(executor_.launches()[0].spec.env.at(kReplicaKeyEnv));
  std::ofstream(executor_.launches()[0].spec.argv.back()) << "127.0.0.1:" << debug_standby.port() << "\n";
  manager_->RunOnce();
  int64_t gpu_ep = Deploy("g", model_version_id_, R"({"executor":"slurm","partition":"gpu"})");
  manager_->RunOnce();
  auto info = manager_->Replicas()[gpu_ep];
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].pid, standbys[1].first);  // gpu's oldest standby, still starting
  EXPECT_TRUE(debug_standby.orders().empty());
  standbys = Standbys(executor_);
  ASSERT_EQ(standbys.size(), 4u);
  EXPECT_EQ(standbys[3].second, "gpu");  // its replacement
  // A cold start in debug takes the debug standby; the replacement goes to debug.
  int64_t debug_ep = Deploy("d", model_version_id_, R"({"executor":"slurm"})");  // the default: debug
  manager_->RunOnce();
  info = manager_->Replicas()[debug_ep];
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].pid, standbys[0].first);
  for (int i = 0; i < 500 && debug_standby.orders().empty(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(debug_standby.orders().size(), 1u);  // the load order (sent off the manager's thread)
  standbys = Standbys(executor_);
  ASSERT_EQ(standbys.size(), 5u);
  EXPECT_EQ(standbys[4].second, "debug");
  // A partition without a pool submits its own job and no standby.
  int64_t other = Deploy("o", model_version_id_, R"({"executor":"slurm","partition":"long"})");
  manager_->RunOnce();
  info = manager_->Replicas()[other];
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(executor_.launches().back().spec.partition, "long");
  EXPECT_EQ(Standbys(executor_).size(), 5u);
}

TEST_F(SlurmPoolTest, AStandbyStillStartingIsTakenAndGetsItsLoadOrderOnceItAnswers) {
  manager_->RunOnce();
  ASSERT_EQ(Standbys(executor_).size(), 1u);
  const std::string standby_key = executor_.launches()[0].spec.env.at(kReplicaKeyEnv);
  const int standby_job = executor_.launches()[0].handle.pid;
  int64_t id = Deploy("fn", model_version_id_, R"({"executor":"slurm"})");
  auto cold = PredictAsync(id, R"({"rows":[[1]]})");
  manager_->RunOnce();
  // Taken while starting: no replica job of its own, one replacement standby.
  auto info = manager_->Replicas()[id];
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].pid, standby_job);
  ASSERT_EQ(executor_.launch_count(), 2u);
  EXPECT_EQ(Standbys(executor_).size(), 2u);
  EXPECT_EQ(cold.wait_for(100ms), std::future_status::timeout);  // queued meanwhile
  // It starts listening: the next pass sends the order, and the queued request is answered.
  FakeStandby standby(standby_key);
  std::ofstream(executor_.launches()[0].spec.argv.back()) << "127.0.0.1:" << standby.port() << "\n";
  manager_->RunOnce();
  ASSERT_EQ(cold.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(cold.get().status, 200);
  ASSERT_EQ(standby.orders().size(), 1u);
  EXPECT_EQ(json::parse(standby.orders()[0])["key"], standby.key());
  EXPECT_NE(standby.key(), standby_key);
  EXPECT_EQ(executor_.launch_count(), 2u);
}

TEST_F(SlurmPoolTest, APoolGrowsWithReplicaLaunchesAndShrinksBackAfterTheWindow) {
  options_.slurm_warm_pools = {{"debug", 1, 3}};
  options_.slurm_warm_pool_window = 60s;
  Restart();
  manager_->RunOnce();
  ASSERT_EQ(Standbys(executor_).size(), 1u);
  // Each launch takes a standby (still starting here) and counts as demand: the pool refills
  // to min 1 + the launches of the window, at most max 3.
  Deploy("a", model_version_id_, R"({"executor":"slurm"})");
  manager_->RunOnce();
  EXPECT_EQ(Standbys(executor_).size(), 3u);  // took #1; target 2: two new
  clock_.Advance(20s);
  Deploy("b", model_version_id_, R"({"executor":"slurm"})");
  manager_->RunOnce();
  EXPECT_EQ(Standbys(executor_).size(), 5u);  // took #2; target 3: two new
  Deploy("c", model_version_id_, R"({"executor":"slurm"})");
  manager_->RunOnce();
  auto standbys = Standbys(executor_);
  ASSERT_EQ(standbys.size(), 6u);  // took #3; target still 3 (max): one new
  // In the pool now: #4, #5, #6. #4 becomes ready; the first launch leaves the window: the
  // target stays 1 + 2 = 3.
  int ready_launch = -1;
  for (size_t i = 0; i < executor_.launches().size(); ++i) {
    if (executor_.launches()[i].handle.pid == standbys[3].first) ready_launch = static_cast<int>(i);
  }
  ASSERT_GE(ready_launch, 0);
  FakeStandby fourth(executor_.launches()[ready_launch].spec.env.at(kReplicaKeyEnv));
  std::ofstream(executor_.launches()[ready_launch].spec.argv.back()) << "127.0.0.1:" << fourth.port() << "\n";
  clock_.Advance(41s);
  manager_->RunOnce();
  auto stopped = [&](int pid) {
    for (const auto& sig : executor_.signals()) {
      if (sig.pid == pid) return true;
    }
    return false;
  };
  for (size_t i = 3; i < 6; ++i) EXPECT_FALSE(stopped(standbys[i].first)) << i;
  // Quiet for a whole window: back to 1. The ready standby stays; the two still starting are
  // stopped, their usage records closed, and nothing new is submitted.
  clock_.Advance(60s);
  manager_->RunOnce();
  EXPECT_FALSE(stopped(standbys[3].first));
  EXPECT_TRUE(stopped(standbys[4].first));
  EXPECT_TRUE(stopped(standbys[5].first));
  EXPECT_EQ(Standbys(executor_).size(), 6u);
  store::Page page;
  auto usage = store_->ListUsage(0, page, 0, 0);
  ASSERT_TRUE(usage.ok());
  int open = 0;
  for (const auto& u : usage->items) open += u.subject_kind == "standby" && u.ended_at == 0;
  EXPECT_EQ(open, 1);
  // The next cold start takes the ready one and the pool grows again.
  int64_t d = Deploy("d", model_version_id_, R"({"executor":"slurm"})");
  manager_->RunOnce();
  auto info = manager_->Replicas()[d];
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].pid, standbys[3].first);
  EXPECT_EQ(Standbys(executor_).size(), 8u);  // target 1 + 1 = 2, none left: two new
  std::string metrics = manager_->PrometheusText();
  EXPECT_NE(metrics.find("sskai_serving_slurm_standby_target{partition=\"debug\"} 2"), std::string::npos) << metrics;
}

TEST(WarmPoolSpecTest, ParsesPartitionsAndRangesAndNamesTheBadEntry) {
  auto one = ParseWarmPoolSpec("1", "debug");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].partition, "debug");
  EXPECT_EQ((*one)[0].min, 1);
  EXPECT_EQ((*one)[0].max, 1);
  auto many = ParseWarmPoolSpec("0..2,gpu=1..4,cpu=3", "");
  ASSERT_TRUE(many.ok()) << many.status().ToString();
  ASSERT_EQ(many->size(), 3u);
  EXPECT_EQ((*many)[0].partition, "");  // Slurm's own default partition
  EXPECT_EQ((*many)[0].min, 0);
  EXPECT_EQ((*many)[0].max, 2);
  EXPECT_EQ((*many)[1].partition, "gpu");
  EXPECT_EQ((*many)[1].max, 4);
  EXPECT_EQ((*many)[2].min, 3);
  EXPECT_EQ((*many)[2].max, 3);
  for (const char* none : {"", "0", "gpu=0"}) {
    auto parsed = ParseWarmPoolSpec(none, "debug");
    ASSERT_TRUE(parsed.ok()) << none;
    EXPECT_TRUE(parsed->empty()) << none;
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"x", "entry 1 ('x'): must be N or N..M"},
      {"1,gpu=4..2", "entry 2 ('gpu=4..2'): the maximum 2 is below the minimum 4"},
      {"gpu=1,gpu=2", "entry 2 ('gpu=2'): partition 'gpu' has a pool already"},
      {"1,debug=2", "entry 2 ('debug=2'): partition 'debug' has a pool already"},
      {"=1", "entry 1 ('=1'): the partition before '=' is empty"},
      {"g\"x=1", "a partition name has letters, digits"},
      {"1,", "entry 2 is empty"},
      {"65", "counts from 0 to 64"},
      {"-1", "must be N or N..M"},
      {"1..", "must be N or N..M"},
      {"1.5", "must be N or N..M"},
  };
  for (const auto& [text, want] : bad) {
    auto parsed = ParseWarmPoolSpec(text, "debug");
    ASSERT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(parsed.status().message().find(want), std::string::npos) << text << ": " << parsed.status().message();
  }
}

TEST(WarmPoolSpecTest, TheTargetIsMinPlusTheLaunchesOfTheWindowAtMostMax) {
  const WarmPoolSpec pool{"debug", 1, 3};
  const TimePoint t0{std::chrono::hours(1)};
  std::deque<TimePoint> launches;
  EXPECT_EQ(WarmPoolTarget(pool, launches, t0, 60s), 1);
  launches = {t0, t0 + 10s};
  EXPECT_EQ(WarmPoolTarget(pool, launches, t0 + 10s, 60s), 3);
  EXPECT_EQ(WarmPoolTarget(pool, launches, t0 + 65s, 60s), 2);  // the first left the window
  EXPECT_EQ(WarmPoolTarget(pool, launches, t0 + 70s, 60s), 1);
  launches = {t0, t0, t0, t0, t0};
  EXPECT_EQ(WarmPoolTarget(pool, launches, t0, 60s), 3);  // at most max
  EXPECT_EQ(WarmPoolTarget({"debug", 0, 0}, launches, t0, 60s), 0);
}

TEST(LoadOrderTest, ParsesAPathOrAFetchAndNamesTheBadField) {
  auto local = ParseLoadOrder(R"({"model_path":"/m/model.pt"})", ReplicaOptions{});
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->model_path, "/m/model.pt");
  EXPECT_TRUE(local->fetch.model_url.empty());
  auto fetch = ParseLoadOrder(
      R"({"model_url":"http://s/v1/models/m/versions/1/files","model_sha256":"ab","model_files":true,)"
      R"("token":"t","key":"0123456789abcdef0123456789abcdef","served_name":"chat"})",
      ReplicaOptions{});
  ASSERT_TRUE(fetch.ok()) << fetch.status().ToString();
  EXPECT_TRUE(fetch->fetch.model_files);
  EXPECT_EQ(fetch->token, "t");
  EXPECT_EQ(fetch->served_name, "chat");
  for (const char* bad : {"", "[]", "{}", R"({"model_path":1})",
                          R"({"model_path":"/a","model_url":"http://s/x","model_sha256":"ab"})",
                          R"({"model_url":"http://s/x"})", R"({"model_path":"/a","model_files":"yes"})",
                          R"({"model_path":"/a","key":"short"})"}) {
    auto parsed = ParseLoadOrder(bad, ReplicaOptions{});
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(parsed.status().message().empty()) << bad;
  }
}

}  // namespace
}  // namespace sskai::serving
