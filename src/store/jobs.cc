// Jobs and their per-epoch metrics.
#include "store/store_impl.h"

namespace sskai::store {
namespace {

// Every column but id, in the order of JobArgs() and ReadJob().
constexpr const char* kJobColumns =
    "owner_id, name, kind, state, reason, spec_json, dataset_version_id, output_model,"
    " model_version_id, executor, worker_pid, worker_start_time, attempts, checkpoint_sha256,"
    " checkpoint_epoch, progress_json, created_at, started_at, finished_at, cancel_requested,"
    " updated_at, max_attempts, max_wall_seconds, max_cost_usd, checkpoint_step,"
    " prev_checkpoint_sha256, error_message, error_step, error_count, retries, preemptions,"
    " retry_at, launch_step, pause_requested";
constexpr int kJobColumnCount = 34;

std::vector<SqlArg> JobArgs(const Job& j) {
  return {j.owner_id,          j.name,
          j.kind,              j.state,
          j.reason,            j.spec_json,
          SqlArg::IdOrNull(j.dataset_version_id), j.output_model,
          SqlArg::IdOrNull(j.model_version_id),   j.executor,
          j.worker_pid,        j.worker_start_time,
          j.attempts,          j.checkpoint_sha256,
          j.checkpoint_epoch,  j.progress_json,
          j.created_at,        j.started_at,
          j.finished_at,       j.cancel_requested,
          j.updated_at,        j.max_attempts,
          j.max_wall_seconds,  j.max_cost_usd,
          j.checkpoint_step,   j.prev_checkpoint_sha256,
          j.error_message,     j.error_step,
          j.error_count,       j.retries,
          j.preemptions,       j.retry_at,
          j.launch_step,       j.pause_requested};
}

Job ReadJob(Stmt& s) {
  Job j;
  j.id = s.Int(0);
  j.owner_id = s.Int(1);
  j.name = s.Text(2);
  j.kind = s.Text(3);
  j.state = s.Text(4);
  j.reason = s.Text(5);
  j.spec_json = s.Text(6);
  j.dataset_version_id = s.Int(7);
  j.output_model = s.Text(8);
  j.model_version_id = s.Int(9);
  j.executor = s.Text(10);
  j.worker_pid = s.Int(11);
  j.worker_start_time = s.Text(12);
  j.attempts = s.Int(13);
  j.checkpoint_sha256 = s.Text(14);
  j.checkpoint_epoch = s.Int(15);
  j.progress_json = s.Text(16);
  j.created_at = s.Real(17);
  j.started_at = s.Real(18);
  j.finished_at = s.Real(19);
  j.cancel_requested = s.Bool(20);
  j.updated_at = s.Real(21);
  j.max_attempts = s.Int(22);
  j.max_wall_seconds = s.Real(23);
  j.max_cost_usd = s.Real(24);
  j.checkpoint_step = s.Int(25);
  j.prev_checkpoint_sha256 = s.Text(26);
  j.error_message = s.Text(27);
  j.error_step = s.Int(28);
  j.error_count = s.Int(29);
  j.retries = s.Int(30);
  j.preemptions = s.Int(31);
  j.retry_at = s.Real(32);
  j.launch_step = s.Int(33);
  j.pause_requested = s.Bool(34);
  return j;
}

std::string JobSelect() { return std::string("SELECT id, ") + kJobColumns + " FROM jobs"; }

std::string JobNotFound(int64_t id) { return "job " + std::to_string(id) + " not found"; }

Status JobWriteError(const Status& status, const Job& job) {
  if (status.code() != StatusCode::kFailedPrecondition) return status;
  return Status::FailedPrecondition("job: owner " + std::to_string(job.owner_id) +
                                    " or dataset version " +
                                    std::to_string(job.dataset_version_id) + " not found");
}

constexpr const char* kMetricSelect =
    "SELECT id, job_id, step, values_json, created_at FROM job_metrics";

JobMetric ReadMetric(Stmt& s) {
  return JobMetric{s.Int(0), s.Int(1), s.Int(2), s.Text(3), s.Real(4)};
}

}  // namespace

Result<Job> Store::CreateJob(const Job& job) {
  std::lock_guard lock(impl_->mu);
  auto id = impl_->Insert(std::string("INSERT INTO jobs (") + kJobColumns + ") VALUES (" +
                              Placeholders(kJobColumnCount) + ")",
                          JobArgs(job));
  if (!id.ok()) return JobWriteError(id.status(), job);
  Job out = job;
  out.id = *id;
  return out;
}

Result<Job> Store::GetJob(int64_t owner_id, int64_t id) {
  std::lock_guard lock(impl_->mu);
  if (owner_id == 0) {
    return impl_->GetOne(JobSelect() + " WHERE id = ?", {id}, ReadJob, JobNotFound(id));
  }
  return impl_->GetOne(JobSelect() + " WHERE id = ? AND owner_id = ?", {id, owner_id}, ReadJob,
                       JobNotFound(id));
}

Result<ListResult<Job>> Store::ListJobs(int64_t owner_id, const Page& page,
                                        const std::string& state) {
  std::lock_guard lock(impl_->mu);
  std::string where;
  std::vector<SqlArg> args;
  if (owner_id != 0) {
    where = "owner_id = ?";
    args.emplace_back(owner_id);
  }
  if (!state.empty()) {
    where += where.empty() ? "state = ?" : " AND state = ?";
    args.emplace_back(state);
  }
  return impl_->ListPage(JobSelect(), where, std::move(args), page, ReadJob);
}

Result<std::vector<Job>> Store::ListJobsInStates(const std::vector<std::string>& states) {
  if (states.empty()) return std::vector<Job>{};
  std::lock_guard lock(impl_->mu);
  std::vector<SqlArg> args(states.begin(), states.end());
  return impl_->GetAll(
      JobSelect() + " WHERE state IN (" + Placeholders(states.size()) + ") ORDER BY id", args,
      ReadJob);
}

Status Store::UpdateJob(const Job& job) {
  std::lock_guard lock(impl_->mu);
  static const std::string kSql = [] {
    std::string sql = "UPDATE jobs SET ";
    std::string columns = kJobColumns;
    size_t start = 0;
    while (start < columns.size()) {
      size_t comma = columns.find(',', start);
      if (comma == std::string::npos) comma = columns.size();
      std::string column = columns.substr(start, comma - start);
      column.erase(0, column.find_first_not_of(' '));
      sql += (start == 0 ? "" : ", ") + column + " = ?";
      start = comma + 1;
    }
    return sql + " WHERE id = ?";
  }();
  std::vector<SqlArg> args = JobArgs(job);
  args.emplace_back(job.id);
  auto changed = impl_->Exec(kSql, args);
  if (!changed.ok()) return JobWriteError(changed.status(), job);
  if (*changed == 0) return Status::NotFound(JobNotFound(job.id));
  return Status::Ok();
}

Result<bool> Store::TransitionJob(int64_t id, const std::string& from_state,
                                  const std::string& to_state, const std::string& reason,
                                  double now) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(
      int64_t changed,
      impl_->Exec("UPDATE jobs SET state = ?1, reason = ?2, updated_at = ?3,"
                  " started_at = CASE WHEN ?1 = 'running' AND started_at = 0 THEN ?3"
                  "   ELSE started_at END,"
                  " finished_at = CASE WHEN ?1 IN ('succeeded', 'failed', 'cancelled') THEN ?3"
                  "   ELSE finished_at END"
                  " WHERE id = ?4 AND state = ?5",
                  {to_state, reason, now, id, from_state}));
  if (changed > 0) return true;
  SSKAI_ASSIGN_OR_RETURN(int64_t exists,
                         impl_->GetOne("SELECT COUNT(*) FROM jobs WHERE id = ?", {id},
                                       [](Stmt& s) { return s.Int(0); }, "count"));
  if (exists == 0) return Status::NotFound(JobNotFound(id));
  return false;
}

