// src/planner/planner.h — where and how to train and serve for the least money.
//
// Four parts, all pure functions over value types (no I/O except LoadCatalog/ApplyPriceFile, no
// clock: dates and times are arguments, randomness is an explicit seed):
//   1. Catalog: offerings (cloud instance types per region/zone with on-demand and spot prices and
//      the Spot Advisor interruption band, plus local compute), GPU specs and serverless prices.
//   2. Performance model: runtime of a training workload on N instances of an offering.
//   3. Plans: PlanTraining (offering x nodes x spot/on-demand x checkpoint interval minimising
//      expected cost under a probabilistic deadline) and PlanServing (serverless vs dedicated vs
//      spot replicas, cost per month and per 1,000 requests, break-even traffic).
//   4. Simulator: Monte Carlo preemptions for comparing policies on the same draws.
// The model, its assumptions and formulas are documented in docs/planner.md.
// Thread-safety: all types are values; all functions are reentrant. A Catalog is immutable once
// loaded and may be shared by reference between threads.
// Errors: kInvalidArgument for bad requests or malformed files (message names file:line field),
// kNotFound for unknown instance types / GPUs / regions, kFailedPrecondition when nothing can
// satisfy a request (message says what was closest).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sskai::planner {

// ---------------------------------------------------------------------------------- catalog
enum class Market : uint8_t { kOnDemand, kSpot };
std::string_view ToString(Market market);  // "on-demand", "spot"

struct GpuSpec {
  std::string name;            // catalog AcceleratorName, e.g. "A10G", "H100"
  double memory_gib = 0;       // per device
  double mem_bw_gbps = 0;      // GB/s; 0 = unknown
  double fp32_tflops = 0;      // dense peaks; 0 = unknown
  double bf16_tflops = 0;
  double fp16_tflops = 0;
  bool cuda = false;           // an NVIDIA GPU that PyTorch/CUDA can train on
};

struct Offering {
  std::string instance_type;   // "g5.xlarge", or the local name ("this-machine", "slurm:gpu")
  std::string region;          // "us-east-1"; "local" for local compute
  std::string zone;            // AZ; for local compute the name again
  std::string arch;            // "x86_64" / "arm64"
  double vcpus = 0;
  double memory_gib = 0;
  std::string accelerator;     // "" = CPU only
  double accelerator_count = 0;       // per instance; fractional for g6f/gr6f partitions
  double accelerator_memory_gib = 0;  // per device (per partition)
  std::optional<double> ondemand_usd_per_hour;  // absent: no on-demand price in the source
  std::optional<double> spot_usd_per_hour;      // absent: no spot market
  int interruption_band = -1;  // Spot Advisor 0..4 (<5%,5-10,10-15,15-20,>20% per month); -1 unknown
  bool local = false;          // this machine or a Slurm partition; never preempted
  int max_nodes = 0;           // local compute: how many nodes exist (0 = unlimited cloud)
};

struct ServerlessPricing {
  double usd_per_gb_second = 0;          // Lambda x86_64, first tier
  double usd_per_million_requests = 0;
  double memory_mb_min = 0, memory_mb_max = 0;
  double mb_per_vcpu = 0;                // 1,769 MB = 1 vCPU
  double max_timeout_seconds = 0;
  double spot_notice_seconds = 0;        // EC2 spot interruption notice (120 s)
};

struct Catalog {
  std::string catalog_date;   // manifest.txt catalog_date, "YYYY-MM-DD"
  std::string prices_date;    // as_of of the newest applied price file; else catalog_date
  std::vector<Offering> offerings;   // one row per (type, region, zone)
  std::vector<GpuSpec> gpus;
  ServerlessPricing serverless;

  const GpuSpec* FindGpu(std::string_view name) const;  // nullptr when unknown
  bool HasInstanceType(std::string_view instance_type) const;
};

// The catalog in force: a refresh builds a new Catalog and swaps it in whole, so readers holding
// the old one (a plan in progress) keep a consistent snapshot. Thread-safe.
class CatalogHolder {
 public:
  std::shared_ptr<const Catalog> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return catalog_;
  }
  void Set(std::shared_ptr<const Catalog> catalog) {
    std::lock_guard<std::mutex> lock(mu_);
    catalog_ = std::move(catalog);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Catalog> catalog_;  // nullptr = none loaded
};

