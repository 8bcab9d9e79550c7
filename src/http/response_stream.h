// Internal: the state a ResponseStream shares with the session that writes it.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "http/http.h"

namespace sskai::http {

struct ResponseStream::Impl {
  std::mutex mu;
  std::string pending;              // written, not yet taken by the session (guarded by mu)
  bool closed = false;              // producer called Close (guarded by mu)
  bool cancelled = false;           // client gone (guarded by mu)
  std::function<void()> notify;     // session: schedule a pump on its strand (guarded by mu)
  std::function<void()> on_cancel;  // producer's callback (guarded by mu)

  // Session side: installs the pump trigger.
  void SetNotify(std::function<void()> fn);
  // Session side: moves pending bytes into *out; *closed when the producer is done.
  void Take(std::string* out, bool* closed);
  // The client went away: drop pending data, run on_cancel once.
  void Cancel();
};

}  // namespace sskai::http
