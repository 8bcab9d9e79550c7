// TabularEncoder: construction, JSON round trip and encoding of prediction rows.
#include <cmath>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "data/data.h"
#include "data/encoding.h"

namespace sskai::data {

using Json = nlohmann::ordered_json;
using internal::EncodeMissing;
using internal::EncodeNumber;
using internal::EncodeText;
using internal::FeatureWidth;

Result<TabularEncoder> TabularEncoder::Create(std::vector<Column> spec,
                                              std::vector<std::string> classes, std::string task,
                                              std::string target) {
  if (task != "classification" && task != "regression") {
    return Status::InvalidArgument("encoder: unknown task '" + task + "'");
  }
  if (task == "classification" && classes.empty()) {
    return Status::InvalidArgument("encoder: classification needs at least one class");
  }
  if (spec.empty()) return Status::InvalidArgument("encoder: no input columns");
  TabularEncoder enc;
  std::set<std::string> names;
  for (Column& col : spec) {
    if (col.name.empty() || !names.insert(col.name).second) {
      return Status::InvalidArgument("encoder: empty or duplicate column name '" + col.name + "'");
    }
    if (col.type != "integer" && col.type != "number" && col.type != "boolean" &&
        col.type != "string") {
      return Status::InvalidArgument("encoder: column '" + col.name + "' has unknown type '" +
                                     col.type + "'");
    }
    col.numeric = col.type != "string";
    if (col.numeric && (!std::isfinite(col.mean) || !std::isfinite(col.stddev) ||
                        col.stddev <= 0)) {
      return Status::InvalidArgument("encoder: column '" + col.name + "' has a bad mean/stddev");
    }
    if (!col.numeric && col.categories.empty()) {
      return Status::InvalidArgument("encoder: string column '" + col.name + "' has no categories");
    }
    enc.features_ += FeatureWidth(col);
    enc.columns_.push_back(col.name);
  }
  enc.spec = std::move(spec);
  enc.classes_ = std::move(classes);
  enc.task_ = std::move(task);
  enc.target_ = std::move(target);
  return enc;
}

std::string TabularEncoder::ToJson() const {
  Json columns = Json::array();
  for (const Column& col : spec) {
    Json c = {{"name", col.name}, {"type", col.type}};
    if (col.numeric) {
      c["mean"] = col.mean;
      c["std"] = col.stddev;
    } else {
      c["categories"] = col.categories;
    }
    columns.push_back(std::move(c));
  }
  Json j = {{"version", 1},      {"task", task_},         {"target", target_},
            {"classes", classes_}, {"features", features_}, {"columns", std::move(columns)}};
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<TabularEncoder> TabularEncoder::FromJson(const std::string& encoder_json) {
  try {
    Json j = Json::parse(encoder_json);
    if (j.value("version", 0) != 1) return Status::InvalidArgument("encoder: unsupported version");
    std::vector<Column> spec;
    for (const Json& c : j.at("columns")) {
      Column col;
      col.name = c.at("name").get<std::string>();
      col.type = c.at("type").get<std::string>();
      col.numeric = col.type != "string";
      if (col.numeric) {
        col.mean = c.at("mean").get<double>();
        col.stddev = c.at("std").get<double>();
      } else {
        col.categories = c.at("categories").get<std::vector<std::string>>();
      }
      spec.push_back(std::move(col));
    }
    return Create(std::move(spec), j.at("classes").get<std::vector<std::string>>(),
                  j.at("task").get<std::string>(), j.value("target", std::string()));
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("encoder: malformed JSON: ") + e.what());
  }
}

namespace {

const char* Expected(const TabularEncoder::Column& col) {
  if (col.type == "boolean") return "a boolean";
  if (col.numeric) return "a number";
  return "a string";
}

// Encodes one JSON value of `col`; the error says what was expected.
Status EncodeJsonValue(const TabularEncoder::Column& col, const Json& v, const std::string& at,
                       float* out) {
  auto wrong = [&] {
    return Status::InvalidArgument(at + ", field '" + col.name + "': expected " + Expected(col) +
                                   ", got " +
                                   v.dump(-1, ' ', false, Json::error_handler_t::replace));
  };
  if (v.is_null()) {
    EncodeMissing(col, out);
    return Status::Ok();
  }
  if (v.is_string()) {
    return EncodeText(col, v.get_ref<const std::string&>(), out) ? Status::Ok() : wrong();
  }
  if (v.is_number()) {
    if (col.numeric) return EncodeNumber(col, v.get<double>(), out) ? Status::Ok() : wrong();
    EncodeText(col, v.dump(), out);  // a string column seen as text: 3 -> "3"
    return Status::Ok();
  }
  if (v.is_boolean()) {
    if (col.type == "boolean") {
      *out = v.get<bool>() ? 1.0f : 0.0f;
      return Status::Ok();
    }
    if (!col.numeric) {
      EncodeText(col, v.get<bool>() ? "true" : "false", out);
      return Status::Ok();
    }
  }
  return wrong();
}

}  // namespace

Result<std::vector<float>> TabularEncoder::EncodeRowsJson(const std::string& rows_json,
                                                          int64_t* n_rows) const {
  Json rows;
  try {
    rows = Json::parse(rows_json);
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    size_t close = what.find("] ");
    if (!what.empty() && what.front() == '[' && close != std::string::npos) what.erase(0, close + 2);
    return Status::InvalidArgument("invalid JSON: " + what);
  }
  if (rows.is_object()) rows = Json::array({std::move(rows)});
  if (!rows.is_array()) {
    return Status::InvalidArgument("expected a JSON array of rows (objects or arrays) or one object");
  }
  std::unordered_map<std::string, size_t> index;
  std::vector<int64_t> offset(spec.size());
  int64_t width = 0;
  for (size_t col = 0; col < spec.size(); ++col) {
    index[spec[col].name] = col;
    offset[col] = width;
    width += FeatureWidth(spec[col]);
  }
  std::vector<float> out(rows.size() * static_cast<size_t>(width), 0.0f);
  std::vector<bool> seen(spec.size());
  for (size_t row = 0; row < rows.size(); ++row) {
    const Json& r = rows[row];
    std::string at = "row " + std::to_string(row + 1);
    float* base = out.data() + row * static_cast<size_t>(width);
    if (r.is_array()) {
      if (r.size() != spec.size()) {
        return Status::InvalidArgument(at + ": expected " + std::to_string(spec.size()) +
                                       " values, got " + std::to_string(r.size()));
      }
      for (size_t col = 0; col < spec.size(); ++col) {
        SSKAI_RETURN_IF_ERROR(EncodeJsonValue(spec[col], r[col], at, base + offset[col]));
      }
    } else if (r.is_object()) {
      std::fill(seen.begin(), seen.end(), false);
      for (const auto& [key, value] : r.items()) {
        auto it = index.find(key);
        if (it == index.end()) {
          if (!target_.empty() && key == target_) continue;
          return Status::InvalidArgument(at + ": unknown field '" + key + "'");
        }
        seen[it->second] = true;
        SSKAI_RETURN_IF_ERROR(
            EncodeJsonValue(spec[it->second], value, at, base + offset[it->second]));
      }
      for (size_t col = 0; col < spec.size(); ++col) {
        if (!seen[col]) EncodeMissing(spec[col], base + offset[col]);
      }
    } else {
      return Status::InvalidArgument(at + ": expected an object or an array, got " +
                                     std::string(r.type_name()));
    }
  }
  if (n_rows != nullptr) *n_rows = static_cast<int64_t>(rows.size());
  return out;
}

}  // namespace sskai::data
