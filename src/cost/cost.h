// src/cost/cost.h — the cost ledger: price history, exact per-second cost of every job and
// endpoint (spot-accurate, with the on-demand counterfactual), serverless and storage billing,
// reports, budgets that alert and act. The model is documented in docs/cost.md.
//
// Data flow: RecordCatalogPrices() writes price points when the catalog's prices change; the
// Ledger turns usage records (store::UsageRecord) into cost entries priced at the rate in force
// during each part of the interval (split at price changes and UTC midnights), materialized in
// the store with a per-day rollup; Report() sums them. A resource without a price is "unpriced"
// (counted in unpriced_seconds), never $0. The BudgetEnforcer evaluates budgets periodically.
// Thread-safety: free functions are reentrant; Ledger and BudgetEnforcer are thread-safe.
// Errors: kInvalidArgument for bad input (message names the field), store errors pass through.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"

namespace sskai::planner {
struct Catalog;
struct Offering;
struct ServerlessPricing;
}  // namespace sskai::planner

namespace sskai::cost {

constexpr double kSecondsPerDay = 86400;
// AWS S3 Standard, us-east-1, first 50 TB/month (aws.amazon.com/s3/pricing, 2025): $0.023/GB-month.
constexpr double kDefaultStorageUsdPerGbMonth = 0.023;
constexpr double kSecondsPerMonth = 730.0 * 3600;  // AWS bills GB-month over 730 hours
constexpr double kMaxBudgetUsd = 10'000'000;        // per budget period

// ------------------------------------------------------------------------------- prices
// Usage resource name of an offering: local "this-machine"; cloud "<instance_type>@<zone>".
std::string ResourceName(const planner::Offering& offering);

// Writes a price point for every (resource, market) whose price differs from the latest stored
// one (or has none): the first point of a resource is effective from 0 (the catalog's price is
// the best known for earlier usage), later ones from `now`. Local offerings are priced at their
// on-demand price in both markets (0 is a genuine zero). One read and one transaction.
Status RecordCatalogPrices(store::Store& store, const planner::Catalog& catalog, double now);

// The price history in memory. Immutable once built.
class PriceBook {
 public:
  explicit PriceBook(const std::vector<store::PricePoint>& points);
  struct Rate { double start = 0, end = 0; bool priced = false; double usd_per_hour = 0; };
  // Consecutive rates covering [from, to) for (resource, market "spot"|"on-demand"); time
  // before the first point, or an unknown resource, is one unpriced rate.
  std::vector<Rate> Rates(const std::string& resource, const std::string& market, double from,
                          double to) const;

 private:
  std::map<std::pair<std::string, std::string>, std::vector<store::PricePoint>> points_;
};

// Pure: the cost entries of usage `u` over [from, to), split at price changes (of its market and
// of on-demand) and UTC midnights. cost = count x hours x rate; ondemand_usd likewise at the
// on-demand rate (equal to cost when the on-demand price is unknown). Zero-length parts dropped.
std::vector<store::CostEntry> PriceInterval(const store::UsageRecord& u, double from, double to,
                                            const PriceBook& book);

// Materializes usage into cost entries. Sync(now) prices every open usage record up to `now`
// and every closed one up to its end, exactly once: each record's entries from its billed_until
// on are replaced, so re-running (after a crash or restart) never double counts.
class Ledger {
 public:
  explicit Ledger(store::Store& store) : store_(store) {}
  // Returns how many usage records were (re)priced.
  Result<int64_t> Sync(double now);

