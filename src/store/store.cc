// Open, migrations, the connection helpers, names and blob references.
#include "store/store.h"

#include <sqlite3.h>

#include "store/migrations.h"
#include "store/store_impl.h"

namespace sskai::store {
namespace {

Status ApplyMigrations(Store::Impl& impl, int max_version) {
  SSKAI_RETURN_IF_ERROR(impl.ExecScript(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"));
  SSKAI_ASSIGN_OR_RETURN(
      int64_t current,
      impl.GetOne("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {},
                  [](Stmt& s) { return s.Int(0); }, "schema_migrations"));
  const int latest = Migrations().back().version;
  if (current > latest) {
    return Status::FailedPrecondition("database schema version " + std::to_string(current) +
                                      " is newer than this binary supports (" +
                                      std::to_string(latest) + ")");
  }
  for (const Migration& step : Migrations()) {
    if (step.version <= current || step.version > max_version) continue;
    Txn txn(impl);
    SSKAI_RETURN_IF_ERROR(txn.Begin());
    Status applied = impl.ExecScript(step.sql);
    if (!applied.ok()) {
      return applied.WithPrefix("migration " + std::to_string(step.version) + " (" + step.name +
                                ")");
    }
    // applied_at is informational; it is the one timestamp SQLite takes from the clock.
    SSKAI_RETURN_IF_ERROR(
        impl.Exec("INSERT INTO schema_migrations (version, applied_at)"
                  " VALUES (?, (julianday('now') - 2440587.5) * 86400.0)",
                  {step.version})
            .status());
    SSKAI_RETURN_IF_ERROR(txn.Commit());
  }
  return Status::Ok();
}

Result<std::unique_ptr<Store::Impl>> OpenImpl(const std::string& path, int max_version) {
  auto impl = std::make_unique<Store::Impl>();
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &impl->db, flags, nullptr) != SQLITE_OK) {
    std::string message = impl->db != nullptr ? sqlite3_errmsg(impl->db) : "out of memory";
    return Status::Internal("cannot open database '" + path + "': " + message);
  }
  sqlite3_extended_result_codes(impl->db, 1);
  sqlite3_busy_timeout(impl->db, 5000);
  Status pragmas = impl->ExecScript(
      "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;");
  if (!pragmas.ok()) return pragmas.WithPrefix("database '" + path + "'");
  Status migrated = ApplyMigrations(*impl, max_version);
  if (!migrated.ok()) return migrated.WithPrefix("database '" + path + "'");
  return impl;
}

}  // namespace

Store::Impl::~Impl() {
  for (auto& [sql, stmt] : cache) sqlite3_finalize(stmt);
  if (db != nullptr) sqlite3_close(db);
}

Result<Stmt> Store::Impl::Query(const std::string& sql, const std::vector<SqlArg>& args) {
  auto it = cache.find(sql);
  if (it == cache.end()) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      return SqlError(db, "prepare");
    }
    it = cache.emplace(sql, stmt).first;
  }
  Stmt stmt(db, it->second);
  SSKAI_RETURN_IF_ERROR(stmt.Bind(args));
  return stmt;
}

void Store::Impl::NoteWrite(const std::string& sql) {
  auto names = [&sql](const char* table) { return sql.find(table) != std::string::npos; };
  bool rollback = sql == "ROLLBACK";
  bool auth = rollback || names("api_tokens") || names("users");
  bool endpoints = rollback || names("endpoints");
  if (!auth && !endpoints) return;
  std::lock_guard lock(rows_mu);
  if (auth) {
    auth_generation.fetch_add(1, std::memory_order_release);
    rows.tokens.clear();
    rows.users.clear();
  }
  if (endpoints) rows.endpoints.clear();
}

Result<int64_t> Store::Impl::Exec(const std::string& sql, const std::vector<SqlArg>& args) {
  NoteWrite(sql);
  SSKAI_ASSIGN_OR_RETURN(Stmt stmt, Query(sql, args));
  SSKAI_RETURN_IF_ERROR(stmt.Run());
  return static_cast<int64_t>(sqlite3_changes(db));
}

