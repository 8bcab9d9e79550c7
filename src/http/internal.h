// Internal helpers shared by the http module's .cc files (not part of the public API).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "http/http.h"

namespace sskai::http::internal {

// Splits "/a%20b/c?x=1&y=%2F" into the raw path "/a%20b/c" and decoded query {x:1, y:/}.
// '+' in the query means a space.
void ParseTarget(std::string_view target, std::string* raw_path,
                 std::map<std::string, std::string>* query);

// 405 in the uniform error shape (code "method_not_allowed") with an Allow header.
Response MethodNotAllowed(const std::string& method, const std::string& path,
                          const std::string& allow);

// Parses "http://host[:port][/]" (port defaults to 80; "[v6]" hosts); false when malformed.
// With `tls`, "https://host[:port][/]" is accepted too (port 443) and *tls tells which; without
// it, https is malformed (the async client speaks plain HTTP only).
bool ParseBaseUrl(const std::string& url, std::string* host, std::string* port, bool* tls = nullptr);

// A random 16-hex-digit id for X-Request-Id.
std::string NewRequestId();

// Runs `handler` with last-resort exception handling: a throwing handler answers 500 (if it has
// not answered yet) and never propagates.
void InvokeHandler(const Handler& handler, Request& req, Responder respond);

}  // namespace sskai::http::internal
