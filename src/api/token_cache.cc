#include "api/token_cache.h"

namespace sskai::api {

std::optional<store::User> TokenCache::Find(const std::string& token, uint64_t generation,
                                            double now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(token);
  if (it == entries_.end()) return std::nullopt;
  const Entry& entry = it->second;
  bool fresh = entry.generation == generation && now - entry.cached_at <= options_.ttl_seconds &&
               now >= entry.cached_at &&
               (entry.token_expires_at <= 0 || entry.token_expires_at >= now);
  if (!fresh) {
    entries_.erase(it);
    return std::nullopt;
  }
  return entry.user;
}

void TokenCache::Put(const std::string& token, const store::User& user, double token_expires_at,
                     uint64_t generation, double now) {
  std::lock_guard lock(mu_);
  if (entries_.size() >= options_.max_entries && entries_.count(token) == 0) entries_.clear();
  entries_[token] = Entry{user, token_expires_at, now, generation};
}

size_t TokenCache::size() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace sskai::api