Result<int64_t> Store::Impl::Insert(const std::string& sql, const std::vector<SqlArg>& args) {
  NoteWrite(sql);
  SSKAI_ASSIGN_OR_RETURN(Stmt stmt, Query(sql, args));
  SSKAI_RETURN_IF_ERROR(stmt.Run());
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db));
}

Status Store::Impl::ExecScript(const std::string& sql) {
  NoteWrite(sql);
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    Status status = SqlError(db, "exec");
    return Status(status.code(), "exec: " + message);
  }
  return Status::Ok();
}

std::string Placeholders(size_t n) {
  std::string out = "?";
  for (size_t idx = 1; idx < n; ++idx) out += ", ?";
  return out;
}

Txn::~Txn() {
  if (active_) IgnoreError(impl_.ExecScript("ROLLBACK"));  // best effort
}

Status Txn::Begin() {
  SSKAI_RETURN_IF_ERROR(impl_.ExecScript("BEGIN IMMEDIATE"));
  active_ = true;
  return Status::Ok();
}

Status Txn::Commit() {
  SSKAI_RETURN_IF_ERROR(impl_.ExecScript("COMMIT"));
  active_ = false;
  return Status::Ok();
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  return OpenForTesting(path, LatestSchemaVersion());
}

Result<std::unique_ptr<Store>> Store::OpenForTesting(const std::string& path, int max_version) {
  SSKAI_ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, OpenImpl(path, max_version));
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

int Store::LatestSchemaVersion() { return Migrations().back().version; }

int Store::SchemaVersion() {
  std::lock_guard lock(impl_->mu);
  auto version = impl_->GetOne("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {},
                               [](Stmt& s) { return s.Int(0); }, "schema_migrations");
  return version.ok() ? static_cast<int>(*version) : 0;
}

Result<std::set<std::string>> Store::ReferencedBlobs() {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(
      std::vector<std::string> shas,
      impl_->GetAll("SELECT blob_sha256 FROM dataset_versions WHERE blob_sha256 != ''"
                    " UNION SELECT blob_sha256 FROM model_versions WHERE blob_sha256 != ''"
                    " UNION SELECT checkpoint_sha256 FROM jobs WHERE checkpoint_sha256 != ''"
                    " UNION SELECT prev_checkpoint_sha256 FROM jobs WHERE prev_checkpoint_sha256 != ''"
                    // LM file sets: every file of a manifest ({"type":"lm","files":{name: sha}}).
                    // (nested CASE: evaluated lazily, so invalid JSON never reaches json_type)
                    " UNION SELECT f.value FROM model_versions mv, json_each(CASE WHEN"
                    " json_valid(mv.spec_json) THEN CASE WHEN json_type(mv.spec_json, '$.files') ="
                    " 'object' THEN mv.spec_json ELSE '{\"files\":{}}' END ELSE '{\"files\":{}}'"
                    " END, '$.files') f"
                    " WHERE f.type = 'text' AND f.value != ''",
                    {}, [](Stmt& s) { return s.Text(0); }));
  return std::set<std::string>(shas.begin(), shas.end());
}

Status ValidateName(const std::string& name) {
  std::string shown_name = name.substr(0, 64);
  for (char& c : shown_name) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  const std::string quoted = "name '" + shown_name + "'";
  if (name.empty()) return Status::InvalidArgument("name is empty");
  if (name.size() > 64) {
    return Status::InvalidArgument("name '" + shown_name + "...' is longer than 64 characters");
  }
  for (char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!allowed) {
      const bool printable = static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
      std::string shown = printable ? std::string("'") + c + "'" : "a control character";
      if (static_cast<unsigned char>(c) >= 0x80) shown = "a non-ASCII character";
      return Status::InvalidArgument(quoted + " contains " + shown +
                                     "; use letters, digits, '.', '_' and '-'");
    }
  }
  if (name.front() == '.' || name.front() == '-') {
    return Status::InvalidArgument(quoted + " must not start with '" + name.front() + "'");
  }
  if (name.find("..") != std::string::npos) {
    return Status::InvalidArgument(quoted + " must not contain '..'");
  }
  return Status::Ok();
}

}  // namespace sskai::store
