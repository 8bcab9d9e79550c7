// Serving endpoints.
#include "store/store_impl.h"

namespace sskai::store {
namespace {

// Every column but id, in the order of EndpointArgs() and ReadEndpoint().
constexpr const char* kInsertSql =
    "INSERT INTO endpoints (owner_id, name, model_version_id, state, reason, config_json,"
    " replica_pid, replica_port, replica_start_time, restarts, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr const char* kUpdateSql =
    "UPDATE endpoints SET owner_id = ?, name = ?, model_version_id = ?, state = ?, reason = ?,"
    " config_json = ?, replica_pid = ?, replica_port = ?, replica_start_time = ?, restarts = ?,"
    " created_at = ?, updated_at = ? WHERE id = ?";
constexpr const char* kSelect =
    "SELECT id, owner_id, name, model_version_id, state, reason, config_json, replica_pid,"
    " replica_port, replica_start_time, restarts, created_at, updated_at, rollout_json,"
    " rollout_windows_json"
    " FROM endpoints";

std::vector<SqlArg> EndpointArgs(const Endpoint& e) {
  return {e.owner_id,    e.name,         SqlArg::IdOrNull(e.model_version_id),
          e.state,       e.reason,       e.config_json,
          e.replica_pid, e.replica_port, e.replica_start_time,
          e.restarts,    e.created_at,   e.updated_at};
}

Endpoint ReadEndpoint(Stmt& s) {
  Endpoint e;
  e.id = s.Int(0);
  e.owner_id = s.Int(1);
  e.name = s.Text(2);
  e.model_version_id = s.Int(3);
  e.state = s.Text(4);
  e.reason = s.Text(5);
  e.config_json = s.Text(6);
  e.replica_pid = s.Int(7);
  e.replica_port = s.Int(8);
  e.replica_start_time = s.Text(9);
  e.restarts = s.Int(10);
  e.created_at = s.Real(11);
  e.updated_at = s.Real(12);
  e.rollout_json = s.Text(13);
  e.rollout_windows_json = s.Text(14);
  return e;
}

Status WriteError(const Status& status, const Endpoint& e) {
  if (status.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("endpoint '" + e.name + "' already exists");
  }
  if (status.code() == StatusCode::kFailedPrecondition) {
    return Status::FailedPrecondition("endpoint '" + e.name + "': owner " +
                                      std::to_string(e.owner_id) + " or model version " +
                                      std::to_string(e.model_version_id) + " not found");
  }
  return status;
}

std::string NotFound(const std::string& name) { return "endpoint '" + name + "' not found"; }

}  // namespace

Result<Endpoint> Store::CreateEndpoint(const Endpoint& endpoint) {
  std::lock_guard lock(impl_->mu);
  auto id = impl_->Insert(kInsertSql, EndpointArgs(endpoint));
  if (!id.ok()) return WriteError(id.status(), endpoint);
  Endpoint out = endpoint;
  out.id = *id;
  return out;
}

Result<Endpoint> Store::GetEndpoint(int64_t owner_id, const std::string& name) {
  return impl_->ReadThrough(&Impl::ReadCache::endpoints, {owner_id, name}, [&] {
    return impl_->GetOne(std::string(kSelect) + " WHERE owner_id = ? AND name = ?",
                         {owner_id, name}, ReadEndpoint, NotFound(name));
  });
}

Result<Endpoint> Store::GetEndpointById(int64_t id) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetOne(std::string(kSelect) + " WHERE id = ?", {id}, ReadEndpoint,
                       "endpoint " + std::to_string(id) + " not found");
}

Result<ListResult<Endpoint>> Store::ListEndpoints(int64_t owner_id, const Page& page) {
  std::lock_guard lock(impl_->mu);
  if (owner_id == 0) return impl_->ListPage(kSelect, "", {}, page, ReadEndpoint);
  return impl_->ListPage(kSelect, "owner_id = ?", {owner_id}, page, ReadEndpoint);
}

Result<std::vector<Endpoint>> Store::ListEndpointsInStates(const std::vector<std::string>& states) {
  if (states.empty()) return std::vector<Endpoint>{};
  std::lock_guard lock(impl_->mu);
  std::vector<SqlArg> args(states.begin(), states.end());
  return impl_->GetAll(std::string(kSelect) + " WHERE state IN (" + Placeholders(states.size()) +
                           ") ORDER BY id",
                       args, ReadEndpoint);
}

Status Store::UpdateEndpoint(const Endpoint& endpoint) {
  std::lock_guard lock(impl_->mu);
  std::vector<SqlArg> args = EndpointArgs(endpoint);
  args.emplace_back(endpoint.id);
  auto changed = impl_->Exec(kUpdateSql, args);
  if (!changed.ok()) return WriteError(changed.status(), endpoint);
  if (*changed == 0) {
    return Status::NotFound("endpoint " + std::to_string(endpoint.id) + " not found");
  }
  return Status::Ok();
}

Status Store::SetEndpointRollout(int64_t id, const std::string& rollout_json) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(int64_t changed,
                         impl_->Exec("UPDATE endpoints SET rollout_json = ? WHERE id = ?",
                                     {rollout_json, id}));
  if (changed == 0) return Status::NotFound("endpoint " + std::to_string(id) + " not found");
  return Status::Ok();
}

Status Store::SetEndpointRolloutWindows(int64_t id, const std::string& windows_json) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(int64_t changed,
                         impl_->Exec("UPDATE endpoints SET rollout_windows_json = ? WHERE id = ?",
                                     {windows_json, id}));
  if (changed == 0) return Status::NotFound("endpoint " + std::to_string(id) + " not found");
  return Status::Ok();
}

Status Store::DeleteEndpoint(int64_t owner_id, const std::string& name) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(int64_t changed,
                         impl_->Exec("DELETE FROM endpoints WHERE owner_id = ? AND name = ?",
                                     {owner_id, name}));
  if (changed == 0) return Status::NotFound(NotFound(name));
  return Status::Ok();
}

}  // namespace sskai::store
