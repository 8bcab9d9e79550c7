// c10d ProcessGroupGloo for data-parallel training (compiled with USE_C10D_GLOO, without the
// engine's precompiled header: the c10d headers need the define).
//
// Builds against libtorch 1.13 (Debian 12) and PyTorch 2.x: TCPStore(host, TCPStoreOptions) and
// ProcessGroupGloo(store, rank, size, options) have the same shape in both; 2.2+ adds a libuv
// TCPStore server (the default from 2.4), which we turn off to keep one behaviour everywhere.
#include "ml/distributed.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#include <algorithm>
#include <chrono>

namespace sskai::ml {
namespace {

class GlooGroupImpl final : public GlooGroup {
 public:
  GlooGroupImpl(int rank, int world, c10::intrusive_ptr<c10d::ProcessGroupGloo> group,
                std::chrono::milliseconds timeout)
      : rank_(rank), world_(world), group_(std::move(group)), timeout_(timeout) {}
  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  Status AllReduceSum(at::Tensor& tensor) override {
    try {
      std::vector<at::Tensor> tensors{tensor};
      auto work = group_->allreduce(tensors);
      if (!work->wait(timeout_)) return Status::Unavailable("all-reduce did not complete");
      return Status::Ok();
    } catch (const std::exception& e) {
      return Status::Unavailable(std::string("all-reduce failed (a peer left?): ") + e.what());
    }
  }

 private:
  int rank_, world_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  std::chrono::milliseconds timeout_;
};

c10::intrusive_ptr<c10d::Store> MakeStore(const DataParallelOptions& o, std::chrono::milliseconds timeout) {
  if (o.master_port > 0) {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(o.master_port);
    opts.isServer = o.rank == 0;  // rank 0 serves the store; every rank (rank 0 too) is a client
    opts.numWorkers = static_cast<std::size_t>(o.world_size);
    opts.waitWorkers = true;
    opts.timeout = timeout;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2)
    opts.useLibUV = false;
#endif
    return c10::make_intrusive<c10d::TCPStore>(o.master_addr.empty() ? "127.0.0.1" : o.master_addr, opts);
  }
  auto store = c10::make_intrusive<c10d::FileStore>(o.store_path, o.world_size);
  store->setTimeout(timeout);
  return store;
}

}  // namespace

Result<std::unique_ptr<GlooGroup>> CreateGlooGroup(const DataParallelOptions& o) {
  if (o.world_size < 1 || o.rank < 0 || o.rank >= o.world_size) {
    return Status::InvalidArgument("data parallel: rank " + std::to_string(o.rank) + " of world size " +
                                   std::to_string(o.world_size));
  }
  if (o.master_port > 65535) return Status::InvalidArgument("data parallel: bad master port");
  if (o.master_port <= 0 && o.store_path.empty()) {
    return Status::InvalidArgument("data parallel: no rendezvous (neither a master port nor a store path)");
  }
  const auto timeout = std::chrono::milliseconds(std::max(1, o.timeout_seconds) * 1000LL);
  try {
    auto store = MakeStore(o, timeout);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(o.host.empty() ? c10d::ProcessGroupGloo::createDefaultDevice()
                                              : c10d::ProcessGroupGloo::createDeviceForHostname(o.host));
    options->threads = 1;
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank, o.world_size, options);
    return std::unique_ptr<GlooGroup>(std::make_unique<GlooGroupImpl>(o.rank, o.world_size, std::move(group), timeout));
  } catch (const std::exception& e) {
    std::string where = o.master_port > 0 ? "tcp://" + o.master_addr + ":" + std::to_string(o.master_port)
                                          : "file://" + o.store_path;
    return Status::Unavailable("data parallel: rendezvous at " + where + " failed: " + e.what());
  }
}

Status AllReduceGradients(GlooGroup& group, const std::vector<at::Tensor>& params, std::vector<double>& scalars) {
  std::vector<at::Tensor> parts;
  for (const auto& param : params) {
    const at::Tensor& grad = param.grad();
    parts.push_back(grad.defined() ? grad.detach().reshape(-1).to(at::kCPU, at::kFloat)
                                   : at::zeros({param.numel()}, at::kFloat));
  }
  parts.push_back(at::tensor(scalars, at::kDouble).to(at::kFloat));
  at::Tensor flat = at::cat(parts).contiguous();
  SSKAI_RETURN_IF_ERROR(group.AllReduceSum(flat));
  int64_t offset = 0;
  for (const auto& param : params) {
    const int64_t count = param.numel();
    at::Tensor sum = flat.narrow(0, offset, count).view(param.sizes());
    offset += count;
    at::Tensor grad = param.grad();
    if (grad.defined()) {
      grad.detach().copy_(sum);
    } else if (sum.ne(0).any().item<bool>()) {
      const_cast<at::Tensor&>(param).mutable_grad() = sum.to(param.options());
    }
  }
  for (size_t idx = 0; idx < scalars.size(); ++idx) scalars[idx] = flat[offset + static_cast<int64_t>(idx)].item<double>();
  return Status::Ok();
}

Result<bool> AnyRank(GlooGroup& group, bool mine) {
  at::Tensor flag = at::full({1}, mine ? 1.0 : 0.0, at::kDouble);
  SSKAI_RETURN_IF_ERROR(group.AllReduceSum(flag));
  return flag.item<double>() > 0;
}

Result<std::unique_ptr<GlooGroup>> MaybeCreateGlooGroup(const DataParallelOptions& options) {
  if (options.world_size <= 1) return std::unique_ptr<GlooGroup>();
  return CreateGlooGroup(options);
}

}  // namespace sskai::ml
