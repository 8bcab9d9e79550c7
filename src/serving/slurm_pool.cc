// EndpointManager: the warm pools on Slurm (Options::slurm_warm_pools, one per partition).
// Standby replica jobs run `sskai replica --standby --host 0.0.0.0` in their pool's partition:
// the engine is loaded, no model. A replica launch of a Slurm endpoint in that partition takes a
// standby instead of submitting a job (which pays the Slurm queue and the engine load) and sends
// it a load order (POST /load: the model's URL and sha256, a download token and the replica's
// new key; slurm_replicas.cc) — at once if it is ready, else once it answers (a standby still
// starting was submitted before any new job would be); a replacement is submitted on the same
// pass.
// Each launch also counts as demand: a pool holds its min plus the launches of the last window,
// up to its max (WarmPoolTarget in policy.h), and stops its surplus standbys (not-ready ones
// first, then the newest) once the window has passed. Standbys are cluster jobs that cost
// money: each has a usage record (owner 0 = the platform, subject_kind "standby") from submit
// until an endpoint takes it (the endpoint's own record starts then) or it stops.
//
// Why a job file, not a table: a standby holds nothing worth re-attaching to (a clean stop
// cancels it), so all a crashed server's successor needs is which jobs to cancel. One file per
// standby beside its address file in run_dir ("<job id> <start token> <usage id>") says that,
// needs no migration, and goes away with the standby. Standby keys are random for the same
// reason: no restart has to derive them again.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/log.h"
#include "serving/internal.h"
#include "store/store.h"

namespace sskai::serving {

namespace fs = std::filesystem;

namespace {

constexpr auto kSubmitBackoff = std::chrono::seconds(10);  // after a failed sbatch
constexpr const char* kPrefix = "slurm-standby-";

}  // namespace

void EndpointManager::CancelCrashedStandbys() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.run_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(kPrefix) || !name.ends_with(".job")) continue;
    std::ifstream in(entry.path());
    jobs::WorkerHandle handle;
    int64_t usage_id = 0;
    if (in >> handle.pid >> handle.start_time >> usage_id && handle.pid > 0) {
      executor_.Signal(handle, /*force=*/true);
      SSKAI_LOG_INFO("serving: cancelled standby Slurm job {} of a previous server", handle.pid);
    }
    if (usage_id > 0) IgnoreError(store_.CloseUsage(usage_id, clock_.NowSeconds()));
    std::string base = entry.path().string();
    base.resize(base.size() - 4);
    fs::remove(base + ".addr", ec);
    fs::remove(entry.path(), ec);
  }
}

void EndpointManager::FillSlurmWarmPool() {
  if (!slurm_pool_checked_) {
    slurm_pool_checked_ = true;
    CancelCrashedStandbys();
  }
  const auto now = clock_.Monotonic();
  for (auto it = slurm_standby_.begin(); it != slurm_standby_.end();) {
    Replica& r = **it;
    if (PollReplica(r).exited) {
      SSKAI_LOG_WARN("serving: standby Slurm job {} ended", r.handle.pid);
      if (r.usage_id > 0) IgnoreError(store_.CloseUsage(r.usage_id, clock_.NowSeconds()));
      executor_.Signal(r.handle, /*force=*/true);  // a requeued (held) job: for good
      ReleaseSlurm(r);
      it = slurm_standby_.erase(it);
      continue;
    }
    if (!r.ready && Probe(r.port_file, &r.host, &r.port, r.key)) {
      r.ready = true;
      SSKAI_LOG_INFO("serving: standby Slurm job {} is ready on {}:{}", r.handle.pid, r.host,
                     r.port);
    } else if (!r.ready && now - r.launched_at > options_.slurm_ready_timeout) {
      Kill(r);  // its exit is handled on a later pass
    }
    ++it;
  }
  for (const WarmPoolSpec& pool : options_.slurm_warm_pools) {
    auto& launches = slurm_launches_[pool.partition];
    while (!launches.empty() && now - launches.front() >= options_.slurm_warm_pool_window) launches.pop_front();
    const int target = WarmPoolTarget(pool, launches, now, options_.slurm_warm_pool_window);
    slurm_pool_target_[pool.partition] = target;
    std::vector<std::shared_ptr<Replica>> mine;  // oldest first
    for (auto& r : slurm_standby_) {
      if (r->standby_partition == pool.partition) mine.push_back(r);
    }
    // Surplus (the window passed): stop the standbys not ready yet first, then the newest.
    std::stable_partition(mine.begin(), mine.end(), [](const auto& r) { return r->ready; });
    for (int surplus = static_cast<int>(mine.size()) - target; surplus > 0; --surplus) {
      auto r = mine.back();
      mine.pop_back();
      SSKAI_LOG_INFO("serving: warm pool of partition '{}' shrinks to {}: stopping standby Slurm job {}",
                     pool.partition, target, r->handle.pid);
      StopReplica(*r);
      slurm_standby_.erase(std::find(slurm_standby_.begin(), slurm_standby_.end(), r));
    }
    if (now < next_standby_submit_[pool.partition]) continue;
    for (int have = static_cast<int>(mine.size()); have < target; ++have) {
      auto launched = LaunchSlurmStandby(pool.partition);
      if (!launched.ok()) {
        SSKAI_LOG_WARN("serving: cannot submit a standby replica to Slurm partition '{}': {}", pool.partition,
                       launched.status().ToString());
        next_standby_submit_[pool.partition] = now + kSubmitBackoff;
        break;
      }
      slurm_standby_.push_back(std::move(*launched));
    }
  }
}

