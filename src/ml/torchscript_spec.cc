// src/ml/torchscript_spec.cc — the input/output spec of user TorchScript models <-> JSON
// (torch-free: the API server validates specs before it spawns anything).
#include <cmath>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "ml/ml.h"

namespace sskai::ml {
namespace {

using nlohmann::json;

constexpr size_t kMaxTensors = 16;
constexpr size_t kMaxRank = 8;
constexpr size_t kMaxClasses = 100000;

bool KnownDtype(const std::string& d) {
  static const std::set<std::string> kDtypes = {"float32", "float64", "float16", "bfloat16", "int64",
                                                "int32",   "int16",   "int8",    "uint8",    "bool"};
  return kDtypes.count(d) > 0;
}

Result<TensorSpec> ParseTensor(const json& j, const std::string& where, bool is_input) {
  if (!j.is_object()) return Status::InvalidArgument(where + ": expected an object");
  for (const auto& [key, value] : j.items()) {
    (void)value;
    if (key != "name" && key != "shape" && key != "dtype" && key != "range") {
      return Status::InvalidArgument(where + ": unknown field '" + key + "'");
    }
  }
  TensorSpec t;
  if (j.contains("name")) {
    if (!j["name"].is_string() || j["name"].get<std::string>().empty() || j["name"].get<std::string>().size() > 64) {
      return Status::InvalidArgument(where + ".name: expected a string of 1-64 characters");
    }
    t.name = j["name"].get<std::string>();
  }
  if (!j.contains("shape")) {
    if (is_input) return Status::InvalidArgument(where + ".shape: required (e.g. [-1, 4]; -1 = the batch dimension)");
  } else {
    const json& shape = j["shape"];
    if (!shape.is_array() || shape.empty() || shape.size() > kMaxRank) {
      return Status::InvalidArgument(where + ".shape: expected an array of 1-8 integers");
    }
    for (size_t idx = 0; idx < shape.size(); ++idx) {
      const json& d = shape[idx];
      if (!d.is_number_integer() || d.get<int64_t>() < -1 || d.get<int64_t>() == 0 || d.get<int64_t>() > (1 << 24)) {
        return Status::InvalidArgument(where + ".shape[" + std::to_string(idx) +
                                       "]: expected a positive integer or -1, got " + d.dump());
      }
      t.shape.push_back(d.get<int64_t>());
    }
    if (is_input) {
      for (size_t idx = 1; idx < t.shape.size(); ++idx) {
        if (t.shape[idx] < 0) {
          return Status::InvalidArgument(where + ".shape[" + std::to_string(idx) +
                                         "]: only the first (batch) dimension may be -1");
        }
      }
    }
  }
  if (j.contains("dtype")) {
    if (!j["dtype"].is_string() || !KnownDtype(j["dtype"].get<std::string>())) {
      return Status::InvalidArgument(where + ".dtype: expected one of float32, float64, float16, bfloat16, "
                                             "int64, int32, int16, int8, uint8, bool; got " + j["dtype"].dump());
    }
    t.dtype = j["dtype"].get<std::string>();
  }
  if (j.contains("range")) {
    const json& r = j["range"];
    if (!r.is_array() || r.size() != 2 || !r[0].is_number() || !r[1].is_number() ||
        !std::isfinite(r[0].get<double>()) || !std::isfinite(r[1].get<double>()) ||
        r[0].get<double>() > r[1].get<double>()) {
      return Status::InvalidArgument(where + ".range: expected [lo, hi] with lo <= hi");
    }
    t.has_range = true;
    t.range_lo = r[0].get<double>();
    t.range_hi = r[1].get<double>();
  }
  return t;
}

Status ParseTensors(const json& arr, const std::string& field, bool is_input, std::vector<TensorSpec>* out) {
  if (!arr.is_array() || (is_input && arr.empty()) || arr.size() > kMaxTensors) {
    return Status::InvalidArgument(field + ": expected an array of " + (is_input ? "1" : "0") + "-16 tensor specs");
  }
  std::set<std::string> names;
  for (size_t idx = 0; idx < arr.size(); ++idx) {
    std::string where = field + "[" + std::to_string(idx) + "]";
    SSKAI_ASSIGN_OR_RETURN(TensorSpec t, ParseTensor(arr[idx], where, is_input));
    if (t.name.empty()) t.name = (is_input ? "input-" : "output-") + std::to_string(idx);
    if (!names.insert(t.name).second) return Status::InvalidArgument(where + ".name: duplicate '" + t.name + "'");
    out->push_back(std::move(t));
  }
  return Status::Ok();
}

json TensorJson(const TensorSpec& t) {
  json j = {{"name", t.name}, {"dtype", t.dtype}};
  if (!t.shape.empty()) j["shape"] = t.shape;
  if (t.has_range) j["range"] = {t.range_lo, t.range_hi};
  return j;
}

}  // namespace

std::string ShapeToString(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t idx = 0; idx < shape.size(); ++idx) out += (idx ? "," : "") + std::to_string(shape[idx]);
  return out + "]";
}

Result<TorchScriptSpec> TorchScriptSpecFromJson(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("spec: not a JSON object");
  for (const auto& [key, value] : j.items()) {
    (void)value;
    if (key != "inputs" && key != "outputs" && key != "task" && key != "classes") {
      return Status::InvalidArgument("spec: unknown field '" + key + "' (inputs, outputs, task, classes)");
    }
  }
  TorchScriptSpec spec;
  if (!j.contains("inputs")) return Status::InvalidArgument("spec.inputs: required");
  SSKAI_RETURN_IF_ERROR(ParseTensors(j["inputs"], "spec.inputs", true, &spec.inputs));
  if (j.contains("outputs")) SSKAI_RETURN_IF_ERROR(ParseTensors(j["outputs"], "spec.outputs", false, &spec.outputs));
  if (j.contains("task")) {
    if (!j["task"].is_string()) return Status::InvalidArgument("spec.task: expected a string");
    spec.task = j["task"].get<std::string>();
    if (spec.task != "classification" && spec.task != "regression" && spec.task != "tensor") {
      return Status::InvalidArgument("spec.task: expected classification, regression or tensor; got '" + spec.task + "'");
    }
  }
  if (j.contains("classes")) {
    const json& c = j["classes"];
    if (!c.is_array() || c.size() > kMaxClasses) return Status::InvalidArgument("spec.classes: expected an array of strings");
    std::set<std::string> seen;
    for (size_t idx = 0; idx < c.size(); ++idx) {
      if (!c[idx].is_string()) {
        return Status::InvalidArgument("spec.classes[" + std::to_string(idx) + "]: expected a string");
      }
      if (!seen.insert(c[idx].get<std::string>()).second) {
        return Status::InvalidArgument("spec.classes[" + std::to_string(idx) + "]: duplicate " + c[idx].dump());
      }
      spec.classes.push_back(c[idx].get<std::string>());
    }
    if (spec.task != "classification" && !spec.classes.empty()) {
      return Status::InvalidArgument("spec.classes: only for task classification");
    }
  }
  return spec;
}

std::string TorchScriptSpecToJson(const TorchScriptSpec& spec) {
  json j = {{"inputs", json::array()}, {"task", spec.task}};
  for (const auto& t : spec.inputs) j["inputs"].push_back(TensorJson(t));
  if (!spec.outputs.empty()) {
    j["outputs"] = json::array();
    for (const auto& t : spec.outputs) j["outputs"].push_back(TensorJson(t));
  }
  if (!spec.classes.empty()) j["classes"] = spec.classes;
  return j.dump();
}

}  // namespace sskai::ml
