// src/ml/sync_batch_norm.h — private to src/ml (torch from the engine's precompiled header):
// BatchNorm over the global batch of a data-parallel step.
// Thread-safety: confined to the training thread.
#pragma once

namespace sskai::ml {

class GlooGroup;

// Training-mode BatchNorm2d whose statistics are those of the global batch: every rank sums its
// shard's per-channel sum, sum of squares and element count (one all-reduce, in double), so all
// ranks normalize with the global mean and biased variance, exactly as one worker holding the
// whole batch would. The backward pass all-reduces the statistics' gradients, so each rank's input
// gradient includes the other ranks' dependence on its rows. The running statistics (momentum,
// unbiased variance, num_batches_tracked) are updated from the global batch, identically on every
// rank. Throws std::runtime_error when the all-reduce fails (the caller turns it into a Status).
torch::Tensor SyncBatchNorm2d(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, GlooGroup& group);

}  // namespace sskai::ml
