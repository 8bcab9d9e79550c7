// src/ml/lm_kernels_check.cc — fused kernels vs their reference compositions (lm_kernels_check.h).
#include "ml/lm_kernels_check.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <functional>
#include <optional>

#include "ml/lm_kernels.h"
#include "ml/lm_kernels_rows.h"

namespace sskai::ml::kernels {

namespace {

using Op = std::function<at::Tensor(const std::vector<at::Tensor>&)>;

std::string ShapeText(const at::Tensor& t) {
  std::string s;
  for (int64_t d : t.sizes()) s += (s.empty() ? "" : ",") + std::to_string(d);
  return "[" + s + "]";
}

double RelDiff(const at::Tensor& got, const at::Tensor& want) {
  if (!got.defined() && !want.defined()) return 0;
  if (!got.defined() || !want.defined()) return 1e30;
  double scale = std::max(1.0, want.abs().max().item<double>());
  return (got - want).abs().max().item<double>() / scale;
}

// Runs `fused` and `ref` on copies of `inputs` (those in `differentiable` get gradients) and compares
// the outputs and the input gradients for the same random upstream gradient. With `dtype` bf16 the
// differentiable inputs and the upstream gradient are rounded to bf16 first; the fused op gets them
// as bf16, the reference widened back to fp32, so the reference is exact arithmetic on the same
// values and the difference is the fused op's own rounding.
KernelCheck Compare(const std::string& name, const std::vector<at::Tensor>& inputs, const std::vector<bool>& differentiable,
                    const Op& fused, const Op& ref, at::Generator& gen, at::ScalarType dtype = at::kFloat) {
  struct Run {
    at::Tensor out;
    std::vector<at::Tensor> grads;
    bool fused = false;
  };
  auto run = [&](const Op& op, at::ScalarType as, const at::Tensor& upstream) {
    std::vector<at::Tensor> in, leaves;
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto t = inputs[i].detach().clone();
      if (differentiable[i]) {
        t = t.to(dtype).to(as);
        t.set_requires_grad(true);
        leaves.push_back(t);
      }
      in.push_back(t);
    }
    Run r;
    auto out = op(in);
    auto fn = out.grad_fn();
    r.fused = fn != nullptr && fn->name().find("kernels::") != std::string::npos;
    auto up = upstream.to(dtype).to(out.scalar_type());
    r.grads = torch::autograd::grad({out}, leaves, {up});
    for (auto& g : r.grads) g = g.to(at::kFloat);
    r.out = out.detach().to(at::kFloat);
    return r;
  };
  KernelCheck check;
  check.op = name + (dtype == at::kBFloat16 ? "(bf16) " : " ") + ShapeText(inputs[0]);
  check.tolerance = dtype == at::kBFloat16 ? kBf16Tolerance : kFp32Tolerance;
  at::Tensor shape_of;
  {
    at::NoGradGuard no_grad;
    shape_of = ref(inputs);
  }
  auto upstream = at::randn(shape_of.sizes(), gen, shape_of.options().dtype(at::kFloat));
  Run want = run(ref, at::kFloat, upstream), got = run(fused, dtype, upstream);
  check.fused = got.fused;
  check.forward = RelDiff(got.out, want.out);
  for (size_t i = 0; i < want.grads.size(); ++i) check.backward = std::max(check.backward, RelDiff(got.grads[i], want.grads[i]));
  return check;
}

}  // namespace

std::vector<KernelCheck> CheckLmKernels(uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto randn = [&](std::vector<int64_t> shape, double scale = 1.0) {
    return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat)) * scale;
  };
  std::vector<KernelCheck> out;

  for (auto shape : std::vector<std::vector<int64_t>>{{3, 5, 37}, {4, 128}, {2, 3, 8}}) {
    auto w = randn({shape.back()}) + 1.0;
    out.push_back(Compare("rms_norm", {randn(shape), w}, {true, true},
                          [](const auto& in) { return RmsNorm(in[0], in[1], 1e-5); },
                          [](const auto& in) { return reference::RmsNorm(in[0], in[1], 1e-5); }, gen));
  }
  // Strided input: the fallback.
  out.push_back(Compare("rms_norm(strided)", {randn({6, 4}).t(), randn({6})}, {true, true},
                        [](const auto& in) { return RmsNorm(in[0], in[1], 1e-6); },
                        [](const auto& in) { return reference::RmsNorm(in[0], in[1], 1e-6); }, gen));

  // The other ops also fuse bf16 activations (bf16 mixed-precision training).
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    for (auto shape : std::vector<std::vector<int64_t>>{{7, 33}, {2, 5, 352}}) {
      out.push_back(Compare("swiglu", {randn(shape, 3.0), randn(shape)}, {true, true},
                            [](const auto& in) { return SwiGlu(in[0], in[1]); },
                            [](const auto& in) { return reference::SwiGlu(in[0], in[1]); }, gen, dtype));
    }

    // x [B,T,H,D] with cos/sin shared over the batch or per row (packed documents).
    for (auto [x_shape, table_batch] : std::vector<std::pair<std::vector<int64_t>, int64_t>>{
             {{2, 5, 3, 8}, 1}, {{3, 4, 2, 6}, 3}, {{2, 7, 4, 32}, 1}}) {
      std::vector<int64_t> table{table_batch, x_shape[1], 1, x_shape[3]};
      auto angle = randn(table, 2.0);
      out.push_back(Compare("rotary", {randn(x_shape), angle.cos(), angle.sin()}, {true, false, false},
                            [](const auto& in) { return RotaryHeadsFirst(in[0], in[1], in[2]); },
                            [](const auto& in) { return reference::RotaryHeadsFirst(in[0], in[1], in[2]); }, gen,
                            dtype));
    }

    // [.., T, S]: S > T is a KV cache of S − T earlier slots.
    for (auto shape : std::vector<std::vector<int64_t>>{{2, 3, 7, 7}, {2, 5, 9}, {1, 1, 1, 1}, {2, 2, 2, 33, 33}}) {
      out.push_back(Compare("causal_softmax", {randn(shape, 4.0)}, {true},
                            [](const auto& in) { return CausalSoftmax(in[0]); },
                            [](const auto& in) { return reference::CausalSoftmax(in[0]); }, gen, dtype));
    }

    for (auto [rows, vocab] : std::vector<std::pair<int64_t, int64_t>>{{9, 37}, {16, 1024}}) {
      auto targets = at::randint(vocab, {rows}, gen, at::TensorOptions().dtype(at::kLong));
      targets.index_fill_(0, at::arange(0, rows, 3), -100);  // every third row is not a target
      out.push_back(Compare("cross_entropy_sum", {randn({rows, vocab}, 3.0), targets}, {true, false},
                            [](const auto& in) { return CrossEntropySum(in[0], in[1], -100); },
                            [](const auto& in) { return reference::CrossEntropySum(in[0], in[1], -100); }, gen,
                            dtype));
    }
  }
  // bf16 RMSNorm (its input is the fp32 residual stream in training) is the composition.
  out.push_back(Compare("rms_norm(unfused)", {randn({4, 16}), randn({16}) + 1.0}, {true, true},
                        [](const auto& in) { return RmsNorm(in[0], in[1], 1e-5); },
                        [](const auto& in) { return reference::RmsNorm(in[0], in[1], 1e-5); }, gen, at::kBFloat16));
  return out;
}

