// src/ml/lm_kernels_check.cc — fused kernels vs their reference compositions (lm_kernels_check.h).
#include "ml/lm_kernels_check.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

#include <algorithm>
#include <functional>
#include <optional>

#include "ml/lm_kernels.h"

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
// the outputs and the input gradients for the same random upstream gradient.
KernelCheck Compare(const std::string& name, const std::vector<at::Tensor>& inputs, const std::vector<bool>& differentiable,
                    const Op& fused, const Op& ref, at::Generator& gen) {
  auto run = [&](const Op& op, const at::Tensor& upstream, at::Tensor* out) {
    std::vector<at::Tensor> in, leaves;
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto t = inputs[i].detach().clone();
      if (differentiable[i]) {
        t.set_requires_grad(true);
        leaves.push_back(t);
      }
      in.push_back(t);
    }
    *out = op(in);
    auto grads = torch::autograd::grad({*out}, leaves, {upstream.defined() ? upstream : at::ones_like(*out)});
    return grads;
  };
  KernelCheck check;
  check.op = name + " " + ShapeText(inputs[0]);
  at::Tensor y_ref, y_fused;
  {
    at::NoGradGuard no_grad;
    y_ref = ref(inputs);
  }
  auto upstream = at::randn(y_ref.sizes(), gen, y_ref.options());
  auto g_ref = run(ref, upstream, &y_ref);
  auto g_fused = run(fused, upstream, &y_fused);
  auto fn = y_fused.grad_fn();
  check.fused = fn != nullptr && fn->name().find("kernels::") != std::string::npos;
  check.forward = RelDiff(y_fused, y_ref);
  for (size_t i = 0; i < g_ref.size(); ++i) check.backward = std::max(check.backward, RelDiff(g_fused[i], g_ref[i]));
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

  for (auto shape : std::vector<std::vector<int64_t>>{{7, 33}, {2, 5, 352}}) {
    out.push_back(Compare("swiglu", {randn(shape, 3.0), randn(shape)}, {true, true},
                          [](const auto& in) { return SwiGlu(in[0], in[1]); },
                          [](const auto& in) { return reference::SwiGlu(in[0], in[1]); }, gen));
  }

  // x [B,T,H,D] with cos/sin shared over the batch or per row (packed documents).
  for (auto [x_shape, table_batch] : std::vector<std::pair<std::vector<int64_t>, int64_t>>{
           {{2, 5, 3, 8}, 1}, {{3, 4, 2, 6}, 3}, {{2, 7, 4, 32}, 1}}) {
    std::vector<int64_t> table{table_batch, x_shape[1], 1, x_shape[3]};
    auto angle = randn(table, 2.0);
    out.push_back(Compare("rotary", {randn(x_shape), angle.cos(), angle.sin()}, {true, false, false},
                          [](const auto& in) { return RotaryHeadsFirst(in[0], in[1], in[2]); },
                          [](const auto& in) { return reference::RotaryHeadsFirst(in[0], in[1], in[2]); }, gen));
  }

  // [.., T, S]: S > T is a KV cache of S − T earlier slots.
  for (auto shape : std::vector<std::vector<int64_t>>{{2, 3, 7, 7}, {2, 5, 9}, {1, 1, 1, 1}, {2, 2, 2, 33, 33}}) {
    out.push_back(Compare("causal_softmax", {randn(shape, 4.0)}, {true},
                          [](const auto& in) { return CausalSoftmax(in[0]); },
                          [](const auto& in) { return reference::CausalSoftmax(in[0]); }, gen));
  }

  for (auto [rows, vocab] : std::vector<std::pair<int64_t, int64_t>>{{9, 37}, {16, 1024}}) {
    auto targets = at::randint(vocab, {rows}, gen, at::TensorOptions().dtype(at::kLong));
    targets.index_fill_(0, at::arange(0, rows, 3), -100);  // every third row is not a target
    out.push_back(Compare("cross_entropy_sum", {randn({rows, vocab}, 3.0), targets}, {true, false},
                          [](const auto& in) { return CrossEntropySum(in[0], in[1], -100); },
                          [](const auto& in) { return reference::CrossEntropySum(in[0], in[1], -100); }, gen));
  }
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

}  // namespace sskai::ml::kernels
