// c10d ProcessGroupGloo for data-parallel training (compiled with USE_C10D_GLOO, without the
// engine's precompiled header: the c10d headers need the define).
#include "ml/distributed.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

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

}  // namespace

Result<std::unique_ptr<GlooGroup>> CreateGlooGroup(int rank, int world_size, const std::string& store_path,
                                                   const std::string& host, std::chrono::seconds timeout) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    return Status::InvalidArgument("data parallel: rank " + std::to_string(rank) + " of world size " +
                                   std::to_string(world_size));
  }
  if (store_path.empty()) return Status::InvalidArgument("data parallel: no rendezvous store path");
  try {
    auto store = c10::make_intrusive<c10d::FileStore>(store_path, world_size);
    store->setTimeout(timeout);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(host.empty() ? c10d::ProcessGroupGloo::createDefaultDevice()
                                            : c10d::ProcessGroupGloo::createDeviceForHostname(host));
    options->threads = 1;
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options);
    return std::unique_ptr<GlooGroup>(std::make_unique<GlooGroupImpl>(
        rank, world_size, std::move(group), std::chrono::duration_cast<std::chrono::milliseconds>(timeout)));
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("data parallel: rendezvous failed: ") + e.what());
  }
}

}  // namespace sskai::ml
