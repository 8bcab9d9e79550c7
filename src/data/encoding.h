// src/data/encoding.h — per-value feature encoding shared by LoadTabular (CSV text) and
// TabularEncoder::EncodeRowsJson (internal to the data module). Thread-safety: pure.
#pragma once

#include <cstdint>
#include <string_view>

#include "data/data.h"

namespace sskai::data::internal {

// Features one column produces (1, or the number of categories for strings).
int64_t FeatureWidth(const TabularEncoder::Column& col);

// The features for a missing value of `col`.
void EncodeMissing(const TabularEncoder::Column& col, float* out);

// Writes `col`'s features for one text value (CSV field or JSON string); missing spellings
// are missing. False when the text is not a value of the column's type.
bool EncodeText(const TabularEncoder::Column& col, std::string_view raw, float* out);

// Numeric / boolean columns: writes the feature for a number (booleans accept 0 and 1).
bool EncodeNumber(const TabularEncoder::Column& col, double v, float* out);

}  // namespace sskai::data::internal
