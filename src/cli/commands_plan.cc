// sskai plan train|serve: asks the server's planner where and how to run for the least money and
// prints its table (or the JSON plan with --json). Nothing is launched.
#include <fstream>
#include <iostream>

#include "cli/commands.h"

namespace sskai::cli {

namespace {

Status PrintPlan(Api& api, const GlobalFlags& flags, const json& body) {
  SSKAI_ASSIGN_OR_RETURN(json plan, api.Call("POST", "/v1/plans", body));
  if (flags.json) {
    std::cout << plan.dump(2) << "\n";
  } else {
    std::cout << plan.value("table", "");
    std::string table = plan.value("table", "");
    if (!table.empty() && table.back() != '\n') std::cout << "\n";
    std::cout << "plan " << Cell(plan["id"]) << " · catalog " << plan.value("catalog_date", "") << ", prices "
              << plan.value("prices_date", "") << " (a plan only: nothing was launched; pass --plan "
              << Cell(plan["id"]) << " to train/deploy to record it)\n";
  }
  return Status::Ok();
}

}  // namespace

void AddPlanCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code) {
  auto* plan = app.add_subcommand("plan", "Plan the cheapest way to train or serve (dry run)");
  plan->require_subcommand(1);

  struct TrainArgs {
    double params = 0, tokens = 0, deadline_hours = 0, probability = 0, budget = 0, max_rate = 0;
    double trainable = 0;
    int layers = 0, d_model = 0, seq_len = 0, max_nodes = 0;
    std::string precision, model, lm_config;
    int model_version = 0, lora_rank = 0;
    double samples = 0, epochs = 0;
    std::vector<std::string> regions, instance_types;
    bool no_spot = false;
  };
  auto ta = std::make_shared<TrainArgs>();
  auto* train = plan->add_subcommand("train", "Where to train: instance, nodes, spot or on-demand, checkpoints");
  train->add_option("--params", ta->params, "model parameters, e.g. 1.3e9 (or --model)");
  train->add_option("--tokens", ta->tokens, "tokens to process (dataset x epochs), e.g. 2e10 (or --model)");
  train->add_option("--model", ta->model, "a profiled model (sskai models profile): params and batch from its profile");
  train->add_option("--lm-config", ta->lm_config, "a Llama-family config.json: shape, params and memory from it");
  train->add_option("--lora-rank", ta->lora_rank, "with --lm-config: LoRA rank (default: full fine-tuning)");
  train->add_option("--model-version", ta->model_version, "its version (default latest)");
  train->add_option("--samples", ta->samples, "with --model: training samples per epoch");
  train->add_option("--epochs", ta->epochs, "with --model: epochs (default 1)");
  train->add_option("--deadline-hours", ta->deadline_hours, "wall-clock deadline in hours")->required();
  train->add_option("--layers", ta->layers, "transformer layers");
  train->add_option("--d-model", ta->d_model, "hidden size");
  train->add_option("--seq-len", ta->seq_len, "tokens per sample (default 1024)");
  train->add_option("--precision", ta->precision, "bf16|fp16|fp32");
  train->add_option("--trainable-params", ta->trainable, "trainable parameters (LoRA-style); default all");
  train->add_option("--deadline-probability", ta->probability, "P(finish by the deadline), default 0.95");
  train->add_option("--budget-usd", ta->budget, "expected cost cap");
  train->add_option("--max-usd-per-hour", ta->max_rate, "cluster price cap");
  train->add_option("--region", ta->regions, "allowed region (repeatable)");
  train->add_option("--instance-type", ta->instance_types, "allowed instance type (repeatable)");
  train->add_flag("--no-spot", ta->no_spot, "on-demand only");
  train->add_option("--max-nodes", ta->max_nodes, "instances per run (default 8)");
  train->callback(Wrap(flags, exit_code, [flags, ta](Api& api) -> Status {
    json workload = json::object();
    if (ta->params > 0) workload["params"] = ta->params;
    if (ta->tokens > 0) workload["tokens"] = ta->tokens;
    if (ta->layers > 0) workload["layers"] = ta->layers;
    if (ta->d_model > 0) workload["d_model"] = ta->d_model;
    if (ta->seq_len > 0) workload["seq_len"] = ta->seq_len;
    if (!ta->precision.empty()) workload["precision"] = ta->precision;
    if (ta->trainable > 0) workload["trainable_params"] = ta->trainable;
    json body = {{"kind", "train"}, {"workload", workload}, {"deadline_hours", ta->deadline_hours},
                 {"allow_spot", !ta->no_spot}};
    if (ta->probability > 0) body["deadline_probability"] = ta->probability;
    if (ta->budget > 0) body["budget_usd"] = ta->budget;
    if (ta->max_rate > 0) body["max_usd_per_hour"] = ta->max_rate;
    if (!ta->regions.empty()) body["regions"] = ta->regions;
    if (!ta->instance_types.empty()) body["instance_types"] = ta->instance_types;
    if (ta->max_nodes > 0) body["max_nodes"] = ta->max_nodes;
    if (!ta->lm_config.empty()) {
      std::ifstream in(ta->lm_config);
      json config = json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (!in || !config.is_object()) return Status::InvalidArgument(ta->lm_config + ": not a JSON object");
      body["lm"] = {{"config", config}, {"tokens", ta->tokens}};
      if (ta->seq_len > 0) body["lm"]["seq_len"] = ta->seq_len;
      if (ta->lora_rank > 0) body["lm"]["lora_rank"] = ta->lora_rank;
      if (!ta->precision.empty()) body["lm"]["precision"] = ta->precision;
      body.erase("workload");
    }
    if (!ta->model.empty()) {
      body["model"] = {{"name", ta->model}, {"samples", ta->samples}};
      if (ta->model_version > 0) body["model"]["version"] = ta->model_version;
      if (ta->epochs > 0) body["model"]["epochs"] = ta->epochs;
    }
    return PrintPlan(api, *flags, body);
  }));

  struct ServeArgs {
    double mean_rps = 0, peak_rps = 0, active_hours = 0, latency_ms = 0, gflops = 0, model_gib = 0;
    std::vector<std::string> regions, instance_types;
    std::string model;
    int model_version = 0;
    bool gpu = false, no_spot = false;
  };
  auto sa = std::make_shared<ServeArgs>();
  auto* serve = plan->add_subcommand("serve", "How to serve: serverless, dedicated or spot replicas");
  serve->add_option("--mean-rps", sa->mean_rps, "mean requests/s while active")->required();
  serve->add_option("--peak-rps", sa->peak_rps, "peak requests/s (default: mean)");
  serve->add_option("--active-hours", sa->active_hours, "active hours per day (default 24)");
  serve->add_option("--latency-ms", sa->latency_ms, "p95 latency objective in ms (default 1000)");
  serve->add_option("--request-gflops", sa->gflops, "compute per request (GFLOP; or --model)");
  serve->add_option("--model-gib", sa->model_gib, "model memory (GiB; or --model)");
  serve->add_option("--model", sa->model, "a profiled model: request GFLOP and memory from its profile");
  serve->add_option("--model-version", sa->model_version, "its version (default latest)");
  serve->add_flag("--gpu", sa->gpu, "the model needs a GPU");
  serve->add_option("--region", sa->regions, "allowed region (repeatable)");
  serve->add_option("--instance-type", sa->instance_types, "allowed instance type (repeatable)");
  serve->add_flag("--no-spot", sa->no_spot, "no spot replicas");
  serve->callback(Wrap(flags, exit_code, [flags, sa](Api& api) -> Status {
    json traffic = {{"mean_rps", sa->mean_rps}};
    if (sa->peak_rps > 0) traffic["peak_rps"] = sa->peak_rps;
    if (sa->active_hours > 0) traffic["active_hours_per_day"] = sa->active_hours;
    json body = {{"kind", "serve"}, {"traffic", traffic}, {"needs_gpu", sa->gpu}, {"allow_spot", !sa->no_spot}};
    if (sa->gflops > 0) body["request_gflops"] = sa->gflops;
    if (sa->model_gib > 0) body["model_memory_gib"] = sa->model_gib;
    if (!sa->model.empty()) {
      body["model"] = {{"name", sa->model}};
      if (sa->model_version > 0) body["model"]["version"] = sa->model_version;
    }
    if (sa->latency_ms > 0) body["latency_objective_ms"] = sa->latency_ms;
    if (!sa->regions.empty()) body["regions"] = sa->regions;
    if (!sa->instance_types.empty()) body["instance_types"] = sa->instance_types;
    return PrintPlan(api, *flags, body);
  }));
}

}  // namespace sskai::cli
