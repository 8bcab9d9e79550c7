#include "store/stmt.h"

namespace sskai::store {

int SqlArg::Bind(sqlite3_stmt* stmt, int index) const {
  switch (kind_) {
    case Kind::kNull: return sqlite3_bind_null(stmt, index);
    case Kind::kInt: return sqlite3_bind_int64(stmt, index, int_);
    case Kind::kReal: return sqlite3_bind_double(stmt, index, real_);
    case Kind::kText:
      return sqlite3_bind_text(stmt, index, text_.data(), static_cast<int>(text_.size()),
                               SQLITE_TRANSIENT);
  }
  return SQLITE_MISUSE;
}

Status SqlError(sqlite3* db, std::string_view what) {
  const int code = sqlite3_extended_errcode(db);
  std::string message = std::string(what) + ": " + sqlite3_errmsg(db);
  switch (code) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return Status::AlreadyExists(std::move(message));
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return Status::FailedPrecondition(std::move(message));
    default:
      break;
  }
  if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) {
    return Status::Unavailable(std::move(message));
  }
  return Status::Internal(std::move(message));
}

Stmt::~Stmt() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Status Stmt::Bind(const std::vector<SqlArg>& args) {
  for (size_t idx = 0; idx < args.size(); ++idx) {
    if (args[idx].Bind(stmt_, static_cast<int>(idx) + 1) != SQLITE_OK) {
      return SqlError(db_, "bind");
    }
  }
  return Status::Ok();
}

Result<bool> Stmt::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqlError(db_, "step");
}

Status Stmt::Run() {
  while (true) {
    SSKAI_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

std::string Stmt::Text(int col) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

}  // namespace sskai::store
