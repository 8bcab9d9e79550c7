// sskai deploy, sskai endpoints list|delete, sskai predict, sskai users create.
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/commands.h"

namespace sskai::cli {

void AddPlacementOptions(CLI::App* cmd, Placement* p, bool spot_sim) {
  std::vector<std::string> executors = {"local", "slurm"};
  if (spot_sim) executors.push_back("spot-sim");
  cmd->add_option("--executor", p->executor, "where it runs: local | slurm" + std::string(spot_sim ? " | spot-sim" : "") +
                                                 " (default: the server's; see sskai cluster)")
      ->check(CLI::IsMember(executors));
  cmd->add_option("--partition", p->partition, "Slurm partition (default: the server's)");
}

void ApplyPlacement(const Placement& p, json* body) {
  if (!p.executor.empty()) (*body)["executor"] = p.executor;
  if (!p.partition.empty()) (*body)["partition"] = p.partition;
}

namespace {
void PrintJson(const json& j) { std::cout << j.dump(2) << "\n"; }
}  // namespace

void AddServeCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code) {
  struct DeployArgs {
    std::string model, name, mode, config;
    int version = 0, min = -1, max = -1;
    int64_t plan = 0;
    bool wait = false;
    Placement placement;
  };
  auto da = std::make_shared<DeployArgs>();
  auto* deploy = app.add_subcommand("deploy", "Deploy a model version as an endpoint");
  deploy->add_option("--model,-m", da->model, "model name")->required();
  deploy->add_option("--version,-v", da->version, "model version (default latest)");
  deploy->add_option("--name,-n", da->name, "endpoint name (default: the model name)");
  deploy->add_flag("--wait,-w", da->wait, "wait until the endpoint is ready");
  deploy->add_option("--plan", da->plan, "id of the serve plan (sskai plan serve) this endpoint follows");
  deploy->add_option("--mode", da->mode, "serverless (scale to zero) | dedicated (default)");
  deploy->add_option("--min", da->min, "minimum replicas (serverless: 0)");
  deploy->add_option("--max", da->max, "maximum replicas (default 3)");
  deploy->add_option("--config", da->config,
                     "more serving settings as JSON, e.g. '{\"idle_timeout_ms\":30000}' "
                     "(see docs/serving.md)");
  AddPlacementOptions(deploy, &da->placement, /*spot_sim=*/false);
  deploy->callback(Wrap(flags, exit_code, [flags, da](Api& api) -> Status {
    json body = {{"name", da->name.empty() ? da->model : da->name}, {"model", da->model}};
    if (da->version > 0) body["version"] = da->version;
    if (da->plan > 0) body["plan_id"] = da->plan;
    if (!da->mode.empty()) body["mode"] = da->mode;
    if (da->min >= 0) body["min_replicas"] = da->min;
    if (da->max >= 0) body["max_replicas"] = da->max;
    ApplyPlacement(da->placement, &body);
    if (!da->config.empty()) {
      json config = json::parse(da->config, nullptr, /*allow_exceptions=*/false);
      if (!config.is_object()) return Status::InvalidArgument("--config: expected a JSON object");
      body["config"] = config;
    }
    SSKAI_ASSIGN_OR_RETURN(json ep, api.Call("POST", "/v1/endpoints", body));
    std::string name = ep.value("name", "");
    for (int idx = 0; da->wait && idx < 1200 && ep.value("state", "") == "deploying"; ++idx) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      SSKAI_ASSIGN_OR_RETURN(ep, api.Call("GET", "/v1/endpoints/" + UrlPart(name)));
    }
    if (flags->json) return PrintJson(ep), Status::Ok();
    std::cout << "Endpoint '" << name << "' " << Cell(ep["state"]) << ": POST " << api.server()
              << Cell(ep["url"]) << "\n";
    if (ep.value("state", "") == "failed") {
      return Status::FailedPrecondition("endpoint failed: " + ep.value("reason", ""));
    }
    return Status::Ok();
  }));

  auto* eps = app.add_subcommand("endpoints", "Endpoints: list, delete, rollout");
  eps->require_subcommand(1);
  AddRolloutCommands(*eps, flags, exit_code);
  auto* list = eps->add_subcommand("list", "List endpoints");
  list->callback(Wrap(flags, exit_code, [flags](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("GET", "/v1/endpoints?limit=1000"));
    if (flags->json) return PrintJson(r), Status::Ok();
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : r["items"]) {
      std::string model = e.contains("model") ? Cell(e["model"]["name"]) + " v" + Cell(e["model"]["version"]) : "-";
      rows.push_back({Cell(e["name"]), Cell(e["state"]), model, std::to_string(e["replicas"].size()),
                      Cell(e["restarts"]), Cell(e["url"])});
    }
    PrintTable({"NAME", "STATE", "MODEL", "REPLICAS", "RESTARTS", "URL"}, rows);
    return Status::Ok();
  }));
  auto del_name = std::make_shared<std::string>();
  auto* del = eps->add_subcommand("delete", "Delete an endpoint");
  del->add_option("name", *del_name)->required();
  del->callback(Wrap(flags, exit_code, [flags, del_name](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("DELETE", "/v1/endpoints/" + UrlPart(*del_name)));
    if (flags->json) return PrintJson(r), Status::Ok();
    std::cout << "Endpoint '" << *del_name << "' deleted\n";
    return Status::Ok();
  }));

  struct PredictArgs { std::string endpoint, data, file; };
  auto pa = std::make_shared<PredictArgs>();
  auto* predict = app.add_subcommand("predict", "Send a prediction request to an endpoint");
  predict->add_option("endpoint", pa->endpoint, "endpoint name")->required();
  predict->add_option("--data,-d", pa->data, "JSON: a row object, an array of rows, or {\"instances\": [...]}");
  predict->add_option("--file,-f", pa->file, "read the JSON request from a file ('-' = stdin)");
  predict->callback(Wrap(flags, exit_code, [flags, pa](Api& api) -> Status {
    std::string text = pa->data;
    if (!pa->file.empty()) {
      std::ostringstream buf;
      if (pa->file == "-") {
        buf << std::cin.rdbuf();
      } else {
        std::ifstream in(pa->file);
        if (!in) return Status::InvalidArgument("cannot read '" + pa->file + "'");
        buf << in.rdbuf();
      }
      text = buf.str();
    }
    if (text.empty()) return Status::InvalidArgument("give the request with --data or --file");
    json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) return Status::InvalidArgument("the request is not valid JSON");
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("POST", "/v1/endpoints/" + UrlPart(pa->endpoint) + "/predict", body));
    if (flags->json) return PrintJson(r), Status::Ok();
    const json& preds = r["predictions"];
    std::vector<std::vector<std::string>> rows;
    for (size_t idx = 0; idx < preds.size(); ++idx) {
      std::string conf = "-";
      if (r.contains("probabilities") && idx < r["probabilities"].size()) {
        double best = 0;
        for (const auto& p : r["probabilities"][idx]) best = std::max(best, p.get<double>());
        conf = Cell(json(best));
      }
      rows.push_back({std::to_string(idx), Cell(preds[idx]), conf});
    }
    PrintTable({"ROW", "PREDICTION", "CONFIDENCE"}, rows);
    return Status::Ok();
  }));

  struct UserArgs { std::string name; bool admin = false; };
  auto ua = std::make_shared<UserArgs>();
  auto* cluster = app.add_subcommand("cluster", "Where jobs and replicas can run (Slurm partitions)");
  cluster->callback(Wrap(flags, exit_code, [flags](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("GET", "/v1/cluster"));
    if (flags->json) return PrintJson(r), Status::Ok();
    std::cout << "executors: jobs default " << Cell(r["default_executor"]["jobs"]) << ", endpoints default "
              << Cell(r["default_executor"]["endpoints"]) << "\n";
    if (r["slurm"].is_null()) {
      std::cout << "Slurm: not configured (start the server with --slurm)\n";
      return Status::Ok();
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : r["slurm"]["partitions"]) {
      rows.push_back({Cell(p["name"]), Cell(p["offering"]), p.value("spot", false) ? "spot" : "on-demand",
                      p["name"] == r["slurm"]["default_partition"] ? "yes" : ""});
    }
    std::cout << "Slurm partitions (train, finetune and deploy take --executor slurm --partition NAME):\n";
    PrintTable({"PARTITION", "OFFERING", "PRICED AS", "DEFAULT"}, rows);
    return Status::Ok();
  }));

  auto* users = app.add_subcommand("users", "Users (admin): create");
  users->require_subcommand(1);
  auto* create = users->add_subcommand("create", "Create a user and print its first token");
  create->add_option("name", ua->name)->required();
  create->add_flag("--admin", ua->admin, "make the user an admin");
  create->callback(Wrap(flags, exit_code, [flags, ua](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("POST", "/v1/users", {{"name", ua->name}, {"admin", ua->admin}}));
    if (flags->json) return PrintJson(r), Status::Ok();
    std::cout << "Created user '" << ua->name << "'. Token (shown once):\n  " << Cell(r["token"]) << "\n";
    return Status::Ok();
  }));
}

}  // namespace sskai::cli
