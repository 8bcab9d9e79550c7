// src/planner/train_model.cc — the training cost model for one (offering, market, nodes) choice.
//
// Bands -> hazard: the Spot Advisor band is the fraction of capacity reclaimed over a month. We read
// it as P(an instance is interrupted within 730 h) = p (band midpoint, PlanOptions::band_monthly_rate)
// and assume a constant hazard: lambda = -ln(1 - p) / 730 per hour per instance. A run on n
// instances restarts when any is interrupted (whole-cluster restart): Lambda = n * lambda.
// Spot time: with checkpoint write time C, restart R0 (+ checkpoint read), either
//  - checkpoint on notice when C + margin <= notice (120 s): no lost work, no periodic checkpoints;
//  - else Young/Daly periodic checkpoints tau = sqrt(2 C M) - C (M = 1 / Lambda), clamped to
//    [C, work]: overhead (W / tau) C, lost work per interruption (tau + C) / 2 expected, tau + C worst.
// Runtime uncertainty: the quantile multiplies the work by exp(z_p s - s^2/2) (s = runtime_sigma),
// combined conservatively with the interruption quantile.
// Expected wall time T = base / (1 - Lambda R_exp) (renewal argument: interruptions arrive at rate
// Lambda during the whole run, each costs R_exp). The deadline quantile uses K ~ Poisson(Lambda T_q)
// interruptions at the worst-case cost each: T_q = base + K_p R_worst (fixed point). Instances are
// billed for the whole wall time (restarts included: conservative).
#include <algorithm>
#include <cmath>

#include "planner/planner.h"
#include "planner/train_internal.h"

namespace sskai::planner {
namespace {

// Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
double NormalQuantile(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01, -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                 3.754408661907416e+00};
  p = std::clamp(p, 1e-12, 1 - 1e-12);
  if (p < 0.02425) {
    double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - 0.02425) return -NormalQuantile(1 - p);
  double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// Smallest k with P(Poisson(mean) <= k) >= p.
double PoissonQuantile(double mean, double p) {
  if (mean <= 0) return 0;
  if (mean > 500) return std::ceil(mean + NormalQuantile(p) * std::sqrt(mean) - 0.5);  // normal approx.
  double pmf = std::exp(-mean);
  double cdf = pmf;
  double k = 0;
  while (cdf < p && k < 10000) {
    k += 1;
    pmf *= mean / k;
    cdf += pmf;
  }
  return k;
}

}  // namespace

double HazardPerHour(int band, const PlanOptions& options) {
  double monthly = (band >= 0 && band <= 4) ? options.band_monthly_rate[band] : options.unknown_band_monthly_rate;
  monthly = std::clamp(monthly, 0.0, 0.999);
  return -std::log1p(-monthly) / 730.0;
}

namespace internal {

Result<TrainCandidate> EvaluateWithEstimate(const TrainRequest& request, const Offering& o,
                                            int offering_index, Market market, int nodes,
                                            const RunEstimate& est, const PlanOptions& options) {
  TrainCandidate c;
  c.offering_index = offering_index;
  c.instance_type = o.instance_type;
  c.region = o.region;
  c.zone = o.zone;
  c.accelerator = o.accelerator;
  c.market = market;
  c.nodes = nodes;
  c.gpus = o.accelerator.empty() ? 0 : o.accelerator_count * nodes;
  const std::optional<double>& price = market == Market::kSpot ? o.spot_usd_per_hour : o.ondemand_usd_per_hour;
  if (!price) {
    return Status::FailedPrecondition(o.instance_type + " in " + o.region + " has no " +
                                      std::string(ToString(market)) + " price");
  }
  if (o.local && market == Market::kSpot) return Status::FailedPrecondition("local compute has no spot market");
  if (o.local && nodes > o.max_nodes) {
    return Status::FailedPrecondition(o.instance_type + " has only " + std::to_string(o.max_nodes) + " node(s)");
  }
  c.cluster_usd_per_hour = *price * nodes;
  c.work_seconds = est.work_seconds;
  double base = est.work_seconds;
  double r_exp = 0, r_worst = 0;
  // Runtime-model uncertainty at the same quantile (lognormal, mean-preserving: exp(z s - s^2/2)).
  double sigma = options.runtime_sigma;
  double slow = std::exp(NormalQuantile(request.deadline_probability) * sigma - sigma * sigma / 2);
  if (market == Market::kSpot) {
    c.hazard_per_hour = HazardPerHour(o.interruption_band, options) * nodes;
    if (o.interruption_band < 0) c.note = "interruption band unknown: assumed worst (35%/month)";
    double rate = c.hazard_per_hour / 3600.0;
    double write = est.checkpoint_gib / options.checkpoint_write_gib_per_second;
    double read = est.checkpoint_gib / options.checkpoint_read_gib_per_second;
    double restart = options.restart_seconds + read;
    if (write + options.notice_margin_seconds <= options.notice_seconds) {
      c.checkpoint_on_notice = true;
      r_exp = r_worst = restart;
    } else {
      double mtbf = 1.0 / rate;
      double tau = std::sqrt(2 * write * mtbf) - write;
      tau = std::clamp(tau, write, std::max(write, est.work_seconds));
      c.checkpoint_interval_seconds = tau;
      base += est.work_seconds / tau * write;
      r_exp = restart + (tau + write) / 2;
      r_worst = restart + tau + write;
    }
    if (rate * r_exp >= 0.9) {
      return Status::FailedPrecondition("interrupted about every " + std::to_string(static_cast<int>(1 / rate)) +
                                        " s, too often to make progress");
    }
    c.expected_seconds = base / (1 - rate * r_exp);
    c.expected_interruptions = rate * c.expected_seconds;
    double tq = base * slow;
    for (int iter = 0; iter < 50; ++iter) {
      double next = base * slow + PoissonQuantile(rate * tq, request.deadline_probability) * r_worst;
      if (next <= tq || next > 1e3 * std::max(request.deadline_seconds, base)) {
        tq = std::max(tq, next);
        break;
      }
      tq = next;
    }
    c.quantile_seconds = std::max(tq, c.expected_seconds);
  } else {
    c.expected_seconds = base;
    c.quantile_seconds = base * slow;
  }
  c.expected_cost_usd = c.cluster_usd_per_hour * c.expected_seconds / 3600.0;
  c.quantile_cost_usd = c.cluster_usd_per_hour * c.quantile_seconds / 3600.0;
  c.meets_deadline = c.quantile_seconds <= request.deadline_seconds;
  return c;
}

}  // namespace internal

Result<TrainCandidate> EvaluateTraining(const TrainRequest& request, const Catalog& catalog,
                                        const Offering& offering, Market market, int nodes,
                                        const PlanOptions& options) {
  SSKAI_ASSIGN_OR_RETURN(RunEstimate est, EstimateRun(request.workload, offering, catalog, nodes, options.perf));
  int index = -1;
  if (!catalog.offerings.empty() && &offering >= &catalog.offerings.front() &&
      &offering <= &catalog.offerings.back()) {
    index = static_cast<int>(&offering - &catalog.offerings.front());
  }
  return internal::EvaluateWithEstimate(request, offering, index, market, nodes, est, options);
}

}  // namespace sskai::planner
