// src/store/store_impl.h — private: the connection, statement cache and query helpers shared by
// the store's implementation files.
// Thread-safety: Impl is externally synchronized: every Store method holds `mu` while using it.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/stmt.h"
#include "store/store.h"

namespace sskai::store {

struct Store::Impl {
  ~Impl();

  // A cached prepared statement for `sql`, with `args` bound.
  Result<Stmt> Query(const std::string& sql, const std::vector<SqlArg>& args);
  // Runs a statement that returns no rows; returns sqlite3_changes().
  Result<int64_t> Exec(const std::string& sql, const std::vector<SqlArg>& args = {});
  // Runs an INSERT; returns the new rowid.
  Result<int64_t> Insert(const std::string& sql, const std::vector<SqlArg>& args);
  // Runs a multi-statement script (migrations), uncached.
  Status ExecScript(const std::string& sql);

  // The first row read by `read`, or kNotFound(not_found).
  template <typename Reader>
  auto GetOne(const std::string& sql, const std::vector<SqlArg>& args, Reader read,
              const std::string& not_found) -> Result<decltype(read(std::declval<Stmt&>()))> {
    SSKAI_ASSIGN_OR_RETURN(Stmt stmt, Query(sql, args));
    SSKAI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return Status::NotFound(not_found);
    return read(stmt);
  }

  template <typename Reader>
  auto GetAll(const std::string& sql, const std::vector<SqlArg>& args, Reader read)
      -> Result<std::vector<decltype(read(std::declval<Stmt&>()))>> {
    std::vector<decltype(read(std::declval<Stmt&>()))> out;
    SSKAI_ASSIGN_OR_RETURN(Stmt stmt, Query(sql, args));
    while (true) {
      SSKAI_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      out.push_back(read(stmt));
    }
    return out;
  }

  // One page of `select` ("SELECT cols FROM table") filtered by `where` (may be empty; its
  // parameters are `args`), keyed on the `id` column.
  template <typename Reader>
  auto ListPage(const std::string& select, const std::string& where, std::vector<SqlArg> args,
                const Page& page, Reader read)
      -> Result<ListResult<decltype(read(std::declval<Stmt&>()))>> {
    const int64_t limit = page.limit <= 0 ? 50 : (page.limit > 1000 ? 1000 : page.limit);
    std::string sql = select + " WHERE ";
    if (!where.empty()) sql += "(" + where + ") AND ";
    if (page.descending) {
      sql += "id < ? ORDER BY id DESC LIMIT ?";
      args.emplace_back(page.after_id > 0 ? page.after_id : INT64_MAX);
    } else {
      sql += "id > ? ORDER BY id ASC LIMIT ?";
      args.emplace_back(page.after_id);
    }
    args.emplace_back(limit + 1);
    ListResult<decltype(read(std::declval<Stmt&>()))> out;
    SSKAI_ASSIGN_OR_RETURN(out.items, GetAll(sql, args, read));
    if (static_cast<int64_t>(out.items.size()) > limit) {
      out.items.pop_back();
      out.next_after_id = out.items.back().id;
    }
    return out;
  }

  // Read-through cache of the rows the request path reads on every call (token -> user for
  // auth, (owner, name) -> endpoint for the gateway). Every write statement goes through
  // Exec/Insert/ExecScript, which call NoteWrite: a statement that names one of the cached
  // tables drops that table's cache, so a revoked token or a deleted/patched endpoint takes
  // effect on the very next read. Guarded by `rows_mu`, not `mu`: a hit never waits behind a
  // long query or a write transaction (a cost report, a 1,000-row list, SQLite's busy wait),
  // so a predict on an io thread is not stalled by the control plane.
  struct ReadCache {
    static constexpr size_t kMaxEntries = 4096;  // per map; cleared whole beyond
    std::unordered_map<std::string, ApiToken> tokens;  // by token_hash
    std::unordered_map<int64_t, User> users;           // by id
    std::map<std::pair<int64_t, std::string>, Endpoint> endpoints;  // by (owner_id, name)
  };
  void NoteWrite(const std::string& sql);  // caller holds `mu`

  // The row of `key` in the cache map `map`: a hit takes only `rows_mu`; a miss runs `load`
  // (returning Result<row>) under `mu` and caches a row it found. Misses are not cached.
  // Lock order: `mu` before `rows_mu`; nothing waits for `mu` while holding `rows_mu`.
  // Linearizable: a write clears the map (NoteWrite) before its statement runs, under `mu`,
  // and a fill happens under `mu` too, so no fill can put back a row older than a write.
  template <typename Map, typename Load>
  auto ReadThrough(Map ReadCache::*map, const typename Map::key_type& key, Load load)
      -> Result<typename Map::mapped_type> {
    {
      std::lock_guard hit(rows_mu);
      auto& cached = rows.*map;
      if (auto it = cached.find(key); it != cached.end()) return it->second;
    }
    std::lock_guard lock(mu);
    auto row = load();
    if (row.ok()) {
      std::lock_guard fill(rows_mu);
      auto& cached = rows.*map;
      if (cached.size() >= ReadCache::kMaxEntries) cached.clear();
      cached.emplace(key, *row);
    }
    return row;
  }

  sqlite3* db = nullptr;
  std::mutex mu;  // guards everything in Impl but `rows`; held by every public Store method
  std::unordered_map<std::string, sqlite3_stmt*> cache;
  std::mutex rows_mu;  // guards `rows`
  ReadCache rows;
  std::atomic<uint64_t> auth_generation{0};  // bumped by NoteWrite; see Store::AuthGeneration
};

// "?, ?, ?" with `n` placeholders (n >= 1).
std::string Placeholders(size_t n);

// A write transaction (BEGIN IMMEDIATE); rolls back on destruction unless committed.
class Txn {
 public:
  explicit Txn(Store::Impl& impl) : impl_(impl) {}
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  Status Begin();
  Status Commit();

 private:
  Store::Impl& impl_;
  bool active_ = false;
};

}  // namespace sskai::store
