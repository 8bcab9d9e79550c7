// src/planner/perf_model.cc — runtime of a training workload on an offering.
//
// Compute: FLOPs per token = 6N + 12 L d s (full training; the perf reference's count) or
// 4N + 6T + 12 L d s (frozen base with T trainable params, LoRA-style). Achieved rate = MFU(N) x
// device peak for the precision; MFU is interpolated from the H200 eager measurements
// (../shared/data/perf) and assumed to transfer to other GPUs as the same fraction of their own peak.
// Memory traffic: a step reads weights three times (forward, backward x2), reads+writes the
// optimizer state and activations; at 70% of peak bandwidth. step = max(compute, memory) + comm.
// Communication: ring all-reduce of bf16 gradients, not overlapped with compute (conservative):
// 2(g-1)/g * G / bw_intra + 2(n-1)/n * G / bw_inter (hierarchical). Bandwidths below are achieved
// bus bandwidths we assume per family (stated, not measured):
//   intra-node: NVLink4 (p5*, p6*) 350 GB/s; NVLink3 (p4d/p4de) 200 GB/s; NVLink2 (p3, p3dn)
//   100 GB/s; PCIe-only multi-GPU (g4dn/g5/g6/g6e/...) 12 GB/s.
//   inter-node: EFA 3,200 Gbps (p5*, p6*) 320 GB/s; 400 Gbps (p4d/p4de) 40 GB/s; 100 Gbps (p3dn,
//   g5.48xlarge, g6e.*) 10 GB/s; others 25 Gbps = 2.5 GB/s; local (Slurm Ethernet) 10 Gbps = 1 GB/s.
// Memory (replicated data parallel: every GPU holds everything, no sharding): 16 bytes/param
// (bf16 weights 2 + grads 2 + fp32 master/Adam m/v 12; fp32 training 4+4+8) for trainable params,
// 2 bytes/param for frozen ones, activations 34 s b d L bytes (Korthikanti et al. 2022, flash
// attention, no recomputation), plus 1 GiB CUDA context. Checkpoint: 14 bytes/trainable param.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "planner/planner.h"

namespace sskai::planner {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kCudaContextGib = 1.0;
constexpr double kMemBwEfficiency = 0.7;
constexpr double kLoraMfuFactor = 0.5;  // perf reference: LoRA 0.245 vs full ~0.49 at 1.1-1.3B

// (params, eager bf16 training MFU) on H200, ../shared/data/perf/h200_pytorch_reference.csv.
constexpr double kMfuPoints[][2] = {{21.2e6, 0.219}, {134.1e6, 0.389}, {369.1e6, 0.409},
                                    {777.9e6, 0.452}, {1345.4e6, 0.491}, {2685.8e6, 0.465}};

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

double IntraNodeGBps(const Offering& o) {
  const std::string& t = o.instance_type;
  if (StartsWith(t, "p5") || StartsWith(t, "p6")) return 350;
  if (StartsWith(t, "p4d")) return 200;
  if (StartsWith(t, "p3")) return 100;
  return 12;
}

double InterNodeGBps(const Offering& o) {
  const std::string& t = o.instance_type;
  if (o.local) return 1;
  if (StartsWith(t, "p5") || StartsWith(t, "p6")) return 320;
  if (StartsWith(t, "p4d")) return 40;
  if (StartsWith(t, "p3dn") || t == "g5.48xlarge" || StartsWith(t, "g6e.")) return 10;
  return 2.5;
}

std::string Gib(double gib) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f", gib);
  return buffer;
}

}  // namespace

double MfuForParams(double params) {
  constexpr int kCount = sizeof(kMfuPoints) / sizeof(kMfuPoints[0]);
  if (params >= kMfuPoints[kCount - 1][0]) return kMfuPoints[kCount - 1][1];
  double x = std::log10(std::max(params, 1.0));
  int hi = 1;
  while (hi < kCount - 1 && params > kMfuPoints[hi][0]) ++hi;
  int lo = hi - 1;  // below the first point: extrapolate the first segment
  double x0 = std::log10(kMfuPoints[lo][0]), x1 = std::log10(kMfuPoints[hi][0]);
  double y = kMfuPoints[lo][1] + (x - x0) / (x1 - x0) * (kMfuPoints[hi][1] - kMfuPoints[lo][1]);
  return std::clamp(y, 0.02, 1.0);
}

