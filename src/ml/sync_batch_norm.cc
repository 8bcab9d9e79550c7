// Synchronized BatchNorm for data-parallel training (see sync_batch_norm.h).
#include "ml/sync_batch_norm.h"

#include <stdexcept>

#include "ml/distributed.h"

namespace sskai::ml {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void SumOverRanks(GlooGroup& group, torch::Tensor& t) {
  Status st = group.AllReduceSum(t);
  if (!st.ok()) throw std::runtime_error(st.ToString());
}

// y = sum over ranks of x (on every rank). Its gradient is the sum over ranks of the output
// gradients: every rank's loss depends on every rank's x through y.
class AllReduceSumFunction : public torch::autograd::Function<AllReduceSumFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, int64_t group_address) {
    ctx->saved_data["group"] = group_address;
    torch::Tensor out = x.detach().clone().contiguous();
    SumOverRanks(*reinterpret_cast<GlooGroup*>(group_address), out);
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto* group = reinterpret_cast<GlooGroup*>(ctx->saved_data["group"].toInt());
    torch::Tensor grad = grads[0].contiguous().clone();
    SumOverRanks(*group, grad);
    return {grad, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor SyncBatchNorm2d(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, GlooGroup& group) {
  const int64_t channels = x.size(1);
  torch::Tensor xd = x.to(torch::kDouble);
  torch::Tensor local_count = torch::full({1}, static_cast<double>(x.numel() / channels), torch::kDouble);
  torch::Tensor stats = torch::cat({xd.sum({0, 2, 3}), xd.pow(2).sum({0, 2, 3}), local_count});
  torch::Tensor global = AllReduceSumFunction::apply(stats, reinterpret_cast<int64_t>(&group));
  torch::Tensor count = global.narrow(0, 2 * channels, 1);
  torch::Tensor mean = global.narrow(0, 0, channels) / count;
  torch::Tensor var = global.narrow(0, channels, channels) / count - mean.pow(2);
  const double eps = bn.options.eps();
  torch::Tensor normalized = (xd - mean.view({1, channels, 1, 1})) * torch::rsqrt(var + eps).view({1, channels, 1, 1});
  torch::Tensor y = normalized.to(x.scalar_type());
  if (bn.options.affine()) y = y * bn.weight.view({1, channels, 1, 1}) + bn.bias.view({1, channels, 1, 1});
  if (bn.options.track_running_stats()) {
    torch::NoGradGuard no_grad;
    const double n = count.item<double>();
    const double momentum = bn.options.momentum().value_or(0.1);
    bn.running_mean.mul_(1 - momentum).add_(mean.detach().to(bn.running_mean.scalar_type()), momentum);
    torch::Tensor unbiased = var.detach() * (n / std::max(1.0, n - 1));
    bn.running_var.mul_(1 - momentum).add_(unbiased.to(bn.running_var.scalar_type()), momentum);
    bn.num_batches_tracked.add_(1);
  }
  return y;
}

}  // namespace sskai::ml
