// LoadTabular (fit the encoder on a first pass, encode on a second) and LoadImages.
#include <map>

#include "data/csv_reader.h"
#include "data/data.h"
#include "data/encoding.h"
#include "data/formats.h"
#include "data/source.h"
#include "data/values.h"

namespace sskai::data {

using internal::At;
using internal::Budget;
using internal::ColumnStats;
using internal::Content;
using internal::Layout;

namespace {

constexpr size_t kMaxCategories = 100;
constexpr size_t kMaxClasses = 1000;

Result<TabularEncoder> Fit(const internal::CsvScan& scan, const std::string& task) {
  const ColumnStats& target = scan.columns[scan.target];
  const std::string& target_name = scan.names[scan.target];
  std::vector<std::string> classes;
  if (task == "regression") {
    if (!target.Numeric()) {
      return Status::InvalidArgument("target '" + target_name + "' is a " + target.Type() +
                                     " column; regression needs a numeric target");
    }
  } else {
    if (target.distinct_capped() || target.ClassCounts().size() > kMaxClasses) {
      return Status::InvalidArgument("target '" + target_name + "' has more than " +
                                     std::to_string(kMaxClasses) +
                                     " distinct values; too many classes for classification");
    }
    for (const auto& [label, count] : target.ClassCounts()) classes.push_back(label);
    if (classes.size() < 2) {
      return Status::InvalidArgument("target '" + target_name + "' has only one class ('" +
                                     (classes.empty() ? "" : classes[0]) +
                                     "'); classification needs at least two");
    }
  }
  std::vector<TabularEncoder::Column> spec;
  for (size_t idx = 0; idx < scan.columns.size(); ++idx) {
    if (idx == scan.target) continue;
    const ColumnStats& stats = scan.columns[idx];
    TabularEncoder::Column col;
    col.name = stats.name();
    col.type = stats.Type();
    col.numeric = col.type != "string";
    if (stats.Numeric()) {
      col.mean = stats.mean();
      col.stddev = stats.Stddev() > 1e-12 ? stats.Stddev() : 1.0;
    } else if (col.type == "boolean") {
      col.mean = stats.TrueFraction();
      col.stddev = 1;
    } else {
      for (const auto& [value, count] : stats.Top(kMaxCategories)) col.categories.push_back(value);
      col.categories.push_back("");  // missing or unknown
    }
    spec.push_back(std::move(col));
  }
  return TabularEncoder::Create(std::move(spec), std::move(classes), task, target_name);
}

Status Encode(internal::BufferedReader* in, const internal::CsvScan& scan,
              const TabularEncoder& encoder, TabularData* data) {
  internal::CsvReader reader(in);
  std::vector<std::string> names, fields;
  SSKAI_RETURN_IF_ERROR(reader.ReadHeader(&names));
  if (names != scan.names) return Status::Internal("the file changed while loading");
  std::map<std::string, int64_t> class_index;
  for (size_t idx = 0; idx < encoder.classes().size(); ++idx) class_index[encoder.classes()[idx]] = idx;
  const ColumnStats& target = scan.columns[scan.target];
  const size_t width = static_cast<size_t>(encoder.features());
  data->x.reserve(static_cast<size_t>(scan.rows) * width);
  data->y.reserve(static_cast<size_t>(scan.rows));
  while (true) {
    SSKAI_ASSIGN_OR_RETURN(bool more, reader.Next(&fields));
    if (!more) break;
    size_t base = data->x.size();
    data->x.resize(base + width);
    float* out = data->x.data() + base;
    size_t spec_idx = 0;
    for (size_t col = 0; col < fields.size(); ++col) {
      if (col == scan.target) continue;
      const auto& c = encoder.spec[spec_idx++];
      if (!internal::EncodeText(c, fields[col], out)) {
        return Status::InvalidArgument("line " + std::to_string(reader.line()) + ", column " +
                                       std::to_string(col + 1) + " ('" + c.name +
                                       "'): expected a number, got " +
                                       internal::Quote(fields[col]));
      }
      out += internal::FeatureWidth(c);
    }
    const std::string& value = fields[scan.target];
    if (encoder.task() == "classification") {
      data->y.push_back(static_cast<float>(class_index.at(target.CanonicalClass(value))));
    } else {
      double v = 0;
      if (!internal::ParseDouble(internal::Trim(value), &v)) {
        return Status::InvalidArgument("line " + std::to_string(reader.line()) +
                                       ": target is not a number: " + internal::Quote(value));
      }
      data->y.push_back(static_cast<float>(v));
    }
    ++data->rows;
  }
  return Status::Ok();
}

}  // namespace

Result<TabularData> LoadTabular(const std::string& path, const InspectOptions& options,
                                const std::string& task) {
  if (!task.empty() && task != "classification" && task != "regression") {
    return Status::InvalidArgument("unknown task '" + task +
                                   "'; expected classification or regression");
  }
  SSKAI_ASSIGN_OR_RETURN(Layout layout, internal::DetectLayout(path, options));
  if (layout.format != Format::kCsv) {
    return Status::InvalidArgument(std::string("tabular training needs a CSV dataset, got ") +
                                   FormatName(layout.format));
  }
  internal::CsvScan scan;
  {
    Budget budget{options.max_uncompressed_bytes};
    SSKAI_ASSIGN_OR_RETURN(auto content, Content::OpenText(path, layout, &budget));
    auto scanned = internal::ScanCsv(content->reader(), options);
    if (!scanned.ok()) return At(content->where(), scanned.status());
    scan = std::move(scanned).value();
  }
  SSKAI_ASSIGN_OR_RETURN(TabularEncoder encoder, Fit(scan, task.empty() ? scan.task : task));
  TabularData data;
  Budget budget{options.max_uncompressed_bytes};
  SSKAI_ASSIGN_OR_RETURN(auto content, Content::OpenText(path, layout, &budget));
  SSKAI_RETURN_IF_ERROR(At(content->where(), Encode(content->reader(), scan, encoder, &data)));
  data.features = encoder.features();
  data.classes = encoder.classes();
  data.encoder_json = encoder.ToJson();
  return data;
}

Result<ImageData> LoadImages(const std::string& path, const InspectOptions& options) {
  SSKAI_ASSIGN_OR_RETURN(Layout layout, internal::DetectLayout(path, options));
  if (layout.format != Format::kIdx && layout.format != Format::kImageFolder) {
    return Status::InvalidArgument(
        std::string("image training needs an IDX or image-folder archive, got ") +
        FormatName(layout.format));
  }
  return internal::ReadImages(path, layout, options, true);
}

}  // namespace sskai::data
