// Budgets: rules, periods, the pure evaluation, validation, views and the refuse-new check.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "cost/cost.h"

namespace sskai::cost {
namespace {

using nlohmann::json;

const std::vector<std::string> kActions = {"alert", "refuse_new", "pause_jobs", "scale_to_zero"};

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool ValidTagText(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

// Which owners' usage a budget covers: a user budget that user; a tag budget its owner's
// resources, or everyone's when the owner is an admin.
Result<int64_t> CoveredOwner(store::Store& store, const store::Budget& b) {
  if (b.scope == "user") return b.user_id;
  SSKAI_ASSIGN_OR_RETURN(store::User owner, store.GetUser(b.owner_id));
  return owner.is_admin ? int64_t{0} : b.owner_id;
}

}  // namespace

Result<BudgetRules> ParseRules(const store::Budget& b) {
  BudgetRules r;
  json t = json::parse(b.thresholds_json.empty() ? "null" : b.thresholds_json, nullptr, false);
  if (t.is_array()) {
    r.thresholds.clear();
    for (const auto& v : t) {
      if (!v.is_number()) return Status::InvalidArgument("field 'thresholds': expected numbers");
      r.thresholds.push_back(v.get<double>());
    }
  }
  json a = json::parse(b.actions_json.empty() ? "null" : b.actions_json, nullptr, false);
  if (a.is_array()) {
    r.actions.clear();
    for (const auto& v : a) {
      if (!v.is_string()) return Status::InvalidArgument("field 'actions': expected strings");
      r.actions.push_back(v.get<std::string>());
    }
  }
  return r;
}

BudgetState ParseState(const std::string& text) {
  BudgetState s;
  json j = json::parse(text.empty() ? "{}" : text, nullptr, false);
  if (!j.is_object()) return s;
  s.period_from = j.value("period_from", 0.0);
  s.enforcing = j.value("enforcing", false);
  for (const auto& v : j.value("fired", json::array())) if (v.is_number()) s.fired.push_back(v.get<double>());
  for (const auto& v : j.value("paused_jobs", json::array())) if (v.is_number_integer()) s.paused_jobs.push_back(v.get<int64_t>());
  for (const auto& v : j.value("blocked_endpoints", json::array())) if (v.is_number_integer()) s.blocked_endpoints.push_back(v.get<int64_t>());
  return s;
}

std::string StateJson(const BudgetState& s) {
  return json{{"period_from", s.period_from}, {"fired", s.fired}, {"enforcing", s.enforcing},
              {"paused_jobs", s.paused_jobs}, {"blocked_endpoints", s.blocked_endpoints}}.dump();
}

std::pair<double, double> BudgetPeriod(const store::Budget& b, double now) {
  if (b.period_from == 0 && b.period_to == 0) return MonthOf(now);
  return {b.period_from, b.period_to};
}

double Forecast(double spent, double from, double to, double now) {
  double elapsed = std::min(now, to) - from;
  if (elapsed <= 0) return spent;
  return spent / elapsed * (to - from);
}

BudgetDecision EvaluateBudget(const BudgetSnapshot& s) {
  BudgetDecision d;
  d.new_period = s.state.period_from != s.period_from;
  std::vector<double> fired = d.new_period ? std::vector<double>{} : s.state.fired;
  double ratio = s.limit > 0 ? s.spent / s.limit : 0;
  bool in_period = s.now >= s.period_from && s.now < s.period_to;
  for (double t : s.rules.thresholds) {
    if (ratio >= t && std::find(fired.begin(), fired.end(), t) == fired.end()) {
      d.newly_fired.push_back(t);
      fired.push_back(t);
    }
  }
  bool exceeded = ratio >= 1.0;
  d.state = exceeded ? "exceeded" : (fired.empty() ? "ok" : "alerted");
  d.forecast_usd = Forecast(s.spent, s.period_from, s.period_to, s.now);
  bool acts = Has(s.rules.actions, "pause_jobs") || Has(s.rules.actions, "scale_to_zero");
  d.enforce = exceeded && in_period && acts && !s.state.enforcing;
  d.release = s.state.enforcing && (!exceeded || !in_period || !acts);
  return d;
}

Status ValidateBudget(store::Store& store, const store::Budget& b, int64_t exclude_id) {
  SSKAI_RETURN_IF_ERROR(store::ValidateName(b.name));
  if (b.scope == "user") {
    if (b.user_id <= 0) return Status::InvalidArgument("field 'user': a user budget needs a user");
  } else if (b.scope == "tag") {
    if (!ValidTagText(b.tag_key)) {
      return Status::InvalidArgument("field 'tag_key': expected 1-63 chars of [A-Za-z0-9._-], got '" + b.tag_key + "'");
    }
    if (!ValidTagText(b.tag_value)) {
      return Status::InvalidArgument("field 'tag_value': expected 1-63 chars of [A-Za-z0-9._-], got '" + b.tag_value + "'");
    }
    SSKAI_ASSIGN_OR_RETURN(bool used, store.TagKeyInUse(b.tag_key));
    if (!used) {
      return Status::InvalidArgument("field 'tag_key': unknown tag '" + b.tag_key +
                                     "' (no job or endpoint has it; tag one first)");
    }
  } else {
    return Status::InvalidArgument("field 'scope': expected 'user' or 'tag', got '" + b.scope + "'");
  }
  if (!std::isfinite(b.limit_usd) || b.limit_usd <= 0) {
    return Status::InvalidArgument("field 'limit_usd': must be > 0");
  }
  if (b.limit_usd > kMaxBudgetUsd) {
    return Status::InvalidArgument("field 'limit_usd': " + std::to_string(b.limit_usd) +
                                   " is above the $10,000,000 per period ceiling");
  }
  bool monthly = b.period_from == 0 && b.period_to == 0;
  if (!monthly && !(b.period_to > b.period_from)) {
    return Status::InvalidArgument("field 'period': 'to' must be after 'from'");
  }
  if (!monthly && b.period_to - b.period_from > 366 * kSecondsPerDay) {
    return Status::InvalidArgument("field 'period': at most 366 days");
  }
  SSKAI_ASSIGN_OR_RETURN(BudgetRules rules, ParseRules(b));
  if (rules.thresholds.empty() || rules.thresholds.size() > 10) {
    return Status::InvalidArgument("field 'thresholds': expected 1 to 10 fractions");
  }
  for (double t : rules.thresholds) {
    if (!std::isfinite(t) || t <= 0 || t > 10) {
      return Status::InvalidArgument("field 'thresholds': each must be in (0, 10] (1.0 = 100 %)");
    }
  }
  for (const auto& a : rules.actions) {
    if (!Has(kActions, a)) {
      return Status::InvalidArgument("field 'actions': unknown action '" + a +
                                     "' (expected alert, refuse_new, pause_jobs, scale_to_zero)");
    }
  }
  if (!b.webhook_url.empty() && b.webhook_url.rfind("http://", 0) != 0) {
    return Status::InvalidArgument("field 'webhook_url': expected http://host:port/path");
  }
  SSKAI_ASSIGN_OR_RETURN(std::vector<store::Budget> mine, store.ListBudgets(b.owner_id));
  for (const auto& o : mine) {
    if (o.id == exclude_id || o.scope != b.scope) continue;
    if (b.scope == "user" ? o.user_id != b.user_id
                          : (o.tag_key != b.tag_key || o.tag_value != b.tag_value)) {
      continue;
    }
    bool o_monthly = o.period_from == 0 && o.period_to == 0;
    bool overlap = monthly || o_monthly || (b.period_from < o.period_to && o.period_from < b.period_to);
    if (overlap) {
      return Status::AlreadyExists("field 'period': overlaps budget '" + o.name + "' (id " +
                                   std::to_string(o.id) + ") for the same scope");
    }
  }
  return Status::Ok();
}

Result<BudgetView> ViewBudget(store::Store& store, const store::Budget& b, double now) {
  BudgetView v;
  std::tie(v.period_from, v.period_to) = BudgetPeriod(b, now);
  store::CostQuery q;
  q.from = v.period_from;
  q.to = v.period_to;
  SSKAI_ASSIGN_OR_RETURN(q.owner_id, CoveredOwner(store, b));
  if (b.scope == "tag") {
    q.tag_key = b.tag_key;
    q.tag_value = b.tag_value;
  }
  SSKAI_ASSIGN_OR_RETURN(std::vector<store::CostGroup> groups, store.QueryCost(q));
  for (const auto& g : groups) v.spent_usd += g.cost_usd;
  BudgetSnapshot snap;
  snap.spent = v.spent_usd;
  snap.limit = b.limit_usd;
  snap.now = now;
  snap.period_from = v.period_from;
  snap.period_to = v.period_to;
  SSKAI_ASSIGN_OR_RETURN(snap.rules, ParseRules(b));
  snap.state = ParseState(b.state_json);
  BudgetDecision d = EvaluateBudget(snap);
  v.state = d.state;
  v.forecast_usd = d.forecast_usd;
  return v;
}

Status CheckNewWork(store::Store& store, int64_t owner_id,
                    const std::map<std::string, std::string>& tags, double now) {
  SSKAI_ASSIGN_OR_RETURN(std::vector<store::Budget> all, store.ListBudgets(0));
  for (const auto& b : all) {
    SSKAI_ASSIGN_OR_RETURN(BudgetRules rules, ParseRules(b));
    if (!Has(rules.actions, "refuse_new")) continue;
    bool covers = false;
    if (b.scope == "user") {
      covers = b.user_id == owner_id;
    } else {
      auto it = tags.find(b.tag_key);
      SSKAI_ASSIGN_OR_RETURN(int64_t covered, CoveredOwner(store, b));
      covers = it != tags.end() && it->second == b.tag_value && (covered == 0 || covered == owner_id);
    }
    if (!covers) continue;
    auto [from, to] = BudgetPeriod(b, now);
    if (now < from || now >= to) continue;
    SSKAI_ASSIGN_OR_RETURN(BudgetView v, ViewBudget(store, b, now));
    if (v.spent_usd >= b.limit_usd) {
      char buf[160];
      std::snprintf(buf, sizeof(buf), "$%.2f of $%.2f", v.spent_usd, b.limit_usd);
      return Status::PermissionDenied("budget '" + b.name + "' (id " + std::to_string(b.id) +
                                      ") is exceeded: " + buf +
                                      " spent this period; new jobs and endpoints are refused "
                                      "until it is raised or the period ends");
    }
  }
  return Status::Ok();
}

}  // namespace sskai::cost