// Loads <dir>/{manifest.txt, offerings.csv, gpu_specs.csv, serverless.csv} (data/catalog/).
// Errors: kNotFound (missing file), kInvalidArgument ("offerings.csv:12: field 'vcpus': ...").
Result<Catalog> LoadCatalog(const std::string& dir);
// Parses one file's text; `file_name` is used in error messages. Exposed for tests and refresh.
Result<std::vector<Offering>> ParseOfferingsCsv(std::string_view text, std::string_view file_name);
Result<std::vector<GpuSpec>> ParseGpuSpecsCsv(std::string_view text, std::string_view file_name);

// Catalog refresh. A price file is "# as_of=YYYY-MM-DD" followed by a CSV with header
// instance_type,region,zone,ondemand_usd_per_hour,spot_usd_per_hour[,interruption_band]; an empty
// cell keeps the current value. Every row must name an existing (type, region, zone); prices must be
// finite, > 0 and < 10,000 $/h; as_of must not be older than the catalog's prices_date. The update is
// all-or-nothing: returns a new Catalog, `base` is untouched.
Result<Catalog> ApplyPriceText(const Catalog& base, std::string_view text, std::string_view file_name);
Result<Catalog> ApplyPriceFile(const Catalog& base, const std::string& path);

// Local compute as offerings (region "local", never spot, never preempted).
struct LocalCompute {
  enum class Pricing : uint8_t { kZero, kRate, kSameAs };
  std::string name;             // "this-machine", "slurm:gpu"
  double vcpus = 0, memory_gib = 0;
  std::string accelerator;      // must be a catalog GPU name when set
  double accelerator_count = 0;
  int nodes = 1;                // how many such nodes exist (Slurm partition size)
  Pricing pricing = Pricing::kZero;
  double usd_per_hour = 0;      // kRate
  std::string same_as_instance_type;     // kSameAs: that type's on-demand price ...
  std::string same_as_region = "us-east-1";  // ... in this region
};
// Appends `local` to a copy of `base`. Errors: kNotFound (unknown GPU or same-as type/region),
// kInvalidArgument (non-positive sizes, negative rate, duplicate name).
Result<Catalog> AddLocalCompute(const Catalog& base, const std::vector<LocalCompute>& local);

// ------------------------------------------------------------------------ performance model
enum class Precision : uint8_t { kBf16, kFp16, kFp32 };

struct TrainWorkload {
  double params = 0;            // model parameters, > 0
  double trainable_params = 0;  // 0 = all (full training); less = LoRA-style frozen base
  int layers = 0, d_model = 0;  // 0 = derived from params (d_model = 128 x layers)
  int seq_len = 1024;           // tokens per sample
  int micro_batch = 8;          // samples per GPU per step (data parallel, replicated)
  double tokens = 0;            // total tokens to process (dataset tokens x epochs), > 0
  Precision precision = Precision::kBf16;
};

struct PerfOptions {
  double cpu_peak_gflops_per_vcpu = 32;  // FP32 FMA peak of one vCPU (AVX2 2x8x2 at 1 GHz-equivalent)
  double cpu_efficiency = 0.30;          // achieved fraction on CPU; calibrate per machine
  double mfu_scale = 1.0;                // multiplies the H200-calibrated MFU curve
  double max_mfu = 0.80;                 // ceiling (single 8192^3 bf16 GEMM on H200)
};

struct RunEstimate {
  double step_seconds = 0;       // one optimizer step (compute or memory bound, plus all-reduce)
  double comm_seconds_per_step = 0;
  double steps = 0;
  double work_seconds = 0;       // steps x step_seconds, without interruptions
  double mfu = 0;                // achieved fraction of the device peak
  double per_gpu_memory_gib = 0; // weights + grads + optimizer + activations (replicated)
  double checkpoint_gib = 0;     // what a checkpoint writes (weights + optimizer state)
};

