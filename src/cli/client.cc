// The CLI's connection (config resolution, auth header, error mapping) and table output.
#include "cli/client.h"

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace sskai::cli {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);  // the CLI is an adapter at the edge
  return v ? std::string(v) : std::string();
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

json ReadConfigFile() {
  std::string path = Env("SSKAI_CONFIG");
  if (path.empty() && !Env("HOME").empty()) path = Env("HOME") + "/.config/sskai/config.json";
  std::ifstream in(path);
  if (!in) return json::object();
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}

}  // namespace

Result<Api> Api::Connect(const GlobalFlags& flags) {
  json config = ReadConfigFile();
  Api api;
  api.server_ = !flags.server.empty()            ? flags.server
                : !Env("SSKAI_SERVER").empty()    ? Env("SSKAI_SERVER")
                : config.contains("server")       ? config.value("server", "")
                                                  : "http://127.0.0.1:8080";
  std::string token = !flags.token.empty()       ? flags.token
                      : !Env("SSKAI_TOKEN").empty() ? Env("SSKAI_TOKEN")
                                                     : config.value("token", "");
  if (token.empty()) {
    std::string dir = Env("SSKAI_DATA_DIR").empty() ? "./var" : Env("SSKAI_DATA_DIR");
    token = ReadFirstLine(dir + "/admin.token");
  }
  if (!token.empty()) api.headers_["authorization"] = "Bearer " + token;
  api.headers_["content-type"] = "application/json";
  SSKAI_ASSIGN_OR_RETURN(auto client, http::Client::Create(api.server_));
  api.client_ = std::move(client);
  return api;
}

namespace {

Result<json> Interpret(const http::ClientResponse& r) {
  json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (r.status >= 200 && r.status < 300) return body.is_discarded() ? json(r.body) : body;
  std::string msg = r.body;
  StatusCode code = StatusCode::kFailedPrecondition;
  if (!body.is_discarded() && body.contains("error")) {
    msg = body["error"].value("message", r.body);
  }
  if (r.status == 401) code = StatusCode::kUnauthenticated;
  if (r.status == 404) code = StatusCode::kNotFound;
  if (r.status == 400 || r.status == 413) code = StatusCode::kInvalidArgument;
  return Status(code, "server answered " + std::to_string(r.status) + ": " + msg);
}

}  // namespace

Result<json> Api::Call(const std::string& method, const std::string& target, const json& body) {
  SSKAI_ASSIGN_OR_RETURN(auto r, client_->Request(method, target,
                                                  body.is_null() ? "" : body.dump(), headers_));
  return Interpret(r);
}

Status Api::Events(const std::string& target, const json& body,
                   const std::function<void(const std::string&)>& on_event) {
  auto headers = headers_;
  headers["accept"] = "text/event-stream";
  int status = 0;
  std::string pending, error_body;
  auto r = client_->Stream(
      "POST", target, body.dump(), headers,
      [&](const http::ClientResponse& head) {
        status = head.status;
        return true;
      },
      [&](std::string_view data) {
        if (status < 200 || status >= 300) {
          error_body.append(data);
          return true;
        }
        pending.append(data);
        size_t end;
        while ((end = pending.find("\n\n")) != std::string::npos) {
          std::string event = pending.substr(0, end);
          pending.erase(0, end + 2);
          if (event.rfind("data: ", 0) == 0) on_event(event.substr(6));
        }
        return true;
      });
  if (!r.ok()) return r.status();
  if (status < 200 || status >= 300) {
    http::ClientResponse resp{status, error_body, {}};
    return Interpret(resp).status();
  }
  return Status::Ok();
}

Result<json> Api::Upload(const std::string& target, const std::string& path, bool progress) {
  auto headers = headers_;
  headers["content-type"] = "application/octet-stream";
  std::function<void(uint64_t, uint64_t)> cb;
  if (progress) {
    cb = [](uint64_t sent, uint64_t total) {
      int pct = total > 0 ? static_cast<int>(100 * sent / total) : 100;
      std::cerr << "\rUploading " << FormatBytes(static_cast<double>(sent)) << " / "
                << FormatBytes(static_cast<double>(total)) << " (" << pct << "%)   " << std::flush;
    };
  }
  auto r = client_->UploadFile("POST", target, path, headers, cb);
  if (progress) std::cerr << "\n";
  if (!r.ok()) return r.status();
  return Interpret(*r);
}

Result<std::string> Api::Text(const std::string& target) {
  SSKAI_ASSIGN_OR_RETURN(auto r, client_->Request("GET", target, "", headers_));
  if (r.status != 200) {
    SSKAI_ASSIGN_OR_RETURN(json j, Interpret(r));
    return j.dump();
  }
  return r.body;
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t col = 0; col < header.size(); ++col) width[col] = header[col].size();
  for (const auto& row : rows) {
    for (size_t col = 0; col < row.size() && col < width.size(); ++col) {
      width[col] = std::max(width[col], row[col].size());
    }
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t col = 0; col < header.size(); ++col) {
      std::string cell = col < row.size() ? row[col] : "";
      line += cell;
      if (col + 1 < header.size()) line += std::string(width[col] - cell.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
  if (rows.empty()) std::cout << "(none)\n";
}

std::string Cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    std::ostringstream out;
    out << std::setprecision(4) << v.get<double>();
    return out.str();
  }
  return v.dump();
}

std::string FormatTime(double unix_seconds) {
  if (unix_seconds <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string FormatBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  std::ostringstream out;
  out << std::fixed << std::setprecision(unit == 0 ? 0 : 1) << bytes << " " << units[unit];
  return out.str();
}

std::string UrlPart(const std::string& s) { return http::UrlEncode(s); }

}  // namespace sskai::cli
