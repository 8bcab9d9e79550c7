// src/planner/train_plan.cc — PlanTraining: search over (type, region) x nodes x market.
//
// Search space reduction (checked against brute force in tests/planner/train_plan_test.cc): within a
// (type, region) every zone has the same on-demand price, band and performance, so only the zone
// with the lowest spot price can win for spot and any zone for on-demand. Performance is computed
// once per (type, nodes).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>

#include "planner/planner.h"
#include "planner/train_internal.h"

namespace sskai::planner {
namespace internal {

bool WithinCaps(const TrainRequest& request, const TrainCandidate& c) {
  if (request.budget_usd && c.expected_cost_usd > *request.budget_usd) return false;
  if (request.max_usd_per_hour && c.cluster_usd_per_hour > *request.max_usd_per_hour) return false;
  return true;
}

bool RanksBefore(const TrainCandidate& a, const TrainCandidate& b) {
  if (a.expected_cost_usd != b.expected_cost_usd) return a.expected_cost_usd < b.expected_cost_usd;
  if (a.quantile_seconds != b.quantile_seconds) return a.quantile_seconds < b.quantile_seconds;
  if (a.offering_index != b.offering_index) return a.offering_index < b.offering_index;
  if (a.nodes != b.nodes) return a.nodes < b.nodes;
  return a.market < b.market;
}

std::string Hours(double seconds) {
  char buffer[32];
  if (seconds < 3600) std::snprintf(buffer, sizeof(buffer), "%.0f min", seconds / 60);
  else std::snprintf(buffer, sizeof(buffer), "%.1f h", seconds / 3600);
  return buffer;
}

std::string Usd(double usd) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), usd < 100 ? "$%.2f" : "$%.0f", usd);
  return buffer;
}

}  // namespace internal

namespace {

using internal::Hours;
using internal::Usd;

std::string ClassName(const Offering& o, Market market) {
  return (o.accelerator.empty() ? std::string("CPU") : o.accelerator) + " " + std::string(ToString(market));
}

std::string Percent(double fraction) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%.0f%%", fraction * 100);
  return buffer;
}

struct ClassState {
  std::optional<TrainCandidate> best_feasible;
  std::optional<TrainCandidate> fastest;    // evaluated but infeasible: least quantile time
  std::string first_error;                  // e.g. memory does not fit
  bool over_caps = false;
};

}  // namespace

Status ValidateTrainRequest(const TrainRequest& r, const Catalog& catalog) {
  if (!(r.deadline_seconds > 0) || r.deadline_seconds > 10 * 365 * 86400.0) {
    return Status::InvalidArgument("deadline_seconds must be in (0, 10 years]");
  }
  if (!(r.deadline_probability >= 0.5 && r.deadline_probability <= 0.9999)) {
    return Status::InvalidArgument("deadline_probability must be in [0.5, 0.9999]");
  }
  if (r.budget_usd && !(*r.budget_usd > 0 && std::isfinite(*r.budget_usd))) {
    return Status::InvalidArgument("budget_usd must be > 0");
  }
  if (r.max_usd_per_hour && !(*r.max_usd_per_hour > 0 && std::isfinite(*r.max_usd_per_hour))) {
    return Status::InvalidArgument("max_usd_per_hour must be > 0");
  }
  if (r.max_nodes < 1 || r.max_nodes > 64) return Status::InvalidArgument("max_nodes must be in 1..64");
  std::set<std::string> regions, types;
  for (const Offering& o : catalog.offerings) {
    regions.insert(o.region);
    types.insert(o.instance_type);
  }
  for (const std::string& region : r.regions) {
    if (!regions.count(region)) return Status::NotFound("unknown region '" + region + "' (not in the catalog)");
  }
  for (const std::string& type : r.instance_types) {
    if (!types.count(type)) return Status::NotFound("unknown instance type '" + type + "' (not in the catalog)");
  }
  // Workload numbers are validated by EstimateRun; check them up front for a clear error.
  Offering probe;
  probe.instance_type = "probe";
  probe.vcpus = 1;
  probe.memory_gib = 1e12;
  auto est = EstimateRun(r.workload, probe, catalog, 1, PerfOptions{});
  if (!est.ok() && est.status().code() == StatusCode::kInvalidArgument) return est.status();
  return Status::Ok();
}