 private:
  store::Store& store_;
  std::mutex mu_;
  int64_t loaded_points_ = -1;
  std::unique_ptr<PriceBook> book_;
};

// ------------------------------------------------------------------------------- reports
// from/to as unix seconds ("1717200000") or a UTC date ("2024-06-01"); errors name `field`.
Result<double> ParseTime(const std::string& field, const std::string& text);
// [first second of the UTC calendar month containing t, first second of the next).
std::pair<double, double> MonthOf(double t);
std::string DateString(double t);  // "YYYY-MM-DD" (UTC)

struct Report {
  double from = 0, to = 0;
  std::string group_by;
  double total_usd = 0, ondemand_usd = 0, savings_usd = 0, compute_seconds = 0, unpriced_seconds = 0;
  double storage_usd = 0;  // stored artifacts over the range, not in total_usd
  std::vector<store::CostGroup> groups;  // total_* are the sums of these
};
// storage_usd_per_gb_month < 0 skips storage.
Result<Report> BuildReport(store::Store& store, const store::CostQuery& query,
                           double storage_usd_per_gb_month);
// "key,cost_usd,ondemand_usd,savings_usd,compute_seconds,unpriced_seconds,entries" + total row.
std::string ReportCsv(const Report& report);

// Serverless price of `requests` invocations using `gb_seconds` of memory-time.
double ServerlessUsd(const planner::ServerlessPricing& pricing, double requests, double gb_seconds);
double StorageUsd(double byte_seconds, double usd_per_gb_month);  // GB = 1e9 bytes

struct EndpointCost {
  int64_t endpoint_id = 0;
  double dedicated_usd = 0, replica_seconds = 0, busy_seconds = 0;
  double busy_usd = 0, idle_usd = 0;  // dedicated_usd split by busy / replica seconds
  int64_t requests = 0, errors = 0, tokens = 0;
  double gb_seconds = 0, serverless_usd = 0;  // the same traffic billed the serverless way
  double usd_per_1k_predictions = -1, usd_per_million_tokens = -1;  // -1: no requests / tokens
};
Result<std::vector<EndpointCost>> EndpointCosts(store::Store& store,
                                                const planner::ServerlessPricing& pricing,
                                                int64_t owner_id, double from, double to);

// ------------------------------------------------------------------------------- budgets
struct BudgetRules {  // parsed from store::Budget's JSON columns
  std::vector<double> thresholds{0.5, 0.8, 1.0};
  std::vector<std::string> actions{"alert"};  // alert|refuse_new|pause_jobs|scale_to_zero
};
Result<BudgetRules> ParseRules(const store::Budget& budget);
// What the enforcer remembers per budget (store::Budget::state_json).
struct BudgetState {
  double period_from = 0;            // the period the fired thresholds belong to
  std::vector<double> fired;
  bool enforcing = false;
  std::vector<int64_t> paused_jobs, blocked_endpoints;
};
BudgetState ParseState(const std::string& json_text);
std::string StateJson(const BudgetState& state);

// The budget's current period [from, to) at `now` (monthly: the calendar month).
std::pair<double, double> BudgetPeriod(const store::Budget& budget, double now);
// Linear burn-rate forecast to the period end: spent / elapsed x length (spent when elapsed 0).
double Forecast(double spent, double period_from, double period_to, double now);

struct BudgetSnapshot {
  double spent = 0, limit = 0, now = 0, period_from = 0, period_to = 0;
  BudgetRules rules;
  BudgetState state;
};
struct BudgetDecision {
  std::vector<double> newly_fired;  // thresholds crossed for the first time this period
  std::string state;                // ok|alerted|exceeded
  double forecast_usd = 0;
  bool enforce = false;             // exceeded and has enforcement actions, not yet enforcing
  bool release = false;             // was enforcing and is no longer exceeded (raised, new period)
  bool new_period = false;          // state.fired belongs to an older period: reset it
};
// Pure: what to do for one budget now.
BudgetDecision EvaluateBudget(const BudgetSnapshot& snapshot);

// Checks scope, period, limit, thresholds, actions, overlap with the owner's other budgets of
// the same scope (`exclude_id` = the budget being updated) and that a tag key is in use.
Status ValidateBudget(store::Store& store, const store::Budget& budget, int64_t exclude_id);

struct BudgetView { double spent_usd = 0, forecast_usd = 0, period_from = 0, period_to = 0; std::string state; };
Result<BudgetView> ViewBudget(store::Store& store, const store::Budget& budget, double now);

// kPermissionDenied ("budget 'x' (id 3) is exceeded: $12.00 of $10.00; new jobs and endpoints
// are refused") when a refuse_new budget covering (owner, tags) is exceeded.
Status CheckNewWork(store::Store& store, int64_t owner_id,
                    const std::map<std::string, std::string>& tags, double now);

struct BudgetActions {
  std::function<Status(int64_t job_id)> pause_job, resume_job;
  std::function<Status(int64_t endpoint_id, const std::string& reason)> block_endpoint;
  std::function<Status(int64_t endpoint_id)> unblock_endpoint;
  // Fire-and-forget POST of a JSON body; empty = HttpWebhook().
  std::function<void(const std::string& url, const std::string& body)> post_webhook;
};
// Posts on a detached thread with http::Client (5 s timeouts); failures are logged.
std::function<void(const std::string&, const std::string&)> HttpWebhook();

// Runs EvaluateBudget for every budget: adds a store event (kind "budget") per newly fired
// threshold and posts the webhook, pauses/blocks what is in scope on `enforce`, resumes on
// `release`. Release(budget) resumes everything a (deleted) budget paused.
class BudgetEnforcer {
 public:
  BudgetEnforcer(store::Store& store, Clock& clock, BudgetActions actions);
  ~BudgetEnforcer();
  Status RunOnce();
  Status Release(const store::Budget& budget);
  // A thread calling ledger.Sync then RunOnce every `interval` (ledger may be null).
  void Start(Ledger* ledger, std::chrono::milliseconds interval);
  void Stop();

 private:
  struct Loop;
  store::Store& store_;
  Clock& clock_;
  BudgetActions actions_;
  std::mutex mu_;
  std::unique_ptr<Loop> loop_;
};

// Prometheus exposition: sskai_cost_usd_total{kind,subject} for the current month,
// sskai_cost_savings_usd_month, sskai_budget_spent_usd / _limit_usd / _used_ratio{budget}.
std::string PrometheusText(store::Store& store, double now);

// Aggregates per-request serving records in memory (per endpoint and minute) so the gateway's hot
// path does no database write; Flush() adds them to the store's request usage. `memory_mb` is the
// size a serverless function would need for the endpoint's model (billing comparison).
// Thread-safe.
class RequestMeter {
 public:
  explicit RequestMeter(double memory_mb = 1024) : memory_mb_(memory_mb) {}
  void Record(int64_t endpoint_id, int64_t owner_id, double busy_seconds, bool ok, double now);
  // Writes and clears what was recorded. On a store error the counters are kept for next time.
  Status Flush(store::Store& store);

 private:
  struct Key {
    int64_t endpoint_id, owner_id;
    double bucket;
    bool operator<(const Key& o) const {
      return std::tie(endpoint_id, owner_id, bucket) < std::tie(o.endpoint_id, o.owner_id, o.bucket);
    }
  };
  struct Counts { int64_t requests = 0, errors = 0; double busy_seconds = 0; };
  double memory_mb_;
  std::mutex mu_;
  std::map<Key, Counts> pending_;
};

}  // namespace sskai::cost
