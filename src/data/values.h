// src/data/values.h — parsing and checking of single text values (internal to the data module).
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sskai::data::internal {

// Strips ASCII spaces and tabs at both ends.
std::string_view Trim(std::string_view v);

// True for the missing-value spellings: "", "NA", "N/A", "NaN", "nan", "null", "NULL", "?".
// `v` should be trimmed.
bool IsMissing(std::string_view v);

// Whole-string parses; false when `v` is not exactly one value of that kind.
bool ParseInt64(std::string_view v, int64_t* out);
bool ParseDouble(std::string_view v, double* out);  // finite values only; accepts a leading '+'
bool ParseBool(std::string_view v, bool* out);      // true/false, any letter case

// Shortest text that parses back to `v` ("1", "0.1", "1e+300").
std::string FormatNumber(double v);

// Offset of the first byte that is not part of valid UTF-8, or npos.
size_t FindInvalidUtf8(std::string_view v);

// Number of UTF-8 code points (continuation bytes are not counted).
int64_t CountCodePoints(std::string_view v);

// `v` quoted for an error message: "abc" with quotes, cut at 40 bytes.
std::string Quote(std::string_view v);

}  // namespace sskai::data::internal
