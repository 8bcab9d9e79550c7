// src/planner/simulator.cc — Monte Carlo execution of one training choice.
//
// Common random numbers: every draw is a pure function of (seed, trial, key), where the key is the
// offering's (type, region, zone) for preemptions and the accelerator model for runtime noise. Two
// policies that pick the same offering therefore see the same true interruption rate, the same
// unit-exponential gaps between preemptions and the same speed.
// Execution: periodic checkpoints every `checkpoint_interval_seconds` of work (each costs the write
// time); checkpoint-on-notice keeps all progress (the notice is assumed to be always delivered);
// otherwise an interruption loses the work since the last checkpoint. After an interruption the job
// waits restart + checkpoint read on a new spot instance (billed). Spot prices are constant.
// Fallback: at each restart and checkpoint the controller switches to the on-demand fallback when
// one more interruption would make the deadline unreachable on it.
#include <algorithm>
#include <cmath>

#include "planner/planner.h"

namespace sskai::planner {
namespace {

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Fnv(std::string_view text) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

// A deterministic stream of uniforms in (0, 1).
class Stream {
 public:
  Stream(uint64_t seed, int trial, std::string_view key)
      : state_(SplitMix(seed ^ SplitMix(static_cast<uint64_t>(trial) + 0x1234) ^ Fnv(key))) {}
  double Uniform() {
    state_ = SplitMix(state_);
    return (static_cast<double>(state_ >> 11) + 0.5) / 9007199254740992.0;
  }
  double Exponential() { return -std::log(Uniform()); }
  double Normal() { return std::sqrt(-2 * std::log(Uniform())) * std::cos(6.283185307179586 * Uniform()); }

 private:
  uint64_t state_;
};

constexpr double kBandLow[5] = {0.0, 0.05, 0.10, 0.15, 0.20};
constexpr double kBandHigh[5] = {0.05, 0.10, 0.15, 0.20, 0.50};

double NoiseFactor(uint64_t seed, int trial, const Offering& o, double sigma) {
  if (sigma <= 0) return 1;
  Stream stream(seed, trial, "speed|" + (o.accelerator.empty() ? o.instance_type : o.accelerator));
  return std::exp(sigma * stream.Normal() - sigma * sigma / 2);
}

}  // namespace

std::string_view ToString(Policy policy) {
  switch (policy) {
    case Policy::kSskai: return "sskai";
    case Policy::kTierRule: return "0.8/0.2 tier rule";
    case Policy::kCheapestFeasible: return "cheapest-feasible";
    case Policy::kHindsight: return "hindsight";
  }
  return "?";
}

TrainChoice ChoiceFromCandidate(const TrainCandidate& c) {
  TrainChoice choice;
  choice.offering_index = c.offering_index;
  choice.market = c.market;
  choice.nodes = c.nodes;
  choice.checkpoint_interval_seconds = c.checkpoint_interval_seconds;
  choice.checkpoint_on_notice = c.checkpoint_on_notice;
  choice.label = c.instance_type + " x" + std::to_string(c.nodes) + " " + std::string(ToString(c.market)) + " " + c.zone;
  return choice;
}

SimOutcome SimulateTraining(const TrainRequest& request, const Catalog& catalog, const TrainChoice& choice,
                            const PlanOptions& options, uint64_t seed, int trial) {
  double sigma = options.runtime_sigma;
  SimOutcome out;
  if (choice.offering_index < 0 || choice.offering_index >= static_cast<int>(catalog.offerings.size())) return out;
  const Offering& o = catalog.offerings[choice.offering_index];
  auto est = EstimateRun(request.workload, o, catalog, choice.nodes, options.perf);
  const auto& price = choice.market == Market::kSpot ? o.spot_usd_per_hour : o.ondemand_usd_per_hour;
  if (!est.ok() || !price) return out;
  double usd_per_second = *price * choice.nodes / 3600.0;
  double work = est->work_seconds * NoiseFactor(seed, trial, o, sigma);
  double give_up = 100 * request.deadline_seconds;
  if (choice.market == Market::kOnDemand) {
    out.seconds = work;
    out.cost_usd = work * usd_per_second;
    out.finished = true;
    out.met_deadline = out.seconds <= request.deadline_seconds;
    return out;
  }
  // Spot.
  std::string key = o.instance_type + "|" + o.region + "|" + o.zone;
  Stream rate_stream(seed, trial, "rate|" + key);
  double monthly = o.interruption_band >= 0
                       ? kBandLow[o.interruption_band] + rate_stream.Uniform() * (kBandHigh[o.interruption_band] - kBandLow[o.interruption_band])
                       : rate_stream.Uniform() * 0.5;
  double hazard = -std::log1p(-monthly) / 730.0 / 3600.0 * choice.nodes;  // per second
  Stream gaps(seed, trial, "gaps|" + key);
  double write = est->checkpoint_gib / options.checkpoint_write_gib_per_second;
  double restart = options.restart_seconds + est->checkpoint_gib / options.checkpoint_read_gib_per_second;
  bool notice = choice.checkpoint_on_notice;
  double tau = choice.checkpoint_interval_seconds;
  double segment_work = notice ? 1800 : (tau > 0 ? tau : work);
  double fb_work = 0, fb_usd_per_second = 0, fb_restart = 0, fb_planned = 0;
  if (choice.fallback) {
    const Offering& fo = catalog.offerings[choice.fallback->offering_index];
    fb_work = choice.fallback->work_seconds * NoiseFactor(seed, trial, fo, sigma);
    fb_planned = choice.fallback->quantile_seconds;  // what the controller believes
    fb_usd_per_second = choice.fallback->cluster_usd_per_hour / 3600.0;
    fb_restart = options.restart_seconds + est->checkpoint_gib / options.checkpoint_read_gib_per_second;
  }
  double t = 0, progress = 0;
  double next_interrupt = hazard > 0 ? gaps.Exponential() / hazard : INFINITY;
  while (progress < work) {
    if (t > give_up) {
      out.seconds = t;
      return out;
    }
    if (choice.fallback) {
      double one_more = restart + (notice ? 0 : segment_work + write);
      double planned = (1 - progress / work) * fb_planned;
      if (t + one_more + fb_restart + planned > request.deadline_seconds) {
        double run = fb_restart + (1 - progress / work) * fb_work;
        out.cost_usd += run * fb_usd_per_second;
        t += run;
        out.fell_back = true;
        progress = work;
        break;
      }
    }
    double seg = std::min(segment_work, work - progress);
    if (choice.fallback && notice) {
      // Next decision no later than when the slack for one more interruption runs out.
      double slack = request.deadline_seconds - t - restart - fb_restart - (1 - progress / work) * fb_planned;
      double shrink = 1 - fb_planned / work;  // slack lost per second of spot work
      if (shrink > 0) seg = std::min(seg, std::max(30.0, slack / shrink));
    }
    bool writes = !notice && tau > 0 && progress + seg < work;
    double seg_wall = seg + (writes ? write : 0);
    if (next_interrupt >= t + seg_wall) {
      t += seg_wall;
      progress += seg;
      out.cost_usd += seg_wall * usd_per_second;
      continue;
    }
    double elapsed = next_interrupt - t;
    out.cost_usd += (elapsed + restart) * usd_per_second;
    if (notice) progress += std::min(elapsed, seg);
    t = next_interrupt + restart;
    ++out.interruptions;
    next_interrupt = t + gaps.Exponential() / hazard;
  }
  out.finished = true;
  out.seconds = t;
  out.met_deadline = t <= request.deadline_seconds;
  return out;
}

}  // namespace sskai::planner
