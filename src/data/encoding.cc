#include "data/encoding.h"

#include <algorithm>

#include "data/values.h"

namespace sskai::data::internal {

int64_t FeatureWidth(const TabularEncoder::Column& col) {
  return col.numeric ? 1 : static_cast<int64_t>(col.categories.size());
}

namespace {
void OneHot(const TabularEncoder::Column& col, std::string_view value, float* out) {
  std::fill(out, out + col.categories.size(), 0.0f);
  auto it = std::find(col.categories.begin(), col.categories.end(), value);
  if (it == col.categories.end()) it = std::find(col.categories.begin(), col.categories.end(), "");
  if (it != col.categories.end()) out[it - col.categories.begin()] = 1.0f;
}
}  // namespace

void EncodeMissing(const TabularEncoder::Column& col, float* out) {
  if (!col.numeric) {
    OneHot(col, "", out);
  } else if (col.type == "boolean") {
    *out = static_cast<float>(col.mean);
  } else {
    *out = 0.0f;
  }
}

bool EncodeNumber(const TabularEncoder::Column& col, double v, float* out) {
  if (!col.numeric) return false;
  if (col.type == "boolean") {
    if (v != 0 && v != 1) return false;
    *out = static_cast<float>(v);
    return true;
  }
  *out = static_cast<float>((v - col.mean) / col.stddev);
  return true;
}

bool EncodeText(const TabularEncoder::Column& col, std::string_view raw, float* out) {
  std::string_view v = Trim(raw);
  if (IsMissing(v)) {
    EncodeMissing(col, out);
    return true;
  }
  if (!col.numeric) {
    OneHot(col, v, out);
    return true;
  }
  if (col.type == "boolean") {
    bool b;
    double d;
    if (ParseBool(v, &b)) {
      *out = b ? 1.0f : 0.0f;
      return true;
    }
    return ParseDouble(v, &d) && EncodeNumber(col, d, out);
  }
  double d;
  return ParseDouble(v, &d) && EncodeNumber(col, d, out);
}

}  // namespace sskai::data::internal
