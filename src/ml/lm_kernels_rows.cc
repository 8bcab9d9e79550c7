// src/ml/lm_kernels_rows.cc — fp32 and bf16 row loops for the fused LM kernels (see lm_kernels_rows.h).
//
// Loops are written so GCC vectorizes them: reductions keep 8 partial sums (float addition is not
// reassociated otherwise) and exp is a branch-free Cephes polynomial (about 1 ulp) instead of a
// libm call per element (-fno-trapping-math lets GCC turn its selects into blends). Each loop is a
// template over the activation storage (float or Bf16): Load widens to fp32, Store rounds back.
#include "ml/lm_kernels_rows.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <vector>

#include "ml/cpu_dispatch.h"

#define SSKAI_INLINE inline __attribute__((always_inline))

namespace sskai::ml::kernels::rows {

namespace {

SSKAI_INLINE float Load(float v) { return v; }
SSKAI_INLINE float Load(Bf16 v) { return std::bit_cast<float>(static_cast<uint32_t>(v.bits) << 16); }
SSKAI_INLINE void Store(float* p, float v) { *p = v; }
// Round to nearest even; NaN becomes the quiet NaN 0x7FC0 (c10::BFloat16's conversion).
SSKAI_INLINE void Store(Bf16* p, float v) {
  uint32_t u = std::bit_cast<uint32_t>(v);
  uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  p->bits = static_cast<uint16_t>(v != v ? 0x7FC0u : rounded);
}

// One row as fp32: float rows are used in place; bf16 rows are widened into a buffer of the
// row length (allocated once per call, not per row).
template <typename T>
struct RowBuf {
  std::vector<float> buf;
  explicit RowBuf(int64_t n) : buf(static_cast<size_t>(n)) {}
  const float* Read(const T* row, int64_t n) {
    for (int64_t j = 0; j < n; ++j) buf[j] = Load(row[j]);
    return buf.data();
  }
  float* Scratch(T*) { return buf.data(); }
};
template <>
struct RowBuf<float> {
  explicit RowBuf(int64_t) {}
  const float* Read(const float* row, int64_t) { return row; }
  float* Scratch(float* row) { return row; }
};

// exp(x) for float; 0 below the smallest normal result, NaN stays NaN.
SSKAI_INLINE float FastExp(float x) {
  constexpr float kHi = 88.3762626647949f, kLo = -87.3365447504f;
  float xc = std::min(std::max(x, kLo), kHi);  // (NaN: garbage here, NaN returned below)
  // n = round(x / ln 2) (xc / ln 2 + 127.5 > 0, so truncation is floor).
  int32_t n = static_cast<int32_t>(xc * 1.44269504088896341f + 127.5f) - 127;
  float fn = static_cast<float>(n);
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  float e = y * std::bit_cast<float>(static_cast<int32_t>((n + 127) << 23));
  e = x < kLo ? 0.0f : e;
  return x != x ? x : e;
}

SSKAI_INLINE float Sum8(const float* acc) {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

SSKAI_INLINE float Dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[j + k] * b[j + k];
  }
  float s = Sum8(acc);
  for (; j < n; ++j) s += a[j] * b[j];
  return s;
}

SSKAI_INLINE float Sum(const float* a, int64_t n) {
  float acc[8] = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[j + k];
  }
  float s = Sum8(acc);
  for (; j < n; ++j) s += a[j];
  return s;
}

// Max of n >= 1 values (NaN propagates through the exp that follows).
SSKAI_INLINE float Max(const float* a, int64_t n) {
  float acc[8];
  for (int k = 0; k < 8; ++k) acc[k] = a[0];
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int k = 0; k < 8; ++k) acc[k] = acc[k] < a[j + k] ? a[j + k] : acc[k];
  }
  float m = acc[0];
  for (int k = 1; k < 8; ++k) m = m < acc[k] ? acc[k] : m;
  for (; j < n; ++j) m = m < a[j] ? a[j] : m;
  return m;
}

// out[j] = exp(x[j] − shift); returns the sum.
SSKAI_INLINE float ExpShifted(const float* x, float shift, float* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = FastExp(x[j] - shift);
  return Sum(out, n);
}

