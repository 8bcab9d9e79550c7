// src/planner/serve_plan.cc — PlanServing: serverless vs dedicated vs spot replicas.
//
// Service time of one request (no batching): GPU max(GFLOP / (eff x peak), weights / (0.7 x bw));
// CPU GFLOP / (threads x cpu_peak x cpu_efficiency), threads = min(vCPUs, 4). A replica server is one
// GPU (or 4 vCPUs); each is an M/M/1 queue: p95 response = ln(20) / (mu - lambda), so a server takes
// at most min(max_util x mu, mu - ln(20) / objective) req/s. Dedicated: on-demand servers for the
// peak, 24/7. Spot: the same count plus one spare (covers one preemption at a time), and an on-demand
// replacement for spot_replacement_seconds after each preemption. Serverless (Lambda, CPU only):
// memory = model + runtime, raised in 64 MB steps until the warm latency meets the objective; a
// request is cold when the gap before it exceeds the idle timeout (Poisson: exp(-rate x idle)); cold
// starts may hit at most 1 - 0.95 of requests when they break the objective.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "planner/planner.h"
#include "planner/train_internal.h"

namespace sskai::planner {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kLn20 = 2.995732273553991;

struct Load {
  double mean_rps = 0, peak_rps = 0, requests_per_month = 0, cold_fraction_rate = 0;  // weighted mean rps
};

double CpuServiceSeconds(double gflops, double vcpus, const PerfOptions& perf) {
  return gflops / (std::min(vcpus, 4.0) * perf.cpu_peak_gflops_per_vcpu * perf.cpu_efficiency);
}

struct Sized {
  bool ok = false;
  double servers_per_instance = 0, service = 0;
  std::string why;
};

Sized SizeOffering(const ServeRequest& r, const Offering& o, const Catalog& catalog, const ServeOptions& options) {
  Sized s;
  if (o.accelerator.empty()) {
    if (r.needs_gpu) return s.why = "needs a GPU", s;
    if (r.model_memory_gib > 0.8 * o.memory_gib) return s.why = "model does not fit RAM", s;
    s.service = CpuServiceSeconds(r.request_gflops, o.vcpus, options.perf);
    s.servers_per_instance = std::max(1.0, std::floor(o.vcpus / 4));
  } else {
    const GpuSpec* gpu = catalog.FindGpu(o.accelerator);
    if (!gpu || !gpu->cuda) return s.why = "not a CUDA GPU", s;
    double peak = gpu->bf16_tflops > 0 ? gpu->bf16_tflops : gpu->fp16_tflops;
    if (!(peak > 0) || !(gpu->mem_bw_gbps > 0)) return s.why = "no GPU spec", s;
    if (r.model_memory_gib > o.accelerator_memory_gib) return s.why = "model does not fit GPU memory", s;
    double fraction = std::min(1.0, o.accelerator_count);
    s.service = std::max(r.request_gflops * 1e9 / (options.gpu_serve_efficiency * peak * 1e12 * fraction),
                         r.model_memory_gib * kGiB / (0.7 * gpu->mem_bw_gbps * 1e9 * fraction));
    s.servers_per_instance = std::max(1.0, std::floor(o.accelerator_count));
  }
  s.ok = true;
  return s;
}

// Cheapest replica option of `kind` for a peak load.
ServeOption CheapestReplicas(const ServeRequest& r, const Catalog& catalog, const ServeOptions& options, ServeKind kind,
                             double peak_rps, double requests_per_month) {
  ServeOption best;
  best.kind = kind;
  best.reason = "no offering fits";
  double best_cost = INFINITY;
  std::string last_why;
  for (const Offering& o : catalog.offerings) {
    if (!o.local && !r.regions.empty() && std::find(r.regions.begin(), r.regions.end(), o.region) == r.regions.end()) continue;
    if (!r.instance_types.empty() &&
        std::find(r.instance_types.begin(), r.instance_types.end(), o.instance_type) == r.instance_types.end()) continue;
    const auto& price = kind == ServeKind::kSpotWithFallback ? o.spot_usd_per_hour : o.ondemand_usd_per_hour;
    if (!price || (kind == ServeKind::kSpotWithFallback && (o.local || !o.ondemand_usd_per_hour))) continue;
    Sized sized = SizeOffering(r, o, catalog, options);
    if (!sized.ok) {
      last_why = sized.why;
      continue;
    }
    double mu = 1 / sized.service;
    double capacity = std::min(options.max_utilisation * mu, mu - kLn20 / r.latency_objective_seconds);
    if (capacity <= 0) {
      last_why = "service time too long for the latency objective";
      continue;
    }
    double servers = std::max(1.0, std::ceil(peak_rps / capacity));
    double instances = std::ceil(servers / sized.servers_per_instance);
    if (o.local && instances > o.max_nodes) continue;
    double cost = instances * *price * options.hours_per_month;
    if (kind == ServeKind::kSpotWithFallback) {
      instances += 1;  // one spare spot replica
      cost = instances * *price * options.hours_per_month;
      double preemptions = instances * HazardPerHour(o.interruption_band, options.plan) * options.hours_per_month;
      cost += preemptions * *o.ondemand_usd_per_hour * options.spot_replacement_seconds / 3600;
    }
    if (cost < best_cost) {
      best_cost = cost;
      best.feasible = true;
      best.instance_type = o.instance_type;
      best.region = o.region;
      best.replicas = static_cast<int>(instances);
      best.usd_per_month = cost;
      best.service_seconds = sized.service;
      double per_server = peak_rps / (servers);
      best.p95_latency_seconds = kLn20 / (mu - per_server);
      best.reason = kind == ServeKind::kSpotWithFallback ? "spot replicas + 1 spare, on-demand replacement on preemption"
                                                         : "on-demand replicas sized for the peak, always on";
    }
  }
  if (!best.feasible && !last_why.empty()) best.reason = last_why;
  if (best.feasible && requests_per_month > 0) best.usd_per_1k_requests = best.usd_per_month / requests_per_month * 1000;
  return best;
}

ServeOption Serverless(const ServeRequest& r, const Catalog& catalog, const ServeOptions& options, const Load& load) {
  ServeOption opt;
  opt.kind = ServeKind::kServerless;
  const ServerlessPricing& p = catalog.serverless;
  if (r.needs_gpu) return opt.reason = "serverless is CPU-only; the model needs a GPU", opt;
  double min_mb = std::max(p.memory_mb_min, r.model_memory_gib * 1024 + options.serverless_overhead_mb);
  if (min_mb > p.memory_mb_max) {
    char buffer[128];
    std::snprintf(buffer, sizeof(buffer), "needs %.0f MB > %.0f MB serverless maximum", min_mb, p.memory_mb_max);
    return opt.reason = buffer, opt;
  }
  double best_cost = INFINITY;
  for (double mb = std::ceil(min_mb / 64) * 64; mb <= p.memory_mb_max; mb += 64) {
    double service = CpuServiceSeconds(r.request_gflops, mb / p.mb_per_vcpu, options.perf);
    if (service > r.latency_objective_seconds || service > p.max_timeout_seconds) continue;
    double per_request = p.usd_per_million_requests / 1e6 + mb / 1024 * service * p.usd_per_gb_second;
    if (per_request < best_cost) {
      best_cost = per_request;
      opt.instance_type = "lambda-" + std::to_string(static_cast<int>(mb)) + "MB";
      opt.service_seconds = opt.p95_latency_seconds = service;
    }
  }
  if (!std::isfinite(best_cost)) {
    double service = CpuServiceSeconds(r.request_gflops, p.memory_mb_max / p.mb_per_vcpu, options.perf);
    char buffer[160];
    std::snprintf(buffer, sizeof(buffer), "a request takes %.2f s even at %.0f MB > objective %.2f s", service,
                  p.memory_mb_max, r.latency_objective_seconds);
    return opt.reason = buffer, opt;
  }
  opt.cold_start_seconds = options.serverless_init_seconds + r.model_memory_gib / options.serverless_load_gib_per_second;
  opt.cold_fraction = load.cold_fraction_rate;
  if (opt.cold_start_seconds + opt.service_seconds > r.latency_objective_seconds && opt.cold_fraction > 0.05) {
    char buffer[160];
    std::snprintf(buffer, sizeof(buffer), "cold starts (%.1f s) hit %.0f%% of requests, more than the 5%% a p95 objective allows",
                  opt.cold_start_seconds, opt.cold_fraction * 100);
    return opt.reason = buffer, opt;
  }
  opt.feasible = true;
  opt.replicas = 0;
  opt.usd_per_month = best_cost * load.requests_per_month;
  opt.usd_per_1k_requests = best_cost * 1000;
  opt.reason = "scale to zero, pay per request";
  return opt;
}

}  // namespace

