// Cost ledger storage: price history, materialized cost entries and their per-day rollup.
// The rollup (cost_rollup) is changed only together with cost_entries, in the same transaction,
// so its sums always equal the sums of the entries.
#include <cmath>
#include <map>

#include "store/store_impl.h"

namespace sskai::store {
namespace {

constexpr double kDay = 86400.0;

int64_t DayOf(double t) { return static_cast<int64_t>(std::floor(t / kDay)); }
// The last day touched by [.., to): the day before when `to` is exactly midnight.
int64_t LastDayOf(double to) {
  int64_t day = DayOf(to);
  return static_cast<double>(day) * kDay == to ? day - 1 : day;
}

std::string DayString(int64_t day) {
  time_t t = static_cast<time_t>(day * 86400);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[16];
  strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

// JSON path for a tag key (keys are validated as [A-Za-z0-9._-] by the callers).
std::string TagPath(const std::string& key) { return "$.\"" + key + "\""; }

std::string TagExpr(const char* t) {
  return std::string("(CASE WHEN ") + t + ".subject_kind = 'job' THEN (SELECT json_extract("
         "NULLIF(tags_json, ''), ?) FROM jobs WHERE id = " + t + ".subject_id) ELSE (SELECT "
         "json_extract(NULLIF(tags_json, ''), ?) FROM endpoints WHERE id = " + t + ".subject_id) END)";
}

// The SQL expression for a group key over table alias `t`; its parameters are appended to args.
Result<std::string> KeyExpr(const std::string& group_by, const char* t, std::vector<SqlArg>& args) {
  std::string a = t;
  if (group_by == "none" || group_by.empty()) return std::string("'total'");
  if (group_by == "day") return a + ".day";
  if (group_by == "user") return a + ".owner_id";
  if (group_by == "job" || group_by == "endpoint") {
    return "(CASE WHEN " + a + ".subject_kind = '" + group_by + "' THEN CAST(" + a +
           ".subject_id AS TEXT) ELSE 'other' END)";
  }
  if (group_by == "model") {
    return "COALESCE(CASE WHEN " + a + ".subject_kind = 'job' THEN (SELECT NULLIF(output_model, '')"
           " FROM jobs WHERE id = " + a + ".subject_id) ELSE (SELECT m.name FROM endpoints e JOIN"
           " model_versions mv ON mv.id = e.model_version_id JOIN models m ON m.id = mv.model_id"
           " WHERE e.id = " + a + ".subject_id) END, '(none)')";
  }
  if (group_by.rfind("tag:", 0) == 0 && group_by.size() > 4) {
    args.emplace_back(TagPath(group_by.substr(4)));
    args.emplace_back(TagPath(group_by.substr(4)));
    return "COALESCE(" + TagExpr(t) + ", '(none)')";
  }
  return Status::InvalidArgument("group_by '" + group_by + "' is not one of none, day, job, "
                                 "endpoint, user, model, tag:<key>");
}

// Filters of a query over alias `t` (AND-joined, each starting with " AND ").
std::string Filters(const CostQuery& q, const char* t, std::vector<SqlArg>& args) {
  std::string out, a = t;
  if (q.owner_id != 0) {
    out += " AND " + a + ".owner_id = ?";
    args.emplace_back(q.owner_id);
  }
  if (!q.subject_kind.empty()) {
    out += " AND " + a + ".subject_kind = ? AND " + a + ".subject_id = ?";
    args.emplace_back(q.subject_kind);
    args.emplace_back(q.subject_id);
  }
  if (!q.tag_key.empty()) {
    out += " AND " + TagExpr(t) + " = ?";
    args.emplace_back(TagPath(q.tag_key));
    args.emplace_back(TagPath(q.tag_key));
    args.emplace_back(q.tag_value);
  }
  return out;
}

CostGroup ReadGroup(Stmt& s, bool day_key) {
  CostGroup g;
  g.key = day_key ? DayString(s.Int(0)) : s.Text(0);
  g.cost_usd = s.Real(1);
  g.ondemand_usd = s.Real(2);
  g.compute_seconds = s.Real(3);
  g.unpriced_seconds = s.Real(4);
  g.entries = s.Int(5);
  return g;
}

constexpr const char* kEntryColumns =
    "usage_id, owner_id, subject_kind, subject_id, resource, spot, count, start, end, day, priced,"
    " cost_usd, ondemand_usd";

CostEntry ReadEntry(Stmt& s) {
  CostEntry e;
  e.id = s.Int(0);
  e.usage_id = s.Int(1);
  e.owner_id = s.Int(2);
  e.subject_kind = s.Text(3);
  e.subject_id = s.Int(4);
  e.resource = s.Text(5);
  e.spot = s.Bool(6);
  e.count = s.Int(7);
  e.start = s.Real(8);
  e.end = s.Real(9);
  e.priced = s.Bool(11);
  e.cost_usd = s.Real(12);
  e.ondemand_usd = s.Real(13);
  return e;
}

// Adds `sign` x the entry's figures to its rollup rows (per subject and per owner).
Status Roll(Store::Impl& impl, int64_t day, int64_t owner, const std::string& kind, int64_t subject,
            double cost, double ondemand, double seconds, bool priced, int sign) {
  double priced_cost = priced ? cost : 0, priced_od = priced ? ondemand : 0;
  constexpr const char* kSums =
      " DO UPDATE SET cost_usd = cost_usd + excluded.cost_usd, ondemand_usd = ondemand_usd +"
      " excluded.ondemand_usd, compute_seconds = compute_seconds + excluded.compute_seconds,"
      " unpriced_seconds = unpriced_seconds + excluded.unpriced_seconds, entries = entries +"
      " excluded.entries";
  double unpriced = priced ? 0.0 : sign * seconds;
  SSKAI_RETURN_IF_ERROR(
      impl.Exec(std::string("INSERT INTO cost_rollup (day, owner_id, subject_kind, subject_id,"
                            " cost_usd, ondemand_usd, compute_seconds, unpriced_seconds, entries)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, owner_id,"
                            " subject_kind, subject_id)") + kSums,
                {day, owner, kind, subject, sign * priced_cost, sign * priced_od, sign * seconds,
                 unpriced, static_cast<int64_t>(sign)})
          .status());
  return impl
      .Exec(std::string("INSERT INTO cost_daily (day, owner_id, cost_usd, ondemand_usd,"
                        " compute_seconds, unpriced_seconds, entries) VALUES (?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (day, owner_id)") + kSums,
            {day, owner, sign * priced_cost, sign * priced_od, sign * seconds, unpriced,
             static_cast<int64_t>(sign)})
      .status();
}

}  // namespace

Result<std::vector<PricePoint>> Store::ListPricePoints() {
  std::lock_guard lock(impl_->mu);
  return impl_->GetAll(
      "SELECT id, resource, market, priced, usd_per_hour, effective_from, source FROM price_points"
      " ORDER BY resource, market, effective_from, id",
      {}, [](Stmt& s) {
        return PricePoint{s.Int(0), s.Text(1), s.Text(2), s.Bool(3), s.Real(4), s.Real(5), s.Text(6)};
      });
}

Status Store::AddPricePoints(const std::vector<PricePoint>& points) {
  if (points.empty()) return Status::Ok();
  std::lock_guard lock(impl_->mu);
  Txn txn(*impl_);
  SSKAI_RETURN_IF_ERROR(txn.Begin());
  for (const auto& p : points) {
    SSKAI_RETURN_IF_ERROR(impl_->Insert(
        "INSERT INTO price_points (resource, market, priced, usd_per_hour, effective_from, source)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        {p.resource, p.market, p.priced, p.usd_per_hour, p.effective_from, p.source}).status());
  }
  return txn.Commit();
}

Result<std::vector<UnbilledUsage>> Store::ListUnbilledUsage(int64_t after_id, int limit) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetAll(
      "SELECT id, owner_id, subject_kind, subject_id, resource, count, spot, started_at, ended_at,"
      " billed_until FROM usage_records WHERE (ended_at = 0 OR billed_until < ended_at) AND id > ?"
      " ORDER BY id LIMIT ?",
      {after_id, static_cast<int64_t>(limit)}, [](Stmt& s) {
        UnbilledUsage u;
        u.usage = UsageRecord{s.Int(0), s.Int(1),  s.Text(2), s.Int(3), s.Text(4),
                              s.Int(5), s.Bool(6), s.Real(7), s.Real(8)};
        u.billed_until = s.Real(9);
        return u;
      });
}

Status Store::WriteLedger(const std::vector<LedgerWrite>& writes) {
  if (writes.empty()) return Status::Ok();
  std::lock_guard lock(impl_->mu);
  Txn txn(*impl_);
  SSKAI_RETURN_IF_ERROR(txn.Begin());
  struct Old { int64_t day, owner; std::string kind; int64_t subject; double cost, od, sec; bool priced; };
  for (const auto& w : writes) {
    SSKAI_ASSIGN_OR_RETURN(
        std::vector<Old> old,
        impl_->GetAll("SELECT day, owner_id, subject_kind, subject_id, cost_usd, ondemand_usd,"
                      " count * (end - start), priced FROM cost_entries WHERE usage_id = ? AND"
                      " start >= ?",
                      {w.usage_id, w.replace_from}, [](Stmt& s) {
                        return Old{s.Int(0),  s.Int(1),  s.Text(2), s.Int(3),
                                   s.Real(4), s.Real(5), s.Real(6), s.Bool(7)};
                      }));
    for (const auto& o : old) {
      SSKAI_RETURN_IF_ERROR(Roll(*impl_, o.day, o.owner, o.kind, o.subject, o.cost, o.od, o.sec,
                                 o.priced, -1));
    }
    if (!old.empty()) {
      SSKAI_RETURN_IF_ERROR(
          impl_->Exec("DELETE FROM cost_entries WHERE usage_id = ? AND start >= ?",
                      {w.usage_id, w.replace_from}).status());
    }
    for (const auto& e : w.entries) {
      int64_t day = DayOf(e.start);
      SSKAI_RETURN_IF_ERROR(impl_->Insert(
          std::string("INSERT INTO cost_entries (") + kEntryColumns + ") VALUES (" +
              Placeholders(13) + ")",
          {e.usage_id, e.owner_id, e.subject_kind, e.subject_id, e.resource, e.spot, e.count,
           e.start, e.end, day, e.priced, e.cost_usd, e.ondemand_usd}).status());
      SSKAI_RETURN_IF_ERROR(Roll(*impl_, day, e.owner_id, e.subject_kind, e.subject_id, e.cost_usd,
                                 e.ondemand_usd, static_cast<double>(e.count) * (e.end - e.start),
                                 e.priced, +1));
    }
    SSKAI_RETURN_IF_ERROR(impl_->Exec("UPDATE usage_records SET billed_until = ? WHERE id = ?",
                                      {w.billed_until, w.usage_id}).status());
  }
  return txn.Commit();
}

namespace {

// Whole days [day_from, day_to) from a rollup table: cost_daily (per owner) when the grouping
// and filters need no subject, else cost_rollup.
Result<std::string> RollupSql(const CostQuery& q, int64_t day_from, int64_t day_to,
                              std::vector<SqlArg>& args) {
  bool by_owner = (q.group_by == "none" || q.group_by == "day" || q.group_by == "user" ||
                   q.group_by.empty()) && q.tag_key.empty() && q.subject_kind.empty();
  SSKAI_ASSIGN_OR_RETURN(std::string key, KeyExpr(q.group_by, "r", args));
  args.emplace_back(day_from);
  args.emplace_back(day_to);
  std::string filters = Filters(q, "r", args);
  return "SELECT " + key + " AS k, SUM(cost_usd), SUM(ondemand_usd), SUM(compute_seconds),"
         " SUM(unpriced_seconds), SUM(entries) FROM " + (by_owner ? "cost_daily" : "cost_rollup") +
         " r WHERE r.day >= ? AND r.day < ?" + filters + " GROUP BY k HAVING SUM(entries) > 0";
}

// Part of one day [from, to) from the entries, clipped pro rata (an entry's rate is constant).
Result<std::string> EntriesSql(const CostQuery& q, double from, double to, std::vector<SqlArg>& args) {
  SSKAI_ASSIGN_OR_RETURN(std::string key, KeyExpr(q.group_by, "r", args));
  for (int i = 0; i < 2; ++i) {
    args.emplace_back(to);
    args.emplace_back(from);
  }
  args.emplace_back(DayOf(from));
  args.emplace_back(LastDayOf(to));
  args.emplace_back(from);
  args.emplace_back(to);
  std::string filters = Filters(q, "r", args);
  return "SELECT k, SUM(CASE WHEN priced THEN cost_usd * f ELSE 0 END), SUM(CASE WHEN priced THEN"
         " ondemand_usd * f ELSE 0 END), SUM(sec), SUM(CASE WHEN priced THEN 0 ELSE sec END),"
         " COUNT(*) FROM (SELECT " + key + " AS k, r.cost_usd, r.ondemand_usd, r.priced,"
         " CASE WHEN r.end > r.start THEN (min(r.end, ?) - max(r.start, ?)) / (r.end - r.start)"
         " ELSE 0 END AS f, r.count * (min(r.end, ?) - max(r.start, ?)) AS sec FROM cost_entries r"
         " WHERE r.day >= ? AND r.day <= ? AND r.end > ? AND r.start < ?" + filters +
         ") GROUP BY k";
}

}  // namespace

// Whole days come from a rollup; the partial first and last days from the entries.
Result<std::vector<CostGroup>> Store::QueryCost(const CostQuery& q) {
  if (!(q.to > q.from)) return Status::InvalidArgument("cost query: 'to' must be after 'from'");
  bool day_key = q.group_by == "day";
  double first_full = std::ceil(q.from / kDay) * kDay, last_full = std::floor(q.to / kDay) * kDay;
  struct Part { std::string sql; std::vector<SqlArg> args; };
  std::vector<Part> parts;
  auto add_entries = [&](double from, double to) -> Status {
    if (!(to > from)) return Status::Ok();
    Part p;
    SSKAI_ASSIGN_OR_RETURN(p.sql, EntriesSql(q, from, to, p.args));
    parts.push_back(std::move(p));
    return Status::Ok();
  };
  if (first_full < last_full) {
    SSKAI_RETURN_IF_ERROR(add_entries(q.from, first_full));
    Part p;
    SSKAI_ASSIGN_OR_RETURN(p.sql, RollupSql(q, DayOf(first_full), DayOf(last_full), p.args));
    parts.push_back(std::move(p));
    SSKAI_RETURN_IF_ERROR(add_entries(last_full, q.to));
  } else {
    SSKAI_RETURN_IF_ERROR(add_entries(q.from, q.to));
  }
  std::map<std::string, CostGroup> merged;
  std::lock_guard lock(impl_->mu);
  for (const auto& p : parts) {
    SSKAI_ASSIGN_OR_RETURN(std::vector<CostGroup> groups,
                           impl_->GetAll(p.sql, p.args, [day_key](Stmt& s) { return ReadGroup(s, day_key); }));
    for (const auto& g : groups) {
      CostGroup& m = merged[g.key];
      m.key = g.key;
      m.cost_usd += g.cost_usd;
      m.ondemand_usd += g.ondemand_usd;
      m.compute_seconds += g.compute_seconds;
      m.unpriced_seconds += g.unpriced_seconds;
      m.entries += g.entries;
    }
  }
  std::vector<CostGroup> out;
  out.reserve(merged.size());
  for (auto& [key, g] : merged) out.push_back(std::move(g));
  return out;
}

Result<std::vector<CostEntry>> Store::ListCostEntries(int64_t owner_id, double from, double to,
                                                      int64_t limit) {
  std::lock_guard lock(impl_->mu);
  std::vector<SqlArg> args = {DayOf(from), LastDayOf(to), from, to};
  std::string sql = std::string("SELECT id, ") + kEntryColumns +
                    " FROM cost_entries WHERE day >= ? AND day <= ? AND end > ? AND start < ?";
  if (owner_id != 0) {
    sql += " AND owner_id = ?";
    args.emplace_back(owner_id);
  }
  sql += " ORDER BY start, id";
  if (limit > 0) {
    sql += " LIMIT ?";
    args.emplace_back(limit);
  }
  return impl_->GetAll(sql, args, ReadEntry);
}

}  // namespace sskai::store