Result<RunEstimate> EstimateRun(const TrainWorkload& w, const Offering& o, const Catalog& catalog,
                                int nodes, const PerfOptions& perf) {
  if (!(w.params > 0) || !(w.tokens > 0) || w.seq_len < 1 || w.micro_batch < 1 ||
      w.trainable_params < 0 || w.trainable_params > w.params || w.layers < 0 || w.d_model < 0 ||
      w.params > 1e13 || w.tokens > 1e15) {
    return Status::InvalidArgument(
        "workload: params and tokens must be > 0 (params <= 1e13, tokens <= 1e15), seq_len and "
        "micro_batch >= 1, 0 <= trainable_params <= params");
  }
  if (nodes < 1) return Status::InvalidArgument("nodes must be >= 1");
  int layers = w.layers;
  int d_model = w.d_model;
  if (layers == 0 || d_model == 0) {  // d = 128 L and N = 12 L d^2  =>  L = (N / 196608)^(1/3)
    layers = std::max(2, static_cast<int>(std::lround(std::cbrt(w.params / 196608.0))));
    d_model = 128 * layers;
  }
  double trainable = w.trainable_params > 0 ? w.trainable_params : w.params;
  bool frozen_base = trainable < w.params;
  double attention_flops = 12.0 * layers * d_model * w.seq_len;
  double flops_per_token = frozen_base ? 4 * w.params + 6 * trainable + attention_flops
                                       : 6 * w.params + attention_flops;
  double state_bytes_per_param = 16;
  double weight_bytes = w.precision == Precision::kFp32 ? 4 : 2;
  double activation_bytes = 34.0 * w.seq_len * w.micro_batch * d_model * layers *
                            (w.precision == Precision::kFp32 ? 2 : 1);
  RunEstimate est;
  est.per_gpu_memory_gib = (trainable * state_bytes_per_param + (w.params - trainable) * weight_bytes +
                            activation_bytes) / kGiB + kCudaContextGib;
  est.checkpoint_gib = trainable * 14 / kGiB;

  double devices_per_node = 1;
  double achieved_flops = 0;  // per device
  double mem_bw = 0;          // bytes/s per device; 0 = not modelled
  if (o.accelerator.empty()) {
    double needed = est.per_gpu_memory_gib - kCudaContextGib;
    if (needed > 0.9 * o.memory_gib) {
      return Status::FailedPrecondition("needs " + Gib(needed) + " GiB RAM, " + o.instance_type +
                                        " has " + Gib(o.memory_gib) + " GiB");
    }
    est.per_gpu_memory_gib = needed;
    achieved_flops = o.vcpus * perf.cpu_peak_gflops_per_vcpu * 1e9 * perf.cpu_efficiency;
    est.mfu = perf.cpu_efficiency;
  } else {
    const GpuSpec* gpu = catalog.FindGpu(o.accelerator);
    if (gpu == nullptr) return Status::NotFound("unknown GPU '" + o.accelerator + "'");
    if (!gpu->cuda) {
      return Status::FailedPrecondition(o.accelerator + " is not a CUDA GPU (sskai trains with PyTorch/CUDA)");
    }
    double peak = w.precision == Precision::kFp32 ? gpu->fp32_tflops
                  : gpu->bf16_tflops > 0          ? gpu->bf16_tflops
                                                  : gpu->fp16_tflops;
    if (w.precision == Precision::kBf16 && gpu->bf16_tflops <= 0) peak = gpu->fp16_tflops;
    if (!(peak > 0)) {
      return Status::FailedPrecondition("no compute spec (TFLOPS) for GPU " + o.accelerator + " in gpu_specs.csv");
    }
    if (est.per_gpu_memory_gib > o.accelerator_memory_gib) {
      return Status::FailedPrecondition("needs " + Gib(est.per_gpu_memory_gib) +
                                        " GiB per GPU (replicated data parallel), " + o.accelerator +
                                        " has " + Gib(o.accelerator_memory_gib) + " GiB");
    }
    double fraction = o.accelerator_count < 1 ? o.accelerator_count : 1;
    devices_per_node = std::max(1.0, std::floor(o.accelerator_count));
    double mfu = std::min(perf.max_mfu, MfuForParams(w.params) * perf.mfu_scale);
    if (frozen_base) mfu *= kLoraMfuFactor;
    est.mfu = mfu;
    achieved_flops = mfu * peak * 1e12 * fraction;
    mem_bw = gpu->mem_bw_gbps * 1e9 * kMemBwEfficiency * fraction;
  }
  double devices = devices_per_node * nodes;
  double tokens_per_device_step = static_cast<double>(w.micro_batch) * w.seq_len;
  double compute_seconds = flops_per_token * tokens_per_device_step / achieved_flops;
  double memory_seconds = 0;
  if (mem_bw > 0) {
    double bytes = 3 * w.params * weight_bytes + 2 * trainable * state_bytes_per_param + 2 * activation_bytes;
    memory_seconds = bytes / mem_bw;
  }
  double grad_bytes = trainable * weight_bytes;
  double comm = 0;
  if (devices_per_node > 1) {
    comm += 2 * (devices_per_node - 1) / devices_per_node * grad_bytes / (IntraNodeGBps(o) * 1e9);
  }
  if (nodes > 1) comm += 2.0 * (nodes - 1) / nodes * grad_bytes / (InterNodeGBps(o) * 1e9);
  est.comm_seconds_per_step = comm;
  est.step_seconds = std::max(compute_seconds, memory_seconds) + comm;
  est.steps = w.tokens / (tokens_per_device_step * devices);
  est.work_seconds = est.steps * est.step_seconds;
  return est;
}

}  // namespace sskai::planner