std::string_view ToString(ServeKind kind) {
  switch (kind) {
    case ServeKind::kServerless: return "serverless";
    case ServeKind::kDedicated: return "dedicated";
    case ServeKind::kSpotWithFallback: return "spot+fallback";
  }
  return "?";
}

Result<ServePlan> PlanServing(const ServeRequest& r, const Catalog& catalog, const ServeOptions& options) {
  const TrafficProfile& t = r.traffic;
  if (!(r.latency_objective_seconds > 0 && r.latency_objective_seconds <= 3600)) {
    return Status::InvalidArgument("latency_objective_seconds must be in (0, 3600]");
  }
  if (!(r.request_gflops > 0 && r.request_gflops <= 1e9)) return Status::InvalidArgument("request_gflops must be in (0, 1e9]");
  if (!(r.model_memory_gib > 0 && r.model_memory_gib <= 1e4)) return Status::InvalidArgument("model_memory_gib must be in (0, 10000]");
  Load load;
  double days = options.hours_per_month / 24;
  double idle = options.serverless_idle_seconds;
  if (!t.hourly_rps.empty()) {
    if (t.hourly_rps.size() != 24) return Status::InvalidArgument("hourly_rps must have 24 values");
    double total = 0, cold = 0;
    for (double rps : t.hourly_rps) {
      if (!(rps >= 0 && rps <= 1e7)) return Status::InvalidArgument("hourly_rps values must be in [0, 1e7]");
      total += rps * 3600;
      cold += rps * 3600 * std::exp(-rps * idle);
      load.peak_rps = std::max(load.peak_rps, rps);
    }
    if (total <= 0) return Status::InvalidArgument("hourly_rps has no traffic");
    load.requests_per_month = total * days;
    load.mean_rps = total / 86400;
    load.cold_fraction_rate = cold / total;
  } else {
    if (!(t.mean_rps > 0 && t.mean_rps <= 1e7) || !(t.peak_rps >= t.mean_rps && t.peak_rps <= 1e7)) {
      return Status::InvalidArgument("traffic: need 0 < mean_rps <= peak_rps <= 1e7");
    }
    if (!(t.active_hours_per_day > 0 && t.active_hours_per_day <= 24)) {
      return Status::InvalidArgument("active_hours_per_day must be in (0, 24]");
    }
    load.peak_rps = t.peak_rps;
    load.requests_per_month = t.mean_rps * t.active_hours_per_day * 3600 * days;
    load.mean_rps = t.mean_rps * t.active_hours_per_day / 24;
    load.cold_fraction_rate = std::exp(-t.mean_rps * idle);
  }
  for (const std::string& type : r.instance_types) {
    if (!catalog.HasInstanceType(type)) return Status::NotFound("unknown instance type '" + type + "'");
  }
  ServePlan plan;
  plan.requests_per_month = load.requests_per_month;
  plan.options.push_back(Serverless(r, catalog, options, load));
  plan.options.push_back(CheapestReplicas(r, catalog, options, ServeKind::kDedicated, load.peak_rps, load.requests_per_month));
  if (r.allow_spot) {
    plan.options.push_back(CheapestReplicas(r, catalog, options, ServeKind::kSpotWithFallback, load.peak_rps, load.requests_per_month));
  }
  const ServeOption* best = nullptr;
  for (const ServeOption& o : plan.options) {
    if (o.feasible && (!best || o.usd_per_month < best->usd_per_month)) best = &o;
  }
  if (!best) {
    std::string why;
    for (const ServeOption& o : plan.options) why += std::string(why.empty() ? "" : "; ") + std::string(ToString(o.kind)) + ": " + o.reason;
    return Status::FailedPrecondition("no serving option meets the request (" + why + ")");
  }
  plan.best = *best;
  plan.reason = std::string(ToString(best->kind)) + " is cheapest at " + internal::Usd(best->usd_per_month) + "/month";
  // Break-even: scale the whole profile by s; serverless cost is linear in s, replicas a step function.
  const ServeOption& sl = plan.options[0];
  if (sl.feasible) {
    auto replicas = [&](double s) {
      double cost = INFINITY;
      for (size_t idx = 1; idx < plan.options.size(); ++idx) {
        ServeOption o = CheapestReplicas(r, catalog, options, plan.options[idx].kind, load.peak_rps * s, 0);
        if (o.feasible) cost = std::min(cost, o.usd_per_month);
      }
      return cost;
    };
    auto diff = [&](double s) { return sl.usd_per_month * s - replicas(s); };
    double lo = 1e-6, hi = 1e6;
    if (diff(lo) < 0 && diff(hi) > 0) {
      for (int iter = 0; iter < 40; ++iter) {
        double mid = std::sqrt(lo * hi);
        (diff(mid) < 0 ? lo : hi) = mid;
      }
      plan.break_even_mean_rps = load.mean_rps * hi;
      char buffer[96];
      std::snprintf(buffer, sizeof(buffer), "; replicas become cheaper above %.3g req/s mean", *plan.break_even_mean_rps);
      plan.reason += buffer;
    }
  }
  return plan;
}

std::string FormatServePlan(const ServePlan& plan) {
  std::string out;
  char line[320];
  std::snprintf(line, sizeof(line), "%-14s %-20s %-15s %8s %12s %10s %9s  %s\n", "kind", "instance", "region", "replicas",
                "$/month", "$/1k req", "p95 s", "note");
  out += line;
  for (const ServeOption& o : plan.options) {
    std::snprintf(line, sizeof(line), "%-14s %-20s %-15s %8d %12.2f %10.4f %9.3f  %s%s\n", std::string(ToString(o.kind)).c_str(),
                  o.instance_type.c_str(), o.region.c_str(), o.replicas, o.usd_per_month, o.usd_per_1k_requests,
                  o.p95_latency_seconds, o.feasible ? "" : "INFEASIBLE: ", o.reason.c_str());
    out += line;
  }
  out += "choice: " + plan.reason + "\n";
  return out;
}

}  // namespace sskai::planner
