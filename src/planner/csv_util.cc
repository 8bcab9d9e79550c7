// src/planner/csv_util.cc — CSV and number parsing for the catalog loader.
#include "planner/csv_util.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sskai::planner::internal {
namespace {

std::string Where(std::string_view file, int line) {
  return std::string(file) + ":" + std::to_string(line);
}

Result<std::vector<std::string>> SplitLine(std::string_view line, std::string_view file, int line_no) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  for (size_t pos = 0; pos < line.size(); ++pos) {
    char c = line[pos];
    if (quoted) {
      if (c == '"') {
        if (pos + 1 < line.size() && line[pos + 1] == '"') {
          cell.push_back('"');
          ++pos;
        } else {
          quoted = false;
        }
      } else {
        cell.push_back(c);
      }
    } else if (c == '"' && cell.empty()) {
      quoted = true;
    } else if (c == ',') {
      cells.push_back(std::move(cell));
      cell.clear();
    } else {
      cell.push_back(c);
    }
  }
  if (quoted) return Status::InvalidArgument(Where(file, line_no) + ": unterminated quote");
  cells.push_back(std::move(cell));
  return cells;
}

}  // namespace

Result<CsvTable> ParseCsv(std::string_view text, std::string_view file_name) {
  CsvTable table;
  int line_no = 0;
  size_t start = 0;
  bool have_header = false;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    ++line_no;
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') {
      if (end == text.size()) break;
      continue;
    }
    SSKAI_ASSIGN_OR_RETURN(std::vector<std::string> cells, SplitLine(line, file_name, line_no));
    if (!have_header) {
      table.header = std::move(cells);
      have_header = true;
    } else {
      if (cells.size() != table.header.size()) {
        return Status::InvalidArgument(Where(file_name, line_no) + ": expected " +
                                       std::to_string(table.header.size()) + " fields, found " +
                                       std::to_string(cells.size()));
      }
      table.rows.push_back(std::move(cells));
      table.line_numbers.push_back(line_no);
    }
    if (end == text.size()) break;
  }
  if (!have_header) return Status::InvalidArgument(std::string(file_name) + ": empty file (no header)");
  return table;
}

Result<size_t> ColumnIndex(const CsvTable& table, std::string_view column, std::string_view file_name) {
  for (size_t idx = 0; idx < table.header.size(); ++idx) {
    if (table.header[idx] == column) return idx;
  }
  return Status::InvalidArgument(std::string(file_name) + ":1: missing column '" +
                                 std::string(column) + "'");
}

Result<bool> ParseNumber(std::string_view text, std::string_view file_name, int line,
                         std::string_view field, bool allow_empty, double* out) {
  auto fail = [&](const std::string& why) {
    return Status::InvalidArgument(Where(file_name, line) + ": field '" + std::string(field) +
                                   "': " + why);
  };
  if (text.empty()) {
    if (allow_empty) return false;
    return fail("empty");
  }
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || errno == ERANGE || !std::isfinite(value)) {
    return fail("'" + copy + "' is not a number");
  }
  *out = value;
  return true;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open '" + path + "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Status::Internal("cannot read '" + path + "'");
  return buffer.str();
}

bool IsIsoDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (size_t pos : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (text[pos] < '0' || text[pos] > '9') return false;
  }
  int month = (text[5] - '0') * 10 + (text[6] - '0');
  int day = (text[8] - '0') * 10 + (text[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

}  // namespace sskai::planner::internal