// Achieved model-FLOPs utilisation for full bf16 training of a `params` model on an H100/H200-class
// GPU (piecewise-linear in log10(params), from ../shared/data/perf), before mfu_scale.
double MfuForParams(double params);
// Runtime of `workload` on `nodes` instances of `offering`. Errors: kInvalidArgument (bad numbers),
// kFailedPrecondition (no compute spec for the accelerator, not CUDA, or memory does not fit:
// the message gives needed vs available GiB).
Result<RunEstimate> EstimateRun(const TrainWorkload& workload, const Offering& offering,
                                const Catalog& catalog, int nodes, const PerfOptions& perf);

// Analytic profile of a Llama-family LM from its config.json shape (the measured side of a profile
// needs the engine; see Engine::ProfileJson for built-in models).
struct LmShape {
  double vocab = 0, hidden = 0, intermediate = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0;
  bool tied_embeddings = false, qkv_bias = false, qk_norm = false;
};
struct LmProfile {
  double params = 0, trainable_params = 0;
  double flops_forward_per_token = 0;   // matmuls (incl. lm_head) + attention at seq_len
  double flops_train_per_token = 0;     // 3x forward (full); 2x forward + adapters (LoRA)
  double weights_bytes = 0, gradient_bytes = 0, optimizer_bytes = 0;  // optimizer: AdamW m, v
                                                                      // (+ fp32 master at 16 bit)
  double activation_bytes = 0;          // kept for backward at seq_len x micro_batch (no recompute)
  double kv_cache_bytes_per_token = 0;
  double inference_bytes = 0;           // weights + KV cache for seq_len x micro_batch
  double training_bytes = 0;            // weights + gradients + optimizer + activations
  double checkpoint_bytes = 0;          // trainable weights + optimizer state
};
// `lora_rank` 0 = full fine-tuning; > 0 = LoRA on q,k,v,o,gate,up,down. Errors: kInvalidArgument
// (non-positive sizes, heads not dividing, seq_len/micro_batch < 1).
Result<LmProfile> ProfileLm(const LmShape& shape, int seq_len, int micro_batch, Precision precision,
                            int lora_rank);

// ---------------------------------------------------------------------------- training plan
struct TrainRequest {
  TrainWorkload workload;
  double deadline_seconds = 0;          // wall clock from submission, > 0
  double deadline_probability = 0.95;   // in (0, 1): P(finish <= deadline) required
  std::optional<double> budget_usd;     // expected cost cap
  std::optional<double> max_usd_per_hour;  // cap on the whole cluster's hourly price
  std::vector<std::string> regions;     // allowed regions; empty = all (local always allowed)
  std::vector<std::string> instance_types;  // allowed types; empty = all; unknown -> kNotFound
  bool allow_spot = true;
  int max_nodes = 8;                    // instances per run, 1..64
};

struct PlanOptions {
  PerfOptions perf;
  double restart_seconds = 300;          // new instance + image + process start after a preemption
  double checkpoint_write_gib_per_second = 0.5;  // to the object store
  double checkpoint_read_gib_per_second = 1.0;
  double notice_seconds = 120;           // spot notice; checkpoint-on-notice if the write fits
  double notice_margin_seconds = 20;     // detection delay + slack inside the notice
  // Monthly interruption probability used for each band 0..4 (midpoints; >20% taken as 35%).
  double band_monthly_rate[5] = {0.025, 0.075, 0.125, 0.175, 0.35};
  double unknown_band_monthly_rate = 0.35;  // no advisor data: assume the worst band (stated)
  double runtime_sigma = 0.10;           // lognormal uncertainty of the runtime model (both the
                                         // deadline quantile and the simulator's draws use it)
  int ranked_rows = 10;                  // rows kept in TrainPlan::ranked
};

// Per-instance hazard (interruptions per hour) for a band: -ln(1 - monthly) / 730 h.
double HazardPerHour(int interruption_band, const PlanOptions& options);

