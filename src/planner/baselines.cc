// src/planner/baselines.cc — the policies sskai is compared with, and the comparison itself.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include "planner/planner.h"
#include "planner/train_internal.h"

namespace sskai::planner {
namespace {

// Relative throughput, V100 = 100 (prototype recommend/family_recommend, origin.md sec. 5.1).
double PrototypeBench(std::string_view gpu) {
  static const std::map<std::string_view, double> kBench = {
      {"A10G", 128.5}, {"M60", 34.2},       {"T4", 52.1},  {"T4g", 52.1},  {"V100", 100},
      {"V100-32GB", 100}, {"K80", 25.2},    {"A100", 234.9}, {"A100-80GB", 234.9},
      {"L4", 108.5},   {"H100", 426.8}};
  auto it = kBench.find(gpu);
  return it == kBench.end() ? 0 : it->second;  // unknown GPU = 0, as in the prototype
}

bool RegionAllowed(const TrainRequest& r, const Offering& o) {
  return o.local || r.regions.empty() || std::find(r.regions.begin(), r.regions.end(), o.region) != r.regions.end();
}

bool TypeAllowed(const TrainRequest& r, const Offering& o) {
  return r.instance_types.empty() ||
         std::find(r.instance_types.begin(), r.instance_types.end(), o.instance_type) != r.instance_types.end();
}

// Does the workload fit one instance of this type? Cached per type.
class FitCache {
 public:
  FitCache(const TrainRequest& r, const Catalog& c, const PlanOptions& o) : r_(r), c_(c), o_(o) {}
  const Result<RunEstimate>& Get(const Offering& o, int nodes) {
    auto key = o.instance_type + "#" + std::to_string(nodes);
    auto it = cache_.find(key);
    if (it == cache_.end()) it = cache_.emplace(key, EstimateRun(r_.workload, o, c_, nodes, o_.perf)).first;
    return it->second;
  }

 private:
  const TrainRequest& r_;
  const Catalog& c_;
  const PlanOptions& o_;
  std::unordered_map<std::string, Result<RunEstimate>> cache_;
};

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(q * (values.size() - 1) + 0.5))];
}

}  // namespace

Result<TrainChoice> ChooseTierRule(const TrainRequest& request, const Catalog& catalog, const PlanOptions& options,
                                   int epochs) {
  FitCache fits(request, catalog, options);
  double max_price = 0, max_bench = 0;
  std::vector<int> rows;
  for (size_t idx = 0; idx < catalog.offerings.size(); ++idx) {
    const Offering& o = catalog.offerings[idx];
    if (o.local || o.accelerator.empty() || !o.spot_usd_per_hour || !RegionAllowed(request, o) || !TypeAllowed(request, o)) continue;
    const GpuSpec* gpu = catalog.FindGpu(o.accelerator);
    if (gpu == nullptr || !gpu->cuda || o.accelerator_count < 1) continue;
    max_price = std::max(max_price, *o.spot_usd_per_hour / o.accelerator_count);
    max_bench = std::max(max_bench, PrototypeBench(o.accelerator));
    if (fits.Get(o, 1).ok()) rows.push_back(static_cast<int>(idx));  // the profiler's memory tier
  }
  if (rows.empty()) return Status::FailedPrecondition("tier rule: no spot GPU offering fits the model");
  int best = -1;
  double best_score = -1;
  for (int idx : rows) {
    const Offering& o = catalog.offerings[idx];
    double per_gpu = *o.spot_usd_per_hour / o.accelerator_count;
    double score = 0.8 * (1 - per_gpu / max_price) + 0.2 * (max_bench > 0 ? PrototypeBench(o.accelerator) / max_bench : 0);
    if (score > best_score) {
      best_score = score;
      best = idx;
    }
  }
  const Offering& o = catalog.offerings[best];
  TrainChoice choice;
  choice.offering_index = best;
  choice.market = Market::kSpot;
  choice.nodes = std::clamp(static_cast<int>(std::ceil(4 / o.accelerator_count)), 1, request.max_nodes);  // 4 workers
  const auto& est = fits.Get(o, choice.nodes);
  if (!est.ok()) return est.status();
  choice.checkpoint_interval_seconds = est->work_seconds / std::max(1, epochs);  // per-epoch checkpoints
  choice.label = o.instance_type + " x" + std::to_string(choice.nodes) + " spot " + o.zone;
  return choice;
}

