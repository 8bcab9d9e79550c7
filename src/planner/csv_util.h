// src/planner/csv_util.h — internal: a small CSV reader and strict number parsing with
// file:line:field error messages. Not part of the public API.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sskai::planner::internal {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> line_numbers;  // 1-based source line of each row
};

// Parses RFC-4180-ish CSV (quotes, "" escapes; no newlines inside quotes). Blank lines and lines
// starting with '#' are skipped. Every row must have header.size() cells.
Result<CsvTable> ParseCsv(std::string_view text, std::string_view file_name);

// Index of `column` in the header, or kInvalidArgument naming the file and the missing column.
Result<size_t> ColumnIndex(const CsvTable& table, std::string_view column, std::string_view file_name);

// Strict finite double; "" -> error unless allow_empty (then *out untouched, returns false).
// Error text: "<file>:<line>: field '<name>': '<text>' is not a number".
Result<bool> ParseNumber(std::string_view text, std::string_view file_name, int line,
                         std::string_view field, bool allow_empty, double* out);

Result<std::string> ReadFile(const std::string& path);

bool IsIsoDate(std::string_view text);  // YYYY-MM-DD

}  // namespace sskai::planner::internal
