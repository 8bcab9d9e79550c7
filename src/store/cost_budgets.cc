// Cost ledger storage, continued: request usage (serverless billing), stored artifact bytes,
// subject tags, budgets.
#include "store/store_impl.h"

namespace sskai::store {
namespace {

constexpr const char* kBudgetColumns =
    "owner_id, name, scope, user_id, tag_key, tag_value, period_from, period_to, limit_usd,"
    " thresholds_json, actions_json, webhook_url, state_json, created_at, updated_at";

std::vector<SqlArg> BudgetArgs(const Budget& b) {
  return {b.owner_id,  b.name,        b.scope,           b.user_id,      b.tag_key,
          b.tag_value, b.period_from, b.period_to,       b.limit_usd,    b.thresholds_json,
          b.actions_json, b.webhook_url, b.state_json,   b.created_at,   b.updated_at};
}

Budget ReadBudget(Stmt& s) {
  Budget b;
  b.id = s.Int(0);
  b.owner_id = s.Int(1);
  b.name = s.Text(2);
  b.scope = s.Text(3);
  b.user_id = s.Int(4);
  b.tag_key = s.Text(5);
  b.tag_value = s.Text(6);
  b.period_from = s.Real(7);
  b.period_to = s.Real(8);
  b.limit_usd = s.Real(9);
  b.thresholds_json = s.Text(10);
  b.actions_json = s.Text(11);
  b.webhook_url = s.Text(12);
  b.state_json = s.Text(13);
  b.created_at = s.Real(14);
  b.updated_at = s.Real(15);
  return b;
}

std::string BudgetSelect() { return std::string("SELECT id, ") + kBudgetColumns + " FROM budgets"; }

Result<std::string> SubjectTable(const std::string& kind) {
  if (kind == "job") return std::string("jobs");
  if (kind == "endpoint") return std::string("endpoints");
  return Status::InvalidArgument("subject kind '" + kind + "': expected job or endpoint");
}

}  // namespace

Status Store::AddRequestUsage(const RequestUsage& u) {
  std::lock_guard lock(impl_->mu);
  return impl_
      ->Exec("INSERT INTO request_usage (endpoint_id, bucket_start, owner_id, requests, errors,"
             " busy_seconds, memory_mb, tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT"
             " (endpoint_id, bucket_start) DO UPDATE SET requests = requests + excluded.requests,"
             " errors = errors + excluded.errors, busy_seconds = busy_seconds +"
             " excluded.busy_seconds, memory_mb = max(memory_mb, excluded.memory_mb),"
             " tokens = tokens + excluded.tokens",
             {u.endpoint_id, u.bucket_start, u.owner_id, u.requests, u.errors, u.busy_seconds,
              u.memory_mb, u.tokens})
      .status();
}

Result<std::vector<RequestUsage>> Store::SumRequestUsage(int64_t owner_id, double from, double to) {
  std::lock_guard lock(impl_->mu);
  std::vector<SqlArg> args = {from, to};
  std::string sql =
      "SELECT endpoint_id, MAX(owner_id), SUM(requests), SUM(errors), SUM(busy_seconds),"
      " MAX(memory_mb), SUM(tokens) FROM request_usage WHERE bucket_start >= ? AND bucket_start < ?";
  if (owner_id != 0) {
    sql += " AND owner_id = ?";
    args.emplace_back(owner_id);
  }
  sql += " GROUP BY endpoint_id ORDER BY endpoint_id";
  return impl_->GetAll(sql, args, [](Stmt& s) {
    RequestUsage u;
    u.endpoint_id = s.Int(0);
    u.owner_id = s.Int(1);
    u.requests = s.Int(2);
    u.errors = s.Int(3);
    u.busy_seconds = s.Real(4);
    u.memory_mb = s.Real(5);
    u.tokens = s.Int(6);
    return u;
  });
}

Result<std::vector<Store::StoredBytes>> Store::StoredArtifactBytes(int64_t owner_id, double from,
                                                                   double before) {
  std::lock_guard lock(impl_->mu);
  std::vector<SqlArg> args = {before, from, before};
  std::string sql =
      "SELECT owner_id, SUM(size_bytes), SUM(size_bytes * (? - max(created_at, ?))) FROM ("
      "SELECT d.owner_id AS owner_id, v.size_bytes AS size_bytes, v.created_at AS created_at FROM"
      " dataset_versions v JOIN datasets d ON d.id = v.dataset_id UNION ALL SELECT m.owner_id,"
      " v.size_bytes, v.created_at FROM model_versions v JOIN models m ON m.id = v.model_id)"
      " WHERE created_at < ?";
  if (owner_id != 0) {
    sql += " AND owner_id = ?";
    args.emplace_back(owner_id);
  }
  sql += " GROUP BY owner_id ORDER BY owner_id";
  return impl_->GetAll(sql, args, [](Stmt& s) {
    return StoredBytes{s.Int(0), s.Real(1), s.Real(2)};
  });
}

Status Store::SetSubjectTags(const std::string& subject_kind, int64_t id,
                             const std::string& tags_json) {
  SSKAI_ASSIGN_OR_RETURN(std::string table, SubjectTable(subject_kind));
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(int64_t n, impl_->Exec("UPDATE " + table + " SET tags_json = ? WHERE id = ?",
                                                {tags_json, id}));
  if (n == 0) return Status::NotFound(subject_kind + " " + std::to_string(id) + " not found");
  return Status::Ok();
}

Result<std::string> Store::GetSubjectTags(const std::string& subject_kind, int64_t id) {
  SSKAI_ASSIGN_OR_RETURN(std::string table, SubjectTable(subject_kind));
  std::lock_guard lock(impl_->mu);
  return impl_->GetOne("SELECT tags_json FROM " + table + " WHERE id = ?", {id},
                       [](Stmt& s) { return s.Text(0); },
                       subject_kind + " " + std::to_string(id) + " not found");
}

Result<bool> Store::TagKeyInUse(const std::string& key) {
  std::lock_guard lock(impl_->mu);
  std::string path = "$.\"" + key + "\"";
  return impl_->GetOne(
      "SELECT EXISTS (SELECT 1 FROM jobs WHERE json_extract(NULLIF(tags_json, ''), ?) IS NOT NULL)"
      " OR EXISTS (SELECT 1 FROM endpoints WHERE json_extract(NULLIF(tags_json, ''), ?) IS NOT NULL)",
      {path, path}, [](Stmt& s) { return s.Bool(0); }, "tag");
}

Result<std::vector<int64_t>> Store::SubjectsInScope(const std::string& subject_kind, int64_t owner_id,
                                                    const std::string& tag_key,
                                                    const std::string& tag_value) {
  SSKAI_ASSIGN_OR_RETURN(std::string table, SubjectTable(subject_kind));
  std::lock_guard lock(impl_->mu);
  std::string sql = "SELECT id FROM " + table + " WHERE " +
                    (subject_kind == "job" ? std::string("state IN ('queued', 'running')")
                                           : std::string("state NOT IN ('stopped', 'failed')"));
  std::vector<SqlArg> args;
  if (owner_id != 0) {
    sql += " AND owner_id = ?";
    args.emplace_back(owner_id);
  }
  if (!tag_key.empty()) {
    sql += " AND json_extract(NULLIF(tags_json, ''), ?) = ?";
    args.emplace_back("$.\"" + tag_key + "\"");
    args.emplace_back(tag_value);
  }
  sql += " ORDER BY id";
  return impl_->GetAll(sql, args, [](Stmt& s) { return s.Int(0); });
}

Result<Budget> Store::CreateBudget(const Budget& budget) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(int64_t id,
                         impl_->Insert(std::string("INSERT INTO budgets (") + kBudgetColumns +
                                           ") VALUES (" + Placeholders(15) + ")",
                                       BudgetArgs(budget)));
  Budget out = budget;
  out.id = id;
  return out;
}

