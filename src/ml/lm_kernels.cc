// src/ml/lm_kernels.cc — fused CPU ops of the LM as custom autograd functions, with the ATen
// compositions they replace as the fallback (see lm_kernels.h).
// ATen before ml/lm_kernels.h, which takes at::Tensor from its includer.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "ml/lm_kernels.h"

#include <algorithm>
#include <vector>

#include "ml/cnn_kernels_loops.h"
#include "ml/cpu_dispatch.h"
#include "ml/lm_kernels_rows.h"

namespace sskai::ml::kernels {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// fp32, CPU, contiguous: the layouts the row loops take.
bool Plain(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous();
}

// fp32 or bf16, CPU, contiguous: activations the templated row loops take.
bool Rows(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.is_contiguous() &&
         (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
}

static_assert(sizeof(at::BFloat16) == sizeof(rows::Bf16), "c10::BFloat16 is 16 bits");

template <typename T>
T* Data(const at::Tensor& t);
template <>
float* Data<float>(const at::Tensor& t) {
  return t.data_ptr<float>();
}
template <>
rows::Bf16* Data<rows::Bf16>(const at::Tensor& t) {
  return reinterpret_cast<rows::Bf16*>(t.data_ptr<at::BFloat16>());
}

// Calls f(T{}) with T the row loops' element type for t's dtype (float or rows::Bf16).
template <typename F>
void WithRowType(const at::Tensor& t, const F& f) {
  if (t.scalar_type() == at::kBFloat16) {
    f(rows::Bf16{});
  } else {
    f(float{});
  }
}

// The upstream gradient in the dtype and layout of the output it belongs to.
at::Tensor GradLike(const at::Tensor& grad, const at::Tensor& like) {
  return grad.to(like.scalar_type()).contiguous();
}

// Runs f(begin, end) over [0, count) items of `item_size` floats on torch's intra-op threads.
template <typename F>
void ForRanges(int64_t count, int64_t item_size, const F& f) {
  int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, item_size));
  at::parallel_for(0, count, grain, f);
}

float* F32(const at::Tensor& t) { return t.data_ptr<float>(); }

struct RmsNormFn : public torch::autograd::Function<RmsNormFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, double eps) {
    int64_t n = x.size(-1), rows = x.numel() / std::max<int64_t>(n, 1);
    auto y = at::empty_like(x);
    auto rstd = at::empty({rows}, x.options());
    ForRanges(rows, n, [&](int64_t b, int64_t e) {
      rows::RmsForward(F32(x), F32(w), F32(y), F32(rstd), n, static_cast<float>(eps), b, e);
    });
    ctx->save_for_backward({x, w, rstd});
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1], &rstd = saved[2];
    auto dy = grads[0].contiguous();
    int64_t n = x.size(-1), rows = rstd.numel();
    auto dx = at::empty_like(x);
    at::Tensor dw, acc;
    if (ctx->needs_input_grad(1)) acc = at::zeros({at::get_num_threads(), n}, x.options());
    ForRanges(rows, n, [&](int64_t b, int64_t e) {
      float* dw_acc = acc.defined() ? F32(acc) + at::get_thread_num() * n : nullptr;
      rows::RmsBackward(F32(dy), F32(x), F32(w), F32(rstd), F32(dx), dw_acc, n, b, e);
    });
    if (acc.defined()) dw = acc.sum(0);
    return {dx, dw, at::Tensor()};
  }
};

struct SwiGluFn : public torch::autograd::Function<SwiGluFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& g, const at::Tensor& u) {
    auto y = at::empty_like(g);
    WithRowType(g, [&](auto tag) {
      using T = decltype(tag);
      ForRanges(g.numel(), 1, [&](int64_t b, int64_t e) { rows::SwiGluForward(Data<T>(g), Data<T>(u), Data<T>(y), b, e); });
    });
    ctx->save_for_backward({g, u});
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &g = saved[0], &u = saved[1];
    auto dy = GradLike(grads[0], g);
    auto dg = at::empty_like(g), du = at::empty_like(u);
    WithRowType(g, [&](auto tag) {
      using T = decltype(tag);
      ForRanges(g.numel(), 1, [&](int64_t b, int64_t e) {
        rows::SwiGluBackward(Data<T>(dy), Data<T>(g), Data<T>(u), Data<T>(dg), Data<T>(du), b, e);
      });
    });
    return {dg, du};
  }
};

rows::RotaryShape ShapeOf(const at::Tensor& x, const at::Tensor& cos) {
  return {x.size(1), x.size(2), x.size(3), cos.size(0) != 1};
}

