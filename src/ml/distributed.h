// src/ml/distributed.h — private to src/ml: a c10d ProcessGroupGloo behind a torch-free-ish
// interface (only at::Tensor is named), so train.cc does not compile the c10d headers.
// Thread-safety: confined to the training thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "ml/ml.h"

namespace at {
class Tensor;
}  // namespace at

namespace sskai::ml {

class GlooGroup {
 public:
  virtual ~GlooGroup() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Blocks until every rank contributed; then `tensor` (contiguous, CPU) holds the sum over all
  // ranks on every rank. Errors: kUnavailable (a peer left, timed out, or Gloo failed).
  virtual Status AllReduceSum(at::Tensor& tensor) = 0;
};

// Rendezvous and connect a Gloo group: through a c10d TCPStore served by rank 0 at
// options.master_addr:master_port when master_port > 0, else through a c10d FileStore at
// options.store_path (all ranks open the same path; a fresh path per run). Gloo binds to
// options.host ("" = this machine's hostname). Blocks until all world_size ranks joined or the
// timeout. Errors: kInvalidArgument (bad rank/world, no store given), kUnavailable (rendezvous or
// connection failed, e.g. the master port is taken).
Result<std::unique_ptr<GlooGroup>> CreateGlooGroup(const DataParallelOptions& options);

// The group for `options` when world_size > 1, else nullptr (training on one worker).
Result<std::unique_ptr<GlooGroup>> MaybeCreateGlooGroup(const DataParallelOptions& options);

// One data-parallel gradient exchange: sums the gradients of `params` (CPU or device, any
// floating dtype) and `scalars` over all ranks in a single all-reduce and writes the sums back,
// so every rank then takes the same optimizer step. A parameter without a gradient counts as
// zero; it gets one only when another rank's is non-zero. Errors: kUnavailable.
Status AllReduceGradients(GlooGroup& group, const std::vector<at::Tensor>& params, std::vector<double>& scalars);

// True on every rank when `mine` is true on any rank (the step-boundary notice agreement).
// Errors: kUnavailable.
Result<bool> AnyRank(GlooGroup& group, bool mine);

}  // namespace sskai::ml