Result<TrainPlan> PlanTraining(const TrainRequest& request, const Catalog& catalog, const PlanOptions& options) {
  SSKAI_RETURN_IF_ERROR(ValidateTrainRequest(request, catalog));
  std::set<std::string> region_filter(request.regions.begin(), request.regions.end());
  std::set<std::string> type_filter(request.instance_types.begin(), request.instance_types.end());

  // Representative rows per (type, region): first zone for on-demand, cheapest zone for spot.
  struct Group { int ondemand = -1, spot = -1; };
  std::map<std::pair<std::string, std::string>, Group> groups;
  for (size_t idx = 0; idx < catalog.offerings.size(); ++idx) {
    const Offering& o = catalog.offerings[idx];
    if (!o.local && !region_filter.empty() && !region_filter.count(o.region)) continue;
    if (!type_filter.empty() && !type_filter.count(o.instance_type)) continue;
    Group& g = groups[{o.instance_type, o.region}];
    if (o.ondemand_usd_per_hour && g.ondemand < 0) g.ondemand = static_cast<int>(idx);
    if (o.spot_usd_per_hour && !o.local &&
        (g.spot < 0 || *o.spot_usd_per_hour < *catalog.offerings[g.spot].spot_usd_per_hour)) {
      g.spot = static_cast<int>(idx);
    }
  }

  TrainPlan plan;
  plan.catalog_date = catalog.catalog_date;
  plan.prices_date = catalog.prices_date;
  std::vector<TrainCandidate> feasible;
  std::map<std::string, ClassState> classes;
  std::unordered_map<std::string, std::vector<std::optional<Result<RunEstimate>>>> perf_cache;
  for (const auto& [key, group] : groups) {
    for (int market_idx = 0; market_idx < 2; ++market_idx) {
      Market market = market_idx == 0 ? Market::kOnDemand : Market::kSpot;
      int index = market == Market::kSpot ? group.spot : group.ondemand;
      if (index < 0 || (market == Market::kSpot && !request.allow_spot)) continue;
      const Offering& o = catalog.offerings[index];
      ClassState& cls = classes[ClassName(o, market)];
      auto& cache = perf_cache[o.instance_type];
      cache.resize(request.max_nodes + 1);
      int max_nodes = o.local ? std::min(request.max_nodes, o.max_nodes) : request.max_nodes;
      for (int nodes = 1; nodes <= max_nodes; ++nodes) {
        if (!cache[nodes]) cache[nodes] = EstimateRun(request.workload, o, catalog, nodes, options.perf);
        const Result<RunEstimate>& est = *cache[nodes];
        if (!est.ok()) {
          if (cls.first_error.empty()) cls.first_error = est.status().message();
          break;  // fit and specs do not depend on the node count
        }
        auto c = internal::EvaluateWithEstimate(request, o, index, market, nodes, *est, options);
        ++plan.candidates_evaluated;
        if (!c.ok()) {
          if (cls.first_error.empty()) cls.first_error = c.status().message();
          continue;
        }
        bool caps = internal::WithinCaps(request, *c);
        if (c->meets_deadline && caps) {
          if (!cls.best_feasible || internal::RanksBefore(*c, *cls.best_feasible)) cls.best_feasible = *c;
          feasible.push_back(std::move(*c));
        } else {
          if (c->meets_deadline && !caps) cls.over_caps = true;
          if (!cls.fastest || c->quantile_seconds < cls.fastest->quantile_seconds) cls.fastest = *c;
        }
      }
    }
  }

  if (feasible.empty()) {
    // Explain the closest miss: memory first, then deadline, then caps.
    std::optional<TrainCandidate> fastest;
    bool any_meets_deadline = false;
    std::string memory_error;
    for (const auto& [name, cls] : classes) {
      if (cls.fastest && (!fastest || cls.fastest->quantile_seconds < fastest->quantile_seconds)) fastest = cls.fastest;
      any_meets_deadline |= cls.over_caps;
      if (memory_error.empty() && cls.first_error.find("needs") != std::string::npos) memory_error = cls.first_error;
    }
    if (groups.empty()) return Status::FailedPrecondition("no offering matches the allowed regions and instance types");
    if (!fastest) {
      double largest = 0;
      std::string where;
      for (const auto& [key, group] : groups) {
        int idx = group.ondemand >= 0 ? group.ondemand : group.spot;
        if (idx < 0) continue;
        const Offering& o = catalog.offerings[idx];
        const GpuSpec* gpu = catalog.FindGpu(o.accelerator);
        bool usable = gpu && gpu->cuda && (gpu->bf16_tflops > 0 || gpu->fp16_tflops > 0 || gpu->fp32_tflops > 0);
        if (usable && o.accelerator_memory_gib > largest) {
          largest = o.accelerator_memory_gib;
          where = o.accelerator + " on " + o.instance_type;
        }
      }
      size_t cut = memory_error.find("), ");
      if (cut != std::string::npos) memory_error.resize(cut + 1);  // drop "<gpu> has N GiB"
      return Status::FailedPrecondition("no offering in the allowed regions can run this workload (" +
                                        (memory_error.empty() ? std::string("no usable GPU") : memory_error) +
                                        "); the closest is " + (where.empty() ? "none" : where + " with " +
                                        std::to_string(static_cast<int>(largest)) + " GiB per GPU"));
    }
    if (any_meets_deadline) {
      return Status::FailedPrecondition("every plan that meets the deadline exceeds the budget or price cap; the fastest is " +
                                        fastest->instance_type + " x" + std::to_string(fastest->nodes) + " " +
                                        std::string(ToString(fastest->market)) + " at " + Usd(fastest->expected_cost_usd));
    }
    return Status::FailedPrecondition(
        "no plan meets the " + Hours(request.deadline_seconds) + " deadline with " + Percent(request.deadline_probability) +
        " probability; the fastest is " + fastest->instance_type + " x" + std::to_string(fastest->nodes) + " " +
        std::string(ToString(fastest->market)) + " in " + fastest->region + " at " + Hours(fastest->quantile_seconds) +
        " (" + Usd(fastest->expected_cost_usd) + ")");
  }

  std::sort(feasible.begin(), feasible.end(), internal::RanksBefore);
  plan.best = feasible.front();
  const TrainCandidate* fastest_ondemand = nullptr;
  for (const TrainCandidate& c : feasible) {
    if (c.market != Market::kOnDemand) continue;
    if (!plan.best_ondemand) plan.best_ondemand = c;
    if (!plan.fallback && c.quantile_seconds <= request.deadline_seconds / 2) plan.fallback = c;
    if (!fastest_ondemand || c.quantile_seconds < fastest_ondemand->quantile_seconds) fastest_ondemand = &c;
  }
  if (!plan.fallback && fastest_ondemand) plan.fallback = *fastest_ondemand;
  if (plan.best_ondemand && plan.best_ondemand->expected_cost_usd > 0) {
    plan.savings_vs_ondemand = 1 - plan.best.expected_cost_usd / plan.best_ondemand->expected_cost_usd;
  }
  feasible.resize(std::min<size_t>(feasible.size(), std::max(1, options.ranked_rows)));
  plan.ranked = std::move(feasible);

  const TrainCandidate& b = plan.best;
  plan.reason = "least expected cost (" + Usd(b.expected_cost_usd) + ") of " + std::to_string(plan.candidates_evaluated) +
                " candidates; " + Percent(request.deadline_probability) + " finish within " + Hours(b.quantile_seconds) +
                " <= deadline " + Hours(request.deadline_seconds);
  if (b.market == Market::kSpot) {
    plan.reason += b.checkpoint_on_notice ? "; checkpoint fits the spot notice"
                                          : "; checkpoint every " + Hours(b.checkpoint_interval_seconds);
    if (plan.fallback) plan.reason += "; falls back to " + plan.fallback->instance_type + " on-demand if late";
  } else if (request.allow_spot) {
    plan.reason += "; on-demand because no spot plan is cheaper within the deadline";
  }
  std::string winner_class = ClassName(catalog.offerings[b.offering_index], b.market);
  for (const auto& [name, cls] : classes) {
    if (name == winner_class) continue;
    std::string reason;
    if (cls.best_feasible) {
      double extra = cls.best_feasible->expected_cost_usd / std::max(1e-12, b.expected_cost_usd) - 1;
      reason = "best " + cls.best_feasible->instance_type + " x" + std::to_string(cls.best_feasible->nodes) + " costs " +
               Usd(cls.best_feasible->expected_cost_usd) + " (+" + Percent(extra) + ")";
    } else if (cls.over_caps) {
      reason = "meets the deadline only above the budget or price cap";
    } else if (cls.fastest) {
      reason = "misses the deadline: fastest " + cls.fastest->instance_type + " x" + std::to_string(cls.fastest->nodes) +
               " needs " + Hours(cls.fastest->quantile_seconds) + " at " + Percent(request.deadline_probability);
    } else {
      reason = cls.first_error.empty() ? "no usable offering" : cls.first_error;
    }
    plan.rejected.push_back({name, reason});
  }
  return plan;
}

