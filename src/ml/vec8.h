// src/ml/vec8.h — eight floats as one value for the hand-written CPU loops (internal to the ml
// module; no torch): GCC's vector extension, one AVX register (two SSE registers in a baseline
// build), so an accumulator's layout is explicit instead of left to the auto-vectorizer. The
// helpers carry no target attribute, so they inline into loops of any target.
#pragma once

#include <cstring>

namespace sskai::ml::kernels {

typedef float V8 __attribute__((vector_size(32)));

// Unaligned load / store of 8 floats.
inline __attribute__((always_inline)) V8 Load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline __attribute__((always_inline)) void Store8(float* p, V8 v) { std::memcpy(p, &v, sizeof v); }

}  // namespace sskai::ml::kernels
