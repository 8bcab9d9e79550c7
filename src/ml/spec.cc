// src/ml/spec.cc — TrainSpec <-> JSON with range validation (torch-free).
#include <cmath>
#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "ml/ml.h"

namespace sskai::ml {
namespace {

using nlohmann::json;

std::string Str(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

Status RangeError(const std::string& field, const std::string& range, const json& got) {
  return Status::InvalidArgument(field + ": must be " + range + ", got " + got.dump());
}

// Reads an integer field in [lo, hi].
Status ReadInt(const json& obj, const char* field, int64_t lo, int64_t hi, const std::string& range,
               int64_t* out) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (it->is_number_float()) {
    double d = it->get<double>();
    if (std::floor(d) != d) return Status::InvalidArgument(std::string(field) + ": must be an integer, got " + it->dump());
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) return RangeError(field, range, *it);
    *out = static_cast<int64_t>(d);
    return Status::Ok();
  }
  if (!it->is_number_integer()) {
    return Status::InvalidArgument(std::string(field) + ": must be an integer, got " + it->dump());
  }
  if (it->is_number_unsigned()) {
    uint64_t u = it->get<uint64_t>();
    if (u > static_cast<uint64_t>(hi) || static_cast<int64_t>(u) < lo) return RangeError(field, range, *it);
    *out = static_cast<int64_t>(u);
  } else {
    int64_t v = it->get<int64_t>();
    if (v < lo || v > hi) return RangeError(field, range, *it);
    *out = v;
  }
  return Status::Ok();
}

// Reads a number field with lo (<= or <) value (<= or <) hi.
Status ReadDouble(const json& obj, const char* field, double lo, bool lo_open, double hi, bool hi_open,
                  double* out) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_number()) return Status::InvalidArgument(std::string(field) + ": must be a number, got " + it->dump());
  double v = it->get<double>();
  bool bad = !std::isfinite(v) || (lo_open ? v <= lo : v < lo) || (hi_open ? v >= hi : v > hi);
  if (bad) {
    std::string range = std::string(lo_open ? "greater than " : "at least ") + Str(lo) +
                        (hi_open ? " and less than " : " and at most ") + Str(hi);
    return RangeError(field, range, *it);
  }
  *out = v;
  return Status::Ok();
}

Status ReadEnum(const json& obj, const char* field, const std::set<std::string>& allowed, std::string* out) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  std::string names;
  for (const auto& a : allowed) names += (names.empty() ? "" : ", ") + (a.empty() ? std::string("\"\"") : a);
  if (!it->is_string() || !allowed.count(it->get<std::string>())) {
    return Status::InvalidArgument(std::string(field) + ": must be one of " + names + ", got " + it->dump());
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

Status FromJsonObject(const json& obj, TrainSpec* spec) {
  static const std::set<std::string> kKnown = {"model", "task", "epochs", "batch_size", "learning_rate",
                                               "optimizer", "weight_decay", "validation_split", "seed",
                                               "hidden", "threads"};
  for (const auto& [key, value] : obj.items()) {
    if (!kKnown.count(key)) {
      std::string names;
      for (const auto& k : kKnown) names += (names.empty() ? "" : ", ") + k;
      return Status::InvalidArgument("unknown hyperparameter '" + key + "' (known: " + names + ")");
    }
  }
  SSKAI_RETURN_IF_ERROR(ReadEnum(obj, "model", {"auto", "mlp", "cnn"}, &spec->model));
  SSKAI_RETURN_IF_ERROR(ReadEnum(obj, "task", {"", "classification", "regression"}, &spec->task));
  SSKAI_RETURN_IF_ERROR(ReadEnum(obj, "optimizer", {"adam", "adamw", "sgd"}, &spec->optimizer));
  int64_t v = spec->epochs;
  SSKAI_RETURN_IF_ERROR(ReadInt(obj, "epochs", 0, 10000, "0 (auto) or between 1 and 10000", &v));
  spec->epochs = static_cast<int>(v);
  v = spec->batch_size;
  SSKAI_RETURN_IF_ERROR(ReadInt(obj, "batch_size", 1, 65536, "between 1 and 65536", &v));
  spec->batch_size = static_cast<int>(v);
  v = spec->threads;
  SSKAI_RETURN_IF_ERROR(ReadInt(obj, "threads", 0, 256, "between 0 and 256", &v));
  spec->threads = static_cast<int>(v);
  SSKAI_RETURN_IF_ERROR(ReadDouble(obj, "learning_rate", 0, true, 10, false, &spec->learning_rate));
  SSKAI_RETURN_IF_ERROR(ReadDouble(obj, "weight_decay", 0, false, 1, false, &spec->weight_decay));
  SSKAI_RETURN_IF_ERROR(ReadDouble(obj, "validation_split", 0, true, 1, true, &spec->validation_split));
  if (auto it = obj.find("seed"); it != obj.end() && !it->is_null()) {
    if (!it->is_number_integer() || (it->is_number_integer() && !it->is_number_unsigned() && it->get<int64_t>() < 0)) {
      return Status::InvalidArgument("seed: must be a non-negative integer, got " + it->dump());
    }
    spec->seed = it->get<uint64_t>();
  }
  if (auto it = obj.find("hidden"); it != obj.end() && !it->is_null()) {
    if (!it->is_array() || it->empty() || it->size() > 8) {
      return Status::InvalidArgument("hidden: must be an array of 1 to 8 layer sizes, got " + it->dump());
    }
    std::vector<int64_t> hidden;
    for (size_t idx = 0; idx < it->size(); ++idx) {
      const json& h = (*it)[idx];
      if (!h.is_number_integer() || h.get<int64_t>() < 1 || h.get<int64_t>() > 65536) {
        return Status::InvalidArgument("hidden[" + std::to_string(idx) +
                                       "]: must be an integer between 1 and 65536, got " + h.dump());
      }
      hidden.push_back(h.get<int64_t>());
    }
    spec->hidden = std::move(hidden);
  }
  if (spec->model == "cnn" && spec->task == "regression") {
    return Status::InvalidArgument("task: model cnn supports only classification");
  }
  return Status::Ok();
}

}  // namespace

Result<TrainSpec> TrainSpecFromJson(const std::string& text) {
  TrainSpec spec;
  if (text.empty()) return spec;
  json obj = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return Status::InvalidArgument("hyperparameters: not valid JSON");
  if (obj.is_null()) return spec;
  if (!obj.is_object()) return Status::InvalidArgument("hyperparameters: must be a JSON object, got " + obj.dump());
  SSKAI_RETURN_IF_ERROR(FromJsonObject(obj, &spec));
  return spec;
}

std::string TrainSpecToJson(const TrainSpec& spec) {
  json obj = {{"model", spec.model},
              {"task", spec.task},
              {"epochs", spec.epochs},
              {"batch_size", spec.batch_size},
              {"learning_rate", spec.learning_rate},
              {"optimizer", spec.optimizer},
              {"weight_decay", spec.weight_decay},
              {"validation_split", spec.validation_split},
              {"seed", spec.seed},
              {"hidden", spec.hidden},
              {"threads", spec.threads}};
  return obj.dump();
}

}  // namespace sskai::ml
