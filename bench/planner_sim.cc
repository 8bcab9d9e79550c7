// bench/planner_sim.cc — the planner's scenario suite: four training policies on the same Monte
// Carlo draws (sskai, the prototype's 0.8/0.2 tier rule, SkyPilot-like cheapest-feasible, hindsight),
// then serving plans for several traffic shapes.
// Usage: planner_sim [trials=200] [seed=1]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "planner/planner.h"

using namespace sskai::planner;  // NOLINT: a benchmark program

namespace {

struct Scenario {
  std::string name;
  double params, trainable, tokens, deadline_hours;
  int micro_batch;
  bool allow_spot;
  std::vector<std::string> regions;
};

}  // namespace

int main(int argc, char** argv) {
  int trials = argc > 1 ? std::atoi(argv[1]) : 200;
  uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  auto loaded = LoadCatalog(SSKAI_CATALOG_DIR);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
    return 1;
  }
  const Catalog& catalog = *loaded;
  std::vector<std::string> four = {"us-east-1", "us-west-2", "eu-west-1", "ap-northeast-2"};
  std::vector<Scenario> scenarios = {
      {"10M x 1B tok, 12 h", 10e6, 0, 1e9, 12, 8, true, four},
      {"125M x 10B tok, 48 h", 125e6, 0, 10e9, 48, 8, true, four},
      {"350M x 30B tok, 72 h", 350e6, 0, 30e9, 72, 8, true, four},
      {"1.3B x 26B tok, 7 d", 1.3e9, 0, 26e9, 168, 8, true, four},
      {"1.3B x 26B tok, 24 h (tight)", 1.3e9, 0, 26e9, 24, 8, true, four},
      {"7B full x 2B tok, 7 d", 7e9, 0, 2e9, 168, 1, true, {}},
      {"7B LoRA x 1B tok, 24 h", 7e9, 7e6, 1e9, 24, 4, true, four},
      {"13B LoRA x 0.5B tok, 48 h", 13e9, 13e6, 0.5e9, 48, 2, true, four},
      {"70B LoRA x 0.2B tok, 7 d", 70e9, 70e6, 0.2e9, 168, 1, true, {}},
      {"125M x 10B tok, 48 h, on-demand only", 125e6, 0, 10e9, 48, 8, false, four},
  };
  PlanOptions options;
  std::printf("planner_sim: %d trials per scenario, seed %llu, catalog %s, deadline probability 0.99\n\n", trials,
              static_cast<unsigned long long>(seed), catalog.catalog_date.c_str());
  double sum_vs_tier = 0, sum_vs_cheapest = 0;
  int spot_scenarios = 0, compared_tier = 0, compared_cheapest = 0;
  double min_success = 1, max_regret = 0;
  for (const Scenario& s : scenarios) {
    TrainRequest r;
    r.workload.params = s.params;
    r.workload.trainable_params = s.trainable;
    r.workload.tokens = s.tokens;
    r.workload.micro_batch = s.micro_batch;
    r.deadline_seconds = s.deadline_hours * 3600;
    r.deadline_probability = 0.99;
    r.allow_spot = s.allow_spot;
    r.regions = s.regions;
    auto stats = CompareTrainingPolicies(r, catalog, options, trials, seed);
    std::printf("== %s\n", s.name.c_str());
    if (!stats.ok()) {
      std::printf("   error: %s\n\n", stats.status().ToString().c_str());
      continue;
    }
    std::printf("   %-18s %-40s %10s %10s %8s %6s %8s %8s\n", "policy", "choice", "mean $", "p95 $", "mean h", "done", "on time", "regret");
    for (const PolicyStats& p : *stats) {
      if (!p.error.empty()) {
        std::printf("   %-18s error: %s\n", std::string(ToString(p.policy)).c_str(), p.error.c_str());
        continue;
      }
      std::printf("   %-18s %-40s %10.2f %10.2f %8.1f %5.0f%% %7.1f%% %7.1f%%\n", std::string(ToString(p.policy)).c_str(),
                  p.choice.substr(0, 40).c_str(), p.mean_cost_usd, p.p95_cost_usd, p.mean_hours, p.finished * 100,
                  p.deadline_success * 100, p.regret * 100);
    }
    const PolicyStats& sskai = (*stats)[0];
    if (sskai.error.empty()) {
      min_success = std::min(min_success, sskai.deadline_success);
      max_regret = std::max(max_regret, sskai.regret);
      if (s.allow_spot) {
        ++spot_scenarios;
        const PolicyStats& tier = (*stats)[1];
        const PolicyStats& cheap = (*stats)[2];
        if (tier.error.empty() && tier.mean_cost_usd > 0) {
          sum_vs_tier += 1 - sskai.mean_cost_usd / tier.mean_cost_usd;
          ++compared_tier;
        }
        if (cheap.error.empty() && cheap.mean_cost_usd > 0) {
          sum_vs_cheapest += 1 - sskai.mean_cost_usd / cheap.mean_cost_usd;
          ++compared_cheapest;
        }
        std::printf("   sskai saves %.1f%% vs tier rule, %.1f%% vs cheapest-feasible (mean cost)\n",
                    tier.error.empty() ? 100 * (1 - sskai.mean_cost_usd / tier.mean_cost_usd) : NAN,
                    cheap.error.empty() ? 100 * (1 - sskai.mean_cost_usd / cheap.mean_cost_usd) : NAN);
      }
    }
    std::printf("\n");
  }
  std::printf("SUMMARY over %d spot-eligible scenarios: sskai mean saving %.1f%% vs 0.8/0.2 rule (%d compared), "
              "%.1f%% vs cheapest-feasible (%d compared); sskai min deadline success %.1f%%, max regret vs hindsight %.1f%%\n\n",
              spot_scenarios, compared_tier ? 100 * sum_vs_tier / compared_tier : NAN, compared_tier,
              compared_cheapest ? 100 * sum_vs_cheapest / compared_cheapest : NAN, compared_cheapest, min_success * 100,
              max_regret * 100);

  // Serving: one small CPU model and one 7B GPU model under several traffic shapes.
  struct Traffic { std::string name; double mean, peak, active; };
  std::vector<Traffic> shapes = {{"sparse 0.01 req/s", 0.01, 0.1, 24},   {"office hours 2 req/s", 2, 6, 9},
                                 {"steady 20 req/s", 20, 40, 24},        {"spiky 5 req/s, peak 200", 5, 200, 24}};
  for (int gpu = 0; gpu < 2; ++gpu) {
    for (const Traffic& t : shapes) {
      ServeRequest r;
      r.traffic = {t.mean, t.peak, t.active, {}};
      r.latency_objective_seconds = gpu ? 2.0 : 0.5;
      r.request_gflops = gpu ? 2 * 7e9 * 256 / 1e9 : 2;  // 7B x 256 tokens prefill-equivalent
      r.model_memory_gib = gpu ? 15 : 0.5;
      r.needs_gpu = gpu;
      r.regions = {"us-east-1"};
      auto plan = PlanServing(r, catalog, ServeOptions{});
      std::printf("== serve %s model, %s\n", gpu ? "7B GPU" : "small CPU", t.name.c_str());
      if (!plan.ok()) {
        std::printf("   error: %s\n\n", plan.status().ToString().c_str());
        continue;
      }
      std::printf("%s\n", FormatServePlan(*plan).c_str());
    }
  }
  return 0;
}
