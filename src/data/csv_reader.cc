#include "data/csv_reader.h"

#include <unordered_map>

#include "data/values.h"

namespace sskai::data::internal {
namespace {
constexpr size_t kMaxRecordBytes = 64u << 20;
constexpr size_t kSniffBytes = 1u << 20;

// Picks the separator from the first line (outside quotes): ',' unless there is none and
// ';' or tab is used.
char SniffSeparator(std::string_view text) {
  int64_t commas = 0, semicolons = 0, tabs = 0;
  bool quoted = false;
  for (char c : text) {
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    if (c == '\n' || c == '\r') break;
    if (c == ',') ++commas;
    if (c == ';') ++semicolons;
    if (c == '\t') ++tabs;
  }
  if (commas > 0) return ',';
  if (semicolons > 0 || tabs > 0) return semicolons >= tabs ? ';' : '\t';
  return ',';
}
}  // namespace

Status CsvReader::ReadHeader(std::vector<std::string>* names) {
  SSKAI_ASSIGN_OR_RETURN(std::string_view head, in_->Peek(kSniffBytes));
  if (head.substr(0, 3) == "\xEF\xBB\xBF") {
    in_->Get();
    in_->Get();
    in_->Get();
    SSKAI_ASSIGN_OR_RETURN(head, in_->Peek(kSniffBytes));
  }
  sep_ = SniffSeparator(head);
  SSKAI_ASSIGN_OR_RETURN(bool any, ReadRecord(names));
  if (!any) return Status::InvalidArgument("file is empty: expected a header row");
  SSKAI_RETURN_IF_ERROR(CheckUtf8(*names));
  std::unordered_map<std::string, size_t> seen;
  for (size_t col = 0; col < names->size(); ++col) {
    std::string& name = (*names)[col];
    name = std::string(Trim(name));
    if (name.empty()) {
      return Status::InvalidArgument("line " + std::to_string(record_line_) + ": column " +
                                     std::to_string(col + 1) + " has an empty name");
    }
    auto [it, inserted] = seen.emplace(name, col);
    if (!inserted) {
      return Status::InvalidArgument("line " + std::to_string(record_line_) +
                                     ": duplicate column name '" + name + "' (columns " +
                                     std::to_string(it->second + 1) + " and " +
                                     std::to_string(col + 1) + ")");
    }
  }
  columns_ = names->size();
  return Status::Ok();
}

Result<bool> CsvReader::Next(std::vector<std::string>* fields) {
  SSKAI_ASSIGN_OR_RETURN(bool any, ReadRecord(fields));
  if (!any) return false;
  if (fields->size() != columns_) {
    return Status::InvalidArgument("line " + std::to_string(record_line_) + ": expected " +
                                   std::to_string(columns_) + " fields, got " +
                                   std::to_string(fields->size()));
  }
  SSKAI_RETURN_IF_ERROR(CheckUtf8(*fields));
  return true;
}

Status CsvReader::CheckUtf8(const std::vector<std::string>& fields) const {
  for (size_t col = 0; col < fields.size(); ++col) {
    const std::string& f = fields[col];
    auto where = [&] {
      return "line " + std::to_string(record_line_) + ", column " + std::to_string(col + 1);
    };
    if (FindInvalidUtf8(f) != std::string_view::npos) {
      return Status::InvalidArgument(where() + ": invalid UTF-8");
    }
    if (f.find('\0') != std::string::npos) {
      return Status::InvalidArgument(where() + ": NUL byte (is this a binary file?)");
    }
  }
  return Status::Ok();
}

Result<bool> CsvReader::ReadRecord(std::vector<std::string>* fields) {
  size_t count = 0;  // fields filled so far; the vector's strings are reused
  int c;
  // Skip blank lines.
  while (true) {
    c = in_->Get();
    if (c < 0) {
      if (!in_->status().ok()) return in_->status();
      return false;
    }
    record_line_ = line_;
    if (c == '\n') {
      ++line_;
    } else if (c == '\r') {
      if (in_->PeekByte() == '\n') in_->Get();
      ++line_;
    } else {
      break;
    }
  }
  size_t bytes = 0;
  auto too_long = [&] {
    return Status::InvalidArgument("line " + std::to_string(record_line_) +
                                   ": record is longer than 64 MiB");
  };
  while (true) {  // one field per iteration; `c` is its first byte (or -1 / line end)
    if (fields->size() <= count) fields->emplace_back();
    std::string& field = (*fields)[count];
    field.clear();
    if (c == '"') {
      int64_t quote_line = line_;
      while (true) {
        c = in_->Get();
        if (c < 0) {
          if (!in_->status().ok()) return in_->status();
          return Status::InvalidArgument("line " + std::to_string(quote_line) +
                                         ": unterminated quoted field (column " +
                                         std::to_string(count + 1) + ")");
        }
        if (c == '"') {
          if (in_->PeekByte() != '"') break;
          in_->Get();
        } else if (c == '\n') {
          ++line_;
        }
        field += static_cast<char>(c);
        if (++bytes > kMaxRecordBytes) return too_long();
      }
      c = in_->Get();
      if (c >= 0 && c != sep_ && c != '\n' && c != '\r') {
        return Status::InvalidArgument("line " + std::to_string(line_) + ", column " +
                                       std::to_string(count + 1) +
                                       ": unexpected character after a closing quote");
      }
    } else {
      while (c >= 0 && c != sep_ && c != '\n' && c != '\r') {
        field += static_cast<char>(c);
        if (++bytes > kMaxRecordBytes) return too_long();
        c = in_->Get();
      }
    }
    ++count;
    if (c == sep_) {
      c = in_->Get();
      continue;
    }
    fields->resize(count);
    if (c < 0) {
      if (!in_->status().ok()) return in_->status();
      return true;
    }
    if (c == '\r' && in_->PeekByte() == '\n') in_->Get();
    ++line_;
    return true;
  }
}

}  // namespace sskai::data::internal
