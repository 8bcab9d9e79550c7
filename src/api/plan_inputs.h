// src/api/plan_inputs.h — private to the api module: what feeds the planner routes (field
// parsing, plans from a stored model profile or an LM config.json, catalog refresh, the plan a
// job/endpoint records). Errors name the request field.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "api/internal.h"
#include "planner/planner.h"

namespace sskai::api {

// "workload.params" style names for nested fields.
std::string FieldName(const std::string& prefix, const std::string& name);
// A finite number; absent or null -> nullopt (or an error when required).
Result<std::optional<double>> NumberField(const json& obj, const std::string& prefix,
                                          const std::string& name, bool required);
// > 0; absent -> `def` unless required.
Result<double> Positive(const json& obj, const std::string& prefix, const std::string& name,
                        bool required, double def);
// An integer in [min, max]; absent -> `def`.
Result<int> WholeNumber(const json& obj, const std::string& prefix, const std::string& name,
                        int def, int min, int max);

// The catalog in force, or nullptr when none is loaded.
std::shared_ptr<const planner::Catalog> CurrentCatalog(const ApiContext& ctx);

// {"model": {"name", "version", "samples", "epochs"}} -> workload (train) or request_gflops and
// model_memory_gib (serve) from the stored profile, plus calibration.cpu_efficiency from its
// measurements. Explicit fields win. kFailedPrecondition when the model has no profile yet.
Result<json> ExpandModelProfile(ApiContext& ctx, json body, int64_t owner_id);

// {"config": <config.json>, "seq_len", "micro_batch", "precision", "lora_rank"} of an LM.
struct LmRequest {
  planner::LmShape shape;
  int seq_len = 2048, micro_batch = 1, lora_rank = 0;
  planner::Precision precision = planner::Precision::kBf16;
  std::string precision_name = "bf16";
};
Result<LmRequest> ParseLmRequest(const json& lm, const std::string& prefix);
json LmProfileJson(const planner::LmProfile& profile, const LmRequest& request);
// {"lm": {config, tokens, ...}} -> the workload (train) or request size and memory (serve).
Result<json> ExpandLm(json body);

// Applies {files:[{name, text}]} to the catalog all-or-nothing, keeps the files for the next
// start and records the new prices for the cost ledger. Returns the new dates.
Result<json> RefreshCatalog(ApiContext& ctx, const json& body);

}  // namespace sskai::api