SSKAI_INLINE void RmsForwardImpl(const float* x, const float* w, float* y, float* rstd, int64_t n, float eps,
                                 int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const float* xr = x + row * n;
    float* yr = y + row * n;
    float r = 1.0f / std::sqrt(Dot(xr, xr, n) / static_cast<float>(n) + eps);
    rstd[row] = r;
    for (int64_t j = 0; j < n; ++j) yr[j] = w[j] * (xr[j] * r);
  }
}

SSKAI_INLINE void RmsBackwardImpl(const float* dy, const float* x, const float* w, const float* rstd, float* dx,
                                  float* dw_acc, int64_t n, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const float* dyr = dy + row * n;
    const float* xr = x + row * n;
    float* dxr = dx + row * n;
    float r = rstd[row];
    // dot = Σ dy·w·x; dx = r·dy·w − x·r³·dot/n (dx doubles as the dy·w scratch).
    for (int64_t j = 0; j < n; ++j) dxr[j] = dyr[j] * w[j];
    float c = r * r * r * Dot(dxr, xr, n) / static_cast<float>(n);
    for (int64_t j = 0; j < n; ++j) dxr[j] = r * dxr[j] - xr[j] * c;
    if (dw_acc != nullptr) {
      for (int64_t j = 0; j < n; ++j) dw_acc[j] += dyr[j] * (xr[j] * r);
    }
  }
}

template <typename T>
SSKAI_INLINE void SwiGluForwardImpl(const T* g, const T* u, T* y, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    float gi = Load(g[i]);
    float s = 1.0f / (1.0f + FastExp(-gi));
    Store(y + i, gi * s * Load(u[i]));
  }
}

template <typename T>
SSKAI_INLINE void SwiGluBackwardImpl(const T* dy, const T* g, const T* u, T* dg, T* du, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    float gi = Load(g[i]), dyi = Load(dy[i]);
    float s = 1.0f / (1.0f + FastExp(-gi));
    float silu = gi * s;
    Store(dg + i, dyi * Load(u[i]) * (s + silu * (1.0f - s)));
    Store(du + i, dyi * silu);
  }
}

template <typename T>
SSKAI_INLINE void RotaryForwardImpl(const T* x, const float* cos, const float* sin, T* y, RotaryShape shape,
                                    int64_t begin, int64_t end) {
  const int64_t t_len = shape.t, heads = shape.h, d = shape.d, half = d / 2;
  for (int64_t row = begin; row < end; ++row) {  // row = b·T + t
    int64_t b = row / t_len, t = row % t_len;
    const float* c = cos + (shape.cos_per_batch ? row : t) * d;
    const float* s = sin + (shape.cos_per_batch ? row : t) * d;
    for (int64_t h = 0; h < heads; ++h) {
      const T* xr = x + (row * heads + h) * d;
      T* yr = y + ((b * heads + h) * t_len + t) * d;
      for (int64_t j = 0; j < half; ++j) Store(yr + j, Load(xr[j]) * c[j] - Load(xr[j + half]) * s[j]);
      for (int64_t j = half; j < d; ++j) Store(yr + j, Load(xr[j]) * c[j] + Load(xr[j - half]) * s[j]);
    }
  }
}

template <typename T>
SSKAI_INLINE void RotaryBackwardImpl(const T* dy, const float* cos, const float* sin, T* dx, RotaryShape shape,
                                     int64_t begin, int64_t end) {
  const int64_t t_len = shape.t, heads = shape.h, d = shape.d, half = d / 2;
  for (int64_t row = begin; row < end; ++row) {
    int64_t b = row / t_len, t = row % t_len;
    const float* c = cos + (shape.cos_per_batch ? row : t) * d;
    const float* s = sin + (shape.cos_per_batch ? row : t) * d;
    for (int64_t h = 0; h < heads; ++h) {
      const T* g = dy + ((b * heads + h) * t_len + t) * d;
      T* dxr = dx + (row * heads + h) * d;
      for (int64_t j = 0; j < half; ++j) Store(dxr + j, Load(g[j]) * c[j] + Load(g[j + half]) * s[j + half]);
      for (int64_t j = half; j < d; ++j) Store(dxr + j, Load(g[j]) * c[j] - Load(g[j - half]) * s[j - half]);
    }
  }
}

