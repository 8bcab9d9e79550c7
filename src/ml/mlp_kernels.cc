// The fused tabular-MLP forward (mlp_kernels.h).
//
// Each layer's weights are packed at Prepare into panels of 16 outputs: panel q holds outputs
// [16q, 16q + 16) as [inputs][16] floats, zero-padded past the last output. A tile of R rows × P
// panels keeps its 2·R·P vector sums in registers while walking the inputs: per input, P·2 weight
// vectors are loaded once and each row's input value is broadcast into them. Rows go in blocks of
// 6 (12 sums, one panel); the last n mod 6 rows take tiles over several panels instead, so a lone
// row still runs 8 independent sum chains (one chain is bound by the FMA latency). The inputs are
// walked in chunks of kChunk so that a chunk of every row and of the panel stay in cache while all
// row blocks pass over it; the sums of later chunks are added to the stored partial outputs, and
// the last chunk adds the bias and applies the ReLU.
//
// Summation order per output: the products in input order, chunk by chunk — the same for every
// batch size and tile, so a row's result does not depend on the rows batched with it.
#include "ml/mlp_kernels.h"

#include <algorithm>

#include "ml/cpu_dispatch.h"
#include "ml/vec8.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

// Every helper carries the AVX2+FMA target too, so the intrinsic inlines into it.
#define SSKAI_KERNEL inline __attribute__((always_inline)) SSKAI_AVX2_FMA