struct TrainCandidate {
  int offering_index = -1;               // into Catalog::offerings
  std::string instance_type, region, zone, accelerator;
  Market market = Market::kOnDemand;
  int nodes = 1;
  double gpus = 0;                       // total devices
  double cluster_usd_per_hour = 0;
  double hazard_per_hour = 0;            // cluster (any node preempted restarts the run)
  double checkpoint_interval_seconds = 0;  // 0 = none periodic (on-demand or checkpoint on notice)
  bool checkpoint_on_notice = false;
  double work_seconds = 0;               // without interruptions
  double expected_seconds = 0, quantile_seconds = 0;   // quantile = deadline_probability
  double expected_cost_usd = 0, quantile_cost_usd = 0;
  double expected_interruptions = 0;
  bool meets_deadline = false;
  std::string note;                      // e.g. "band unknown: assumed >20%/month"
};

struct RejectedClass {
  std::string name;    // "H100 spot", "T4 on-demand", "CPU", "B300"
  std::string reason;  // one line
};

struct TrainPlan {
  TrainCandidate best;
  std::vector<TrainCandidate> ranked;     // feasible, by expected cost; best first
  std::vector<RejectedClass> rejected;
  std::optional<TrainCandidate> best_ondemand;  // savings baseline
  // What a spot run switches to when it falls behind: the cheapest feasible on-demand candidate
  // finishing within half the deadline at the quantile (else the fastest feasible on-demand one).
  std::optional<TrainCandidate> fallback;
  double savings_vs_ondemand = 0;         // 1 - best/best_ondemand (expected cost)
  std::string reason;                     // one line: why the winner
  std::string catalog_date, prices_date;
  int candidates_evaluated = 0;
};

// Picks the feasible candidate with the least expected cost. Feasible: fits per-GPU memory,
// quantile_seconds <= deadline, within budget and price caps. Errors: kInvalidArgument (bad request),
// kNotFound (unknown instance type/region filter), kFailedPrecondition (nothing feasible; the
// message names the closest candidate and what it misses by).
Result<TrainPlan> PlanTraining(const TrainRequest& request, const Catalog& catalog,
                               const PlanOptions& options);
// The cost model for one choice (used by the planner, tests and the simulator).
Result<TrainCandidate> EvaluateTraining(const TrainRequest& request, const Catalog& catalog,
                                        const Offering& offering, Market market, int nodes,
                                        const PlanOptions& options);
Status ValidateTrainRequest(const TrainRequest& request, const Catalog& catalog);
std::string FormatTrainPlan(const TrainPlan& plan);  // ranked table + reasons, for CLI/logs

// ----------------------------------------------------------------------------- serving plan
struct TrafficProfile {
  double mean_rps = 0;              // while active
  double peak_rps = 0;              // >= mean_rps
  double active_hours_per_day = 24; // (0, 24]
  std::vector<double> hourly_rps;   // optional day profile (24 values); overrides the three above
};

struct ServeRequest {
  TrafficProfile traffic;
  double latency_objective_seconds = 1.0;  // p95 end-to-end, > 0
  double request_gflops = 0;        // compute per request (forward pass), > 0
  double model_memory_gib = 0;      // weights + runtime working set, > 0
  bool needs_gpu = false;           // true: CPU-only serverless is not an option
  std::vector<std::string> regions;          // empty = all
  std::vector<std::string> instance_types;   // empty = all
  bool allow_spot = true;
};

struct ServeOptions {
  PerfOptions perf;
  double gpu_serve_efficiency = 0.25;     // achieved fraction of peak for batch-1 inference
  double max_utilisation = 0.7;           // target per replica (queueing headroom)
  double serverless_init_seconds = 0.4;   // runtime start (Lambda Python p50 150-400 ms)
  double serverless_load_gib_per_second = 0.1;  // model download + load on a cold start
  double serverless_idle_seconds = 600;   // an idle instance is reclaimed after this
  double serverless_overhead_mb = 256;    // runtime memory on top of the model
  double spot_replacement_seconds = 300;  // on-demand fallback replica start after a notice
  PlanOptions plan;                       // band hazards
  double hours_per_month = 730;
};

enum class ServeKind : uint8_t { kServerless, kDedicated, kSpotWithFallback };
std::string_view ToString(ServeKind kind);  // "serverless", "dedicated", "spot+fallback"