template <typename T>
SSKAI_INLINE void CausalSoftmaxForwardImpl(const T* s, T* p, int64_t t, int64_t len_s, int64_t begin, int64_t end) {
  RowBuf<T> in(len_s), out(len_s);
  for (int64_t row = begin; row < end; ++row) {
    T* prow = p + row * len_s;
    int64_t seen = len_s - t + row % t + 1;
    const float* sr = in.Read(s + row * len_s, seen);
    float* pr = out.Scratch(prow);
    float inv = 1.0f / ExpShifted(sr, Max(sr, seen), pr, seen);
    for (int64_t j = 0; j < seen; ++j) Store(prow + j, pr[j] * inv);
    for (int64_t j = seen; j < len_s; ++j) Store(prow + j, 0.0f);
  }
}

template <typename T>
SSKAI_INLINE void CausalSoftmaxBackwardImpl(const T* dp, const T* p, T* ds, int64_t t, int64_t len_s, int64_t begin,
                                            int64_t end) {
  RowBuf<T> g_in(len_s), p_in(len_s);
  for (int64_t row = begin; row < end; ++row) {
    T* dr = ds + row * len_s;
    int64_t seen = len_s - t + row % t + 1;
    const float* gr = g_in.Read(dp + row * len_s, seen);
    const float* pr = p_in.Read(p + row * len_s, seen);
    float dot = Dot(gr, pr, seen);
    for (int64_t j = 0; j < seen; ++j) Store(dr + j, pr[j] * (gr[j] - dot));
    for (int64_t j = seen; j < len_s; ++j) Store(dr + j, 0.0f);
  }
}

template <typename T>
SSKAI_INLINE void CrossEntropyForwardImpl(const T* x, const int64_t* target, float* lse, float* loss, int64_t v,
                                          int64_t ignore, int64_t begin, int64_t end) {
  RowBuf<T> in(v);
  for (int64_t row = begin; row < end; ++row) {
    if (target[row] == ignore) {
      lse[row] = 0.0f;
      loss[row] = 0.0f;
      continue;
    }
    const float* xr = in.Read(x + row * v, v);
    float m = Max(xr, v), sum = 0, block[256];
    for (int64_t j = 0; j < v; j += 256) sum += ExpShifted(xr + j, m, block, std::min<int64_t>(256, v - j));
    lse[row] = m + std::log(sum);
    loss[row] = lse[row] - xr[target[row]];
  }
}

template <typename T>
SSKAI_INLINE void CrossEntropyBackwardImpl(const T* x, const int64_t* target, const float* lse, float scale, T* dx,
                                           int64_t v, int64_t ignore, int64_t begin, int64_t end) {
  RowBuf<T> in(v);
  for (int64_t row = begin; row < end; ++row) {
    T* dr = dx + row * v;
    if (target[row] == ignore) {
      for (int64_t j = 0; j < v; ++j) Store(dr + j, 0.0f);
      continue;
    }
    const float* xr = in.Read(x + row * v, v);
    float l = lse[row];
    int64_t tg = target[row];
    for (int64_t j = 0; j < v; ++j) Store(dr + j, scale * FastExp(xr[j] - l));
    Store(dr + tg, scale * FastExp(xr[tg] - l) - scale);
  }
}

SSKAI_INLINE void AdamWStepImpl(const AdamWScalars& s, float* p, const float* g, float* m, float* v, int64_t begin,
                                int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    float pi = s.decay ? p[i] * s.wd_factor : p[i];
    float gi = g[i] * s.coef;
    float mi = m[i] * s.b1 + gi * s.c1;
    float vi = v[i] * s.b2 + gi * gi * s.c2;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + s.neg_step * (mi / (std::sqrt(vi) / s.sqrt_bc2 + s.eps));
  }
}

}  // namespace

