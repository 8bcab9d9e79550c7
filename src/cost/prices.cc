// Price history and the ledger: usage records -> cost entries at the rate in force.
#include <algorithm>
#include <cmath>
#include <map>

#include "common/log.h"
#include "cost/cost.h"
#include "planner/planner.h"

namespace sskai::cost {
namespace {

constexpr const char* kSpot = "spot";
constexpr const char* kOnDemand = "on-demand";

struct Wanted { bool priced; double usd; };

bool SamePrice(const store::PricePoint& p, const Wanted& w) {
  return p.priced == w.priced && (!w.priced || p.usd_per_hour == w.usd);
}

}  // namespace

std::string ResourceName(const planner::Offering& o) {
  return o.local ? o.instance_type : o.instance_type + "@" + o.zone;
}

Status RecordCatalogPrices(store::Store& store, const planner::Catalog& catalog, double now) {
  SSKAI_ASSIGN_OR_RETURN(std::vector<store::PricePoint> points, store.ListPricePoints());
  std::map<std::pair<std::string, std::string>, const store::PricePoint*> latest;
  for (const auto& p : points) latest[{p.resource, p.market}] = &p;  // sorted: last wins
  std::string source = "catalog " + catalog.catalog_date + " prices " + catalog.prices_date;
  std::vector<store::PricePoint> add;
  auto consider = [&](const std::string& resource, const char* market, Wanted w) {
    auto it = latest.find({resource, market});
    if (it != latest.end() && SamePrice(*it->second, w)) return;
    store::PricePoint p;
    p.resource = resource;
    p.market = market;
    p.priced = w.priced;
    p.usd_per_hour = w.priced ? w.usd : 0;
    p.effective_from = it == latest.end() ? 0 : now;
    p.source = source;
    add.push_back(std::move(p));
  };
  for (const auto& o : catalog.offerings) {
    std::string resource = ResourceName(o);
    Wanted od{o.ondemand_usd_per_hour.has_value(), o.ondemand_usd_per_hour.value_or(0)};
    Wanted spot = o.local ? od : Wanted{o.spot_usd_per_hour.has_value(), o.spot_usd_per_hour.value_or(0)};
    consider(resource, kOnDemand, od);
    consider(resource, kSpot, spot);
  }
  if (!add.empty()) SSKAI_LOG_INFO("cost: {} price points recorded ({})", add.size(), source);
  return store.AddPricePoints(add);
}

PriceBook::PriceBook(const std::vector<store::PricePoint>& points) {
  for (const auto& p : points) points_[{p.resource, p.market}].push_back(p);
}

std::vector<PriceBook::Rate> PriceBook::Rates(const std::string& resource, const std::string& market,
                                              double from, double to) const {
  std::vector<Rate> out;
  auto it = points_.find({resource, market});
  if (it == points_.end()) {
    out.push_back({from, to, false, 0});
    return out;
  }
  const auto& pts = it->second;  // ascending effective_from
  double t = from;
  // Index of the point in force at t (-1: before the first).
  auto in_force = [&](double at) {
    int idx = -1;
    for (size_t i = 0; i < pts.size(); ++i) {
      if (pts[i].effective_from <= at) idx = static_cast<int>(i);
      else break;
    }
    return idx;
  };
  int idx = in_force(t);
  while (t < to) {
    double next = idx + 1 < static_cast<int>(pts.size()) ? pts[idx + 1].effective_from : to;
    double end = std::min(next, to);
    if (end > t) {
      bool priced = idx >= 0 && pts[idx].priced;
      out.push_back({t, end, priced, priced ? pts[idx].usd_per_hour : 0});
    }
    t = std::max(t, end);
    ++idx;
  }
  return out;
}

std::vector<store::CostEntry> PriceInterval(const store::UsageRecord& u, double from, double to,
                                            const PriceBook& book) {
  std::vector<store::CostEntry> out;
  if (!(to > from)) return out;
  auto actual = book.Rates(u.resource, u.spot ? kSpot : kOnDemand, from, to);
  auto ondemand = book.Rates(u.resource, kOnDemand, from, to);
  // Cut points: both rate series and every UTC midnight.
  std::vector<double> cuts = {from, to};
  for (const auto& r : actual) cuts.push_back(r.start);
  for (const auto& r : ondemand) cuts.push_back(r.start);
  for (double d = (std::floor(from / kSecondsPerDay) + 1) * kSecondsPerDay; d < to; d += kSecondsPerDay) {
    cuts.push_back(d);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  size_t ai = 0, oi = 0;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    double s = cuts[i], e = cuts[i + 1];
    if (!(e > s)) continue;
    while (ai + 1 < actual.size() && actual[ai].end <= s) ++ai;
    while (oi + 1 < ondemand.size() && ondemand[oi].end <= s) ++oi;
    store::CostEntry c;
    c.usage_id = u.id;
    c.owner_id = u.owner_id;
    c.subject_kind = u.subject_kind;
    c.subject_id = u.subject_id;
    c.resource = u.resource;
    c.spot = u.spot;
    c.count = u.count;
    c.start = s;
    c.end = e;
    double unit_hours = static_cast<double>(u.count) * (e - s) / 3600.0;
    c.priced = actual[ai].priced;
    if (c.priced) {
      c.cost_usd = unit_hours * actual[ai].usd_per_hour;
      c.ondemand_usd = ondemand[oi].priced ? unit_hours * ondemand[oi].usd_per_hour : c.cost_usd;
    }
    out.push_back(std::move(c));
  }
  return out;
}

Result<int64_t> Ledger::Sync(double now) {
  std::lock_guard lock(mu_);
  SSKAI_ASSIGN_OR_RETURN(std::vector<store::PricePoint> points, store_.ListPricePoints());
  int64_t newest = points.empty() ? 0 : std::max_element(points.begin(), points.end(), [](auto& a, auto& b) {
                                         return a.id < b.id;
                                       })->id;
  if (!book_ || newest != loaded_points_) {
    book_ = std::make_unique<PriceBook>(points);
    loaded_points_ = newest;
  }
  int64_t done = 0, after = 0;
  while (true) {
    SSKAI_ASSIGN_OR_RETURN(std::vector<store::UnbilledUsage> batch, store_.ListUnbilledUsage(after, 2000));
    if (batch.empty()) break;
    std::vector<store::LedgerWrite> writes;
    writes.reserve(batch.size());
    for (const auto& item : batch) {
      const auto& u = item.usage;
      after = u.id;
      double from = std::max(item.billed_until, u.started_at);
      bool open = u.ended_at == 0;
      double to = open ? std::max(now, from) : u.ended_at;
      store::LedgerWrite w;
      w.usage_id = u.id;
      w.replace_from = from;
      w.entries = PriceInterval(u, from, to, *book_);
      // An open record keeps its last (growing) entry replaceable; a closed one is done.
      w.billed_until = open ? (w.entries.empty() ? from : w.entries.back().start) : u.ended_at;
      if (!open && to <= from) w.billed_until = std::max(u.ended_at, item.billed_until);
      writes.push_back(std::move(w));
    }
    SSKAI_RETURN_IF_ERROR(store_.WriteLedger(writes));
    done += static_cast<int64_t>(batch.size());
  }
  return done;
}

}  // namespace sskai::cost
