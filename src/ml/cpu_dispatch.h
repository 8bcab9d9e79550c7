// src/ml/cpu_dispatch.h — runtime choice between an AVX2+FMA build and a baseline build of the
// fused kernels' loops, and the CPU probe behind precision "auto" (internal to the ml module; no
// torch).
//
// GCC's target_clones("arch=haswell", ...) resolves by CPU *model*, so AMD CPUs with AVX2 and FMA
// got the baseline clone, and target("avx2,fma") function versions dispatch only for callers in
// the same file. SSKAI_DISPATCHED instead defines `void name params` once: it calls the AVX2+FMA
// instantiation of `name##Impl` on CPUs that report both features, the baseline one elsewhere
// (decided once per process).
#pragma once

#include <cstdlib>

namespace sskai::ml::kernels {

#if defined(__x86_64__) && defined(__GNUC__)
#define SSKAI_AVX2_FMA __attribute__((target("avx2,fma")))
// SSKAI_CPU_BASELINE=1 in the environment forces the baseline builds (tests run both).
inline bool HasAvx2Fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          std::getenv("SSKAI_CPU_BASELINE") == nullptr;
  return yes;
}
// AVX512-BF16 dot products with AVX-512 BW/VL/DQ (what oneDNN's bf16 matmul needs to run in bf16
// instructions instead of emulating them); SSKAI_CPU_BASELINE=1 also turns this off.
inline bool HasNativeBf16() {
  static const bool yes = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                          std::getenv("SSKAI_CPU_BASELINE") == nullptr;
  return yes;
}
#else
#define SSKAI_AVX2_FMA
inline bool HasAvx2Fma() { return false; }
inline bool HasNativeBf16() { return false; }
#endif

// `name##Impl` must be an always_inline function taking `args`, so each wrapper compiles its own
// copy of the loop for its target.
#define SSKAI_DISPATCHED(name, params, args)               \
  namespace {                                              \
  SSKAI_AVX2_FMA void name##Avx2Fma params { name##Impl args; } \
  void name##Baseline params { name##Impl args; }          \
  }                                                        \
  void name params {                                       \
    if (::sskai::ml::kernels::HasAvx2Fma()) {              \
      name##Avx2Fma args;                                  \
    } else {                                               \
      name##Baseline args;                                 \
    }                                                      \
  }

}  // namespace sskai::ml::kernels
