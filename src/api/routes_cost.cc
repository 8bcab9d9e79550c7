// Cost ledger routes: GET /v1/cost (grouped, CSV), /v1/cost/endpoints, /v1/cost/entries, budget
// CRUD (/v1/budgets), plus tags and the refuse-new check used by job/endpoint creation.
#include <cmath>

#include "api/internal.h"
#include "cost/cost.h"
#include "planner/planner.h"

namespace sskai::api {
namespace {

bool TagText(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

void SyncLedger(ApiContext& ctx) {
  if (ctx.ledger != nullptr) IgnoreError(ctx.ledger->Sync(ctx.clock.NowSeconds()).status());
}

// from/to from the query (default: the current calendar month). Errors name the parameter.
Result<std::pair<double, double>> Range(ApiContext& ctx, const http::Request& req) {
  auto [from, to] = cost::MonthOf(ctx.clock.NowSeconds());
  std::string f = req.Query("from"), t = req.Query("to");
  if (!f.empty()) {
    SSKAI_ASSIGN_OR_RETURN(from, cost::ParseTime("from", f));
  }
  if (!t.empty()) {
    SSKAI_ASSIGN_OR_RETURN(to, cost::ParseTime("to", t));
  }
  if (!(to > from)) return Status::InvalidArgument("field 'to': must be after 'from'");
  if (to - from > 3700 * cost::kSecondsPerDay) {
    return Status::InvalidArgument("field 'to': range longer than 10 years");
  }
  return std::make_pair(from, to);
}

double Round6(double v) { return std::round(v * 1e6) / 1e6; }

json GroupJson(const store::CostGroup& g, const std::string& key) {
  return {{"key", key},
          {"cost_usd", Round6(g.cost_usd)},
          {"ondemand_usd", Round6(g.ondemand_usd)},
          {"savings_usd", Round6(g.ondemand_usd - g.cost_usd)},
          {"compute_seconds", Round6(g.compute_seconds)},
          {"unpriced_seconds", Round6(g.unpriced_seconds)},
          {"entries", g.entries}};
}

Result<store::Budget> ParseBudget(ApiContext& ctx, const json& body, const store::User& u,
                                  store::Budget b, bool create) {
  auto has = [&](const char* f) { return body.contains(f) && !body[f].is_null(); };
  if (create || has("name")) {
    SSKAI_ASSIGN_OR_RETURN(b.name, StringField(body, "name", true));
  }
  if (create || has("scope")) {
    SSKAI_ASSIGN_OR_RETURN(b.scope, StringField(body, "scope", true));
  }
  if (b.scope == "user") {
    b.tag_key.clear();
    b.tag_value.clear();
    if (has("user")) {
      SSKAI_ASSIGN_OR_RETURN(std::string name, StringField(body, "user", true));
      auto user = ctx.store.GetUserByName(name);
      if (!user.ok()) return Status::InvalidArgument("field 'user': unknown user '" + name + "'");
      b.user_id = user->id;
    } else if (b.user_id == 0) {
      b.user_id = u.id;
    }
    if (b.user_id != u.id && !u.is_admin) {
      return Status::PermissionDenied("field 'user': only an admin can budget another user");
    }
  } else if (b.scope == "tag") {
    b.user_id = 0;
    if (create || has("tag_key")) {
      SSKAI_ASSIGN_OR_RETURN(b.tag_key, StringField(body, "tag_key", true));
    }
    if (create || has("tag_value")) {
      SSKAI_ASSIGN_OR_RETURN(b.tag_value, StringField(body, "tag_value", true));
    }
  }
  if (has("period")) {
    const json& p = body["period"];
    if (p.is_string() && p.get<std::string>() == "monthly") {
      b.period_from = b.period_to = 0;
    } else if (p.is_object()) {
      if (!p.contains("from") || !p.contains("to")) {
        return Status::InvalidArgument("field 'period': expected \"monthly\" or {\"from\",\"to\"}");
      }
      auto text = [](const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
      SSKAI_ASSIGN_OR_RETURN(b.period_from, cost::ParseTime("period.from", text(p["from"])));
      SSKAI_ASSIGN_OR_RETURN(b.period_to, cost::ParseTime("period.to", text(p["to"])));
    } else {
      return Status::InvalidArgument("field 'period': expected \"monthly\" or {\"from\",\"to\"}");
    }
  }
  if (create || has("limit_usd")) {
    if (!body.contains("limit_usd") || !body["limit_usd"].is_number()) {
      return Status::InvalidArgument("field 'limit_usd': expected a number");
    }
    b.limit_usd = body["limit_usd"].get<double>();
  }
  if (has("thresholds")) {
    if (!body["thresholds"].is_array()) return Status::InvalidArgument("field 'thresholds': expected an array of numbers");
    for (const auto& t : body["thresholds"]) {
      if (!t.is_number()) return Status::InvalidArgument("field 'thresholds': expected numbers, got " + t.dump());
    }
    b.thresholds_json = body["thresholds"].dump();
  } else if (create) {
    b.thresholds_json = "[0.5,0.8,1.0]";
  }
  if (has("actions")) {
    if (!body["actions"].is_array()) return Status::InvalidArgument("field 'actions': expected an array of strings");
    for (const auto& a : body["actions"]) {
      if (!a.is_string()) return Status::InvalidArgument("field 'actions': expected strings, got " + a.dump());
    }
    b.actions_json = body["actions"].dump();
  } else if (create) {
    b.actions_json = R"(["alert"])";
  }
  if (body.contains("webhook_url")) {
    SSKAI_ASSIGN_OR_RETURN(b.webhook_url, StringField(body, "webhook_url", false));
  }
  SSKAI_RETURN_IF_ERROR(cost::ValidateBudget(ctx.store, b, create ? 0 : b.id));
  return b;
}

json BudgetJson(ApiContext& ctx, const store::Budget& b) {
  json out = {{"id", b.id}, {"name", b.name}, {"scope", b.scope}, {"limit_usd", b.limit_usd},
              {"webhook_url", b.webhook_url}, {"created_at", b.created_at}};
  if (b.scope == "user") {
    auto user = ctx.store.GetUser(b.user_id);
    out["user"] = user.ok() ? user->name : std::to_string(b.user_id);
  } else {
    out["tag_key"] = b.tag_key;
    out["tag_value"] = b.tag_value;
  }
  if (b.period_from == 0 && b.period_to == 0) {
    out["period"] = "monthly";
  } else {
    out["period"] = {{"from", b.period_from}, {"to", b.period_to}};
  }
  auto rules = cost::ParseRules(b);
  if (rules.ok()) {
    out["thresholds"] = rules->thresholds;
    out["actions"] = rules->actions;
  }
  auto view = cost::ViewBudget(ctx.store, b, ctx.clock.NowSeconds());
  if (view.ok()) {
    out["spent_usd"] = Round6(view->spent_usd);
    out["forecast_usd"] = Round6(view->forecast_usd);
    out["state"] = view->state;
    out["period_from"] = view->period_from;
    out["period_to"] = view->period_to;
  }
  return out;
}

}  // namespace

Result<std::map<std::string, std::string>> ParseTags(const json& body) {
  std::map<std::string, std::string> tags;
  auto it = body.find("tags");
  if (it == body.end() || it->is_null()) return tags;
  if (!it->is_object()) return Status::InvalidArgument("field 'tags': expected an object of strings");
  if (it->size() > 16) return Status::InvalidArgument("field 'tags': at most 16 tags");
  for (const auto& [k, v] : it->items()) {
    if (!TagText(k)) {
      return Status::InvalidArgument("field 'tags': key '" + k + "' must be 1-63 chars of [A-Za-z0-9._-]");
    }
    if (!v.is_string() || !TagText(v.get<std::string>())) {
      return Status::InvalidArgument("field 'tags." + k + "': value must be a string of 1-63 chars of [A-Za-z0-9._-], got " + v.dump());
    }
    tags[k] = v.get<std::string>();
  }
  return tags;
}

Status AdmitNewWork(ApiContext& ctx, const store::User& u, const std::map<std::string, std::string>& tags) {
  return cost::CheckNewWork(ctx.store, u.id, tags, ctx.clock.NowSeconds());
}

void SaveTags(ApiContext& ctx, const std::string& kind, int64_t id,
              const std::map<std::string, std::string>& tags) {
  if (tags.empty()) return;
  IgnoreError(ctx.store.SetSubjectTags(kind, id, json(tags).dump()));
}

json TagsJson(ApiContext& ctx, const std::string& kind, int64_t id) {
  auto text = ctx.store.GetSubjectTags(kind, id);
  return ParseStoredJson(text.ok() ? *text : "");
}

void AddCostRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("GET", "/v1/cost", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto range = Range(ctx, req);
    if (!range.ok()) return Error(range.status());
    store::CostQuery q;
    std::tie(q.from, q.to) = *range;
    q.owner_id = u.is_admin ? 0 : u.id;
    q.group_by = req.Query("group_by", "none");
    if (q.group_by.rfind("tag:", 0) == 0 && !TagText(q.group_by.substr(4))) {
      return Error(Status::InvalidArgument("field 'group_by': tag key must be 1-63 chars of [A-Za-z0-9._-]"));
    }
    std::string format = req.Query("format", "json");
    if (format != "json" && format != "csv") {
      return Error(Status::InvalidArgument("field 'format': expected json or csv"));
    }
    SyncLedger(ctx);
    auto report = cost::BuildReport(ctx.store, q, ctx.storage_usd_per_gb_month);
    if (!report.ok()) {
      Status s = report.status();
      if (s.code() == StatusCode::kInvalidArgument) s = s.WithPrefix("field 'group_by'");
      return Error(s);
    }
    if (q.group_by == "user") {
      for (auto& g : report->groups) {
        auto user = ctx.store.GetUser(std::stoll(g.key));
        if (user.ok()) g.key = user->name;
      }
    }
    if (format == "csv") {
      http::Response resp = http::Response::Text(200, cost::ReportCsv(*report), "text/csv; charset=utf-8");
      resp.headers.emplace_back("Content-Disposition", "attachment; filename=\"sskai-cost.csv\"");
      return resp;
    }
    json groups = json::array();
    for (const auto& g : report->groups) groups.push_back(GroupJson(g, g.key));
    return JsonResponse(200, {{"from", q.from},
                              {"to", q.to},
                              {"group_by", q.group_by},
                              {"currency", "USD"},
                              {"total_usd", Round6(report->total_usd)},
                              {"ondemand_usd", Round6(report->ondemand_usd)},
                              {"savings_usd", Round6(report->savings_usd)},
                              {"compute_seconds", Round6(report->compute_seconds)},
                              {"unpriced_seconds", Round6(report->unpriced_seconds)},
                              {"storage_usd", Round6(report->storage_usd)},
                              {"storage_usd_per_gb_month", ctx.storage_usd_per_gb_month},
                              {"groups", groups}});
  }), {.summary = "Cost over ?from=&to= (unix seconds or YYYY-MM-DD; default this month), "
                  "?group_by=day|job|endpoint|user|model|tag:<key>|none, ?format=csv"});

