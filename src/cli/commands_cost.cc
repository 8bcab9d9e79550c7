// sskai cost [--from --to --by] [--csv], sskai budgets list|show|create|update|delete.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"

namespace sskai::cli {

namespace {

std::string Usd(const json& v) {
  if (!v.is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "$%.2f", v.get<double>());
  return buf;
}

std::string Hours(const json& v) {
  if (!v.is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f h", v.get<double>() / 3600);
  return buf;
}

std::string Query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    q += (q.empty() ? "?" : "&") + k + "=" + UrlPart(v);
  }
  return q;
}

void PrintBudgets(const json& items) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : items) {
    std::string scope = b.value("scope", "") == "user" ? "user:" + b.value("user", "")
                                                      : "tag:" + b.value("tag_key", "") + "=" + b.value("tag_value", "");
    std::string period = b["period"].is_string() ? b["period"].get<std::string>() : "custom";
    std::string actions;
    for (const auto& a : b.value("actions", json::array())) actions += (actions.empty() ? "" : ",") + a.get<std::string>();
    rows.push_back({Cell(b["id"]), b.value("name", ""), scope, period, Usd(b["limit_usd"]),
                    Usd(b.value("spent_usd", json())), Usd(b.value("forecast_usd", json())),
                    b.value("state", ""), actions});
  }
  PrintTable({"ID", "NAME", "SCOPE", "PERIOD", "LIMIT", "SPENT", "FORECAST", "STATE", "ACTIONS"}, rows);
}

struct BudgetArgs {
  std::string name, user, tag, from, to, webhook;
  double limit = 0;
  std::vector<double> thresholds;
  std::vector<std::string> actions;
};

// The JSON body for create/update from the flags that were given.
Result<json> BudgetBody(const BudgetArgs& a, bool create) {
  json body = json::object();
  if (!a.name.empty()) body["name"] = a.name;
  if (!a.tag.empty()) {
    size_t eq = a.tag.find('=');
    if (eq == std::string::npos) return Status::InvalidArgument("--tag: expected KEY=VALUE");
    body["scope"] = "tag";
    body["tag_key"] = a.tag.substr(0, eq);
    body["tag_value"] = a.tag.substr(eq + 1);
  } else if (!a.user.empty() || create) {
    body["scope"] = "user";
    if (!a.user.empty()) body["user"] = a.user;
  }
  if (!a.from.empty() || !a.to.empty()) {
    body["period"] = {{"from", a.from}, {"to", a.to}};
  } else if (create) {
    body["period"] = "monthly";
  }
  if (a.limit != 0 || create) body["limit_usd"] = a.limit;
  if (!a.thresholds.empty()) body["thresholds"] = a.thresholds;
  if (!a.actions.empty()) body["actions"] = a.actions;
  if (!a.webhook.empty()) body["webhook_url"] = a.webhook;
  return body;
}

void AddBudgetFlags(CLI::App* cmd, BudgetArgs& a, bool create) {
  auto* limit = cmd->add_option("--limit", a.limit, "limit in USD per period");
  if (create) limit->required();
  cmd->add_option("--user", a.user, "user scope (default: you)");
  cmd->add_option("--tag", a.tag, "tag scope KEY=VALUE");
  cmd->add_option("--from", a.from, "custom period start (YYYY-MM-DD or unix seconds); default monthly");
  cmd->add_option("--to", a.to, "custom period end");
  cmd->add_option("--threshold", a.thresholds, "alert threshold fraction (repeatable; default 0.5 0.8 1.0)");
  cmd->add_option("--action", a.actions, "alert|refuse_new|pause_jobs|scale_to_zero (repeatable)");
  cmd->add_option("--webhook", a.webhook, "http:// URL POSTed when a threshold is crossed");
}

}  // namespace

void AddCostCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code) {
  struct CostArgs { std::string from, to, by = "none"; bool csv = false; };
  auto ca = std::make_shared<CostArgs>();
  auto* cost = app.add_subcommand("cost", "What compute cost, from the ledger (default: this month)");
  cost->add_option("--from", ca->from, "start (YYYY-MM-DD or unix seconds)");
  cost->add_option("--to", ca->to, "end, exclusive");
  cost->add_option("--by", ca->by, "group by day|job|endpoint|user|model|tag:<key>|none");
  cost->add_flag("--csv", ca->csv, "print CSV");
  cost->callback(Wrap(flags, exit_code, [flags, ca](Api& api) -> Status {
    std::string q = Query({{"from", ca->from}, {"to", ca->to}, {"group_by", ca->by}});
    if (ca->csv) {
      SSKAI_ASSIGN_OR_RETURN(std::string text, api.Text("/v1/cost" + q + (q.empty() ? "?" : "&") + "format=csv"));
      std::cout << text;
      return Status::Ok();
    }
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("GET", "/v1/cost" + q));
    if (flags->json) {
      std::cout << r.dump(2) << "\n";
      return Status::Ok();
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& g : r["groups"]) {
      rows.push_back({g.value("key", ""), Usd(g["cost_usd"]), Usd(g["ondemand_usd"]), Usd(g["savings_usd"]),
                      Hours(g["compute_seconds"]), Hours(g["unpriced_seconds"])});
    }
    rows.push_back({"TOTAL", Usd(r["total_usd"]), Usd(r["ondemand_usd"]), Usd(r["savings_usd"]),
                    Hours(r["compute_seconds"]), Hours(r["unpriced_seconds"])});
    PrintTable({"KEY", "COST", "ON-DEMAND", "SAVINGS", "COMPUTE", "UNPRICED"}, rows);
    std::cout << "storage " << Usd(r["storage_usd"]) << " (not in total)\n";
    return Status::Ok();
  }));

  auto* budgets = app.add_subcommand("budgets", "Budgets: limits, alerts and enforcement");
  budgets->require_subcommand(1);
  budgets->add_subcommand("list", "List your budgets")
      ->callback(Wrap(flags, exit_code, [flags](Api& api) -> Status {
        SSKAI_ASSIGN_OR_RETURN(json r, api.Call("GET", "/v1/budgets"));
        if (flags->json) std::cout << r.dump(2) << "\n";
        else PrintBudgets(r["items"]);
        return Status::Ok();
      }));
  auto id = std::make_shared<int64_t>(0);
  auto* show = budgets->add_subcommand("show", "Show one budget");
  show->add_option("id", *id, "budget id")->required();
  show->callback(Wrap(flags, exit_code, [flags, id](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("GET", "/v1/budgets/" + std::to_string(*id)));
    if (flags->json) std::cout << r.dump(2) << "\n";
    else PrintBudgets(json::array({r}));
    return Status::Ok();
  }));
  auto ca_args = std::make_shared<BudgetArgs>();
  auto* create = budgets->add_subcommand("create", "Create a budget");
  create->add_option("name", ca_args->name, "budget name")->required();
  AddBudgetFlags(create, *ca_args, true);
  create->callback(Wrap(flags, exit_code, [flags, ca_args](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json body, BudgetBody(*ca_args, true));
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("POST", "/v1/budgets", body));
    if (flags->json) std::cout << r.dump(2) << "\n";
    else PrintBudgets(json::array({r}));
    return Status::Ok();
  }));
  auto ua = std::make_shared<BudgetArgs>();
  auto* update = budgets->add_subcommand("update", "Change a budget (raising it resumes what it paused)");
  update->add_option("id", *id, "budget id")->required();
  update->add_option("--name", ua->name, "new name");
  AddBudgetFlags(update, *ua, false);
  update->callback(Wrap(flags, exit_code, [flags, id, ua](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json body, BudgetBody(*ua, false));
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("PATCH", "/v1/budgets/" + std::to_string(*id), body));
    if (flags->json) std::cout << r.dump(2) << "\n";
    else PrintBudgets(json::array({r}));
    return Status::Ok();
  }));
  auto* del = budgets->add_subcommand("delete", "Delete a budget (resumes what it paused)");
  del->add_option("id", *id, "budget id")->required();
  del->callback(Wrap(flags, exit_code, [flags, id](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("DELETE", "/v1/budgets/" + std::to_string(*id)));
    if (flags->json) std::cout << r.dump(2) << "\n";
    else std::cout << "Deleted budget " << *id << "\n";
    return Status::Ok();
  }));
}

}  // namespace sskai::cli