struct RotaryFn : public torch::autograd::Function<RotaryFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    auto y = at::empty({x.size(0), x.size(2), x.size(1), x.size(3)}, x.options());
    auto shape = ShapeOf(x, cos);
    WithRowType(x, [&](auto tag) {
      using T = decltype(tag);
      ForRanges(x.size(0) * x.size(1), x.size(2) * x.size(3), [&](int64_t b, int64_t e) {
        rows::RotaryForward(Data<T>(x), F32(cos), F32(sin), Data<T>(y), shape, b, e);
      });
    });
    ctx->save_for_backward({cos, sin});
    ctx->saved_data["x_sizes"] = x.sizes();
    ctx->saved_data["x_dtype"] = x.scalar_type();
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &cos = saved[0], &sin = saved[1];
    auto dy = grads[0].to(ctx->saved_data["x_dtype"].toScalarType()).contiguous();
    auto dx = at::empty(ctx->saved_data["x_sizes"].toIntVector(), dy.options());
    auto shape = ShapeOf(dx, cos);
    WithRowType(dx, [&](auto tag) {
      using T = decltype(tag);
      ForRanges(dx.size(0) * dx.size(1), dx.size(2) * dx.size(3), [&](int64_t b, int64_t e) {
        rows::RotaryBackward(Data<T>(dy), F32(cos), F32(sin), Data<T>(dx), shape, b, e);
      });
    });
    return {dx, at::Tensor(), at::Tensor()};
  }
};

struct CausalSoftmaxFn : public torch::autograd::Function<CausalSoftmaxFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& s) {
    int64_t t = s.size(-2), len_s = s.size(-1);
    auto p = at::empty_like(s);
    WithRowType(s, [&](auto tag) {
      using T = decltype(tag);
      ForRanges(s.numel() / len_s, len_s, [&](int64_t b, int64_t e) {
        rows::CausalSoftmaxForward(Data<T>(s), Data<T>(p), t, len_s, b, e);
      });
    });
    ctx->save_for_backward({p});
    return p;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto p = ctx->get_saved_variables()[0];
    auto dp = GradLike(grads[0], p);
    int64_t t = p.size(-2), len_s = p.size(-1);
    auto ds = at::empty_like(p);
    WithRowType(p, [&](auto tag) {
      using T = decltype(tag);
      ForRanges(p.numel() / len_s, len_s, [&](int64_t b, int64_t e) {
        rows::CausalSoftmaxBackward(Data<T>(dp), Data<T>(p), Data<T>(ds), t, len_s, b, e);
      });
    });
    return {ds};
  }
};

struct CrossEntropySumFn : public torch::autograd::Function<CrossEntropySumFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& target, int64_t ignore) {
    int64_t n = x.size(0), v = x.size(1);
    const int64_t* tg = target.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      TORCH_CHECK(tg[i] == ignore || (tg[i] >= 0 && tg[i] < v), "Target ", tg[i], " is out of bounds.");
    }
    auto stats = x.options().dtype(at::kFloat);
    auto lse = at::empty({n}, stats), loss = at::empty({n}, stats);
    WithRowType(x, [&](auto tag) {
      using T = decltype(tag);
      ForRanges(n, v, [&](int64_t b, int64_t e) {
        rows::CrossEntropyForward(Data<T>(x), tg, F32(lse), F32(loss), v, ignore, b, e);
      });
    });
    ctx->save_for_backward({x, target, lse});
    ctx->saved_data["ignore"] = ignore;
    return loss.sum();
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &target = saved[1], &lse = saved[2];
    int64_t ignore = ctx->saved_data["ignore"].toInt(), v = x.size(1);
    float scale = grads[0].item<float>();
    auto dx = at::empty_like(x);
    WithRowType(x, [&](auto tag) {
      using T = decltype(tag);
      ForRanges(x.size(0), v, [&](int64_t b, int64_t e) {
        rows::CrossEntropyBackward(Data<T>(x), target.data_ptr<int64_t>(), F32(lse), scale, Data<T>(dx), v, ignore, b, e);
      });
    });
    return {dx, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& w, double eps) {
  if (Plain(x) && Plain(w) && x.dim() >= 1 && w.dim() == 1 && w.size(0) == x.size(-1)) {
    return RmsNormFn::apply(x, w, eps);
  }
  return reference::RmsNorm(x, w, eps);
}

