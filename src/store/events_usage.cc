// Activity events and usage (metering) records.
#include "store/store_impl.h"

namespace sskai::store {
namespace {

constexpr const char* kEventSelect =
    "SELECT id, owner_id, kind, subject_id, action, message, created_at FROM events";

Event ReadEvent(Stmt& s) {
  return Event{s.Int(0), s.Int(1), s.Text(2), s.Int(3), s.Text(4), s.Text(5), s.Real(6)};
}

constexpr const char* kUsageSelect =
    "SELECT id, owner_id, subject_kind, subject_id, resource, count, spot, started_at, ended_at"
    " FROM usage_records";

UsageRecord ReadUsage(Stmt& s) {
  return UsageRecord{s.Int(0), s.Int(1),  s.Text(2), s.Int(3),  s.Text(4),
                     s.Int(5), s.Bool(6), s.Real(7), s.Real(8)};
}

// Appends "clause" to `where` with AND.
void AndWhere(std::string& where, const char* clause) {
  if (!where.empty()) where += " AND ";
  where += clause;
}

}  // namespace

Result<Event> Store::AddEvent(const Event& event) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(
      int64_t id,
      impl_->Insert("INSERT INTO events (owner_id, kind, subject_id, action, message, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    {event.owner_id, event.kind, event.subject_id, event.action, event.message,
                     event.created_at}));
  Event out = event;
  out.id = id;
  return out;
}

Result<ListResult<Event>> Store::ListEvents(int64_t owner_id, const Page& page,
                                            const EventFilter& filter) {
  std::lock_guard lock(impl_->mu);
  std::string where;
  std::vector<SqlArg> args;
  if (owner_id != 0) {
    AndWhere(where, "owner_id = ?");
    args.emplace_back(owner_id);
  }
  if (!filter.kind.empty()) {
    AndWhere(where, "kind = ?");
    args.emplace_back(filter.kind);
  }
  if (filter.subject_id != 0) {
    AndWhere(where, "subject_id = ?");
    args.emplace_back(filter.subject_id);
  }
  return impl_->ListPage(kEventSelect, where, std::move(args), page, ReadEvent);
}

Result<UsageRecord> Store::OpenUsage(const UsageRecord& record) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(
      int64_t id,
      impl_->Insert("INSERT INTO usage_records (owner_id, subject_kind, subject_id, resource,"
                    " count, spot, started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                    {record.owner_id, record.subject_kind, record.subject_id, record.resource,
                     record.count, record.spot, record.started_at}));
  UsageRecord out = record;
  out.id = id;
  out.ended_at = 0;
  return out;
}

Status Store::CloseUsage(int64_t id, double ended_at) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(
      int64_t exists, impl_->GetOne("SELECT COUNT(*) FROM usage_records WHERE id = ?", {id},
                                    [](Stmt& s) { return s.Int(0); }, "count"));
  if (exists == 0) return Status::NotFound("usage record " + std::to_string(id) + " not found");
  return impl_->Exec("UPDATE usage_records SET ended_at = ? WHERE id = ? AND ended_at = 0",
                     {ended_at, id})
      .status();
}

Result<int64_t> Store::CloseOpenUsage(const std::string& subject_kind, int64_t subject_id,
                                      double ended_at) {
  std::lock_guard lock(impl_->mu);
  return impl_->Exec(
      "UPDATE usage_records SET ended_at = ?"
      " WHERE subject_kind = ? AND subject_id = ? AND ended_at = 0",
      {ended_at, subject_kind, subject_id});
}

Result<ListResult<UsageRecord>> Store::ListUsage(int64_t owner_id, const Page& page, double from,
                                                 double to) {
  std::lock_guard lock(impl_->mu);
  std::string where = "(ended_at = 0 OR ended_at > ?)";
  std::vector<SqlArg> args = {from};
  if (to > 0) {
    AndWhere(where, "started_at < ?");
    args.emplace_back(to);
  }
  if (owner_id != 0) {
    AndWhere(where, "owner_id = ?");
    args.emplace_back(owner_id);
  }
  return impl_->ListPage(kUsageSelect, where, std::move(args), page, ReadUsage);
}

Result<std::vector<UsageRecord>> Store::ListSubjectUsage(const std::string& subject_kind,
                                                         int64_t subject_id) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetAll(std::string(kUsageSelect) +
                           " WHERE subject_kind = ? AND subject_id = ? ORDER BY id",
                       {subject_kind, subject_id}, ReadUsage);
}

}  // namespace sskai::store
