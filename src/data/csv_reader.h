// src/data/csv_reader.h — RFC 4180 record reader over a stream (internal to the data module).
// Quoted fields may hold separators, "" and line breaks; CRLF or LF line ends; blank lines
// are skipped; the separator is ',' unless the header uses only ';' or tabs.
// Thread-safety: externally synchronized.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "data/stream.h"

namespace sskai::data::internal {

class CsvReader {
 public:
  explicit CsvReader(BufferedReader* in) : in_(in) {}

  // Reads and checks the header: skips a UTF-8 BOM, picks the separator, rejects an empty
  // file, empty or duplicate names, invalid UTF-8. Names are trimmed.
  Status ReadHeader(std::vector<std::string>* names);
  // Reads the next record; false at the end. Checks the field count against the header and
  // the UTF-8 of each field. Errors name the line ("line 7: expected 5 fields, got 4").
  Result<bool> Next(std::vector<std::string>* fields);
  // The line the last record started on (1-based).
  int64_t line() const { return record_line_; }
  char separator() const { return sep_; }

 private:
  Result<bool> ReadRecord(std::vector<std::string>* fields);
  Status CheckUtf8(const std::vector<std::string>& fields) const;

  BufferedReader* in_;
  char sep_ = ',';
  size_t columns_ = 0;
  int64_t line_ = 1;         // line of the next byte
  int64_t record_line_ = 0;  // line where the last record started
};

}  // namespace sskai::data::internal