Result<TrainChoice> ChooseCheapestFeasible(const TrainRequest& request, const Catalog& catalog,
                                           const PlanOptions& options) {
  FitCache fits(request, catalog, options);
  int best = -1;
  double best_price = INFINITY;
  Market market = request.allow_spot ? Market::kSpot : Market::kOnDemand;
  for (size_t idx = 0; idx < catalog.offerings.size(); ++idx) {
    const Offering& o = catalog.offerings[idx];
    if (!RegionAllowed(request, o) || !TypeAllowed(request, o) || o.accelerator.empty()) continue;
    const GpuSpec* gpu = catalog.FindGpu(o.accelerator);
    if (gpu == nullptr || !gpu->cuda) continue;
    const auto& price = market == Market::kSpot && !o.local ? o.spot_usd_per_hour : o.ondemand_usd_per_hour;
    if (!price || *price >= best_price || !fits.Get(o, 1).ok()) continue;  // 1-hour run: cost = price
    best_price = *price;
    best = static_cast<int>(idx);
  }
  if (best < 0) return Status::FailedPrecondition("cheapest-feasible: no GPU offering fits the model");
  const Offering& o = catalog.offerings[best];
  TrainChoice choice;
  choice.offering_index = best;
  choice.market = o.local ? Market::kOnDemand : market;
  choice.checkpoint_interval_seconds = choice.market == Market::kSpot ? 1800 : 0;  // user code: every 30 min
  choice.label = o.instance_type + " x1 " + std::string(ToString(choice.market)) + " " + o.zone;
  return choice;
}

