// src/ml/train_loop.h — private to src/ml: the built-in models' training loop (train_loop.cc),
// shared by the tabular and image entry points (train.cc). Torch from the precompiled header.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ml/train.h"

namespace sskai::ml {

// Everything the loop needs, independent of tabular vs image input.
struct Problem {
  NetConfig net;
  std::string task;                  // "classification" | "regression"
  std::vector<std::string> classes;
  torch::Tensor x;                   // [n, features] float or [n, c, h, w] uint8
  torch::Tensor y;                   // [n] int64 class index or float value
  nlohmann::json input;              // metadata "input"
  std::string encoder_json;
  std::string fingerprint;           // sha256 of the data, to refuse resuming on other data
};

// Splits, trains (resuming from `resume_checkpoint` when given; data-parallel when
// callbacks.data_parallel.world_size > 1), checkpoints into work_dir and writes the model there.
// Never throws: torch errors become kInternal. Errors: kInvalidArgument (data, resume), kCancelled
// (notice / should_stop), kUnavailable (a data-parallel peer), on_checkpoint's status.
Result<TrainResult> TrainProblem(Problem& p, const TrainSpec& spec, const std::string& resume_checkpoint,
                                 const std::string& work_dir, const TrainCallbacks& callbacks);

}  // namespace sskai::ml
