// tests/testing/server_harness.h — starts the real `sskai server` binary on an ephemeral port
// with a temporary data directory, and talks to it over HTTP and through the CLI.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/http.h"

namespace sskai::testing {

using nlohmann::json;

// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class TestServer {
 public:
  // `data_dir` must exist; the server is not started yet.
  // `listen` = HOST:PORT (port 0 = ephemeral; a restart reuses the old url's port).
  explicit TestServer(std::string data_dir, std::vector<std::string> extra_flags = {},
                      std::string listen = "127.0.0.1:0");
  ~TestServer();  // SIGTERM, then SIGKILL

  // Starts the binary and waits until it listens (reads the admin token once it exists).
  Status Start();
  void Kill(int signal);  // sends `signal` and waits for the process
  bool Alive() const;

  const std::string& url() const { return url_; }
  const std::string& token() const { return token_; }
  const std::string& data_dir() const { return data_dir_; }
  int pid() const { return pid_; }

  // HTTP with the admin token (or `token` when non-empty; "-" = no Authorization header).
  http::ClientResponse Call(const std::string& method, const std::string& target,
                            const std::string& body = "", const std::string& token = "");
  // Same, parsing the JSON body (null when not JSON).
  json CallJson(const std::string& method, const std::string& target, const json& body = nullptr,
                int* status = nullptr, const std::string& token = "");
  http::ClientResponse UploadFile(const std::string& target, const std::string& path,
                                  const std::string& token = "");
  // Polls GET /v1/jobs/{id} until the job is terminal or `seconds` pass; returns the last view.
  json WaitForJob(int64_t id, double seconds);
  // Polls an endpoint until `state`.
  json WaitForEndpoint(const std::string& name, const std::string& state, double seconds);

  // Runs `sskai <args...> --server URL --token T`; returns the exit code, stdout in *out.
  int RunCli(const std::vector<std::string>& args, std::string* out, std::string* err = nullptr);

 private:
  std::string data_dir_;
  std::vector<std::string> extra_flags_;
  std::string listen_;
  std::string url_;
  std::string token_;
  std::string stdout_path_;
  int pid_ = 0;
};

// Path of the sskai binary under test (env SSKAI_BINARY).
std::string BinaryPath();
// Writes a scikit-learn CSV (iris, wine, breast_cancer) with a proper header ("f0..fN,target",
// class names as target values) into `dir`; returns its path.
std::string WriteSklearnCsv(const std::string& name, const std::string& dir);
// digits.csv.gz as a CSV with header p0..p63,digit.
std::string WriteDigitsCsv(const std::string& dir);
// Imports a checkpoint directory as model `name` the way `sskai models import` does: an upload
// session, one PUT per file, then POST /v1/models/{name}/import. Returns the import's answer.
json ImportLmDir(TestServer& server, const std::string& name, const std::string& model_dir, int* status);
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

}  // namespace sskai::testing
