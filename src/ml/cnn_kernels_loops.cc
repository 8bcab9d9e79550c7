// src/ml/cnn_kernels_loops.cc — fp32 loops of the fused CNN inference (see cnn_kernels_loops.h).
//
// The convolution keeps the `o` sums of two or four output pixels in vector registers (o is a
// template constant) and walks the 3·c contiguous input values of each kernel row (channels-last,
// so the three kx taps of a row are adjacent), broadcasting each into multiply-adds over the
// weights' contiguous output channels.
#include "ml/cnn_kernels_loops.h"

#include <algorithm>

#include "ml/cpu_dispatch.h"
#include "ml/vec8.h"

#define SSKAI_INLINE inline __attribute__((always_inline))

namespace sskai::ml::kernels::loops {

namespace {

SSKAI_INLINE V8 Load(const float* p) { return Load8(p); }
SSKAI_INLINE void Store(float* p, V8 v) { Store8(p, v); }
SSKAI_INLINE V8 Max(V8 a, V8 b) { return a > b ? a : b; }

// Adds the 3×3 window sums of P output pixels (input offsets `offs` from `base`) into acc: each
// weight vector is loaded once for the P pixels, and the P·O/8 accumulators are independent, which
// hides the FMA latency.
template <int O, int P>
SSKAI_INLINE void Window(const float* base, const int64_t (&offs)[P], const float* wt, int64_t row, int64_t taps,
                         V8 (&acc)[P][O / 8]) {
  for (int64_t ky = 0; ky < 3; ++ky) {
    const float* x = base + ky * row;
    const float* wk = wt + ky * taps * O;
    for (int64_t t = 0; t < taps; ++t) {
      V8 wv[O / 8];
      for (int l = 0; l < O / 8; ++l) wv[l] = Load(wk + t * O + 8 * l);
      for (int p = 0; p < P; ++p) {
        const float v = x[offs[p] + t];
        for (int l = 0; l < O / 8; ++l) acc[p][l] += v * wv[l];
      }
    }
  }
}

// The 2×2 pool window's four conv pixels in groups of P (4 for 16 channels, 2 for 32: 8 vector
// accumulators either way).
template <int O, int P>
SSKAI_INLINE void ConvPoolImage(const float* in, int64_t h, int64_t w, int64_t c, const float* wt, const float* bias,
                                float* out, int64_t out_row) {
  static_assert(O % 8 == 0 && 4 % P == 0);
  constexpr int L = O / 8;
  const int64_t row = (w + 2) * c;  // floats per padded input row
  const int64_t taps = 3 * c;       // one kernel row: three adjacent pixels' channels
  const int64_t quad[4] = {0, c, row, row + c};
  V8 b[L];
  for (int l = 0; l < L; ++l) b[l] = Load(bias + 8 * l);
  for (int64_t py = 0; py < h / 2; ++py) {
    for (int64_t px = 0; px < w / 2; ++px) {
      const float* base = in + 2 * py * row + 2 * px * c;
      V8 best[L] = {};
      for (int g = 0; g < 4; g += P) {
        int64_t offs[P];
        for (int p = 0; p < P; ++p) offs[p] = quad[g + p];
        V8 acc[P][L] = {};
        Window<O, P>(base, offs, wt, row, taps, acc);
        for (int l = 0; l < L; ++l) {
          V8 m = acc[0][l];
          for (int p = 1; p < P; ++p) m = Max(m, acc[p][l]);
          best[l] = g == 0 ? m : Max(best[l], m);
        }
      }
      float* dst = out + py * out_row + px * O;
      for (int l = 0; l < L; ++l) Store(dst + 8 * l, Max(best[l] + b[l], V8{}));
    }
  }
}

SSKAI_INLINE void ConvBiasPoolReluImpl(const float* in, int64_t h, int64_t w, int64_t c, const float* wt,
                                       const float* bias, int64_t o, float* out, int64_t out_row) {
  if (o == 16) {
    ConvPoolImage<16, 4>(in, h, w, c, wt, bias, out, out_row);
  } else if (o == 32) {
    ConvPoolImage<32, 2>(in, h, w, c, wt, bias, out, out_row);
  }
}

SSKAI_INLINE void AdaptiveAvgPoolImpl(const float* in, int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow,
                                      float* out) {
  for (int64_t i = 0; i < oh; ++i) {
    const int64_t y0 = i * h / oh, y1 = ((i + 1) * h + oh - 1) / oh;
    for (int64_t j = 0; j < ow; ++j) {
      const int64_t x0 = j * w / ow, x1 = ((j + 1) * w + ow - 1) / ow;
      float* dst = out + (i * ow + j) * c;
      std::fill(dst, dst + c, 0.0f);
      for (int64_t y = y0; y < y1; ++y) {
        for (int64_t x = x0; x < x1; ++x) {
          const float* src = in + (y * w + x) * c;
          for (int64_t k = 0; k < c; ++k) dst[k] += src[k];
        }
      }
      const float inv = 1.0f / static_cast<float>((y1 - y0) * (x1 - x0));
      for (int64_t k = 0; k < c; ++k) dst[k] *= inv;
    }
  }
}

// R rows of x (stride k) times the vector `wrow`: R dot products sharing each load of `wrow`.
// LinearImpl also calls it with the roles swapped (R weight rows times one input row).
template <int R>
SSKAI_INLINE void Dots(const float* x, int64_t k, const float* wrow, float (&dot)[R]) {
  V8 acc[R] = {};
  int64_t t = 0;
  for (; t + 8 <= k; t += 8) {
    const V8 wv = Load(wrow + t);
    for (int r = 0; r < R; ++r) acc[r] += Load(x + r * k + t) * wv;
  }
  for (int r = 0; r < R; ++r) {
    float sum = 0;
    for (int l = 0; l < 8; ++l) sum += acc[r][l];
    for (int64_t u = t; u < k; ++u) sum += x[r * k + u] * wrow[u];
    dot[r] = sum;
  }
}

SSKAI_INLINE void LinearImpl(const float* x, int64_t n, int64_t k, const float* w, const float* b, int64_t m, bool relu,
                             float* out, int64_t ldo, bool prefetch) {
  auto put = [&](int64_t i, int64_t j, float dot) {
    const float v = b != nullptr ? dot + b[j] : dot;
    out[i * ldo + j] = relu ? std::max(v, 0.0f) : v;
  };
  const int64_t full = n - n % 4;
  for (int64_t j = 0; j < m; ++j) {  // blocks of 4 rows share each weight load
    const float* wrow = w + j * k;
    for (int64_t i = 0; i < full; i += 4) {
      float dot[4];
      Dots<4>(x + i * k, k, wrow, dot);
      for (int r = 0; r < 4; ++r) put(i + r, j, dot[r]);
    }
  }
  for (int64_t i = full; i < n; ++i) {  // the last rows (a batch of 1: all of it), 8 weight rows at a time
    int64_t j = 0;
    for (; j + 8 <= m; j += 8) {
      // Weight rows [j, j + 8) against row i: 8 independent accumulator chains (fewer are bound
      // by the FMA latency); the same products and summation order as Dots<1> per output.
      float dot[8];
      // The next block's weights towards the cache while this one computes (a decode step
      // streams every weight once; the hardware prefetcher alone left it at half memory speed;
      // weights already in cache, as the CNN's, only pay for the instructions).
      if (prefetch && j + 16 <= m) {
        for (int64_t off = 0; off < 8 * k; off += 16) __builtin_prefetch(w + (j + 8) * k + off, 0, 1);
      }
      Dots<8>(w + j * k, k, x + i * k, dot);
      for (int r = 0; r < 8; ++r) put(i, j + r, dot[r]);
    }
    for (; j + 4 <= m; j += 4) {
      // Weight rows [j, j + 4) against row i: 4 independent accumulator chains (one chain is
      // bound by the FMA latency); the same products and summation order as Dots<1> per output.
      float dot[4];
      Dots<4>(w + j * k, k, x + i * k, dot);
      for (int r = 0; r < 4; ++r) put(i, j + r, dot[r]);
    }
    for (; j < m; ++j) {
      float dot[1];
      Dots<1>(x + i * k, k, w + j * k, dot);
      put(i, j, dot[0]);
    }
  }
}

}  // namespace

// Only the AVX2+FMA build: CnnInference::Prepare uses these loops only on CPUs with both (their
// baseline build was slower than libtorch), so a dispatched baseline copy would be dead code.
SSKAI_AVX2_FMA void Linear(const float* x, int64_t n, int64_t k, const float* w, const float* b, int64_t m, bool relu,
                           float* out, int64_t ldo, bool prefetch) {
  LinearImpl(x, n, k, w, b, m, relu, out, ldo < 0 ? m : ldo, prefetch);
}
SSKAI_AVX2_FMA void ConvBiasPoolRelu(const float* in, int64_t h, int64_t w, int64_t c, const float* wt,
                                     const float* bias, int64_t o, float* out, int64_t out_row) {
  ConvBiasPoolReluImpl(in, h, w, c, wt, bias, o, out, out_row);
}
SSKAI_AVX2_FMA void AdaptiveAvgPool(const float* in, int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow,
                                    float* out) {
  AdaptiveAvgPoolImpl(in, h, w, c, oh, ow, out);
}

}  // namespace sskai::ml::kernels::loops
