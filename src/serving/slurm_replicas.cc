// EndpointManager: replicas placed on Slurm. Each replica is a Slurm job running
// `sskai replica --model-url ... --host 0.0.0.0`; it fetches the model from the server with a
// per-replica token, writes "host:port" to its address file (shared file system, like the Slurm
// executor's scripts and logs) and is probed and forwarded to over TCP with its replica key
// (replica_key.cc). Its row in endpoint_replicas (job id, address file, usage record) lets a
// restarted server re-attach (and re-derive the key).
#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "serving/internal.h"
#include "store/store.h"

namespace sskai::serving {

namespace fs = std::filesystem;
using nlohmann::json;

void EndpointManager::set_server_url(std::string url) {
  std::lock_guard<std::mutex> lock(mu_);
  server_url_ = std::move(url);
}

bool EndpointManager::OnSlurm(const EndpointRt& rt) const {
  return (rt.config.executor.empty() ? options_.default_executor : rt.config.executor) == "slurm";
}

std::chrono::milliseconds EndpointManager::ReadyTimeout(const Replica& r) const {
  return r.slurm() ? std::chrono::milliseconds(options_.slurm_ready_timeout)
                   : std::chrono::milliseconds(options_.ready_timeout);
}

jobs::ExitInfo EndpointManager::PollReplica(Replica& r) {
  if (r.slurm()) {
    // scontrol is a process per call: ask at most every slurm_poll_interval.
    const auto now = clock_.Monotonic();
    if (now < r.next_poll) return {};
    r.next_poll = now + options_.slurm_poll_interval;
  }
  return executor_.Poll(r.handle);
}

void EndpointManager::PersistSlurm(int64_t endpoint_id, const Replica& r) {
  store::EndpointReplica row;
  row.id = r.slurm_row_id;
  row.endpoint_id = endpoint_id;
  row.model_version_id = r.model_version_id;
  row.job_id = r.handle.pid;
  row.start_time = r.handle.start_time;
  row.address_file = r.port_file;
  row.usage_id = r.usage_id;
  row.token_name = r.token_name;
  IgnoreError(store_.UpdateEndpointReplica(row));
}

void EndpointManager::ReleaseSlurm(Replica& r) {
  if (!r.slurm()) return;
  std::error_code ec;
  if (!r.standby_file.empty()) {  // a standby of the warm pool: no token, no row
    fs::remove(r.standby_file, ec);
    fs::remove(r.port_file, ec);
    return;
  }
  if (!r.token_name.empty() && options_.revoke_token) options_.revoke_token(r.owner_id, r.token_name);
  r.token_name.clear();
  IgnoreError(store_.DeleteEndpointReplica(r.slurm_row_id));
  fs::remove(r.port_file, ec);
}

Result<std::shared_ptr<EndpointManager::Replica>> EndpointManager::LaunchSlurm(
    const store::Endpoint& ep, const EndpointRt& rt, const store::ModelVersion& mv, bool lm) {
  if (!options_.mint_token || server_url_.empty()) {
    return Status::FailedPrecondition("this server cannot start replicas on Slurm (no API URL)");
  }
  SSKAI_ASSIGN_OR_RETURN(store::Model model, store_.GetModelById(mv.model_id));
  store::EndpointReplica row;
  row.endpoint_id = ep.id;
  row.model_version_id = mv.id;
  row.created_at = clock_.NowSeconds();
  SSKAI_ASSIGN_OR_RETURN(row, store_.AddEndpointReplica(row));
  auto r = std::make_shared<Replica>();
  r->id = next_replica_id_++;
  r->slurm_row_id = row.id;
  r->owner_id = ep.owner_id;
  r->port_file = options_.run_dir + "/slurm-replica-" + std::to_string(row.id) + ".addr";
  r->token_name = "replica:endpoint:" + std::to_string(ep.id) + ":" + std::to_string(row.id);
  std::error_code ec;
  fs::remove(r->port_file, ec);
  // The replica listens on the network: it answers only calls that carry its key (healthz aside).
  r->key = ReplicaKeyFor(row.id, row.created_at);
  if (r->key.empty()) {
    ReleaseSlurm(*r);
    return Status::FailedPrecondition("no replica key (see the server log)");
  }
  auto token = options_.mint_token(ep.owner_id, r->token_name);
  if (!token.ok()) {
    ReleaseSlurm(*r);
    return token.status();
  }
  const std::string version_url =
      server_url_ + "/v1/models/" + model.name + "/versions/" + std::to_string(mv.version);
  const std::string model_url = version_url + (lm ? "/files" : "/content");
  // A standby of the warm pool: no queue, no engine load; it fetches and loads the model on the
  // load order, which also gives it this replica's key. One still starting is taken too (it was
  // submitted before any new job would be): the order waits until it answers.
  if (auto standby = TakeSlurmStandby(rt)) {
    r->handle = standby->handle;
    r->host = standby->host;
    r->port = standby->port;
    r->port_file = standby->port_file;  // its address file: what a restarted server reads
    r->next_poll = standby->next_poll;
    PersistSlurm(ep.id, *r);
    std::error_code ec;
    fs::remove(standby->standby_file, ec);  // the endpoint's row names the job now
    json load = {{"model_url", model_url}, {"model_sha256", mv.blob_sha256},
                 {"model_files", lm}, {"token", *token}, {"key", r->key}};
    if (lm) load["served_name"] = ep.name;
    if (standby->ready) {
      SendLoad(ep.id, r, load.dump(), standby->key);
    } else {
      r->pending_load = load.dump();
      r->pending_load_key = standby->key;
    }
    SSKAI_LOG_INFO("serving: replica of '{}' is standby Slurm job {}{}", ep.name, r->handle.pid,
                   standby->ready ? "" : " (still starting: the load order waits for it)");
    return r;
  }
  jobs::LaunchSpec spec;
  spec.argv = {options_.binary, "replica",
               "--model-url", model_url,
               "--model-sha256", mv.blob_sha256,
               "--host", "0.0.0.0",
               "--port-file", r->port_file};
  // A language model is a file set; the replica serves the OpenAI routes under the endpoint's name.
  if (lm) spec.argv.insert(spec.argv.end(), {"--model-files", "--served-name", ep.name});
  spec.env["SSKAI_TOKEN"] = *token;
  spec.env[kReplicaKeyEnv] = r->key;  // the environment (a 0600 file), never argv
  spec.executor = "slurm";
  spec.partition = rt.config.partition;
  spec.name = "endpoint-" + std::to_string(ep.id) + "-r" + std::to_string(row.id);
  spec.log_path = LogPath(ep.id);
  spec.new_session = true;
  spec.die_with_parent = false;  // a cluster job outlives the server; a restart re-attaches
  auto handle = executor_.Launch(spec);
  if (!handle.ok()) {
    ReleaseSlurm(*r);
    return handle.status();
  }
  r->handle = *handle;
  PersistSlurm(ep.id, *r);
  SSKAI_LOG_INFO("serving: replica of '{}' submitted as Slurm job {}", ep.name, handle->pid);
  return r;
}

void EndpointManager::AdoptSlurmReplicas(const store::Endpoint& ep, EndpointRt& rt) {
  auto rows = store_.ListEndpointReplicas(ep.id);
  if (!rows.ok()) {
    SSKAI_LOG_WARN("serving: cannot list the Slurm replicas of '{}': {}", ep.name,
                   rows.status().ToString());
    return;
  }
  for (auto row : *rows) {
    auto r = std::make_shared<Replica>();
    r->id = next_replica_id_++;
    r->slurm_row_id = row.id;
    r->owner_id = ep.owner_id;
    r->port_file = row.address_file;
    r->token_name = row.token_name;
    r->usage_id = row.usage_id;
    r->model_version_id = row.model_version_id;
    r->handle.pid = static_cast<int>(row.job_id);
    r->handle.start_time = row.start_time;
    r->key = ReplicaKeyFor(row.id, row.created_at);  // the same key as at launch
    if (r->key.empty() && row.job_id > 0) {
      // Without its key the job answers nothing but /healthz: cancel it; a replacement is
      // submitted (and fails the endpoint with the reason while the secret is unreadable).
      executor_.Signal(r->handle, /*force=*/true);
      row.job_id = 0;
    }
    if (row.job_id <= 0) {  // the server stopped between the row and sbatch
      if (r->usage_id > 0) IgnoreError(store_.CloseUsage(r->usage_id, clock_.NowSeconds()));
      ReleaseSlurm(*r);
      continue;
    }
    auto mv = store_.GetModelVersionById(row.model_version_id);
    r->model_version = mv.ok() ? mv->version : 0;
    r->launched_at = clock_.Monotonic();
    rt.replicas.push_back(std::move(r));
    SSKAI_LOG_INFO("serving: endpoint '{}' re-attached to its replica Slurm job {}", ep.name,
                   row.job_id);
  }
}

}  // namespace sskai::serving
