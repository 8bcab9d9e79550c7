// EndpointManager: spot replicas on the spot-simulating pool (endpoint mode "spot"). Decisions
// are pure (serving/spot.h); this file picks each new replica's market, delivers the simulated
// reclaim notice (a replacement starts at once; the noticed replica keeps serving until the
// replacement is ready, then drains its in-flight requests and stops), kills a replica the pool
// reclaims, falls back to on-demand and rebalances back to spot.
#include "common/log.h"
#include "serving/internal.h"
#include "store/store.h"

namespace sskai::serving {

namespace {
void Event(store::Store& store, const store::Endpoint& ep, const std::string& action,
           const std::string& message, double now) {
  store::Event ev;
  ev.owner_id = ep.owner_id;
  ev.kind = "endpoint";
  ev.subject_id = ep.id;
  ev.action = action;
  ev.message = "endpoint '" + ep.name + "': " + message;
  ev.created_at = now;
  IgnoreError(store.AddEvent(ev).status());
  SSKAI_LOG_INFO("serving: {}", ev.message);
}
}  // namespace

void EndpointManager::SpotLaunch(store::Endpoint& ep, EndpointRt& rt, Replica& r,
                                 store::UsageRecord& usage) {
  r.spot = false;
  r.noticed = false;
  r.reclaim_at = TimePoint::max();
  if (rt.config.mode != "spot") return;
  const SpotSettings& s = rt.config.spot;
  const auto now = clock_.Monotonic();
  MarketDecision d = ChooseMarket(s, rt.preemptions, now);
  if (d.market != rt.market) {
    rt.market = d.market;
    if (d.market == Market::kOnDemand) {
      Event(store_, ep, "spot_fallback", "new replicas run on-demand: " + d.reason,
            clock_.NowSeconds());
    } else {
      Event(store_, ep, "spot_restored", "new replicas run on spot again", clock_.NowSeconds());
    }
  }
  if (d.market == Market::kOnDemand) return;  // usage: the server's offering, on-demand
  r.spot = true;
  auto after = SpotInterruptAfter(s, ep.id, r.id);
  if (after != std::chrono::milliseconds::max()) r.reclaim_at = now + after;
  if (!s.offering.empty()) usage.resource = s.offering;
  usage.spot = true;
}

void EndpointManager::SuperviseSpot(store::Endpoint& ep, EndpointRt& rt) {
  if (rt.config.mode != "spot") return;
  const SpotSettings& s = rt.config.spot;
  const auto now = clock_.Monotonic();
  while (!rt.preemptions.empty() && now - rt.preemptions.front() >= s.preemption_window) {
    rt.preemptions.pop_front();
  }
  bool replacement_ready = false, any_starting = false, any_noticed = false;
  for (auto& r : rt.replicas) {
    if (r->draining || r->broken || r->model_version_id != ep.model_version_id) continue;
    if (!r->noticed && r->ready) replacement_ready = true;
    if (!r->noticed && !r->ready) any_starting = true;
  }
  for (auto& r : rt.replicas) {
    if (r->draining) continue;
    if (r->spot && !r->noticed && r->reclaim_at != TimePoint::max() &&
        now >= r->reclaim_at - s.notice) {
      r->noticed = true;
      rt.preemptions.push_back(now);
      Event(store_, ep, "spot_notice",
            "spot replica (pid " + std::to_string(r->handle.pid) + ") will be reclaimed in " +
                std::to_string(s.notice.count()) + " ms; starting a replacement",
            clock_.NowSeconds());
    }
    if (!r->noticed) continue;
    any_noticed = true;
    if (now >= r->reclaim_at) {  // the pool takes it back, ready replacement or not
      const bool first = r->kill_sent_at == TimePoint{};
      Kill(*r);
      r->draining = true;
      if (first) {
        Event(store_, ep, "spot_reclaimed",
              "spot replica (pid " + std::to_string(r->handle.pid) + ") reclaimed", clock_.NowSeconds());
      }
    } else if (replacement_ready) {
      r->draining = true;  // no new traffic; stopped once its in-flight requests are answered
    }
  }
  // Back to spot: replace one on-demand replica at a time once spot is the market again.
  if (any_noticed || any_starting) return;
  if (ChooseMarket(s, rt.preemptions, now).market != Market::kSpot) return;
  for (auto& r : rt.replicas) {
    if (r->draining || r->broken || r->spot || !r->ready ||
        r->model_version_id != ep.model_version_id) {
      continue;
    }
    r->noticed = true;  // reclaim_at stays max: it drains once the spot replacement is ready
    Event(store_, ep, "spot_rebalance",
          "replacing on-demand replica (pid " + std::to_string(r->handle.pid) + ") with spot",
          clock_.NowSeconds());
    break;
  }
}

}  // namespace sskai::serving