Result<Budget> Store::GetBudget(int64_t owner_id, int64_t id) {
  std::lock_guard lock(impl_->mu);
  std::string nf = "budget " + std::to_string(id) + " not found";
  if (owner_id == 0) return impl_->GetOne(BudgetSelect() + " WHERE id = ?", {id}, ReadBudget, nf);
  return impl_->GetOne(BudgetSelect() + " WHERE id = ? AND owner_id = ?", {id, owner_id},
                       ReadBudget, nf);
}

Result<std::vector<Budget>> Store::ListBudgets(int64_t owner_id) {
  std::lock_guard lock(impl_->mu);
  if (owner_id == 0) return impl_->GetAll(BudgetSelect() + " ORDER BY id", {}, ReadBudget);
  return impl_->GetAll(BudgetSelect() + " WHERE owner_id = ? ORDER BY id", {owner_id}, ReadBudget);
}

Status Store::UpdateBudget(const Budget& budget) {
  std::lock_guard lock(impl_->mu);
  std::vector<SqlArg> args = BudgetArgs(budget);
  args.emplace_back(budget.id);
  SSKAI_ASSIGN_OR_RETURN(
      int64_t n,
      impl_->Exec("UPDATE budgets SET (" + std::string(kBudgetColumns) + ") = (" +
                      Placeholders(15) + ") WHERE id = ?",
                  args));
  if (n == 0) return Status::NotFound("budget " + std::to_string(budget.id) + " not found");
  return Status::Ok();
}

Status Store::SetBudgetState(int64_t id, const std::string& state_json) {
  std::lock_guard lock(impl_->mu);
  return impl_->Exec("UPDATE budgets SET state_json = ? WHERE id = ?", {state_json, id}).status();
}

Status Store::DeleteBudget(int64_t owner_id, int64_t id) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(int64_t n,
                         owner_id == 0
                             ? impl_->Exec("DELETE FROM budgets WHERE id = ?", {id})
                             : impl_->Exec("DELETE FROM budgets WHERE id = ? AND owner_id = ?",
                                           {id, owner_id}));
  if (n == 0) return Status::NotFound("budget " + std::to_string(id) + " not found");
  return Status::Ok();
}

}  // namespace sskai::store
