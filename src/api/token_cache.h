// src/api/token_cache.h — private to the api module: bearer token → user answers, so hot tokens
// skip the SHA-256 of the token and the store's lock on every request (docs/serving.md
// "Gateway fast path").
//
// An entry is used only while (a) the store's AuthGeneration() is the one read before the
// entry's lookup — any write to the tokens or users tables (revoke, user delete, token create)
// moves it, so a revoked token fails on the very next request; (b) it is younger than the TTL;
// (c) the token's own expiry has not passed. Bounded: beyond max_entries the whole map is
// dropped (tokens are few; a cleared cache refills at one hash per token).
// Thread-safety: all methods are safe from any thread (one short mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "store/store.h"

namespace sskai::api {

class TokenCache {
 public:
  struct Options {
    size_t max_entries = 1024;
    double ttl_seconds = 10;  // bounds staleness against writers other than this process
  };
  TokenCache() : TokenCache(Options{}) {}
  explicit TokenCache(Options options) : options_(options) {}

  // The user cached for `token` if the entry was filled at `generation`, at most ttl_seconds
  // before `now`, and the token's expiry (0 = never) is not before `now`; nullopt otherwise.
  std::optional<store::User> Find(const std::string& token, uint64_t generation, double now);
  // Remembers `user` for `token`, looked up after reading `generation`; `token_expires_at` is the
  // token's own expiry (0 = never).
  void Put(const std::string& token, const store::User& user, double token_expires_at,
           uint64_t generation, double now);
  size_t size();

 private:
  struct Entry {
    store::User user;
    double token_expires_at = 0;
    double cached_at = 0;
    uint64_t generation = 0;
  };
  const Options options_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace sskai::api
