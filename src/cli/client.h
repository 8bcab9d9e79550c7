// src/cli/client.h — private to the cli module: the CLI's connection and output helpers.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/http.h"

namespace sskai::cli {

using nlohmann::json;

struct GlobalFlags {
  std::string server;
  std::string token;
  bool json = false;
};

// A logged-in connection to the API.
class Api {
 public:
  static Result<Api> Connect(const GlobalFlags& flags);
  // Sends a JSON request; non-2xx answers become a Status carrying the server's message.
  Result<json> Call(const std::string& method, const std::string& target, const json& body = nullptr);
  Result<json> Upload(const std::string& target, const std::string& path, bool progress);
  Result<std::string> Text(const std::string& target);
  // POSTs `body` and hands each server-sent event's data ("data: X" -> X) to `on_event` as it
  // arrives; a non-2xx answer becomes a Status as in Call.
  Status Events(const std::string& target, const json& body,
                const std::function<void(const std::string&)>& on_event);
  const std::string& server() const { return server_; }

 private:
  std::string server_;
  std::map<std::string, std::string> headers_;
  std::shared_ptr<http::Client> client_;
};

// Prints rows as an aligned table with a header line.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);
// Compact rendering of a JSON scalar for tables.
std::string Cell(const json& v);
std::string FormatTime(double unix_seconds);
std::string FormatBytes(double bytes);
std::string UrlPart(const std::string& s);

}  // namespace sskai::cli
