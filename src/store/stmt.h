// src/store/stmt.h — private: a thin RAII wrapper over a cached sqlite3 prepared statement.
// Thread-safety: externally synchronized (used under Store::Impl::mu).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sskai::store {

// One bound SQL parameter: integer, real, text or NULL.
class SqlArg {
 public:
  enum class Kind : uint8_t { kNull, kInt, kReal, kText };
  SqlArg(std::nullptr_t) : kind_(Kind::kNull) {}             // NOLINT
  SqlArg(int v) : kind_(Kind::kInt), int_(v) {}              // NOLINT
  SqlArg(int64_t v) : kind_(Kind::kInt), int_(v) {}          // NOLINT
  SqlArg(bool v) : kind_(Kind::kInt), int_(v ? 1 : 0) {}     // NOLINT
  SqlArg(double v) : kind_(Kind::kReal), real_(v) {}         // NOLINT
  SqlArg(const char* v) : kind_(Kind::kText), text_(v) {}    // NOLINT
  SqlArg(std::string v) : kind_(Kind::kText), text_(std::move(v)) {}  // NOLINT
  // An id column where 0 means "none": binds NULL for 0 so foreign keys hold.
  static SqlArg IdOrNull(int64_t id) { return id == 0 ? SqlArg(nullptr) : SqlArg(id); }

  int Bind(sqlite3_stmt* stmt, int index) const;

 private:
  Kind kind_;
  int64_t int_ = 0;
  double real_ = 0;
  std::string text_;
};

// Maps a failed SQLite call to a Status: unique/primary-key violations → kAlreadyExists,
// foreign-key violations → kFailedPrecondition, busy/locked → kUnavailable, else kInternal.
Status SqlError(sqlite3* db, std::string_view what);

// A borrowed prepared statement; resets and clears its bindings when destroyed.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Stmt();
  Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;

  Status Bind(const std::vector<SqlArg>& args);
  // true: a row is available; false: done.
  Result<bool> Step();
  // Steps to completion (rows, if any, are discarded).
  Status Run();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) const { return sqlite3_column_double(stmt_, col); }
  bool Bool(int col) const { return sqlite3_column_int64(stmt_, col) != 0; }
  std::string Text(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

}  // namespace sskai::store