at::Tensor SwiGlu(const at::Tensor& gate, const at::Tensor& up) {
  if (Rows(gate) && Rows(up) && gate.scalar_type() == up.scalar_type() && gate.sizes() == up.sizes()) {
    return SwiGluFn::apply(gate, up);
  }
  return reference::SwiGlu(gate, up);
}

at::Tensor RotaryHeadsFirst(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  bool shapes = x.dim() == 4 && cos.dim() == 4 && cos.sizes() == sin.sizes() && x.size(3) % 2 == 0 &&
                (cos.size(0) == 1 || cos.size(0) == x.size(0)) && cos.size(1) == x.size(1) && cos.size(2) == 1 &&
                cos.size(3) == x.size(3);
  if (shapes && Rows(x) && Rows(cos) && Rows(sin) && !cos.requires_grad() && !sin.requires_grad()) {
    return RotaryFn::apply(x, cos.to(at::kFloat), sin.to(at::kFloat));  // the row loops read fp32 tables
  }
  return reference::RotaryHeadsFirst(x, cos, sin);
}

at::Tensor CausalSoftmax(const at::Tensor& scores) {
  if (Rows(scores) && scores.dim() >= 2 && scores.size(-1) >= scores.size(-2) && scores.size(-2) > 0) {
    return CausalSoftmaxFn::apply(scores);
  }
  return reference::CausalSoftmax(scores);
}

at::Tensor CrossEntropySum(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index) {
  if (Rows(logits) && logits.dim() == 2 && logits.size(1) > 0 && targets.dim() == 1 &&
      targets.size(0) == logits.size(0) && targets.device().is_cpu() && targets.scalar_type() == at::kLong &&
      targets.is_contiguous()) {
    return CrossEntropySumFn::apply(logits, targets, ignore_index);
  }
  return reference::CrossEntropySum(logits, targets, ignore_index);
}

namespace reference {

at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& w, double eps) {
  auto xf = x.to(at::kFloat);
  xf = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  auto out = xf.to(x.scalar_type());
  return (w.scalar_type() == out.scalar_type() ? w : w.to(out.scalar_type())) * out;
}

at::Tensor SwiGlu(const at::Tensor& gate, const at::Tensor& up) { return at::silu(gate) * up; }

at::Tensor RotaryHeadsFirst(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  int64_t half = x.size(-1) / 2;
  auto rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  auto c = cos.to(x.scalar_type()), s = sin.to(x.scalar_type());
  return (x * c + rotated * s).transpose(1, 2);
}

at::Tensor CausalSoftmax(const at::Tensor& scores) {
  int64_t t = scores.size(-2), len_s = scores.size(-1);
  auto masked = at::ones({t, len_s}, scores.options().dtype(at::kBool)).triu(len_s - t + 1);
  return at::softmax(scores.to(at::kFloat).masked_fill(masked, -1e30), -1).to(scores.scalar_type());
}

at::Tensor CrossEntropySum(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index) {
  return at::nll_loss(at::log_softmax(logits.to(at::kFloat), -1), targets, {}, at::Reduction::Sum, ignore_index);
}

}  // namespace reference

bool LinearTakes(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const bool grad = at::GradMode::is_enabled() &&
                    (x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad()));
  if (grad || !HasAvx2Fma() || !Plain(w) || w.dim() != 2 || w.size(1) < 1 || x.dim() < 1 ||
      x.size(-1) != w.size(1) || x.device() != w.device() || x.scalar_type() != at::kFloat ||
      (b.defined() && (!Plain(b) || b.dim() != 1 || b.size(0) != w.size(0)))) {
    return false;
  }
  const int64_t rows = x.numel() / w.size(1);
  return rows >= 1 && rows <= kDecodeRows;
}

at::Tensor Linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  if (!LinearTakes(x, w, b)) return at::linear(x, w, b);
  const int64_t k = w.size(1), m = w.size(0), rows = x.numel() / k;
  const at::Tensor in = x.contiguous();  // a decode step's last positions may be a strided view
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = m;
  at::Tensor y = at::empty(sizes, x.options());
  const float* bias = b.defined() ? F32(b) : nullptr;
  // Output columns over the intra-op threads: each thread reads its own slice of weight rows.
  at::parallel_for(0, m, std::max<int64_t>(16, (int64_t{1} << 16) / k), [&](int64_t j0, int64_t j1) {
    loops::Linear(F32(in), rows, k, F32(w) + j0 * k, bias != nullptr ? bias + j0 : nullptr, j1 - j0,
                  /*relu=*/false, F32(y) + j0, m, /*prefetch=*/true);
  });
  return y;
}

}  // namespace sskai::ml::kernels
