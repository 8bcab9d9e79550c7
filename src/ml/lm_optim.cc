// src/ml/lm_optim.cc — the LM trainer's optimizer step: gradient clipping fused into AdamW.
//
// libtorch's AdamW (and clip_grad_norm_) run ~10 separate tensor ops per parameter, each a full
// pass over memory; for fp32 CPU tensors this does the whole update in one pass (the vectorized
// loop of lm_kernels_rows.h). The state lives in the torch::optim::AdamW object
// (AdamWParamState), so optimizer.pt checkpoints keep their format.
#include <cmath>
#include <limits>
#include <sstream>
#include <type_traits>

#include "ml/lm_kernels_rows.h"
#include "ml/lm_model.h"

namespace sskai::ml {

namespace {

// torch::optim keys per-parameter state by the TensorImpl address: a string in libtorch 1.x, the
// pointer itself in 2.x.
template <typename Map>
typename Map::key_type StateKey(const torch::Tensor& p) {
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream os;  // what c10::guts::to_string does
    os << p.unsafeGetTensorImpl();
    return os.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

struct Update {
  double lr = 0, weight_decay = 0, beta1 = 0, beta2 = 0, eps = 0, coef = 1;
  int64_t step = 0;
};

void FusedCpu(const Update& u, float* p, const float* g, float* m, float* v, int64_t n) {
  auto s = kernels::rows::MakeAdamWScalars(u.lr, u.weight_decay, u.beta1, u.beta2, u.eps, u.coef, u.step);
  at::parallel_for(0, n, 32768, [&](int64_t begin, int64_t end) { kernels::rows::AdamWStep(s, p, g, m, v, begin, end); });
}

void OpSequence(const Update& u, torch::Tensor& p, const torch::Tensor& grad, torch::Tensor& m, torch::Tensor& v) {
  if (u.weight_decay != 0) p.mul_(1 - u.lr * u.weight_decay);
  torch::Tensor g = u.coef < 1 ? grad * u.coef : grad;
  m.mul_(u.beta1).add_(g, 1 - u.beta1);
  v.mul_(u.beta2).addcmul_(g, g, 1 - u.beta2);
  double bc1 = 1 - std::pow(u.beta1, static_cast<double>(u.step));
  double bc2 = 1 - std::pow(u.beta2, static_cast<double>(u.step));
  auto denom = (v.sqrt() / std::sqrt(bc2)).add_(u.eps);
  p.addcdiv_(m, denom, -u.lr / bc1);
}

bool Fusable(const torch::Tensor& p, const torch::Tensor& g, const torch::Tensor& m, const torch::Tensor& v) {
  for (const auto* t : {&p, &g, &m, &v}) {
    if (!t->device().is_cpu() || t->scalar_type() != torch::kFloat || !t->is_contiguous()) return false;
  }
  return true;
}

}  // namespace

void ClearGrads(torch::optim::Optimizer& opt) {
  for (auto& group : opt.param_groups()) {
    for (auto& p : group.params()) {
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
    }
  }
}

double ClipAndStepAdamW(torch::optim::AdamW& opt, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (auto& group : opt.param_groups()) {
    for (auto& p : group.params()) {
      if (p.grad().defined()) norms.push_back(p.grad().norm(2));
    }
  }
  if (norms.empty()) return 0;
  double total = norms.size() == 1 ? norms[0].item<double>() : torch::stack(norms).norm(2).item<double>();
  double coef = std::isfinite(max_norm) ? std::min(1.0, max_norm / (total + 1e-6)) : 1.0;
  auto& state = opt.state();
  using StateMap = std::remove_reference_t<decltype(state)>;
  for (auto& group : opt.param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    Update u;
    u.lr = o.lr();
    u.weight_decay = o.weight_decay();
    u.beta1 = std::get<0>(o.betas());
    u.beta2 = std::get<1>(o.betas());
    u.eps = o.eps();
    u.coef = coef;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto key = StateKey<StateMap>(p);
      auto it = state.find(key);
      if (it == state.end()) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = state.emplace(key, std::move(fresh)).first;
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
      s.step(s.step() + 1);
      u.step = s.step();
      torch::Tensor grad = p.grad();
      if (Fusable(p, grad, s.exp_avg(), s.exp_avg_sq())) {
        FusedCpu(u, p.data_ptr<float>(), grad.data_ptr<float>(), s.exp_avg().data_ptr<float>(),
                 s.exp_avg_sq().data_ptr<float>(), p.numel());
      } else {
        OpSequence(u, p, grad, s.exp_avg(), s.exp_avg_sq());
      }
    }
  }
  return total;
}

}  // namespace sskai::ml
