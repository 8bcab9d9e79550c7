// CSV: scan (schema + statistics), info JSON, preview.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "data/csv_reader.h"
#include "data/formats.h"
#include "data/values.h"

namespace sskai::data::internal {

using Json = nlohmann::ordered_json;

Result<CsvScan> ScanCsv(BufferedReader* in, const InspectOptions& options) {
  CsvScan scan;
  CsvReader reader(in);
  SSKAI_RETURN_IF_ERROR(reader.ReadHeader(&scan.names));
  scan.separator = reader.separator();
  if (scan.names.size() < 2) {
    return Status::InvalidArgument(
        "the header has 1 column; a tabular dataset needs at least one feature column and a "
        "target column (separator ',', ';' or tab)");
  }
  if (options.target.empty()) {
    scan.target = scan.names.size() - 1;
  } else {
    auto it = std::find(scan.names.begin(), scan.names.end(), options.target);
    if (it == scan.names.end()) {
      std::string list;
      for (const auto& n : scan.names) list += (list.empty() ? "" : ", ") + n;
      return Status::InvalidArgument("target column '" + options.target +
                                     "' does not exist; columns are: " + list);
    }
    scan.target = static_cast<size_t>(it - scan.names.begin());
  }
  for (const auto& n : scan.names) scan.columns.emplace_back(n);
  std::vector<std::string> fields;
  while (true) {
    SSKAI_ASSIGN_OR_RETURN(bool more, reader.Next(&fields));
    if (!more) break;
    ++scan.rows;
    for (size_t col = 0; col < fields.size(); ++col) scan.columns[col].Add(fields[col]);
    if (IsMissing(Trim(fields[scan.target]))) {
      return Status::InvalidArgument("line " + std::to_string(reader.line()) +
                                     ": the target column '" + scan.names[scan.target] +
                                     "' has no value");
    }
  }
  if (scan.rows == 0) return Status::InvalidArgument("the file has a header but no data rows");
  scan.task = InferTask(scan.columns[scan.target], scan.rows);
  return scan;
}

namespace {
std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}
}  // namespace

DatasetInfo CsvInfo(const CsvScan& scan) {
  DatasetInfo info;
  info.format = Format::kCsv;
  info.rows = scan.rows;
  info.target = scan.names[scan.target];
  info.task = scan.task;
  Json schema_columns = Json::array(), stats_columns = Json::array();
  for (const ColumnStats& col : scan.columns) {
    schema_columns.push_back({{"name", col.name()}, {"type", col.Type()}, {"missing", col.missing()}});
    Json s = {{"name", col.name()}, {"type", col.Type()}, {"missing", col.missing()}};
    if (col.Numeric()) {
      s["min"] = col.min();
      s["max"] = col.max();
      s["mean"] = col.mean();
      s["std"] = col.Stddev();
    }
    s["distinct"] = col.distinct();
    if (col.distinct_capped()) s["distinct_capped"] = true;
    if (!col.Numeric()) {
      Json top = Json::array();
      for (const auto& [value, count] : col.Top(10)) top.push_back({{"value", value}, {"count", count}});
      s["top"] = std::move(top);
    }
    stats_columns.push_back(std::move(s));
  }
  Json schema = {{"columns", std::move(schema_columns)},
                 {"target", info.target},
                 {"task", info.task},
                 {"separator", std::string(1, scan.separator)}};
  Json stats = {{"rows", scan.rows}, {"columns", std::move(stats_columns)},
                {"target", info.target}, {"task", info.task}};
  if (scan.task == "classification") {
    Json counts = Json::object();
    for (const auto& [label, count] : scan.columns[scan.target].ClassCounts()) counts[label] = count;
    stats["class_counts"] = std::move(counts);
  }
  info.schema_json = Dump(schema);
  info.stats_json = Dump(stats);
  return info;
}

Result<std::string> PreviewCsv(BufferedReader* in, int limit) {
  CsvReader reader(in);
  std::vector<std::string> names, fields;
  SSKAI_RETURN_IF_ERROR(reader.ReadHeader(&names));
  Json rows = Json::array();
  while (static_cast<int>(rows.size()) < limit) {
    SSKAI_ASSIGN_OR_RETURN(bool more, reader.Next(&fields));
    if (!more) break;
    Json row = Json::object();
    for (size_t col = 0; col < names.size(); ++col) row[names[col]] = fields[col];
    rows.push_back(std::move(row));
  }
  return Dump(rows);
}

}  // namespace sskai::data::internal
