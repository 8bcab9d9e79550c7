// src/data/data.h — dataset formats: detection, validation, schema and statistics, preview, and
// loading into in-memory training data; plus the tabular encoder shared by training and serving.
//
// Formats: CSV (tabular), JSONL (text / prompt-completion / chat messages), IDX image sets
// (MNIST layout: an images file + a labels file), image class folders, and zip / tar / gzip
// archives of these. Every error is kInvalidArgument with a message that says where:
// "line 12, column 3 ('age'): expected a number, got 'abc'".
// Thread-safety: free functions are thread-safe; objects are externally synchronized.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace sskai::data {

enum class Format { kCsv, kJsonl, kIdx, kImageFolder };
const char* FormatName(Format f);                     // "csv", "jsonl", "idx", "image_folder"
Result<Format> ParseFormat(const std::string& name);  // inverse of FormatName

struct InspectOptions {
  std::string format;  // "" or "auto" = detect from content; else one of FormatName()
  std::string target;  // CSV: target column name; "" = last column. Must exist if given.
  uint64_t max_uncompressed_bytes = 16ull << 30;  // archive bomb guard
};

// What validation learned about an uploaded file. schema_json / stats_json are JSON objects
// (stored as text and returned by the API as-is).
struct DatasetInfo {
  Format format = Format::kCsv;
  int64_t rows = 0;            // rows / records / images
  std::string target;          // CSV: target column; images: "label"
  std::string task;            // "classification" or "regression" (tabular/images); "" for text
  std::string schema_json;     // {"columns":[{"name","type","missing"}...],"target":...} etc.
  std::string stats_json;      // per-column statistics, class counts, lengths
};

// Validates the file at `path` (any supported format, possibly compressed or archived) and
// returns its schema and statistics. Streams: memory use does not grow with file size for CSV
// and JSONL. Errors: kInvalidArgument naming line/column/field/entry.
Result<DatasetInfo> Inspect(const std::string& path, const InspectOptions& options);

// The first `limit` records as a JSON array of objects (CSV: column -> value; JSONL: the
// objects; images: {"label", "width", "height"}). Errors as Inspect.
Result<std::string> PreviewJson(const std::string& path, const InspectOptions& options, int limit);

// ---- Training data ---------------------------------------------------------------------

// Tabular data after encoding: row-major float features, one target per row.
struct TabularData {
  int64_t rows = 0;
  int64_t features = 0;
  std::vector<float> x;               // rows * features
  std::vector<float> y;               // class index (classification) or value (regression)
  std::vector<std::string> classes;   // classification: class names by index; empty for regression
  std::string encoder_json;           // TabularEncoder state, needed again at serving time
};

// Image data: uint8 pixels, NCHW.
struct ImageData {
  int64_t count = 0, channels = 1, height = 0, width = 0;
  std::vector<uint8_t> pixels;        // count * channels * height * width
  std::vector<int64_t> labels;        // count
  std::vector<std::string> classes;   // class names by index
};

// Loads a CSV dataset and encodes it: numeric columns standardized (missing -> mean), string
// columns one-hot (missing -> its own category), target as class index or value.
// `task` "" = infer (integers with few distinct values or strings -> classification).
// Reads the file twice (fit, then encode). String columns keep their 100 most frequent
// values as categories; classes are sorted (numerically for numeric targets). Errors: as
// Inspect, plus a non-CSV file, an unknown task, regression on a non-numeric target,
// classification with fewer than 2 or more than 1000 classes.
Result<TabularData> LoadTabular(const std::string& path, const InspectOptions& options,
                                const std::string& task);

// Loads an IDX image set or class-folder archive.
Result<ImageData> LoadImages(const std::string& path, const InspectOptions& options);

// Turns prediction input into features with the encoder fitted at training time.
// `rows_json` is a JSON array of objects (column -> value) or of arrays (values in column
// order, target excluded); a bare object is one row. In objects a missing field or null is a
// missing value and the target field is ignored; numbers may come as JSON numbers or numeric
// strings. Errors (kInvalidArgument, rows 1-based): "row 1: unknown field 'foo'",
// "row 2, field 'age': expected a number, got \"abc\"", "row 3: expected 4 values, got 3",
// "invalid JSON: ...". Thread-safety: const methods are thread-safe.
class TabularEncoder {
 public:
  static Result<TabularEncoder> FromJson(const std::string& encoder_json);
  Result<std::vector<float>> EncodeRowsJson(const std::string& rows_json, int64_t* n_rows) const;
  int64_t features() const { return features_; }
  const std::vector<std::string>& classes() const { return classes_; }
  const std::string& task() const { return task_; }
  // Input columns in order (target excluded), for error messages and model metadata.
  const std::vector<std::string>& columns() const { return columns_; }

  struct Column {
    std::string name;
    bool numeric = true;
    double mean = 0, stddev = 1;                // numeric
    std::vector<std::string> categories;        // string: one-hot order ("" = missing)
    // Added: "integer", "number" (feature = (v - mean) / stddev, missing -> 0), "boolean"
    // (numeric = true; feature = 1 / 0, missing -> mean = fraction true) or "string"
    // (numeric = false; one feature per category, unknown or missing -> the "" category).
    std::string type = "number";
  };
  std::vector<Column> spec;

  // Builds an encoder from its parts (what LoadTabular fits). `task` is "classification"
  // (needs >= 1 class) or "regression". Errors: kInvalidArgument on an inconsistent spec.
  static Result<TabularEncoder> Create(std::vector<Column> spec, std::vector<std::string> classes,
                                       std::string task, std::string target);
  // The JSON that FromJson reads back (TabularData::encoder_json).
  std::string ToJson() const;
  // The target column's name in the training data (ignored if present in prediction rows).
  const std::string& target() const { return target_; }

 private:
  int64_t features_ = 0;
  std::vector<std::string> classes_;
  std::vector<std::string> columns_;
  std::string task_;
  std::string target_;
};

}  // namespace sskai::data
