// src/ml/torchscript.h — user TorchScript models inside libsskai_ml.so (private: torch comes from
// the library's precompiled header). Loading with archive checks (no pickled eager models),
// validation by running, serving (Predictor), training and profiling helpers.
#pragma once

// libtorch: from sskai_ml's precompiled header (src/ml/CMakeLists.txt).

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ml/ml.h"

namespace sskai::ml {

// The extra file inside a stored archive that holds the spec (TorchScriptSpecToJson) and the
// validation report ({"spec", "observed_outputs", "parameters"}).
inline constexpr const char* kSpecExtraFile = "sskai_spec.json";

// True when the file starts with a zip local-file header ("PK\3\4").
bool LooksLikeZip(const std::string& path);

// Checks that `path` is a TorchScript archive (zip with code/ and constants.pkl) before any
// unpickling; explains pickled eager models and non-zips. Errors: kInvalidArgument, kNotFound.
Status CheckTorchScriptArchive(const std::string& path);

struct LoadedScript {
  torch::jit::Module module;
  TorchScriptSpec spec;
  std::string report_json;  // the embedded report ("" for an unvalidated archive)
};

// Loads an archive written by ValidateTorchScript/TrainTorchScript (spec embedded), in eval mode.
// Errors: kInvalidArgument (not TorchScript, no embedded spec, does not load).
Result<LoadedScript> LoadStoredScript(const std::string& path);

// Random inputs of the spec at `batch` (values uniform in the range, default [0, 1]; integers
// in [lo, hi]). Uses torch's global generator.
std::vector<torch::jit::IValue> RandomInputs(const TorchScriptSpec& spec, int64_t batch);

// Runs forward and flattens the result (a tensor, or a tuple/list of tensors). Errors:
// kInvalidArgument with the exception text, or for other return types.
Result<std::vector<torch::Tensor>> RunForward(torch::jit::Module& module, std::vector<torch::jit::IValue> inputs);

torch::ScalarType DtypeOf(const std::string& spec_dtype);
std::string DtypeName(torch::ScalarType type);

// Engine entry points (engine.cc dispatches here).
Result<std::string> ValidateTorchScriptFile(const std::string& file_path, const std::string& spec_json,
                                            const std::string& out_path);
Result<std::unique_ptr<Predictor>> LoadTorchScriptPredictor(const std::string& path);
Result<TrainResult> RunTorchScriptTraining(const std::string& model_path, const std::string& csv_path,
                                           const std::string& target, const TrainSpec& spec,
                                           const std::string& resume_checkpoint, const std::string& work_dir,
                                           const TrainCallbacks& callbacks);
Result<std::string> ProfileTorchScriptJson(const std::string& model_path, const std::string& options_json);

}  // namespace sskai::ml
