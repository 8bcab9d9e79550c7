// Image datasets: dispatch, info JSON and preview.
#include <nlohmann/json.hpp>

#include "data/formats.h"

namespace sskai::data::internal {

using Json = nlohmann::ordered_json;

Result<ImageData> ReadImages(const std::string& path, const Layout& layout,
                             const InspectOptions& options, bool keep_pixels) {
  if (layout.format == Format::kIdx) return ReadIdx(path, layout, options, keep_pixels);
  if (layout.format == Format::kImageFolder) {
    return ReadImageFolder(path, layout, options, keep_pixels);
  }
  return Status::InvalidArgument(std::string("expected an image dataset, got ") +
                                 FormatName(layout.format));
}

DatasetInfo ImagesInfo(const ImageData& images, Format format) {
  DatasetInfo info;
  info.format = format;
  info.rows = images.count;
  info.target = "label";
  info.task = "classification";
  std::vector<int64_t> counts(images.classes.size(), 0);
  for (int64_t label : images.labels) ++counts[static_cast<size_t>(label)];
  Json class_counts = Json::object();
  for (size_t idx = 0; idx < counts.size(); ++idx) class_counts[images.classes[idx]] = counts[idx];
  Json schema = {{"kind", FormatName(format)},
                 {"channels", images.channels},
                 {"height", images.height},
                 {"width", images.width},
                 {"classes", images.classes},
                 {"target", "label"}};
  Json stats = {{"images", images.count},
                {"channels", images.channels},
                {"height", images.height},
                {"width", images.width},
                {"classes", images.classes.size()},
                {"class_counts", std::move(class_counts)}};
  info.schema_json = schema.dump(-1, ' ', false, Json::error_handler_t::replace);
  info.stats_json = stats.dump(-1, ' ', false, Json::error_handler_t::replace);
  return info;
}

std::string PreviewImages(const ImageData& images, int limit) {
  Json rows = Json::array();
  for (int64_t idx = 0; idx < images.count && idx < limit; ++idx) {
    rows.push_back({{"label", images.classes[static_cast<size_t>(images.labels[idx])]},
                    {"width", images.width},
                    {"height", images.height}});
  }
  return rows.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace sskai::data::internal
