// Helpers for the http tests: a temp dir, a server on an ephemeral port, raw sockets.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "http/http.h"

namespace sskai::http::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sskai_http_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  size_t FileCount() const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(path_)) ++n;
    return n;
  }
  // Polls until the directory is empty (the server cleans up asynchronously).
  bool WaitEmpty(std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) const {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (FileCount() == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return FileCount() == 0;
  }

 private:
  std::string path_;
};

inline std::unique_ptr<Server> StartServer(std::shared_ptr<Router> router, Server::Options o = {}) {
  auto server = Server::Create(std::move(o), std::move(router));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

inline std::unique_ptr<Client> MakeClient(uint16_t port, ClientOptions o = {}) {
  auto client = Client::Create("http://127.0.0.1:" + std::to_string(port), o);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return std::move(client).value();
}

// A blocking loopback TCP socket for sending hand-written HTTP.
class RawSocket {
 public:
  explicit RawSocket(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawSocket() { Close(); }
  bool connected() const { return connected_; }
  bool Send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads until `marker` was seen (or EOF / timeout); returns everything read.
  std::string ReadUntil(const std::string& marker) {
    std::string out;
    char buf[4096];
    while (out.find(marker) == std::string::npos) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // Reads until the peer closes (or timeout).
  std::string ReadAll() { return ReadUntil(std::string(1, '\0') + "never"); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace sskai::http::testing