struct ServeOption {
  ServeKind kind = ServeKind::kServerless;
  bool feasible = false;
  std::string instance_type, region;     // dedicated/spot; serverless: "lambda-<MB>MB"
  int replicas = 0;                      // at peak
  double usd_per_month = 0, usd_per_1k_requests = 0;
  double service_seconds = 0;            // one request, no queueing
  double p95_latency_seconds = 0;        // warm; serverless cold starts reported separately
  double cold_start_seconds = 0, cold_fraction = 0;
  std::string reason;                    // why infeasible or what it assumes
};

struct ServePlan {
  std::vector<ServeOption> options;      // one per kind (the cheapest feasible of that kind)
  ServeOption best;
  double requests_per_month = 0;
  std::optional<double> break_even_mean_rps;  // mean req/s where serverless and replicas cost the same
  std::string reason;
};

// Errors: kInvalidArgument (bad traffic/latency/numbers), kFailedPrecondition (no option feasible).
Result<ServePlan> PlanServing(const ServeRequest& request, const Catalog& catalog,
                              const ServeOptions& options);
std::string FormatServePlan(const ServePlan& plan);

// -------------------------------------------------------------------------------- simulator
// One way to run a training job, as a policy would execute it.
struct TrainChoice {
  int offering_index = -1;               // into Catalog::offerings
  Market market = Market::kOnDemand;
  int nodes = 1;
  double checkpoint_interval_seconds = 0;  // 0 = no periodic checkpoints
  bool checkpoint_on_notice = false;
  std::optional<TrainCandidate> fallback;  // switch to this on-demand choice to save the deadline
  std::string label;
};
TrainChoice ChoiceFromCandidate(const TrainCandidate& candidate);

struct SimOutcome {
  double cost_usd = 0, seconds = 0;
  bool met_deadline = false, finished = false, fell_back = false;
  int interruptions = 0;
};
// Runs `choice` once. Draws depend only on (seed, trial, offering key, accelerator), so policies that
// pick the same offering see the same preemptions and runtime noise. The true monthly interruption
// rate of each (type, region, zone) is drawn uniformly inside its band; work time gets a lognormal
// factor (sigma options.runtime_sigma) per accelerator model. The fallback switch decision uses the
// fallback's modelled quantile time, not its drawn one. Gives up at 100x the deadline (finished=false).
SimOutcome SimulateTraining(const TrainRequest& request, const Catalog& catalog,
                            const TrainChoice& choice, const PlanOptions& options, uint64_t seed,
                            int trial);

enum class Policy : uint8_t { kSskai, kTierRule, kCheapestFeasible, kHindsight };
std::string_view ToString(Policy policy);

// The prototype's rule (0.8 x per-GPU spot price + 0.2 x benchmark, origin.md sec. 5.1, 4 workers,
// checkpoint per epoch) and SkyPilot-like cheapest-feasible (cheapest hourly offering that fits,
// 1-hour runtime assumed, interruptions ignored, 30-min checkpoints; GPU offerings only, as a
// SkyPilot user asks for an accelerator). Errors: kFailedPrecondition.
Result<TrainChoice> ChooseTierRule(const TrainRequest& request, const Catalog& catalog,
                                   const PlanOptions& options, int epochs);
Result<TrainChoice> ChooseCheapestFeasible(const TrainRequest& request, const Catalog& catalog,
                                           const PlanOptions& options);

struct PolicyStats {
  Policy policy = Policy::kSskai;
  std::string choice;                    // label of the (first trial's) choice
  double mean_cost_usd = 0, p95_cost_usd = 0, mean_hours = 0;
  double deadline_success = 0;           // fraction of trials
  double finished = 0;                   // fraction of trials that completed (gave up at 100x deadline)
  double regret = 0;                     // mean cost / hindsight mean cost - 1
  std::string error;                     // policy could not choose
};
// Runs every policy on `trials` shared draws. Hindsight = per trial, the cheapest candidate of the
// planner's candidate set that met the deadline in that trial.
Result<std::vector<PolicyStats>> CompareTrainingPolicies(const TrainRequest& request,
                                                         const Catalog& catalog,
                                                         const PlanOptions& options, int trials,
                                                         uint64_t seed, int epochs = 3);

}  // namespace sskai::planner
