// Cost ledger benchmark (issue 7):
//   1. ingestion: 1,000 running jobs + 100 endpoints (open usage records) priced every second by
//      Ledger::Sync, plus 100 request-usage upserts per second; reports ms per one-second tick;
//   2. query: 1,000,000 cost entries over one month (1,100 subjects), then "the month grouped by
//      day" (and by user / job, and a non-day-aligned range that reads the entries), median of 20.
// Usage: cost_bench [entries=1000000] [ticks=60]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "cost/cost.h"
#include "store/store.h"

using namespace sskai;
using Steady = std::chrono::steady_clock;

namespace {

constexpr double kMonth = 1'717'200'000;  // 2024-06-01 UTC

double Ms(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

void Must(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n_entries = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
  int ticks = argc > 2 ? std::atoi(argv[2]) : 60;
  std::string dir = (std::filesystem::temp_directory_path() / "sskai-cost-bench").string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = Must(store::Store::Open(dir + "/meta.db"), "open");
  int64_t owners[4];
  for (int i = 0; i < 4; ++i) owners[i] = Must(store->CreateUser("u" + std::to_string(i), false, 1), "user").id;
  std::vector<store::PricePoint> prices;
  for (int r = 0; r < 20; ++r) {
    for (const char* market : {"spot", "on-demand"}) {
      prices.push_back({0, "type" + std::to_string(r) + "@az", market, true,
                        (market[0] == 's' ? 0.4 : 1.0) * (1 + r), 0, "bench"});
    }
  }
  Must(store->AddPricePoints(prices), "prices");

  // ---- 1. ingestion
  double now = kMonth + 3600;
  for (int i = 0; i < 1100; ++i) {
    store::UsageRecord u;
    u.owner_id = owners[i % 4];
    u.subject_kind = i < 1000 ? "job" : "endpoint";
    u.subject_id = i + 1;
    u.resource = "type" + std::to_string(i % 20) + "@az";
    u.count = 1 + i % 4;
    u.spot = i % 2 == 0;
    u.started_at = now;
    Must(store->OpenUsage(u), "open usage");
  }
  cost::Ledger ledger(*store);
  std::vector<double> sync_ms, req_ms;
  for (int t = 0; t < ticks; ++t) {
    now += 1;
    auto a = Steady::now();
    int64_t n = Must(ledger.Sync(now), "sync");
    auto b = Steady::now();
    for (int e = 0; e < 100; ++e) {
      store::RequestUsage ru{1001 + e, owners[e % 4], std::floor(now / 60) * 60, 10, 0, 0.5, 1024, 300};
      Must(store->AddRequestUsage(ru), "request usage");
    }
    auto c = Steady::now();
    if (n != 1100) std::fprintf(stderr, "synced %lld\n", static_cast<long long>(n));
    sync_ms.push_back(Ms(a, b));
    req_ms.push_back(Ms(b, c));
  }
  std::printf("ingestion: 1,100 open usage records priced per tick, %d ticks: Sync median %.2f ms, "
              "p99 %.2f ms; 100 request-usage upserts median %.2f ms (budget per tick: 1000 ms)\n",
              ticks, Median(sync_ms), Pct(sync_ms, 0.99), Median(req_ms));

  // ---- 2. 1M entries over the month, 1,100 subjects.
  std::mt19937 rng(1);
  const int64_t subjects = 1100;
  const int64_t per_subject_day = std::max<int64_t>(1, (n_entries + subjects * 30 - 1) / (subjects * 30));
  double seg = 86400.0 / static_cast<double>(per_subject_day);
  auto load_start = Steady::now();
  int64_t written = 0, usage_id = 1'000'000;
  std::vector<store::LedgerWrite> batch;
  for (int day = 0; day < 30 && written < n_entries; ++day) {
    for (int64_t s = 0; s < subjects && written < n_entries; ++s) {
      store::LedgerWrite w;
      w.usage_id = ++usage_id;
      w.replace_from = 0;
      for (int64_t k = 0; k < per_subject_day && written < n_entries; ++k) {
        store::CostEntry e;
        e.usage_id = w.usage_id;
        e.owner_id = owners[s % 4];
        e.subject_kind = s < 1000 ? "job" : "endpoint";
        e.subject_id = s + 1;
        e.resource = "type" + std::to_string(s % 20) + "@az";
        e.spot = s % 2 == 0;
        e.count = 1;
        e.start = kMonth + day * 86400.0 + static_cast<double>(k) * seg;
        e.end = e.start + seg;
        e.cost_usd = seg / 3600 * 0.4;
        e.ondemand_usd = seg / 3600;
        w.entries.push_back(e);
        ++written;
      }
      w.billed_until = 0;
      batch.push_back(std::move(w));
      if (batch.size() >= 500) {
        Must(store->WriteLedger(batch), "write");
        batch.clear();
      }
    }
  }
  Must(store->WriteLedger(batch), "write");
  double load_s = Ms(load_start, Steady::now()) / 1000;
  std::printf("load: %lld cost entries written through WriteLedger in %.1f s (%.0f entries/s)\n",
              static_cast<long long>(written), load_s, static_cast<double>(written) / load_s);

  auto time_query = [&](const char* label, double from, double to, const std::string& group_by) {
    store::CostQuery q;
    q.from = from;
    q.to = to;
    q.group_by = group_by;
    std::vector<double> ms;
    size_t groups = 0;
    double total = 0;
    for (int i = 0; i < 20; ++i) {
      auto a = Steady::now();
      auto r = Must(cost::BuildReport(*store, q, -1), "query");
      ms.push_back(Ms(a, Steady::now()));
      groups = r.groups.size();
      total = r.total_usd;
    }
    std::printf("query %-44s median %7.2f ms  p95 %7.2f ms  (%zu groups, total $%.2f)\n", label,
                Median(ms), Pct(ms, 0.95), groups, total);
  };
  time_query("month by day (rollup)", kMonth, kMonth + 30 * 86400.0, "day");
  time_query("month by user (rollup)", kMonth, kMonth + 30 * 86400.0, "user");
  time_query("month by job (rollup)", kMonth, kMonth + 30 * 86400.0, "job");
  time_query("month total (rollup)", kMonth, kMonth + 30 * 86400.0, "none");
  time_query("one day + 1 s by day (hybrid: rollup + entries)", kMonth + 86400.0 - 1, kMonth + 2 * 86400.0, "day");
  time_query("month - 1 s by day (hybrid: rollup + entries)", kMonth + 1, kMonth + 30 * 86400.0, "day");
  std::filesystem::remove_all(dir);
  return 0;
}
