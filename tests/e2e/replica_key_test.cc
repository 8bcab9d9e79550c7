// The real `sskai replica` process and its key: started with $SSKAI_REPLICA_KEY (as the server
// starts Slurm replicas) it answers 401 on /predict, /load and /metadata without the key or with a
// wrong one, serves them with it, and keeps /healthz open; started without (a local replica) it
// checks nothing. A standby replica needs no model, so the test needs no training job.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

constexpr const char* kKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// A standby replica process (engine loaded, no model) on an ephemeral loopback port.
class StandbyReplica {
 public:
  explicit StandbyReplica(const std::string& dir, const std::string& key) {
    port_file_ = dir + "/replica.port";
    std::string log = dir + "/replica.log";
    std::vector<std::string> args = {BinaryPath(), "replica", "--standby", "--port-file", port_file_};
    pid_ = fork();
    if (pid_ == 0) {
      if (FILE* out = std::fopen(log.c_str(), "a")) {
        dup2(fileno(out), 1);
        dup2(fileno(out), 2);
      }
      if (key.empty()) {
        ::unsetenv("SSKAI_REPLICA_KEY");
      } else {
        ::setenv("SSKAI_REPLICA_KEY", key.c_str(), 1);  // the environment, as sbatch passes it
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    // Waits for the port file (the engine loads first); the test fails below if it never comes.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline && port_ == 0) {
      std::string text = ReadFile(port_file_);
      if (!text.empty() && text.back() == '\n') port_ = std::atoi(text.c_str());
      int status = 0;
      if (port_ == 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        ADD_FAILURE() << "replica exited: " << ReadFile(log);
        return;
      }
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~StandbyReplica() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  int port() const { return port_; }
  int Call(const std::string& method, const std::string& target,
             const std::map<std::string, std::string>& headers = {},
             const std::string& body = "{}") const {
    auto client = http::Client::Create("http://127.0.0.1:" + std::to_string(port_));
    if (!client.ok()) return -1;
    auto r = (*client)->Request(method, target, method == "POST" ? body : "", headers);
    return r.ok() ? r->status : -1;
  }

 private:
  std::string port_file_;
  pid_t pid_ = 0;
  int port_ = 0;
};

TEST(ReplicaKeyE2eTest, AReplicaStartedWithAKeyAnswersOnlyCallsThatCarryIt) {
  TempDir dir;
  StandbyReplica replica(dir.path(), kKey);
  ASSERT_GT(replica.port(), 0);
  EXPECT_EQ(replica.Call("GET", "/healthz"), 200);
  EXPECT_EQ(replica.Call("POST", "/predict"), 401);
  EXPECT_EQ(replica.Call("POST", "/predict", {{"x-sskai-replica-key", std::string(64, '0')}}), 401);
  EXPECT_EQ(replica.Call("POST", "/load", {{"x-sskai-replica-key", "wrong"}}), 401);
  EXPECT_EQ(replica.Call("GET", "/metadata"), 401);
  EXPECT_EQ(replica.Call("GET", "/v1/models"), 401);
  // With the key the request reaches the route: a standby has no model yet (503), and a load
  // order without model_path is a 400 naming the field.
  EXPECT_EQ(replica.Call("POST", "/predict", {{"x-sskai-replica-key", kKey}}), 503);
  EXPECT_EQ(replica.Call("POST", "/load", {{"x-sskai-replica-key", kKey}}), 400);
}

// The key of a load order takes effect when the order arrives, before the model is fetched
// and loaded (even when that then fails): from then on the gateway's readiness probe gets 503
// while the model loads, and a 401 to it means the standby never got a load order.
TEST(ReplicaKeyE2eTest, ALoadOrderSwitchesTheStandbyToItsKeyWhenItArrives) {
  TempDir dir;
  StandbyReplica replica(dir.path(), kKey);
  ASSERT_GT(replica.port(), 0);
  const std::string next(64, 'a');
  int loaded = replica.Call("POST", "/load", {{"x-sskai-replica-key", kKey}},
                            R"({"model_path":")" + dir.path() + R"(/missing.pt","key":")" + next + "\"}");
  EXPECT_GE(loaded, 400);  // no such model file
  EXPECT_EQ(replica.Call("GET", "/metadata", {{"x-sskai-replica-key", kKey}}), 401);
  EXPECT_EQ(replica.Call("GET", "/metadata", {{"x-sskai-replica-key", next}}), 503);
}

TEST(ReplicaKeyE2eTest, AReplicaStartedWithoutAKeyChecksNothing) {
  TempDir dir;
  StandbyReplica replica(dir.path(), "");
  ASSERT_GT(replica.port(), 0);
  EXPECT_EQ(replica.Call("GET", "/healthz"), 200);
  EXPECT_EQ(replica.Call("POST", "/predict"), 503);  // no model loaded, but no 401
}

}  // namespace
}  // namespace sskai::testing