Result<std::shared_ptr<EndpointManager::Replica>> EndpointManager::LaunchSlurmStandby(const std::string& partition) {
  auto r = std::make_shared<Replica>();
  r->id = next_replica_id_++;
  SSKAI_ASSIGN_OR_RETURN(r->key, RandomReplicaKey());
  // A fresh name per standby: a cancelled job must never write into a successor's address file.
  const std::string base = options_.run_dir + "/" + kPrefix + r->key.substr(0, 12);
  r->port_file = base + ".addr";
  jobs::LaunchSpec spec;
  spec.argv = {options_.binary, "replica", "--standby", "--host", "0.0.0.0",
               "--port-file", r->port_file};
  spec.env[kReplicaKeyEnv] = r->key;  // the environment (a 0600 file), never argv
  spec.executor = "slurm";
  spec.partition = partition;
  spec.name = "standby-" + r->key.substr(0, 8);
  spec.log_path = options_.log_dir + "/slurm-standby.log";
  spec.new_session = true;
  spec.die_with_parent = false;
  SSKAI_ASSIGN_OR_RETURN(r->handle, executor_.Launch(spec));
  r->launched_at = clock_.Monotonic();
  store::UsageRecord usage;
  usage.owner_id = 0;  // the platform's: no endpoint yet
  usage.subject_kind = "standby";
  usage.subject_id = r->handle.pid;
  usage.resource = r->handle.resource.empty() ? options_.resource : r->handle.resource;
  usage.spot = r->handle.spot;
  usage.count = 1;
  usage.started_at = clock_.NowSeconds();
  auto opened = store_.OpenUsage(usage);
  if (opened.ok()) r->usage_id = opened->id;
  r->standby_file = base + ".job";
  r->standby_partition = partition;
  std::ofstream(r->standby_file) << r->handle.pid << " " << r->handle.start_time << " "
                                 << r->usage_id << "\n";
  SSKAI_LOG_INFO("serving: standby replica submitted as Slurm job {}", r->handle.pid);
  return r;
}

std::shared_ptr<EndpointManager::Replica> EndpointManager::TakeSlurmStandby(const EndpointRt& rt) {
  const std::string& partition =
      rt.config.partition.empty() ? options_.slurm_default_partition : rt.config.partition;
  const bool pooled = std::any_of(options_.slurm_warm_pools.begin(), options_.slurm_warm_pools.end(),
                                  [&](const WarmPoolSpec& p) { return p.partition == partition; });
  if (!pooled) return nullptr;
  slurm_launches_[partition].push_back(clock_.Monotonic());  // demand, taken or not
  next_standby_submit_.erase(partition);  // a replacement (or one more) on this pass
  // A ready standby, else the oldest one still starting (ahead of any job submitted now) that
  // is not being stopped for missing its ready timeout.
  auto pick = slurm_standby_.end();
  for (auto it = slurm_standby_.begin(); it != slurm_standby_.end(); ++it) {
    if ((*it)->standby_partition != partition || (*it)->kill_sent_at != TimePoint{}) continue;
    if ((*it)->ready) {
      pick = it;
      break;
    }
    if (pick == slurm_standby_.end()) pick = it;
  }
  if (pick != slurm_standby_.end()) {
    auto r = *pick;
    slurm_standby_.erase(pick);
    if (r->usage_id > 0) IgnoreError(store_.CloseUsage(r->usage_id, clock_.NowSeconds()));
    r->usage_id = 0;
    return r;
  }
  return nullptr;
}

}  // namespace sskai::serving
