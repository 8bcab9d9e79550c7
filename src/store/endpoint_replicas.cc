// Replicas of endpoints that run as Slurm jobs (serving re-attaches to them after a restart).
#include "store/store_impl.h"

namespace sskai::store {
namespace {

constexpr const char* kSelect =
    "SELECT id, endpoint_id, model_version_id, job_id, start_time, address_file, usage_id,"
    " token_name, created_at FROM endpoint_replicas";

EndpointReplica ReadReplica(Stmt& s) {
  EndpointReplica r;
  r.id = s.Int(0);
  r.endpoint_id = s.Int(1);
  r.model_version_id = s.Int(2);
  r.job_id = s.Int(3);
  r.start_time = s.Text(4);
  r.address_file = s.Text(5);
  r.usage_id = s.Int(6);
  r.token_name = s.Text(7);
  r.created_at = s.Real(8);
  return r;
}

}  // namespace

Result<EndpointReplica> Store::AddEndpointReplica(const EndpointReplica& replica) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(
      int64_t id,
      impl_->Insert("INSERT INTO endpoint_replicas (endpoint_id, model_version_id, job_id,"
                    " start_time, address_file, usage_id, token_name, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    {replica.endpoint_id, replica.model_version_id, replica.job_id,
                     replica.start_time, replica.address_file, replica.usage_id,
                     replica.token_name, replica.created_at}));
  EndpointReplica out = replica;
  out.id = id;
  return out;
}

Status Store::UpdateEndpointReplica(const EndpointReplica& replica) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(
      int64_t changed,
      impl_->Exec("UPDATE endpoint_replicas SET model_version_id = ?, job_id = ?, start_time = ?,"
                  " address_file = ?, usage_id = ?, token_name = ? WHERE id = ?",
                  {replica.model_version_id, replica.job_id, replica.start_time,
                   replica.address_file, replica.usage_id, replica.token_name, replica.id}));
  if (changed == 0) return Status::NotFound("endpoint replica " + std::to_string(replica.id) + " not found");
  return Status::Ok();
}

Result<std::vector<EndpointReplica>> Store::ListEndpointReplicas(int64_t endpoint_id) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetAll(std::string(kSelect) + " WHERE endpoint_id = ? ORDER BY id", {endpoint_id},
                       ReadReplica);
}

Status Store::DeleteEndpointReplica(int64_t id) {
  std::lock_guard lock(impl_->mu);
  return impl_->Exec("DELETE FROM endpoint_replicas WHERE id = ?", {id}).status();
}

}  // namespace sskai::store