std::string FormatTrainPlan(const TrainPlan& plan) {
  std::string out = "catalog " + plan.catalog_date + ", prices " + plan.prices_date + "\n";
  char line[256];
  std::snprintf(line, sizeof(line), "%-4s %-18s %-15s %-14s %-9s %5s %10s %10s %9s %9s %10s  %s\n", "rank", "instance",
                "region", "zone", "market", "nodes", "exp cost", "p cost", "exp time", "p time", "ckpt", "note");
  out += line;
  int rank = 1;
  for (const TrainCandidate& c : plan.ranked) {
    std::string ckpt = c.market == Market::kOnDemand ? "-" : c.checkpoint_on_notice ? "on notice"
                                                                                     : internal::Hours(c.checkpoint_interval_seconds);
    std::snprintf(line, sizeof(line), "%-4d %-18s %-15s %-14s %-9s %5d %10s %10s %9s %9s %10s  %s\n", rank++,
                  c.instance_type.c_str(), c.region.c_str(), c.zone.c_str(), std::string(ToString(c.market)).c_str(), c.nodes,
                  internal::Usd(c.expected_cost_usd).c_str(), internal::Usd(c.quantile_cost_usd).c_str(),
                  internal::Hours(c.expected_seconds).c_str(), internal::Hours(c.quantile_seconds).c_str(), ckpt.c_str(),
                  c.note.c_str());
    out += line;
  }
  std::snprintf(line, sizeof(line), "savings vs on-demand: %.0f%%\n", plan.savings_vs_ondemand * 100);
  out += line;
  out += "winner: " + plan.reason + "\n";
  for (const RejectedClass& r : plan.rejected) out += "rejected " + r.name + ": " + r.reason + "\n";
  return out;
}

}  // namespace sskai::planner