AdamWScalars MakeAdamWScalars(double lr, double weight_decay, double beta1, double beta2, double eps, double coef,
                              int64_t step) {
  AdamWScalars s;
  s.wd_factor = static_cast<float>(1 - lr * weight_decay);
  s.decay = weight_decay != 0;
  s.b1 = static_cast<float>(beta1);
  s.c1 = static_cast<float>(1 - beta1);
  s.b2 = static_cast<float>(beta2);
  s.c2 = static_cast<float>(1 - beta2);
  s.coef = static_cast<float>(coef);
  s.eps = static_cast<float>(eps);
  s.sqrt_bc2 = static_cast<float>(std::sqrt(1 - std::pow(beta2, static_cast<double>(step))));
  s.neg_step = static_cast<float>(-lr / (1 - std::pow(beta1, static_cast<double>(step))));
  return s;
}

SSKAI_DISPATCHED(AdamWStep,
                 (const AdamWScalars& s, float* p, const float* g, float* m, float* v, int64_t begin, int64_t end),
                 (s, p, g, m, v, begin, end))
SSKAI_DISPATCHED(RmsForward,
                 (const float* x, const float* w, float* y, float* rstd, int64_t n, float eps, int64_t begin,
                  int64_t end),
                 (x, w, y, rstd, n, eps, begin, end))
SSKAI_DISPATCHED(RmsBackward,
                 (const float* dy, const float* x, const float* w, const float* rstd, float* dx, float* dw_acc,
                  int64_t n, int64_t begin, int64_t end),
                 (dy, x, w, rstd, dx, dw_acc, n, begin, end))
// The templated loops, once per activation type T (float, Bf16).
#define SSKAI_ROW_LOOPS(T)                                                                                         \
  SSKAI_DISPATCHED(SwiGluForward, (const T* g, const T* u, T* y, int64_t begin, int64_t end), (g, u, y, begin, end)) \
  SSKAI_DISPATCHED(SwiGluBackward, (const T* dy, const T* g, const T* u, T* dg, T* du, int64_t begin, int64_t end), \
                   (dy, g, u, dg, du, begin, end))                                                                 \
  SSKAI_DISPATCHED(RotaryForward,                                                                                  \
                   (const T* x, const float* cos, const float* sin, T* y, RotaryShape shape, int64_t begin,        \
                    int64_t end),                                                                                  \
                   (x, cos, sin, y, shape, begin, end))                                                            \
  SSKAI_DISPATCHED(RotaryBackward,                                                                                 \
                   (const T* dy, const float* cos, const float* sin, T* dx, RotaryShape shape, int64_t begin,      \
                    int64_t end),                                                                                  \
                   (dy, cos, sin, dx, shape, begin, end))                                                          \
  SSKAI_DISPATCHED(CausalSoftmaxForward, (const T* s, T* p, int64_t t, int64_t len_s, int64_t begin, int64_t end), \
                   (s, p, t, len_s, begin, end))                                                                   \
  SSKAI_DISPATCHED(CausalSoftmaxBackward,                                                                          \
                   (const T* dp, const T* p, T* ds, int64_t t, int64_t len_s, int64_t begin, int64_t end),         \
                   (dp, p, ds, t, len_s, begin, end))                                                              \
  SSKAI_DISPATCHED(CrossEntropyForward,                                                                            \
                   (const T* x, const int64_t* target, float* lse, float* loss, int64_t v, int64_t ignore,         \
                    int64_t begin, int64_t end),                                                                   \
                   (x, target, lse, loss, v, ignore, begin, end))                                                  \
  SSKAI_DISPATCHED(CrossEntropyBackward,                                                                           \
                   (const T* x, const int64_t* target, const float* lse, float scale, T* dx, int64_t v,            \
                    int64_t ignore, int64_t begin, int64_t end),                                                   \
                   (x, target, lse, scale, dx, v, ignore, begin, end))

SSKAI_ROW_LOOPS(float)
SSKAI_ROW_LOOPS(Bf16)

}  // namespace sskai::ml::kernels::rows
