// src/ml/distributed.h — private to src/ml: a c10d ProcessGroupGloo behind a torch-free-ish
// interface (only at::Tensor is named), so train.cc does not compile the c10d headers.
// Thread-safety: confined to the training thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"

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

// Rendezvous through a c10d FileStore at `store_path` (all ranks open the same path; a fresh path
// per run) and connect a Gloo group bound to `host` ("" = this machine's hostname). Blocks until
// all `world_size` ranks joined or `timeout`. Errors: kInvalidArgument (bad rank/world),
// kUnavailable (rendezvous or connection failed).
Result<std::unique_ptr<GlooGroup>> CreateGlooGroup(int rank, int world_size, const std::string& store_path,
                                                   const std::string& host, std::chrono::seconds timeout);

}  // namespace sskai::ml
