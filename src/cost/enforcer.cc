// The budget enforcer (events, webhooks, pause/resume through injected actions) and the
// Prometheus text.
#include <condition_variable>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/log.h"
#include "cost/cost.h"
#include "http/http.h"

namespace sskai::cost {
namespace {

using nlohmann::json;

std::string Usd(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "$%.2f", v);
  return buf;
}

bool Has(const std::vector<std::string>& v, const char* s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string PromLabel(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::function<void(const std::string&, const std::string&)> HttpWebhook() {
  return [](const std::string& url, const std::string& body) {
    std::thread([url, body] {
      // "http://host:port/path" -> base + target.
      size_t slash = url.find('/', 7);
      std::string base = slash == std::string::npos ? url : url.substr(0, slash);
      std::string target = slash == std::string::npos ? "/" : url.substr(slash);
      auto client = http::Client::Create(base);
      if (!client.ok()) {
        SSKAI_LOG_WARN("budget webhook {}: {}", url, client.status().message());
        return;
      }
      auto resp = (*client)->Request("POST", target, body, {{"Content-Type", "application/json"}});
      if (!resp.ok()) {
        SSKAI_LOG_WARN("budget webhook {}: {}", url, resp.status().message());
      } else if (resp->status >= 300) {
        SSKAI_LOG_WARN("budget webhook {}: HTTP {}", url, resp->status);
      }
    }).detach();
  };
}

struct BudgetEnforcer::Loop {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread thread;
};

BudgetEnforcer::BudgetEnforcer(store::Store& store, Clock& clock, BudgetActions actions)
    : store_(store), clock_(clock), actions_(std::move(actions)) {
  if (!actions_.post_webhook) actions_.post_webhook = HttpWebhook();
}

BudgetEnforcer::~BudgetEnforcer() { Stop(); }

Status BudgetEnforcer::RunOnce() {
  std::lock_guard lock(mu_);
  double now = clock_.NowSeconds();
  SSKAI_ASSIGN_OR_RETURN(std::vector<store::Budget> budgets, store_.ListBudgets(0));
  for (const auto& b : budgets) {
    SSKAI_ASSIGN_OR_RETURN(BudgetView view, ViewBudget(store_, b, now));
    BudgetSnapshot snap;
    snap.spent = view.spent_usd;
    snap.limit = b.limit_usd;
    snap.now = now;
    snap.period_from = view.period_from;
    snap.period_to = view.period_to;
    SSKAI_ASSIGN_OR_RETURN(snap.rules, ParseRules(b));
    snap.state = ParseState(b.state_json);
    BudgetDecision d = EvaluateBudget(snap);
    BudgetState st = snap.state;
    std::string before = StateJson(st);
    if (d.new_period) {
      st.fired.clear();
      st.period_from = view.period_from;
    }
    for (double t : d.newly_fired) {
      st.fired.push_back(t);
      std::string msg = "budget '" + b.name + "' reached " + std::to_string(static_cast<int>(t * 100 + 0.5)) +
                        " % (" + Usd(view.spent_usd) + " of " + Usd(b.limit_usd) + ")";
      IgnoreError(store_.AddEvent({0, b.owner_id, "budget", b.id, "threshold", msg, now}).status());
      if (!b.webhook_url.empty()) {
        json body = {{"budget_id", b.id}, {"name", b.name}, {"threshold", t},
                     {"spent_usd", view.spent_usd}, {"limit_usd", b.limit_usd},
                     {"forecast_usd", d.forecast_usd}, {"message", msg}};
        actions_.post_webhook(b.webhook_url, body.dump());
      }
    }
    if (d.enforce) {
      int64_t owner = b.scope == "user" ? b.user_id : 0;
      if (b.scope == "tag") {
        auto u = store_.GetUser(b.owner_id);
        owner = u.ok() && u->is_admin ? 0 : b.owner_id;
      }
      std::string reason = "budget '" + b.name + "' exceeded (" + Usd(view.spent_usd) + " of " +
                           Usd(b.limit_usd) + ")";
      if (Has(snap.rules.actions, "pause_jobs") && actions_.pause_job) {
        SSKAI_ASSIGN_OR_RETURN(auto jobs, store_.SubjectsInScope("job", owner, b.tag_key, b.tag_value));
        for (int64_t id : jobs) {
          Status s = actions_.pause_job(id);
          if (s.ok()) st.paused_jobs.push_back(id);
          else SSKAI_LOG_WARN("budget {}: pause job {}: {}", b.id, id, s.message());
        }
      }
      if (Has(snap.rules.actions, "scale_to_zero") && actions_.block_endpoint) {
        SSKAI_ASSIGN_OR_RETURN(auto eps, store_.SubjectsInScope("endpoint", owner, b.tag_key, b.tag_value));
        for (int64_t id : eps) {
          Status s = actions_.block_endpoint(id, reason);
          if (s.ok()) st.blocked_endpoints.push_back(id);
          else SSKAI_LOG_WARN("budget {}: block endpoint {}: {}", b.id, id, s.message());
        }
      }
      st.enforcing = true;
      IgnoreError(store_.AddEvent({0, b.owner_id, "budget", b.id, "enforced",
                                   reason + ": paused " + std::to_string(st.paused_jobs.size()) +
                                       " jobs, scaled " + std::to_string(st.blocked_endpoints.size()) +
                                       " endpoints to zero", now}).status());
    } else if (d.release) {
      for (int64_t id : st.paused_jobs) {
        if (actions_.resume_job) IgnoreError(actions_.resume_job(id));
      }
      for (int64_t id : st.blocked_endpoints) {
        if (actions_.unblock_endpoint) IgnoreError(actions_.unblock_endpoint(id));
      }
      IgnoreError(store_.AddEvent({0, b.owner_id, "budget", b.id, "released",
                                   "budget '" + b.name + "' no longer exceeded: resumed " +
                                       std::to_string(st.paused_jobs.size()) + " jobs, " +
                                       std::to_string(st.blocked_endpoints.size()) + " endpoints",
                                   now}).status());
      st.paused_jobs.clear();
      st.blocked_endpoints.clear();
      st.enforcing = false;
    }
    std::string after = StateJson(st);
    if (after != before) SSKAI_RETURN_IF_ERROR(store_.SetBudgetState(b.id, after));
  }
  return Status::Ok();
}

Status BudgetEnforcer::Release(const store::Budget& b) {
  std::lock_guard lock(mu_);
  BudgetState st = ParseState(b.state_json);
  for (int64_t id : st.paused_jobs) {
    if (actions_.resume_job) IgnoreError(actions_.resume_job(id));
  }
  for (int64_t id : st.blocked_endpoints) {
    if (actions_.unblock_endpoint) IgnoreError(actions_.unblock_endpoint(id));
  }
  return Status::Ok();
}

void BudgetEnforcer::Start(Ledger* ledger, std::chrono::milliseconds interval) {
  Stop();
  loop_ = std::make_unique<Loop>();
  loop_->thread = std::thread([this, ledger, interval] {
    std::unique_lock lock(loop_->mu);
    while (!loop_->stop) {
      lock.unlock();
      if (ledger != nullptr) {
        auto synced = ledger->Sync(clock_.NowSeconds());
        if (!synced.ok()) SSKAI_LOG_WARN("cost ledger: {}", synced.status().message());
      }
      Status s = RunOnce();
      if (!s.ok()) SSKAI_LOG_WARN("budget enforcer: {}", s.message());
      lock.lock();
      loop_->cv.wait_for(lock, interval, [this] { return loop_->stop; });
    }
  });
}

void BudgetEnforcer::Stop() {
  if (!loop_) return;
  {
    std::lock_guard lock(loop_->mu);
    loop_->stop = true;
  }
  loop_->cv.notify_all();
  if (loop_->thread.joinable()) loop_->thread.join();
  loop_.reset();
}

std::string PrometheusText(store::Store& store, double now) {
  std::string out;
  auto [from, to] = MonthOf(now);
  store::CostQuery q;
  q.from = from;
  q.to = to;
  q.group_by = "user";
  auto groups = store.QueryCost(q);
  char buf[256];
  if (groups.ok()) {
    out += "# HELP sskai_cost_month_usd Compute cost this calendar month (UTC), by owner user id.\n"
           "# TYPE sskai_cost_month_usd gauge\n";
    double total = 0, od = 0, unpriced = 0;
    for (const auto& g : *groups) {
      std::snprintf(buf, sizeof(buf), "sskai_cost_month_usd{user_id=\"%s\"} %.6f\n",
                    PromLabel(g.key).c_str(), g.cost_usd);
      out += buf;
      total += g.cost_usd;
      od += g.ondemand_usd;
      unpriced += g.unpriced_seconds;
    }
    std::snprintf(buf, sizeof(buf), "%.6f", od - total);
    out += "# HELP sskai_cost_month_savings_usd On-demand counterfactual minus cost, this month.\n"
           "# TYPE sskai_cost_month_savings_usd gauge\nsskai_cost_month_savings_usd " + std::string(buf) + "\n";
    std::snprintf(buf, sizeof(buf), "%.3f", unpriced);
    out += "# HELP sskai_cost_month_unpriced_seconds Compute seconds without a price, this month.\n"
           "# TYPE sskai_cost_month_unpriced_seconds gauge\nsskai_cost_month_unpriced_seconds " + std::string(buf) + "\n";
  }
  auto budgets = store.ListBudgets(0);
  if (budgets.ok() && !budgets->empty()) {
    out += "# HELP sskai_budget_used_ratio Spent / limit of each budget's current period.\n"
           "# TYPE sskai_budget_used_ratio gauge\n";
    std::string spent, limit, forecast;
    for (const auto& b : *budgets) {
      auto v = ViewBudget(store, b, now);
      if (!v.ok()) continue;
      std::string labels = "{budget=\"" + PromLabel(b.name) + "\",id=\"" + std::to_string(b.id) + "\"}";
      std::snprintf(buf, sizeof(buf), "sskai_budget_used_ratio%s %.6f\n", labels.c_str(),
                    v->spent_usd / b.limit_usd);
      out += buf;
      std::snprintf(buf, sizeof(buf), "sskai_budget_spent_usd%s %.6f\n", labels.c_str(), v->spent_usd);
      spent += buf;
      std::snprintf(buf, sizeof(buf), "sskai_budget_limit_usd%s %.6f\n", labels.c_str(), b.limit_usd);
      limit += buf;
      std::snprintf(buf, sizeof(buf), "sskai_budget_forecast_usd%s %.6f\n", labels.c_str(), v->forecast_usd);
      forecast += buf;
    }
    out += "# TYPE sskai_budget_spent_usd gauge\n" + spent + "# TYPE sskai_budget_limit_usd gauge\n" +
           limit + "# TYPE sskai_budget_forecast_usd gauge\n" + forecast;
  }
  return out;
}

}  // namespace sskai::cost
