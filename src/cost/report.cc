// Reports: time parsing, grouped sums, CSV, serverless and storage billing, endpoint unit costs.
#include <cmath>
#include <cstdio>
#include <ctime>

#include "cost/cost.h"
#include "planner/planner.h"

namespace sskai::cost {

Result<double> ParseTime(const std::string& field, const std::string& text) {
  auto bad = [&] {
    return Status::InvalidArgument("field '" + field + "': expected unix seconds or YYYY-MM-DD, got '" +
                                   text + "'");
  };
  if (text.empty()) return bad();
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    struct tm tm {};
    int y = 0, m = 0, d = 0;
    char tail = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) return bad();
    if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31) return bad();
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    time_t t = timegm(&tm);
    struct tm back {};
    gmtime_r(&t, &back);
    if (back.tm_mday != d) return bad();  // 2024-02-30
    return static_cast<double>(t);
  }
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !std::isfinite(v) || v < 0 || v > 253402300800.0) {
    return bad();
  }
  return v;
}

std::pair<double, double> MonthOf(double t) {
  time_t tt = static_cast<time_t>(std::floor(t));
  struct tm tm {};
  gmtime_r(&tt, &tm);
  struct tm first {};
  first.tm_year = tm.tm_year;
  first.tm_mon = tm.tm_mon;
  first.tm_mday = 1;
  struct tm next = first;
  if (++next.tm_mon == 12) {
    next.tm_mon = 0;
    ++next.tm_year;
  }
  return {static_cast<double>(timegm(&first)), static_cast<double>(timegm(&next))};
}

std::string DateString(double t) {
  time_t tt = static_cast<time_t>(std::floor(t));
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[16];
  strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

double ServerlessUsd(const planner::ServerlessPricing& p, double requests, double gb_seconds) {
  return requests / 1e6 * p.usd_per_million_requests + gb_seconds * p.usd_per_gb_second;
}

double StorageUsd(double byte_seconds, double usd_per_gb_month) {
  return byte_seconds / 1e9 / kSecondsPerMonth * usd_per_gb_month;
}

Result<Report> BuildReport(store::Store& store, const store::CostQuery& query,
                           double storage_usd_per_gb_month) {
  Report r;
  r.from = query.from;
  r.to = query.to;
  r.group_by = query.group_by;
  SSKAI_ASSIGN_OR_RETURN(r.groups, store.QueryCost(query));
  for (const auto& g : r.groups) {
    r.total_usd += g.cost_usd;
    r.ondemand_usd += g.ondemand_usd;
    r.compute_seconds += g.compute_seconds;
    r.unpriced_seconds += g.unpriced_seconds;
  }
  r.savings_usd = r.ondemand_usd - r.total_usd;
  if (storage_usd_per_gb_month >= 0 && query.tag_key.empty() && query.subject_kind.empty()) {
    SSKAI_ASSIGN_OR_RETURN(auto stored, store.StoredArtifactBytes(query.owner_id, query.from, query.to));
    for (const auto& s : stored) r.storage_usd += StorageUsd(s.byte_seconds, storage_usd_per_gb_month);
  }
  return r;
}

namespace {
std::string Num(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}
std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}
}  // namespace

std::string ReportCsv(const Report& r) {
  std::string out = "key,cost_usd,ondemand_usd,savings_usd,compute_seconds,unpriced_seconds,entries\n";
  int64_t entries = 0;
  for (const auto& g : r.groups) {
    entries += g.entries;
    out += CsvField(g.key) + "," + Num(g.cost_usd, 6) + "," + Num(g.ondemand_usd, 6) + "," +
           Num(g.ondemand_usd - g.cost_usd, 6) + "," + Num(g.compute_seconds, 3) + "," +
           Num(g.unpriced_seconds, 3) + "," + std::to_string(g.entries) + "\n";
  }
  out += "total," + Num(r.total_usd, 6) + "," + Num(r.ondemand_usd, 6) + "," + Num(r.savings_usd, 6) +
         "," + Num(r.compute_seconds, 3) + "," + Num(r.unpriced_seconds, 3) + "," +
         std::to_string(entries) + "\n";
  return out;
}

Result<std::vector<EndpointCost>> EndpointCosts(store::Store& store,
                                                const planner::ServerlessPricing& pricing,
                                                int64_t owner_id, double from, double to) {
  store::CostQuery q;
  q.from = from;
  q.to = to;
  q.owner_id = owner_id;
  q.group_by = "endpoint";
  SSKAI_ASSIGN_OR_RETURN(std::vector<store::CostGroup> groups, store.QueryCost(q));
  std::map<int64_t, EndpointCost> by_id;
  for (const auto& g : groups) {
    if (g.key == "other") continue;
    EndpointCost& e = by_id[std::stoll(g.key)];
    e.dedicated_usd = g.cost_usd;
    e.replica_seconds = g.compute_seconds;
  }
  SSKAI_ASSIGN_OR_RETURN(std::vector<store::RequestUsage> usage, store.SumRequestUsage(owner_id, from, to));
  for (const auto& u : usage) {
    EndpointCost& e = by_id[u.endpoint_id];
    e.requests = u.requests;
    e.errors = u.errors;
    e.tokens = u.tokens;
    e.busy_seconds = u.busy_seconds;
    e.gb_seconds = u.busy_seconds * u.memory_mb / 1024.0;
  }
  std::vector<EndpointCost> out;
  for (auto& [id, e] : by_id) {
    e.endpoint_id = id;
    double busy_share = e.replica_seconds > 0 ? std::min(1.0, e.busy_seconds / e.replica_seconds) : 0;
    e.busy_usd = e.dedicated_usd * busy_share;
    e.idle_usd = e.dedicated_usd - e.busy_usd;
    e.serverless_usd = ServerlessUsd(pricing, static_cast<double>(e.requests), e.gb_seconds);
    if (e.requests > 0) e.usd_per_1k_predictions = e.dedicated_usd / static_cast<double>(e.requests) * 1000;
    if (e.tokens > 0) e.usd_per_million_tokens = e.dedicated_usd / static_cast<double>(e.tokens) * 1e6;
    out.push_back(e);
  }
  return out;
}

}  // namespace sskai::cost
