// src/common/clock.h — injected time. Nothing outside adapters calls now() directly.
// Thread-safety: SystemClock is thread-safe; FakeClock is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sskai {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;        // for records
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;  // for timeouts
  // Seconds since the Unix epoch, as stored in records.
  double NowSeconds() const {
    return std::chrono::duration<double>(Now().time_since_epoch()).count();
  }
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point Monotonic() const override { return std::chrono::steady_clock::now(); }
  // A process-wide instance for composition roots.
  static SystemClock& Default() {
    static SystemClock clock;
    return clock;
  }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_unix_ms = 1'700'000'000'000) : ms_(start_unix_ms) {}
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms_.load()));
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms_.load()));
  }
  void Advance(std::chrono::milliseconds d) { ms_ += d.count(); }

 private:
  std::atomic<int64_t> ms_;
};

}  // namespace sskai
