// RequestMeter: per-request serving records aggregated per endpoint-minute before they reach the
// store (serverless billing and cost per 1,000 predictions).
#include <cmath>

#include "cost/cost.h"

namespace sskai::cost {

void RequestMeter::Record(int64_t endpoint_id, int64_t owner_id, double busy_seconds, bool ok, double now) {
  Key key{endpoint_id, owner_id, std::floor(now / 60) * 60};
  std::lock_guard<std::mutex> lock(mu_);
  Counts& c = pending_[key];
  c.requests += 1;
  c.errors += ok ? 0 : 1;
  c.busy_seconds += busy_seconds > 0 ? busy_seconds : 0;
}

Status RequestMeter::Flush(store::Store& store) {
  std::map<Key, Counts> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(pending_);
  }
  for (auto it = batch.begin(); it != batch.end(); it = batch.erase(it)) {
    store::RequestUsage u;
    u.endpoint_id = it->first.endpoint_id;
    u.owner_id = it->first.owner_id;
    u.bucket_start = it->first.bucket;
    u.requests = it->second.requests;
    u.errors = it->second.errors;
    u.busy_seconds = it->second.busy_seconds;
    u.memory_mb = memory_mb_;
    Status added = store.AddRequestUsage(u);
    if (!added.ok()) {  // keep the rest (and this one) for the next flush
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [key, counts] : batch) {
        Counts& c = pending_[key];
        c.requests += counts.requests;
        c.errors += counts.errors;
        c.busy_seconds += counts.busy_seconds;
      }
      return added;
    }
  }
  return Status::Ok();
}

}  // namespace sskai::cost
