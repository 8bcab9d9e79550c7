// Public entry points: format names, Inspect, PreviewJson.
#include "data/data.h"

#include "data/formats.h"
#include "data/source.h"

namespace sskai::data {

using internal::At;
using internal::Budget;
using internal::Content;
using internal::Layout;

const char* FormatName(Format f) {
  switch (f) {
    case Format::kCsv: return "csv";
    case Format::kJsonl: return "jsonl";
    case Format::kIdx: return "idx";
    case Format::kImageFolder: return "image_folder";
  }
  return "csv";
}

Result<Format> ParseFormat(const std::string& name) {
  for (Format f : {Format::kCsv, Format::kJsonl, Format::kIdx, Format::kImageFolder}) {
    if (name == FormatName(f)) return f;
  }
  return Status::InvalidArgument("unknown dataset format '" + name +
                                 "'; expected csv, jsonl, idx or image_folder");
}

Result<DatasetInfo> Inspect(const std::string& path, const InspectOptions& options) {
  SSKAI_ASSIGN_OR_RETURN(Layout layout, internal::DetectLayout(path, options));
  if (layout.format == Format::kIdx || layout.format == Format::kImageFolder) {
    SSKAI_ASSIGN_OR_RETURN(ImageData images, internal::ReadImages(path, layout, options, false));
    return internal::ImagesInfo(images, layout.format);
  }
  Budget budget{options.max_uncompressed_bytes};
  SSKAI_ASSIGN_OR_RETURN(auto content, Content::OpenText(path, layout, &budget));
  if (layout.format == Format::kJsonl) {
    auto info = internal::InspectJsonl(content->reader());
    if (!info.ok()) return At(content->where(), info.status());
    return info;
  }
  auto scan = internal::ScanCsv(content->reader(), options);
  if (!scan.ok()) return At(content->where(), scan.status());
  return internal::CsvInfo(*scan);
}

Result<std::string> PreviewJson(const std::string& path, const InspectOptions& options,
                                int limit) {
  if (limit < 0) limit = 0;
  SSKAI_ASSIGN_OR_RETURN(Layout layout, internal::DetectLayout(path, options));
  if (layout.format == Format::kIdx || layout.format == Format::kImageFolder) {
    SSKAI_ASSIGN_OR_RETURN(ImageData images, internal::ReadImages(path, layout, options, false));
    return internal::PreviewImages(images, limit);
  }
  Budget budget{options.max_uncompressed_bytes};
  SSKAI_ASSIGN_OR_RETURN(auto content, Content::OpenText(path, layout, &budget));
  auto preview = layout.format == Format::kJsonl ? internal::PreviewJsonl(content->reader(), limit)
                                                 : internal::PreviewCsv(content->reader(), limit);
  if (!preview.ok()) return At(content->where(), preview.status());
  return preview;
}

}  // namespace sskai::data