Status Store::UpdateJobControl(const Job& j) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(
      int64_t changed,
      impl_->Exec("UPDATE jobs SET executor = ?, worker_pid = ?, worker_start_time = ?, attempts = ?,"
                  " retries = ?, preemptions = ?, retry_at = ?, launch_step = ?, pause_requested = ?,"
                  " updated_at = ? WHERE id = ?",
                  {j.executor, j.worker_pid, j.worker_start_time, j.attempts, j.retries, j.preemptions,
                   j.retry_at, j.launch_step, j.pause_requested, j.updated_at, j.id}));
  if (changed == 0) return Status::NotFound(JobNotFound(j.id));
  return Status::Ok();
}

Result<bool> Store::SetJobCheckpoint(int64_t id, const std::string& sha256, int64_t epoch,
                                     int64_t step, double now) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(
      int64_t changed,
      impl_->Exec("UPDATE jobs SET prev_checkpoint_sha256 = CASE WHEN checkpoint_sha256 != ?1"
                  "   THEN checkpoint_sha256 ELSE prev_checkpoint_sha256 END,"
                  " checkpoint_sha256 = ?1, checkpoint_epoch = ?2, checkpoint_step = ?3, updated_at = ?4"
                  " WHERE id = ?5 AND (checkpoint_sha256 = '' OR checkpoint_step < ?3)",
                  {sha256, epoch, step, now, id}));
  if (changed > 0) return true;
  SSKAI_RETURN_IF_ERROR(impl_->GetOne("SELECT id FROM jobs WHERE id = ?", {id},
                                      [](Stmt& s) { return s.Int(0); }, JobNotFound(id))
                            .status());
  return false;
}