std::vector<KernelCheck> CheckDecodeLinear(uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto randn = [&](std::vector<int64_t> shape) {
    return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
  };
  struct Case {
    std::string name;
    at::Tensor x, w, b;
    bool grad = false;
  };
  std::vector<Case> cases = {
      {"linear", randn({1, 256}), randn({300, 256}), at::Tensor()},  // blocks of 8, 4, then single rows
      {"linear+bias", randn({1, 1, 37}), randn({17, 37}), randn({17})},
      {"linear", randn({3, 64}), randn({9, 64}), randn({9})},
      {"linear", randn({2, 2, 16}), randn({33, 16}), at::Tensor()},  // 4 rows: a block of 4 rows
      {"linear(strided)", randn({16, 3}).t(), randn({40, 16}), at::Tensor()},
      {"linear(5 rows)", randn({5, 16}), randn({5, 16}), at::Tensor()},
      {"linear(autograd)", randn({1, 16}), randn({5, 16}), at::Tensor(), true},
  };
  std::vector<KernelCheck> out;
  for (auto& c : cases) {
    std::optional<at::NoGradGuard> no_grad;
    if (c.grad) {
      c.w.set_requires_grad(true);
    } else {
      no_grad.emplace();
    }
    KernelCheck check;
    check.op = c.name + " " + ShapeText(c.x) + "x" + ShapeText(c.w);
    check.fused = LinearTakes(c.x, c.w, c.b);
    at::Tensor got = Linear(c.x, c.w, c.b), want = at::linear(c.x, c.w, c.b);
    check.forward = got.sizes() == want.sizes() ? RelDiff(got.detach(), want.detach()) : 1e30;
    out.push_back(check);
  }
  return out;
}

std::vector<KernelCheck> CheckAdamW(uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto randn = [&](int64_t n) { return at::randn({n}, gen, at::TensorOptions().dtype(at::kFloat)); };
  const double lr = 1e-2, beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  std::vector<KernelCheck> out;
  for (auto [weight_decay, coef] : std::vector<std::pair<double, double>>{{0.0, 1.0}, {0.1, 1.0}, {0.1, 0.37}}) {
    const int64_t n = 1037;  // vector blocks and a tail
    at::Tensor p0 = randn(n);
    at::Tensor want = p0.clone().set_requires_grad(true);
    torch::optim::AdamW opt({want}, torch::optim::AdamWOptions(lr).betas({beta1, beta2}).eps(eps).weight_decay(weight_decay));
    at::Tensor got = p0.clone(), m = at::zeros({n}), v = at::zeros({n});
    for (int64_t step = 1; step <= 5; ++step) {
      at::Tensor g = randn(n);
      want.mutable_grad() = g * static_cast<float>(coef);  // what clipping by `coef` hands AdamW
      opt.step();
      auto s = rows::MakeAdamWScalars(lr, weight_decay, beta1, beta2, eps, coef, step);
      rows::AdamWStep(s, got.data_ptr<float>(), g.data_ptr<float>(), m.data_ptr<float>(), v.data_ptr<float>(), 0, n);
    }
    const auto& state = static_cast<const torch::optim::AdamWParamState&>(*opt.state().begin()->second);
    KernelCheck check;
    check.op = "adamw wd " + std::to_string(weight_decay).substr(0, 4) + " clip " + std::to_string(coef).substr(0, 4);
    check.fused = true;
    check.forward = RelDiff(got, want.detach());
    check.backward = std::max(RelDiff(m, state.exp_avg()), RelDiff(v, state.exp_avg_sq()));
    out.push_back(check);
  }
  return out;
}

}  // namespace sskai::ml::kernels