Result<std::vector<PolicyStats>> CompareTrainingPolicies(const TrainRequest& request, const Catalog& catalog,
                                                         const PlanOptions& options, int trials, uint64_t seed,
                                                         int epochs) {
  if (trials < 1) return Status::InvalidArgument("trials must be >= 1");
  SSKAI_RETURN_IF_ERROR(ValidateTrainRequest(request, catalog));
  std::vector<PolicyStats> stats(4);
  std::vector<std::optional<TrainChoice>> choices(3);
  auto plan = PlanTraining(request, catalog, options);
  if (plan.ok()) {
    choices[0] = ChoiceFromCandidate(plan->best);
    if (plan->best.market == Market::kSpot && plan->fallback) choices[0]->fallback = plan->fallback;
  } else {
    stats[0].error = plan.status().message();
  }
  auto tier = ChooseTierRule(request, catalog, options, epochs);
  if (tier.ok()) choices[1] = *tier; else stats[1].error = tier.status().message();
  auto cheapest = ChooseCheapestFeasible(request, catalog, options);
  if (cheapest.ok()) choices[2] = *cheapest; else stats[2].error = cheapest.status().message();

  // Hindsight candidates: every (type, region) x nodes x market the planner considers, with the
  // planner's checkpoint settings, sorted by a no-interruption cost lower bound for pruning.
  PlanOptions all = options;
  std::vector<TrainCandidate> candidates;
  {
    std::map<std::pair<std::string, std::string>, std::pair<int, int>> groups;  // ondemand, spot row
    for (size_t idx = 0; idx < catalog.offerings.size(); ++idx) {
      const Offering& o = catalog.offerings[idx];
      if (!RegionAllowed(request, o) || !TypeAllowed(request, o)) continue;
      auto [it, inserted] = groups.try_emplace({o.instance_type, o.region}, -1, -1);
      if (o.ondemand_usd_per_hour && it->second.first < 0) it->second.first = static_cast<int>(idx);
      if (o.spot_usd_per_hour && !o.local &&
          (it->second.second < 0 || *o.spot_usd_per_hour < *catalog.offerings[it->second.second].spot_usd_per_hour)) {
        it->second.second = static_cast<int>(idx);
      }
    }
    FitCache fits(request, catalog, options);
    for (const auto& [key, rows] : groups) {
      for (int market_idx = 0; market_idx < 2; ++market_idx) {
        int row = market_idx == 0 ? rows.first : rows.second;
        if (row < 0 || (market_idx == 1 && !request.allow_spot)) continue;
        for (int nodes = 1; nodes <= request.max_nodes; ++nodes) {
          const auto& est = fits.Get(catalog.offerings[row], nodes);
          if (!est.ok()) break;
          auto c = internal::EvaluateWithEstimate(request, catalog.offerings[row], row,
                                                  market_idx == 0 ? Market::kOnDemand : Market::kSpot, nodes, *est, all);
          if (c.ok() && internal::WithinCaps(request, *c)) candidates.push_back(*c);
        }
      }
    }
    std::sort(candidates.begin(), candidates.end(), [](const TrainCandidate& a, const TrainCandidate& b) {
      return a.cluster_usd_per_hour * a.work_seconds < b.cluster_usd_per_hour * b.work_seconds;
    });
  }

  std::vector<std::vector<double>> costs(4), hours(4);
  std::vector<int> met(4, 0), done(4, 0);
  for (int trial = 0; trial < trials; ++trial) {
    for (int policy = 0; policy < 3; ++policy) {
      if (!choices[policy]) continue;
      SimOutcome run = SimulateTraining(request, catalog, *choices[policy], options, seed, trial);
      costs[policy].push_back(run.cost_usd);
      hours[policy].push_back(run.seconds / 3600);
      met[policy] += run.met_deadline;
      done[policy] += run.finished;
    }
    // Hindsight: cheapest candidate that met the deadline in this trial (lower bound prunes; the
    // lower bound ignores runtime noise, so allow a 3-sigma margin).
    std::optional<SimOutcome> best;
    for (const TrainCandidate& c : candidates) {
      double bound = c.cluster_usd_per_hour * c.work_seconds / 3600 * std::exp(-0.3);
      if (best && bound >= best->cost_usd) break;
      SimOutcome run = SimulateTraining(request, catalog, ChoiceFromCandidate(c), options, seed, trial);
      if (run.met_deadline && (!best || run.cost_usd < best->cost_usd)) best = run;
    }
    if (best) {
      costs[3].push_back(best->cost_usd);
      hours[3].push_back(best->seconds / 3600);
      ++met[3];
      ++done[3];
    }
  }
  double hindsight_mean = 0;
  for (double c : costs[3]) hindsight_mean += c / std::max<size_t>(1, costs[3].size());
  for (int policy = 0; policy < 4; ++policy) {
    PolicyStats& s = stats[policy];
    s.policy = static_cast<Policy>(policy);
    if (policy < 3 && choices[policy]) s.choice = choices[policy]->label;
    if (policy == 3) s.choice = "per-trial best of " + std::to_string(candidates.size()) + " candidates";
    if (costs[policy].empty()) continue;
    for (double c : costs[policy]) s.mean_cost_usd += c / costs[policy].size();
    for (double h : hours[policy]) s.mean_hours += h / hours[policy].size();
    s.p95_cost_usd = Percentile(costs[policy], 0.95);
    s.deadline_success = static_cast<double>(met[policy]) / trials;
    s.finished = static_cast<double>(done[policy]) / trials;
    s.regret = hindsight_mean > 0 ? s.mean_cost_usd / hindsight_mean - 1 : 0;
  }
  return stats;
}

}  // namespace sskai::planner