Status Store::DropJobCheckpoint(int64_t id, double now) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(
      int64_t changed,
      impl_->Exec("UPDATE jobs SET checkpoint_sha256 = prev_checkpoint_sha256,"
                  " prev_checkpoint_sha256 = '', updated_at = ? WHERE id = ?",
                  {now, id}));
  if (changed == 0) return Status::NotFound(JobNotFound(id));
  return Status::Ok();
}

Status Store::SetJobProgress(int64_t id, const std::string& progress_json, double now) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(int64_t changed,
                         impl_->Exec("UPDATE jobs SET progress_json = ?, updated_at = ? WHERE id = ?",
                                     {progress_json, now, id}));
  if (changed == 0) return Status::NotFound(JobNotFound(id));
  return Status::Ok();
}

Result<int64_t> Store::RecordJobError(int64_t id, const std::string& message, int64_t step,
                                      double now) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(
      int64_t changed,
      impl_->Exec("UPDATE jobs SET error_count = CASE WHEN error_message = ?1 AND error_step = ?2"
                  "   THEN error_count + 1 ELSE 1 END,"
                  " error_message = ?1, error_step = ?2, updated_at = ?3 WHERE id = ?4",
                  {message, step, now, id}));
  if (changed == 0) return Status::NotFound(JobNotFound(id));
  return impl_->GetOne("SELECT error_count FROM jobs WHERE id = ?", {id},
                       [](Stmt& s) { return s.Int(0); }, JobNotFound(id));
}

Result<JobMetric> Store::AddJobMetric(const JobMetric& metric) {
  std::lock_guard lock(impl_->mu);
  auto id = impl_->Insert(
      "INSERT INTO job_metrics (job_id, step, values_json, created_at) VALUES (?, ?, ?, ?)",
      {metric.job_id, metric.step, metric.values_json, metric.created_at});
  if (!id.ok() && id.status().code() == StatusCode::kFailedPrecondition) {
    return Status::FailedPrecondition(JobNotFound(metric.job_id));
  }
  SSKAI_RETURN_IF_ERROR(id.status());
  JobMetric out = metric;
  out.id = *id;
  return out;
}

Result<ListResult<JobMetric>> Store::ListJobMetrics(int64_t job_id, const Page& page) {
  std::lock_guard lock(impl_->mu);
  return impl_->ListPage(kMetricSelect, "job_id = ?", {job_id}, page, ReadMetric);
}

}  // namespace sskai::store
