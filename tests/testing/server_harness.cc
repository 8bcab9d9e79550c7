#include "testing/server_harness.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace sskai::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "sskai-test-XXXXXX").string();
  char* made = mkdtemp(tmpl.data());
  path_ = made ? made : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

std::string BinaryPath() {
  const char* p = std::getenv("SSKAI_BINARY");
  return p ? p : "sskai";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

TestServer::TestServer(std::string data_dir, std::vector<std::string> extra_flags,
                       std::string listen)
    : data_dir_(std::move(data_dir)),
      extra_flags_(std::move(extra_flags)),
      listen_(std::move(listen)) {}

TestServer::~TestServer() {
  if (pid_ > 0) {
    Kill(SIGTERM);
  }
}

Status TestServer::Start() {
  stdout_path_ = data_dir_ + "/server.stdout";
  const size_t seen = ReadFile(stdout_path_).size();  // a restart appends to the same file
  std::vector<std::string> args = {BinaryPath(), "server", "--listen", listen_,
                                   "--data-dir", data_dir_};
  for (const auto& f : extra_flags_) args.push_back(f);
  // Tests start from an empty store unless they ask for the demo LM (--demo-model DIR).
  if (std::find(extra_flags_.begin(), extra_flags_.end(), "--demo-model") == extra_flags_.end()) {
    args.push_back("--demo-model");
    args.push_back("none");
  }
  pid_t pid = fork();
  if (pid < 0) return Status::Internal("fork failed");
  if (pid == 0) {
    FILE* out = std::fopen(stdout_path_.c_str(), "a");
    if (out) {
      dup2(fileno(out), 1);
      dup2(fileno(out), 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  const std::string marker = "sskai server listening on ";
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = ReadFile(stdout_path_);
    auto pos = text.find(marker, seen);
    if (pos != std::string::npos) {
      auto end = text.find('\n', pos);
      if (end != std::string::npos) {
        url_ = text.substr(pos + marker.size(), end - pos - marker.size());
        url_ = url_.substr(0, url_.find(' '));
        token_ = ReadFile(data_dir_ + "/admin.token");
        while (!token_.empty() && (token_.back() == '\n' || token_.back() == '\r')) token_.pop_back();
        return Status::Ok();
      }
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return Status::Internal("server exited during start: " + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::DeadlineExceeded("server did not start: " + ReadFile(stdout_path_));
}

void TestServer::Kill(int signal) {
  if (pid_ <= 0) return;
  kill(pid_, signal);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = 0;
}

bool TestServer::Alive() const { return pid_ > 0 && kill(pid_, 0) == 0; }

http::ClientResponse TestServer::Call(const std::string& method, const std::string& target,
                                      const std::string& body, const std::string& token) {
  auto client = http::Client::Create(url_);
  if (!client.ok()) return {};
  std::map<std::string, std::string> headers = {{"content-type", "application/json"}};
  std::string t = token.empty() ? token_ : token;
  if (t != "-") headers["authorization"] = "Bearer " + t;
  auto r = (*client)->Request(method, target, body, headers);
  if (!r.ok()) {
    http::ClientResponse failed;
    failed.status = -1;
    failed.body = r.status().ToString();
    return failed;
  }
  return *r;
}

json TestServer::CallJson(const std::string& method, const std::string& target, const json& body,
                          int* status, const std::string& token) {
  auto r = Call(method, target, body.is_null() ? "" : body.dump(), token);
  if (status) *status = r.status;
  return json::parse(r.body, nullptr, /*allow_exceptions=*/false);
}

http::ClientResponse TestServer::UploadFile(const std::string& target, const std::string& path,
                                            const std::string& token) {
  auto client = http::Client::Create(url_);
  std::map<std::string, std::string> headers = {{"content-type", "application/octet-stream"}};
  std::string t = token.empty() ? token_ : token;
  if (t != "-") headers["authorization"] = "Bearer " + t;
  auto r = (*client)->UploadFile("POST", target, path, headers);
  if (!r.ok()) {
    http::ClientResponse failed;
    failed.status = -1;
    failed.body = r.status().ToString();
    return failed;
  }
  return *r;
}

json ImportLmDir(TestServer& server, const std::string& name, const std::string& model_dir, int* status) {
  json upload = server.CallJson("POST", "/v1/uploads", nullptr, status);
  if (*status != 201) return upload;
  std::string id = upload["id"];
  for (const auto& entry : fs::directory_iterator(model_dir)) {
    std::string file = entry.path().filename().string();
    auto put = server.Call("PUT", "/v1/uploads/" + id + "/files/" + file, ReadFile(entry.path().string()));
    if (put.status != 201) {
      *status = put.status;
      return json::parse(put.body, nullptr, false);
    }
  }
  return server.CallJson("POST", "/v1/models/" + name + "/import", {{"upload", id}}, status);
}

json TestServer::WaitForJob(int64_t id, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  json job;
  while (std::chrono::steady_clock::now() < deadline) {
    job = CallJson("GET", "/v1/jobs/" + std::to_string(id));
    std::string state = job.is_object() ? job.value("state", "") : "";
    if (state == "succeeded" || state == "failed" || state == "cancelled") return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return job;
}

json TestServer::WaitForEndpoint(const std::string& name, const std::string& state, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  json ep;
  while (std::chrono::steady_clock::now() < deadline) {
    ep = CallJson("GET", "/v1/endpoints/" + name);
    if (ep.is_object() && ep.value("state", "") == state) return ep;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ep;
}

int TestServer::RunCli(const std::vector<std::string>& args, std::string* out, std::string* err) {
  std::string out_path = data_dir_ + "/cli.out", err_path = data_dir_ + "/cli.err";
  std::string cmd = "'" + BinaryPath() + "'";
  for (const auto& a : args) {
    std::string quoted;
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += " '" + quoted + "'";
  }
  cmd += " --server '" + url_ + "' --token '" + token_ + "' >'" + out_path + "' 2>'" + err_path + "' </dev/null";
  int rc = std::system(cmd.c_str());
  if (out) *out = ReadFile(out_path);
  if (err) *err = ReadFile(err_path);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

namespace {
const char* kSklearn = "/usr/lib/python3/dist-packages/sklearn/datasets/data/";
}

std::string WriteSklearnCsv(const std::string& name, const std::string& dir) {
  std::string file = name == "wine" ? "wine_data.csv" : name + ".csv";
  std::ifstream in(std::string(kSklearn) + file);
  std::string header;
  std::getline(in, header);
  // "n_samples,n_features,class0,class1,..."
  std::vector<std::string> parts;
  std::stringstream hs(header);
  for (std::string p; std::getline(hs, p, ',');) parts.push_back(p);
  int features = std::stoi(parts.at(1));
  std::vector<std::string> classes(parts.begin() + 2, parts.end());
  for (auto& c : classes) {
    while (!c.empty() && (c.back() == '\r' || c.back() == ' ')) c.pop_back();
  }
  std::string out_path = dir + "/" + name + ".csv";
  std::ofstream out(out_path);
  for (int idx = 0; idx < features; ++idx) out << "f" << idx << ",";
  out << "species\n";
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto comma = line.rfind(',');
    int label = std::stoi(line.substr(comma + 1));
    std::string cls = label < static_cast<int>(classes.size()) && !classes[label].empty()
                          ? classes[label] : std::to_string(label);
    out << line.substr(0, comma) << "," << cls << "\n";
  }
  return out_path;
}

std::string WriteDigitsCsv(const std::string& dir) {
  std::string out_path = dir + "/digits.csv";
  std::string body_path = dir + "/digits.body";
  std::string cmd = std::string("zcat ") + kSklearn + "digits.csv.gz > '" + body_path + "'";
  if (std::system(cmd.c_str()) != 0) return "";
  std::ofstream out(out_path);
  for (int idx = 0; idx < 64; ++idx) out << "p" << idx << ",";
  out << "digit\n";
  std::ifstream in(body_path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    // Labels are written as floats ("0.0") in some versions: make them integers.
    auto comma = line.rfind(',');
    int label = static_cast<int>(std::stod(line.substr(comma + 1)));
    out << line.substr(0, comma) << "," << label << "\n";
  }
  return out_path;
}

}  // namespace sskai::testing
