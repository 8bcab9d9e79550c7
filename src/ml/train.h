// src/ml/train.h — internal interface between engine.cc (Engine, Predictor) and train.cc
// (training loop, checkpoints). Includes torch via nets.h.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "ml/ml.h"
#include "ml/nets.h"

namespace sskai::ml {

// File names inside work_dir.
inline constexpr char kModelFileName[] = "model.sskai";

nlohmann::json NetConfigToJson(const NetConfig& config);
Result<NetConfig> NetConfigFromJson(const nlohmann::json& j);

// Builds the network described by `config` and loads its parameters and buffers from a
// serialized torch archive. Errors: kInvalidArgument (archive does not fit the config).
Result<std::shared_ptr<Net>> LoadNet(const NetConfig& config, const std::string& archive_bytes);

// Parses a container's metadata JSON. Errors: kInvalidArgument.
Result<nlohmann::json> ParseMetadata(const std::string& metadata_json);

// Engine::ProfileJson (profile.cc).
Result<std::string> ProfileModelJson(const std::string& model_path, const std::string& options_json);

Result<TrainResult> RunTabularTraining(const data::TabularData& data, const TrainSpec& spec,
                                       const std::string& resume_checkpoint, const std::string& work_dir,
                                       const TrainCallbacks& callbacks);
Result<TrainResult> RunImageTraining(const data::ImageData& data, const TrainSpec& spec,
                                     const std::string& resume_checkpoint, const std::string& work_dir,
                                     const TrainCallbacks& callbacks);

}  // namespace sskai::ml
