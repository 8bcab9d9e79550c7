// sskai endpoints rollout start|status|promote|rollback: canary and blue/green rollouts.
#include <iostream>
#include <sstream>

#include "cli/commands.h"

namespace sskai::cli {

namespace {

Status PrintRollout(const json& r, bool as_json) {
  if (as_json) {
    std::cout << r.dump(2) << "\n";
    return Status::Ok();
  }
  std::cout << "Rollout of endpoint '" << Cell(r["endpoint"]) << "' (" << Cell(r["strategy"])
            << "): " << Cell(r["phase"]) << ", canary at " << Cell(r["canary_percent"]) << "%";
  if (r.contains("reason") && !r["reason"].get<std::string>().empty()) {
    std::cout << " (" << Cell(r["reason"]) << ")";
  }
  std::cout << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : r["versions"]) {
    const json& m = v["metrics"];
    rows.push_back({Cell(v["role"]), Cell(v["model_version"]), Cell(v["percent"]) + "%",
                    Cell(m["ready_replicas"]), Cell(m["requests"]), Cell(m["errors"]),
                    Cell(m["p95_ms"])});
  }
  PrintTable({"ROLE", "MODEL", "TRAFFIC", "READY", "REQUESTS", "ERRORS", "P95_MS"}, rows);
  return Status::Ok();
}

Result<std::vector<int>> ParseSteps(const std::string& text) {
  std::vector<int> steps;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    char* end = nullptr;
    long v = std::strtol(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0') {
      return Status::InvalidArgument("--steps: expected percentages like 10,25,50,100");
    }
    steps.push_back(static_cast<int>(v));
  }
  return steps;
}

}  // namespace

void AddRolloutCommands(CLI::App& endpoints, std::shared_ptr<GlobalFlags> flags, int* exit_code) {
  auto* rollout = endpoints.add_subcommand("rollout", "Canary / blue-green rollouts of an endpoint");
  rollout->require_subcommand(1);

  struct StartArgs {
    std::string name, model, strategy, steps;
    int64_t version = 0, step_requests = -1, min_requests = -1;
    double step_seconds = -1, max_error_rate_delta = -1, max_p95_ratio = -1;
  };
  auto sa = std::make_shared<StartArgs>();
  auto* start = rollout->add_subcommand("start", "Start routing a share of traffic to a new version");
  start->add_option("name", sa->name, "endpoint name")->required();
  start->add_option("--version,-v", sa->version, "the new model version")->required();
  start->add_option("--model,-m", sa->model, "model of the new version (default: the endpoint's)");
  start->add_option("--strategy", sa->strategy, "canary (default) | blue_green");
  start->add_option("--steps", sa->steps, "canary percent per step (default 10,25,50,100)");
  start->add_option("--step-seconds", sa->step_seconds, "seconds per step (default 60)");
  start->add_option("--step-requests", sa->step_requests, "also wait for N canary requests per step");
  start->add_option("--max-error-rate-delta", sa->max_error_rate_delta,
                    "roll back when the canary's error rate exceeds stable's by this (default 0.05)");
  start->add_option("--max-p95-ratio", sa->max_p95_ratio,
                    "roll back when the canary's p95 exceeds stable's times this (default 1.5)");
  start->add_option("--min-requests", sa->min_requests,
                    "canary requests before judging it (default 50)");
  start->callback(Wrap(flags, exit_code, [flags, sa](Api& api) -> Status {
    json body = {{"version", sa->version}};
    if (!sa->model.empty()) body["model"] = sa->model;
    if (!sa->strategy.empty()) body["strategy"] = sa->strategy;
    if (!sa->steps.empty()) {
      SSKAI_ASSIGN_OR_RETURN(std::vector<int> steps, ParseSteps(sa->steps));
      body["steps"] = steps;
    }
    if (sa->step_seconds >= 0) body["step_seconds"] = sa->step_seconds;
    if (sa->step_requests >= 0) body["step_requests"] = sa->step_requests;
    json rollback = json::object();
    if (sa->max_error_rate_delta >= 0) rollback["max_error_rate_delta"] = sa->max_error_rate_delta;
    if (sa->max_p95_ratio >= 0) rollback["max_p95_ratio"] = sa->max_p95_ratio;
    if (sa->min_requests >= 0) rollback["min_requests"] = sa->min_requests;
    if (!rollback.empty()) body["rollback"] = rollback;
    SSKAI_ASSIGN_OR_RETURN(json r,
                           api.Call("POST", "/v1/endpoints/" + UrlPart(sa->name) + "/rollout", body));
    return PrintRollout(r, flags->json);
  }));

  struct Action { const char* verb; const char* help; const char* path; };
  for (const Action& a : {Action{"status", "Show the rollout: versions, traffic, metrics", ""},
                          Action{"promote", "Promote the canary now", "/promote"},
                          Action{"rollback", "Roll back to the stable version now", "/rollback"}}) {
    auto name = std::make_shared<std::string>();
    auto* cmd = rollout->add_subcommand(a.verb, a.help);
    cmd->add_option("name", *name, "endpoint name")->required();
    std::string path = a.path;
    cmd->callback(Wrap(flags, exit_code, [flags, name, path](Api& api) -> Status {
      std::string target = "/v1/endpoints/" + UrlPart(*name) + "/rollout" + path;
      SSKAI_ASSIGN_OR_RETURN(json r, api.Call(path.empty() ? "GET" : "POST", target,
                                              path.empty() ? json(nullptr) : json::object()));
      return PrintRollout(r, flags->json);
    }));
  }
}

}  // namespace sskai::cli
