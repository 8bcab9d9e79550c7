// src/common/status.h — error values for all of sskai.
//
// Status is a code plus a message; Result<T> is a T or a non-OK Status. Our code does
// not throw: third-party calls that throw are wrapped where they are called.
// Thread-safety: value types; safe to copy between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sskai {

enum class StatusCode : uint8_t {
  kOk,
  kInvalidArgument,     // bad input from a caller (HTTP 400)
  kUnauthenticated,     // no or wrong credentials (401)
  kPermissionDenied,    // authenticated but not allowed (403)
  kNotFound,            // (404)
  kAlreadyExists,       // (409)
  kFailedPrecondition,  // wrong state for the operation (409)
  kPayloadTooLarge,     // (413)
  kResourceExhausted,   // quota or queue full (429)
  kUnavailable,         // try again later (503)
  kDeadlineExceeded,    // (504)
  kCancelled,
  kInternal,            // a bug or an environment failure (500)
};

// Returns the stable lower-case name of `code`, e.g. "invalid_argument".
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status PayloadTooLarge(std::string m) { return {StatusCode::kPayloadTooLarge, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "not_found: dataset 'x' does not exist"
  std::string ToString() const;
  // Returns a copy whose message is "<prefix>: <message>".
  Status WithPrefix(const std::string& prefix) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Swallowing an error is explicit and greppable.
inline void IgnoreError(const Status&) {}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT; REQUIRES: !status.ok()

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace sskai

#define SSKAI_CONCAT_INNER_(a, b) a##b
#define SSKAI_CONCAT_(a, b) SSKAI_CONCAT_INNER_(a, b)

#define SSKAI_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    ::sskai::Status sskai_status__ = (expr);        \
    if (!sskai_status__.ok()) return sskai_status__; \
  } while (false)

#define SSKAI_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

#define SSKAI_ASSIGN_OR_RETURN(lhs, expr) \
  SSKAI_ASSIGN_OR_RETURN_IMPL_(SSKAI_CONCAT_(sskai_result__, __LINE__), lhs, expr)