namespace sskai::ml::kernels {

namespace {

constexpr int64_t kPanel = 16;   // outputs per packed panel
constexpr int64_t kChunk = 256;  // inputs per pass: a 6-row block's chunk is 6 KB, a panel's 16 KB
constexpr int64_t kGroup = 6;    // panels per group for the last rows' tiles

SSKAI_KERNEL V8 Load(const float* p) { return Load8(p); }
SSKAI_KERNEL void Store(float* p, V8 v) { Store8(p, v); }
// One vbroadcastss from memory. (Generic vector code gave GCC's worse forms: `V8{} + s` adds 0.0f
// to s first, an initializer list became 8 inserts, a shuffle a load, a move and a broadcast.)
#if defined(__x86_64__) && defined(__GNUC__)
SSKAI_KERNEL V8 Broadcast(const float* p) { return _mm256_broadcast_ss(p); }
#else
SSKAI_KERNEL V8 Broadcast(const float* p) { return V8{} + *p; }
#endif

// One layer's geometry for a pass over inputs [from, from + len) of rows x[i · ldx + ·].
struct Pass {
  const float* x;
  int64_t ldx;
  const float* packed;  // panel q of the layer starts at packed + q · inputs · kPanel
  int64_t inputs, outputs, from, len;
  const float* bias;  // the layer's bias on the last chunk (with `relu`); null before it
  bool relu, add;     // add: later chunks add to the partial sums already in `out`
  float* out;         // [n, outputs]
};

// Writes (or adds) the 16 sums of one row and one panel to out columns [col, col + 16), clipped
// to the layer's outputs.
SSKAI_KERNEL void Put(const Pass& p, int64_t row, int64_t col, V8 lo, V8 hi) {
  float* o = p.out + row * p.outputs + col;
  const int64_t valid = std::min(kPanel, p.outputs - col);
  if (valid == kPanel) {
    if (p.add) lo += Load(o), hi += Load(o + 8);
    if (p.bias != nullptr) {
      lo += Load(p.bias + col), hi += Load(p.bias + col + 8);
      if (p.relu) {
        const V8 zero = {};
        lo = lo > zero ? lo : zero;
        hi = hi > zero ? hi : zero;
      }
    }
    Store(o, lo);
    Store(o + 8, hi);
    return;
  }
  float sums[kPanel];
  Store(sums, lo);
  Store(sums + 8, hi);
  for (int64_t c = 0; c < valid; ++c) {
    float v = sums[c] + (p.add ? o[c] : 0.0f);
    if (p.bias != nullptr) {
      v += p.bias[col + c];
      if (p.relu) v = std::max(v, 0.0f);
    }
    o[c] = v;
  }
}

// Tiles of R rows × P panels keep R·P ≤ 6 "slots" (a row's 16 sums over a panel: two vectors)
// in named registers; slot k is row k / P, panel k % P. (GCC spilled a generic array of sums to
// the stack for some instantiations: it replaces arrays by registers before unrolling loops.)
template <int K, int P>
SSKAI_KERNEL void Step(const float* x, int64_t ld, const float* w, int64_t stride, V8& lo, V8& hi) {
  const V8 v = Broadcast(x + (K / P) * ld);
  const float* wq = w + (K % P) * stride;
  lo += v * Load(wq);
  hi += v * Load(wq + 8);
}

// Rows [row, row + R) × panels [panel, panel + P) over the pass's inputs.
template <int R, int P>
SSKAI_KERNEL void Tile(const Pass& p, int64_t row, int64_t panel) {
  static_assert(R * P >= 1 && R * P <= 6, "12 vector sums at most");
  constexpr int S = R * P;
  const float* x = p.x + row * p.ldx + p.from;
  const float* w = p.packed + panel * p.inputs * kPanel + p.from * kPanel;
  const int64_t ld = p.ldx, stride = p.inputs * kPanel;
  V8 a0 = {}, b0 = {}, a1 = {}, b1 = {}, a2 = {}, b2 = {}, a3 = {}, b3 = {}, a4 = {}, b4 = {}, a5 = {}, b5 = {};
  for (int64_t t = 0; t < p.len; ++t, ++x, w += kPanel) {
    // The weights after this tile's (the next panel's, a line per input) into L2, ahead of their
    // first pass: one row block's compute is slower than DRAM only when they are already coming.
    __builtin_prefetch(w + P * stride, 0, 3);
    Step<0, P>(x, ld, w, stride, a0, b0);
    if constexpr (S > 1) Step<1, P>(x, ld, w, stride, a1, b1);
    if constexpr (S > 2) Step<2, P>(x, ld, w, stride, a2, b2);
    if constexpr (S > 3) Step<3, P>(x, ld, w, stride, a3, b3);
    if constexpr (S > 4) Step<4, P>(x, ld, w, stride, a4, b4);
    if constexpr (S > 5) Step<5, P>(x, ld, w, stride, a5, b5);
  }
  Put(p, row, panel * kPanel, a0, b0);
  if constexpr (S > 1) Put(p, row + 1 / P, (panel + 1 % P) * kPanel, a1, b1);
  if constexpr (S > 2) Put(p, row + 2 / P, (panel + 2 % P) * kPanel, a2, b2);
  if constexpr (S > 3) Put(p, row + 3 / P, (panel + 3 % P) * kPanel, a3, b3);
  if constexpr (S > 4) Put(p, row + 4 / P, (panel + 4 % P) * kPanel, a4, b4);
  if constexpr (S > 5) Put(p, row + 5 / P, (panel + 5 % P) * kPanel, a5, b5);
}

// The last R rows over panels [panel, end): tiles of P panels, then single panels.
template <int R, int P>
SSKAI_KERNEL void LastRows(const Pass& p, int64_t row, int64_t panel, int64_t end) {
  for (; panel + P <= end; panel += P) Tile<R, P>(p, row, panel);
  for (; panel < end; ++panel) Tile<R, 1>(p, row, panel);
}

SSKAI_KERNEL void LayerImpl(const float* x, int64_t n, const float* packed, const float* bias, int64_t inputs,
                            int64_t outputs, bool relu, float* out) {
  const int64_t panels = (outputs + kPanel - 1) / kPanel;
  const int64_t blocked = n - n % 6, rest = n % 6;
  for (int64_t from = 0; from < inputs; from += kChunk) {
    const int64_t len = std::min(kChunk, inputs - from);
    const bool last = from + len == inputs;
    const Pass p{x, inputs, packed, inputs, outputs, from, len, last ? bias : nullptr, relu, from > 0, out};
    for (int64_t group = 0; group < panels; group += kGroup) {
      const int64_t end = std::min(panels, group + kGroup);
      for (int64_t panel = group; panel < end; ++panel) {
        for (int64_t row = 0; row < blocked; row += 6) Tile<6, 1>(p, row, panel);
      }
      switch (rest) {
        case 1: LastRows<1, 6>(p, blocked, group, end); break;
        case 2: LastRows<2, 3>(p, blocked, group, end); break;
        case 3: LastRows<3, 2>(p, blocked, group, end); break;
        case 4: LastRows<4, 1>(p, blocked, group, end); break;
        case 5: LastRows<5, 1>(p, blocked, group, end); break;
        default: break;
      }
    }
  }
}

// Only the AVX2+FMA build: Prepare refuses other CPUs (see mlp_kernels.h).
SSKAI_AVX2_FMA void Layer(const float* x, int64_t n, const float* packed, const float* bias, int64_t inputs,
                          int64_t outputs, bool relu, float* out) {
  LayerImpl(x, n, packed, bias, inputs, outputs, relu, out);
}

// w [outputs, inputs] row-major → panels of kPanel outputs, each [inputs][kPanel], zero-padded.
std::vector<float> Pack(const std::vector<float>& w, int64_t inputs, int64_t outputs) {
  const int64_t panels = (outputs + kPanel - 1) / kPanel;
  std::vector<float> packed(static_cast<size_t>(panels * inputs * kPanel), 0.0f);
  for (int64_t j = 0; j < outputs; ++j) {
    float* dst = packed.data() + (j / kPanel) * inputs * kPanel + j % kPanel;
    const float* src = w.data() + j * inputs;
    for (int64_t i = 0; i < inputs; ++i) dst[i * kPanel] = src[i];
  }
  return packed;
}

}  // namespace

std::unique_ptr<MlpInference> MlpInference::Prepare(std::vector<MlpLayerWeights> layers) {
  if (!HasAvx2Fma() || layers.empty()) return nullptr;
  int64_t width = layers.front().inputs, widest = 0;
  for (size_t idx = 0; idx < layers.size(); ++idx) {
    const MlpLayerWeights& l = layers[idx];
    if (l.inputs != width || l.inputs < 1 || l.outputs < 1 ||
        l.weight.size() != static_cast<size_t>(l.inputs * l.outputs) ||
        l.bias.size() != static_cast<size_t>(l.outputs)) {
      return nullptr;
    }
    if (idx + 1 < layers.size()) widest = std::max(widest, l.outputs);
    width = l.outputs;
  }
  std::unique_ptr<MlpInference> out(new MlpInference());
  for (MlpLayerWeights& l : layers) {
    PackedLayer packed;
    packed.weight = Pack(l.weight, l.inputs, l.outputs);
    packed.bias = std::move(l.bias);
    packed.inputs = l.inputs;
    packed.outputs = l.outputs;
    out->layers_.push_back(std::move(packed));
  }
  out->widest_hidden_ = widest;
  return out;
}

void MlpInference::Forward(const float* x, int64_t n, float* out) const {
  // Two scratch buffers for the hidden activations, alternating layer by layer.
  std::unique_ptr<float[]> scratch(layers_.size() > 1 ? new float[static_cast<size_t>(2 * n * widest_hidden_)]
                                                      : nullptr);
  float* bufs[2] = {scratch.get(), scratch.get() + n * widest_hidden_};
  const float* in = x;
  for (size_t idx = 0; idx < layers_.size(); ++idx) {
    const PackedLayer& l = layers_[idx];
    const bool last = idx + 1 == layers_.size();
    float* dst = last ? out : bufs[idx % 2];
    Layer(in, n, l.weight.data(), l.bias.data(), l.inputs, l.outputs, /*relu=*/!last, dst);
    in = dst;
  }
}

}  // namespace sskai::ml::kernels