  router.AddSync("GET", "/v1/cost/entries", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto range = Range(ctx, req);
    if (!range.ok()) return Error(range.status());
    auto limit = IntField(json{{"limit", std::atoll(req.Query("limit", "1000").c_str())}}, "limit", 1000, 1, 100000);
    if (!limit.ok()) return Error(limit.status());
    SyncLedger(ctx);
    auto entries = ctx.store.ListCostEntries(u.is_admin ? 0 : u.id, range->first, range->second, *limit);
    if (!entries.ok()) return Error(entries.status());
    json items = json::array();
    for (const auto& e : *entries) {
      json item = {{"id", e.id}, {"usage_id", e.usage_id}, {"subject_kind", e.subject_kind},
                   {"subject_id", e.subject_id}, {"resource", e.resource},
                   {"market", e.spot ? "spot" : "on-demand"}, {"count", e.count},
                   {"start", e.start}, {"end", e.end}};
      if (e.priced) {
        item["cost_usd"] = e.cost_usd;
        item["ondemand_usd"] = e.ondemand_usd;
      } else {
        item["cost_usd"] = nullptr;
        item["unpriced"] = true;
      }
      items.push_back(std::move(item));
    }
    return JsonResponse(200, {{"items", items}});
  }), {.summary = "The cost entries (priced slices of usage) overlapping ?from=&to=, ?limit="});

  router.AddSync("GET", "/v1/cost/endpoints", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto range = Range(ctx, req);
    if (!range.ok()) return Error(range.status());
    planner::ServerlessPricing pricing;
    std::shared_ptr<const planner::Catalog> catalog = ctx.catalogs ? ctx.catalogs->Get() : nullptr;
    if (catalog) pricing = catalog->serverless;
    SyncLedger(ctx);
    auto costs = cost::EndpointCosts(ctx.store, pricing, u.is_admin ? 0 : u.id, range->first, range->second);
    if (!costs.ok()) return Error(costs.status());
    json items = json::array();
    auto per = [](double v) { return v < 0 ? json(nullptr) : json(Round6(v)); };
    for (const auto& e : *costs) {
      auto ep = ctx.store.GetEndpointById(e.endpoint_id);
      items.push_back({{"endpoint_id", e.endpoint_id}, {"name", ep.ok() ? ep->name : ""},
                       {"dedicated_usd", Round6(e.dedicated_usd)}, {"busy_usd", Round6(e.busy_usd)},
                       {"idle_usd", Round6(e.idle_usd)}, {"replica_seconds", e.replica_seconds},
                       {"busy_seconds", e.busy_seconds}, {"requests", e.requests},
                       {"errors", e.errors}, {"tokens", e.tokens}, {"gb_seconds", e.gb_seconds},
                       {"serverless_usd", Round6(e.serverless_usd)},
                       {"usd_per_1k_predictions", per(e.usd_per_1k_predictions)},
                       {"usd_per_million_tokens", per(e.usd_per_million_tokens)}});
    }
    return JsonResponse(200, {{"from", range->first}, {"to", range->second}, {"items", items}});
  }), {.summary = "Per endpoint: dedicated vs serverless cost, busy/idle, cost per 1k predictions and per 1M tokens"});

  router.AddSync("GET", "/v1/budgets", Authed(ctx, [&ctx](http::Request&, const store::User& u) {
    SyncLedger(ctx);
    auto list = ctx.store.ListBudgets(u.id);
    if (!list.ok()) return Error(list.status());
    json items = json::array();
    for (const auto& b : *list) items.push_back(BudgetJson(ctx, b));
    return JsonResponse(200, {{"items", items}, {"next_after", nullptr}});
  }), {.summary = "The caller's budgets with spent, forecast and state"});

  router.AddSync("POST", "/v1/budgets", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    store::Budget b;
    b.owner_id = u.id;
    b.created_at = b.updated_at = ctx.clock.NowSeconds();
    auto parsed = ParseBudget(ctx, *body, u, b, true);
    if (!parsed.ok()) return Error(parsed.status());
    auto created = ctx.store.CreateBudget(*parsed);
    if (!created.ok()) {
      Status s = created.status();
      if (s.code() == StatusCode::kAlreadyExists) s = Status::AlreadyExists("field 'name': a budget '" + parsed->name + "' exists");
      return Error(s);
    }
    AddEvent(ctx, u.id, "budget", created->id, "created", "budget '" + created->name + "' created");
    SyncLedger(ctx);
    return JsonResponse(201, BudgetJson(ctx, *created));
  }), {.summary = "Create a budget {name, scope: user|tag, user?|tag_key+tag_value, period, limit_usd, thresholds?, actions?, webhook_url?}"});

  router.AddSync("GET", "/v1/budgets/{id}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto id = IdParam(req, "id");
    if (!id.ok()) return Error(id.status());
    auto b = ctx.store.GetBudget(u.id, *id);
    if (!b.ok()) return Error(b.status());
    SyncLedger(ctx);
    return JsonResponse(200, BudgetJson(ctx, *b));
  }), {.summary = "One budget"});

  router.AddSync("PATCH", "/v1/budgets/{id}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto id = IdParam(req, "id");
    if (!id.ok()) return Error(id.status());
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto b = ctx.store.GetBudget(u.id, *id);
    if (!b.ok()) return Error(b.status());
    auto parsed = ParseBudget(ctx, *body, u, *b, false);
    if (!parsed.ok()) return Error(parsed.status());
    parsed->updated_at = ctx.clock.NowSeconds();
    Status s = ctx.store.UpdateBudget(*parsed);
    if (!s.ok()) return Error(s);
    AddEvent(ctx, u.id, "budget", parsed->id, "updated", "budget '" + parsed->name + "' updated");
    SyncLedger(ctx);
    return JsonResponse(200, BudgetJson(ctx, *parsed));
  }), {.summary = "Change a budget (raising the limit resumes what it paused)"});

  router.AddSync("DELETE", "/v1/budgets/{id}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto id = IdParam(req, "id");
    if (!id.ok()) return Error(id.status());
    auto b = ctx.store.GetBudget(u.id, *id);
    if (!b.ok()) return Error(b.status());
    Status s = ctx.store.DeleteBudget(u.id, *id);
    if (!s.ok()) return Error(s);
    if (ctx.budget_enforcer != nullptr) IgnoreError(ctx.budget_enforcer->Release(*b));
    AddEvent(ctx, u.id, "budget", b->id, "deleted", "budget '" + b->name + "' deleted");
    return JsonResponse(200, {{"deleted", true}, {"id", b->id}});
  }), {.summary = "Delete a budget (resumes what it paused)"});
}

}  // namespace sskai::api
