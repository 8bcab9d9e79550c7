// src/ml/cnn_kernels_loops.h — the loops behind cnn_kernels.h: plain fp32 arrays, no torch (internal
// to libsskai_ml.so). Images are channels-last (NHWC); the image functions handle one image, so
// callers split a batch across threads. On x86-64 the loops are compiled for AVX2+FMA only: call them
// only where cpu_dispatch.h's HasAvx2Fma() holds (CnnInference::Prepare checks it).
#pragma once

#include <cstdint>

namespace sskai::ml::kernels::loops {

// One image's 3×3 convolution (stride 1, padding 1) + per-channel bias + 2×2 max-pool (floor) +
// ReLU, i.e. relu(maxpool2(conv(x) + bias)) = maxpool2(relu(conv(x) + bias)).
//   in:  [h + 2, w + 2, c], the image with a zero border of 1 (padding done by the caller)
//   wt:  [3 (ky), 3 (kx), c, o] taps × input channels × output channels
//   bias [o]
//   out: pooled pixel (py, px) channel k at out[py * out_row + px * o + k], py < h / 2, px < w / 2
// `o` must be 16 or 32 (the CNN's layer widths; the compiled kernels keep o sums in registers).
void ConvBiasPoolRelu(const float* in, int64_t h, int64_t w, int64_t c, const float* wt, const float* bias,
                      int64_t o, float* out, int64_t out_row);

// Adaptive average pooling of one image [h, w, c] to [oh, ow, c] (cells as torch's
// adaptive_avg_pool2d: rows floor(i·h/oh) .. ceil((i+1)·h/oh)).
void AdaptiveAvgPool(const float* in, int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow, float* out);

// out [n, m] = x [n, k] · wᵀ + b (w [m, k] row-major, b [m] or null for none), then ReLU when
// `relu`: a few rows at a time over each weight row, for the small batches where a BLAS GEMM
// spends its time packing the weights. Row i of out starts at out + i · ldo (ldo < 0: m), so a
// caller may compute a slice of the outputs (w and b offset, out offset, ldo the full width).
// `prefetch`: the weights come from memory, read once per call (an LM decode step), so each next
// block of weight rows is prefetched while the current one computes.
void Linear(const float* x, int64_t n, int64_t k, const float* w, const float* b, int64_t m, bool relu, float* out,
            int64_t ldo = -1, bool prefetch = false);

}  // namespace sskai::ml::kernels::loops
