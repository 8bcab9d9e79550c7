// src/data/formats.h — the per-format readers behind Inspect / PreviewJson / Load*
// (internal to the data module). Errors are not prefixed with the archive entry; callers do.
// Thread-safety: externally synchronized.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "data/column_stats.h"
#include "data/data.h"
#include "data/source.h"
#include "data/stream.h"

namespace sskai::data::internal {

// ---- CSV (csv.cc)
struct CsvScan {
  std::vector<std::string> names;
  char separator = ',';
  int64_t rows = 0;
  size_t target = 0;  // index into names
  std::vector<ColumnStats> columns;
  std::string task;   // inferred
};
// Reads the whole file: header, every record, per-column statistics. Errors: see data.h.
Result<CsvScan> ScanCsv(BufferedReader* in, const InspectOptions& options);
DatasetInfo CsvInfo(const CsvScan& scan);
Result<std::string> PreviewCsv(BufferedReader* in, int limit);

// ---- JSONL (jsonl.cc)
Result<DatasetInfo> InspectJsonl(BufferedReader* in);
Result<std::string> PreviewJsonl(BufferedReader* in, int limit);

// ---- Images (idx.cc, image_folder.cc, images.cc)
// Reads an IDX or class-folder archive described by `layout`. Without `keep_pixels` the
// pixels are checked but not kept (ImageData::pixels stays empty).
Result<ImageData> ReadImages(const std::string& path, const Layout& layout,
                             const InspectOptions& options, bool keep_pixels);
Result<ImageData> ReadIdx(const std::string& path, const Layout& layout,
                          const InspectOptions& options, bool keep_pixels);
Result<ImageData> ReadImageFolder(const std::string& path, const Layout& layout,
                                  const InspectOptions& options, bool keep_pixels);
DatasetInfo ImagesInfo(const ImageData& images, Format format);
std::string PreviewImages(const ImageData& images, int limit);

}  // namespace sskai::data::internal
