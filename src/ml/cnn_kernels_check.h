// src/ml/cnn_kernels_check.h — compares the fused CNN forward (cnn_kernels.h) with its reference ATen
// composition on random weights and images; torch-free, for tests/ml/cnn_kernels_test.cc (internal to
// the ml module, like lm_kernels_check.h).
#pragma once

#include <cstdint>
#include <vector>

#include "ml/lm_kernels_check.h"

namespace sskai::ml::kernels {

// Runs a fixed list of cases (batch 1, small batches and one past the linear row loops' limit, 1
// and 3 channels, odd image sizes, sizes that need the adaptive average pool, convolutions with and
// without bias, non-trivial batch-norm statistics) with weights and pixels drawn from `seed`.
// KernelCheck::forward is the logits' max relative difference; backward is unused (0). A case with
// fused == false did not take the fused path.
std::vector<KernelCheck> CheckCnnKernels(uint64_t seed);

}  // namespace sskai::ml::kernels
