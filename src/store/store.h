// src/store/store.h — the SQLite metadata store: users, tokens, datasets, models, jobs, endpoints,
// events and usage records, as plain structs.
//
// One SQLite file in WAL mode (foreign_keys=ON, busy_timeout 5000 ms, synchronous=NORMAL) with
// versioned migrations applied by Open(). Blobs live in artifacts/; rows only name them by sha256.
// The store never reads the clock: every timestamp (double seconds since the Unix epoch) is passed
// in by the caller. JSON columns are opaque strings. Ids are int64 autoincrement (0 = none).
//
// Thread-safety: thread-safe (one connection behind a mutex; every call is atomic). A cached
// read (FindTokenByHash, GetUser, GetEndpoint after their first read) takes only the cache's own
// lock, so it never waits behind another thread's long query or write transaction.
// Errors common to all calls: kInternal (SQLite failure, message carries sqlite3_errmsg),
// kUnavailable (database locked by another process for more than 5 s).
// Owner scoping: calls taking `owner_id` only see that owner's rows; another owner's row is
// kNotFound. Where noted, owner_id 0 means "any owner" (internal/admin use only).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace sskai::store {

// Keyset pagination by id. limit <= 0 means 50; values above 1000 are clamped to 1000.
// Ascending: rows with id > after_id. Descending (newest first): rows with id < after_id
// (after_id 0 = start from the newest).
struct Page {
  int limit = 50;
  int64_t after_id = 0;
  bool descending = false;
};

// One page; pass next_after_id as Page::after_id to get the next one (0 = no more rows).
template <typename T>
struct ListResult {
  std::vector<T> items;
  int64_t next_after_id = 0;
};

struct User { int64_t id = 0; std::string name; bool is_admin = false; double created_at = 0; };

struct ApiToken {
  int64_t id = 0, user_id = 0;
  std::string name, token_hash;  // token_hash: sha256 hex of the secret (unique)
  double created_at = 0, expires_at = 0;  // expires_at 0 = never
};

struct Dataset {
  int64_t id = 0, owner_id = 0;
  std::string name;
  double created_at = 0;
  int64_t latest_version = 0;
  std::string description;
};

struct DatasetVersion {
  int64_t id = 0, dataset_id = 0, version = 0;  // version: 1, 2, 3… per dataset
  std::string blob_sha256, format;
  int64_t size_bytes = 0, rows = 0;
  std::string schema_json, stats_json, original_filename;
  double created_at = 0;
};

struct Model {
  int64_t id = 0, owner_id = 0;
  std::string name;
  double created_at = 0;
  int64_t latest_version = 0;
  // "private" (owner only) | "public" (every user may read, fine-tune and deploy it; only the
  // owner or an admin may change it). See SetModelVisibility.
  std::string visibility = "private";
};

struct ModelVersion {
  int64_t id = 0, model_id = 0, version = 0;
  std::string kind, task;  // kind: "builtin" | "uploaded" | "trained"
  std::string blob_sha256;
  int64_t dataset_version_id = 0, job_id = 0;  // 0 = none
  std::string metrics_json, spec_json;
  int64_t size_bytes = 0;
  double created_at = 0;
};

struct Job {
  int64_t id = 0, owner_id = 0;
  std::string name, kind = "train";
  std::string state = "queued";  // queued|running|succeeded|failed|cancelled (not enforced here)
  std::string reason, spec_json;
  int64_t dataset_version_id = 0;  // 0 = none
  std::string output_model;        // model name the job produces
  int64_t model_version_id = 0;    // 0 = none yet
  std::string executor = "local";
  int64_t worker_pid = 0;
  std::string worker_start_time;  // token that detects pid reuse
  int64_t attempts = 0;
  std::string checkpoint_sha256;  // "" = none
  int64_t checkpoint_epoch = 0;
  std::string progress_json;
  double created_at = 0, started_at = 0, finished_at = 0;
  bool cancel_requested = false;
  double updated_at = 0;
  // Job control (migration 6). Limits: 0 = the server default / unlimited.
  int64_t max_attempts = 0;          // retries without progress before the job fails
  double max_wall_seconds = 0;       // since first start, restarts included
  double max_cost_usd = 0;           // usage x offering price
  int64_t checkpoint_step = 0;       // global optimizer step of checkpoint_sha256
  std::string prev_checkpoint_sha256;  // the previous good checkpoint ("" = none)
  std::string error_message;         // last error a worker reported, and at which step
  int64_t error_step = -1;
  int64_t error_count = 0;           // times that same error was reported at that same step
  int64_t retries = 0;               // consecutive retries without checkpoint progress
  int64_t preemptions = 0;
  double retry_at = 0;               // backoff: not relaunched before this time
  int64_t launch_step = 0;           // checkpoint_step when the last worker was launched
  bool pause_requested = false;      // the notice in flight ends in "paused", not "preempted"
};

struct JobMetric { int64_t id = 0, job_id = 0, step = 0; std::string values_json; double created_at = 0; };

struct Endpoint {
  int64_t id = 0, owner_id = 0;
  std::string name;  // unique per owner
  int64_t model_version_id = 0;
  std::string state = "deploying";  // deploying|ready|failed|stopped
  std::string reason, config_json;
  int64_t replica_pid = 0, replica_port = 0;
  std::string replica_start_time;
  int64_t restarts = 0;
  double created_at = 0, updated_at = 0;
  std::string rollout_json;  // canary/blue-green state (serving); written by SetEndpointRollout
  std::string rollout_windows_json;  // the rollout's comparison windows; SetEndpointRolloutWindows
};

// A replica of an endpoint that runs as a Slurm job: kept so a restarted server re-attaches.
struct EndpointReplica {
  int64_t id = 0, endpoint_id = 0, model_version_id = 0;
  int64_t job_id = 0;          // the Slurm job id (0 until submitted)
  std::string start_time;      // the executor handle's token ("slurm:<restarts>")
  std::string address_file;    // where the replica writes "host:port" once listening
  int64_t usage_id = 0;        // its open usage record
  std::string token_name;      // its model-download token ("" once revoked)
  double created_at = 0;
};

struct Event {
  int64_t id = 0, owner_id = 0;  // owner_id 0 = system
  std::string kind;              // dataset|model|job|endpoint|system
  int64_t subject_id = 0;
  std::string action, message;
  double created_at = 0;
};
struct EventFilter { std::string kind; int64_t subject_id = 0; };  // "" / 0 = any

struct UsageRecord {
  int64_t id = 0, owner_id = 0;
  std::string subject_kind;  // job|endpoint
  int64_t subject_id = 0;
  std::string resource;      // catalog offering: a local name ("this-machine") or instance type
  int64_t count = 1;         // workers or replicas
  bool spot = false;
  double started_at = 0, ended_at = 0;  // ended_at 0 = still open
};

// A plan as returned by POST /v1/plans; jobs and endpoints name the plan they were created from.
struct StoredPlan {
  int64_t id = 0, owner_id = 0;
  std::string kind;                      // "train" | "serve"
  std::string request_json, result_json;
  std::string catalog_date;              // catalog (and prices) the plan was made from
  double created_at = 0;
};

// ---- Cost ledger (src/store/cost.cc, cost_budgets.cc; migration 5). Semantics live in src/cost.
// A price in force from `effective_from` until the next point of the same (resource, market).
// priced=false: the source has no price (e.g. no spot market) — "unpriced", never $0.
struct PricePoint {
  int64_t id = 0;
  std::string resource, market;  // market: "spot" | "on-demand"
  bool priced = true;
  double usd_per_hour = 0;
  double effective_from = 0;
  std::string source;  // e.g. "catalog 2025-06-01"
};

// One priced slice of a usage record: constant rate, inside one UTC day.
struct CostEntry {
  int64_t id = 0, usage_id = 0, owner_id = 0;
  std::string subject_kind;  // job|endpoint
  int64_t subject_id = 0;
  std::string resource;
  bool spot = false;
  int64_t count = 1;
  double start = 0, end = 0;
  bool priced = true;        // false: cost_usd/ondemand_usd are 0 and mean "unknown"
  double cost_usd = 0, ondemand_usd = 0;
};

// A usage record the ledger still has to (re)price: open, or closed past billed_until.
struct UnbilledUsage { UsageRecord usage; double billed_until = 0; };

// Replaces usage `usage_id`'s entries with start >= replace_from by `entries` and sets its
// billed_until (the rollup is kept equal to the sum of the entries).
struct LedgerWrite {
  int64_t usage_id = 0;
  double replace_from = 0;
  std::vector<CostEntry> entries;
  double billed_until = 0;
};

// Sums over cost entries overlapping [from, to) (entries are clipped pro rata: their rate is
// constant). group_by: "none"|"day"|"job"|"endpoint"|"user"|"model"|"tag:<key>".
struct CostQuery {
  double from = 0, to = 0;
  int64_t owner_id = 0;                 // 0 = every owner
  std::string group_by = "none";
  std::string tag_key, tag_value;       // optional filter: subject's tag key == value
  int64_t subject_id = 0;               // optional filter with subject_kind
  std::string subject_kind;
};
struct CostGroup {
  std::string key;  // day: "YYYY-MM-DD"; job/endpoint: id or "other"; user: owner id; model/tag: name or "(none)"
  double cost_usd = 0, ondemand_usd = 0, compute_seconds = 0, unpriced_seconds = 0;
  int64_t entries = 0;
};

struct RequestUsage {
  int64_t endpoint_id = 0, owner_id = 0;
  double bucket_start = 0;  // minute bucket
  int64_t requests = 0, errors = 0;
  double busy_seconds = 0, memory_mb = 0;
  int64_t tokens = 0;
};

struct Budget {
  int64_t id = 0, owner_id = 0;
  std::string name, scope;          // scope: "user" | "tag"
  int64_t user_id = 0;              // scope user
  std::string tag_key, tag_value;   // scope tag
  double period_from = 0, period_to = 0;  // both 0 = monthly (calendar month, UTC)
  double limit_usd = 0;
  std::string thresholds_json, actions_json, webhook_url;
  std::string state_json;           // enforcer bookkeeping (fired thresholds, paused subjects)
  double created_at = 0, updated_at = 0;
};

// OK when `name` is 1–64 chars of [A-Za-z0-9._-], does not start with '.' or '-' and has no "..".
// Otherwise kInvalidArgument naming the problem ("name 'a/b' contains '/' ...").
Status ValidateName(const std::string& name);

class Store {
 public:
  // Opens (creating if needed) the database at `path` and applies pending migrations.
  // Errors: kInternal (cannot open / migrate), kFailedPrecondition (schema newer than binary).
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  // Test seam: applies migrations only up to `max_version`.
  static Result<std::unique_ptr<Store>> OpenForTesting(const std::string& path, int max_version);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int SchemaVersion();         // highest applied migration
  static int LatestSchemaVersion();  // highest migration this binary knows

  // Users and tokens. Errors: kAlreadyExists (duplicate name / token hash), kNotFound.
  Result<User> CreateUser(const std::string& name, bool is_admin, double now);
  Result<User> GetUser(int64_t id);
  Result<User> GetUserByName(const std::string& name);
  Result<ListResult<User>> ListUsers(const Page& page);
  Result<int64_t> CountUsers();
  // token.id is ignored; returns the stored row. kFailedPrecondition if the user does not exist.
  Result<ApiToken> CreateToken(const ApiToken& token);
  // Expiry is the caller's check. FindTokenByHash, GetUser and GetEndpoint answer from an
  // in-memory cache after the first read (the per-request auth and gateway lookups); any write
  // to the table (create, update, delete, revoke) drops its cache, so it takes effect on the
  // next call. The cache assumes this Store is the database's only writer.
  Result<ApiToken> FindTokenByHash(const std::string& token_hash);
  // A counter that changes (before the write runs, under the store's lock) whenever the tokens or
  // users tables may change: a cache of auth answers keyed on it reads the counter before its
  // lookup and drops its entries when the counter moved. Lock-free; safe from any thread.
  uint64_t AuthGeneration() const;
  Result<ListResult<ApiToken>> ListTokens(int64_t user_id, const Page& page);
  Status DeleteToken(int64_t user_id, int64_t token_id);
  // Deletes the user's tokens called `name` (worker tokens); returns how many.
  Result<int64_t> DeleteTokensByName(int64_t user_id, const std::string& name);

  // Datasets. AddDatasetVersion creates dataset `name` for the owner if missing and appends the
  // next version number, atomically; `v.id/dataset_id/version` are ignored; a non-empty
  // `description` replaces the dataset's. Returns the full stored row.
  Result<DatasetVersion> AddDatasetVersion(int64_t owner_id, const std::string& name,
                                           const DatasetVersion& v,
                                           const std::string& description = "");
  Result<Dataset> GetDataset(int64_t owner_id, const std::string& name);
  Result<Dataset> GetDatasetById(int64_t id);  // any owner: internal use
  Result<ListResult<Dataset>> ListDatasets(int64_t owner_id, const Page& page);
  Result<DatasetVersion> GetDatasetVersion(int64_t dataset_id, int64_t version);  // 0 = latest
  Result<DatasetVersion> GetDatasetVersionById(int64_t id);
  Result<ListResult<DatasetVersion>> ListDatasetVersions(int64_t dataset_id, const Page& page);
  // Deletes the dataset and all its versions (blobs are left for GC).
  // kFailedPrecondition if a model version or a job references one of its versions.
  Status DeleteDataset(int64_t owner_id, const std::string& name);

  // Models: same create-or-append contract as datasets. kFailedPrecondition when
  // dataset_version_id / job_id (non-zero) name no row.
  Result<ModelVersion> AddModelVersion(int64_t owner_id, const std::string& model_name,
                                       const ModelVersion& v);
  Result<Model> GetModel(int64_t owner_id, const std::string& name);
  Result<Model> GetModelById(int64_t id);  // any owner: internal use
  Result<ListResult<Model>> ListModels(int64_t owner_id, const Page& page);
  // Models `user_id` may read: its own model `name`, else a public model of that name (the
  // oldest, when several owners published one). kNotFound otherwise.
  Result<Model> GetVisibleModel(int64_t user_id, const std::string& name);
  // The user's own models and every public model, by id.
  Result<ListResult<Model>> ListVisibleModels(int64_t user_id, const Page& page);
  // Sets a model's visibility ("private" | "public"). kInvalidArgument (other value),
  // kNotFound (no such model). The caller checks who may do it.
  Status SetModelVisibility(int64_t model_id, const std::string& visibility);
  Result<ModelVersion> GetModelVersion(int64_t model_id, int64_t version);  // 0 = latest
  Result<ModelVersion> GetModelVersionById(int64_t id);
  Result<ListResult<ModelVersion>> ListModelVersions(int64_t model_id, const Page& page);

  // Jobs. CreateJob ignores job.id and returns the stored row. owner_id 0 = any owner.
  Result<Job> CreateJob(const Job& job);
  Result<Job> GetJob(int64_t owner_id, int64_t id);
  Result<ListResult<Job>> ListJobs(int64_t owner_id, const Page& page, const std::string& state = "");
  Result<std::vector<Job>> ListJobsInStates(const std::vector<std::string>& states);  // all owners
  Status UpdateJob(const Job& job);  // writes every column but id; kNotFound
  // Compare-and-set: moves job `id` from `from_state` to `to_state`, sets reason and updated_at;
  // started_at (if 0) when to_state is "running", finished_at for succeeded|failed|cancelled.
  // Returns false (no change) when the job is not in `from_state`. kNotFound if no such job.
  Result<bool> TransitionJob(int64_t id, const std::string& from_state, const std::string& to_state,
                             const std::string& reason, double now);
  // Narrow writes that do not clobber columns other writers own (the controller moves states
  // while a worker uploads). kNotFound if no such job.
  // Writes only the controller's columns: executor, worker_pid, worker_start_time, attempts,
  // retries, preemptions, retry_at, launch_step, pause_requested, updated_at.
  Status UpdateJobControl(const Job& job);
  // Records a newer checkpoint (global `step` above the current one, or the first): the current
  // one becomes the previous. Returns false when `step` is not newer.
  Result<bool> SetJobCheckpoint(int64_t id, const std::string& sha256, int64_t epoch, int64_t step,
                                double now);
  // Replaces the current checkpoint by the previous one (the current failed verification).
  Status DropJobCheckpoint(int64_t id, double now);
  Status SetJobProgress(int64_t id, const std::string& progress_json, double now);
  // Records an error a worker reported at `step`; returns how many times in a row that same
  // error came at that same step (1 for a new one).
  Result<int64_t> RecordJobError(int64_t id, const std::string& message, int64_t step, double now);
  Result<JobMetric> AddJobMetric(const JobMetric& metric);  // kFailedPrecondition: no such job
  Result<ListResult<JobMetric>> ListJobMetrics(int64_t job_id, const Page& page);

  // Endpoints. owner_id 0 = any owner in ListEndpoints.
  Result<Endpoint> CreateEndpoint(const Endpoint& endpoint);  // kAlreadyExists (owner, name)
  Result<Endpoint> GetEndpoint(int64_t owner_id, const std::string& name);
  Result<Endpoint> GetEndpointById(int64_t id);
  Result<ListResult<Endpoint>> ListEndpoints(int64_t owner_id, const Page& page);
  Result<std::vector<Endpoint>> ListEndpointsInStates(const std::vector<std::string>& states);
  Status UpdateEndpoint(const Endpoint& endpoint);  // every column but id and rollout_json
  Status SetEndpointRollout(int64_t id, const std::string& rollout_json);  // kNotFound
  Status SetEndpointRolloutWindows(int64_t id, const std::string& windows_json);  // kNotFound
  // Slurm replicas of an endpoint (deleted with it). Update errors: kNotFound.
  Result<EndpointReplica> AddEndpointReplica(const EndpointReplica& replica);
  Status UpdateEndpointReplica(const EndpointReplica& replica);
  Result<std::vector<EndpointReplica>> ListEndpointReplicas(int64_t endpoint_id);  // oldest first
  Status DeleteEndpointReplica(int64_t id);  // no-op when gone
  Status DeleteEndpoint(int64_t owner_id, const std::string& name);

  // Events (activity feed). owner_id 0 = any owner.
  Result<Event> AddEvent(const Event& event);
  Result<ListResult<Event>> ListEvents(int64_t owner_id, const Page& page,
                                       const EventFilter& filter = {});

  // Usage (metering). OpenUsage ignores record.id and ended_at.
  Result<UsageRecord> OpenUsage(const UsageRecord& record);
  Status CloseUsage(int64_t id, double ended_at);  // no-op if already closed; kNotFound
  // Closes every open record of the subject; returns how many were closed.
  Result<int64_t> CloseOpenUsage(const std::string& subject_kind, int64_t subject_id,
                                 double ended_at);
  // Records overlapping [from, to) (to <= 0 = unbounded); open records overlap everything after
  // their start. owner_id 0 = any owner.
  Result<ListResult<UsageRecord>> ListUsage(int64_t owner_id, const Page& page, double from,
                                            double to);
  // Every usage record of one subject, oldest first.
  Result<std::vector<UsageRecord>> ListSubjectUsage(const std::string& subject_kind,
                                                    int64_t subject_id);

  // Plans. owner_id 0 = any owner. kNotFound.
  Result<StoredPlan> CreatePlan(const StoredPlan& plan);  // plan.id ignored
  Result<StoredPlan> GetPlan(int64_t owner_id, int64_t id);
  Result<ListResult<StoredPlan>> ListPlans(int64_t owner_id, const Page& page);

  // Measured model profiles (one per model version; a new profile replaces the old one).
  // Errors: kNotFound (no such model version / no profile yet).
  Status PutModelProfile(int64_t model_version_id, const std::string& profile_json, double now);
  Result<std::string> GetModelProfile(int64_t model_version_id);

  // Every non-empty blob sha256 referenced by dataset versions, model versions (their blob and,
  // for LM versions, every sha256 in spec_json's "files" object) and job checkpoints.
  Result<std::set<std::string>> ReferencedBlobs();


  // ---- Cost ledger (migration 5).
  Result<std::vector<PricePoint>> ListPricePoints();   // ordered by resource, market, effective_from
  Status AddPricePoints(const std::vector<PricePoint>& points);  // one transaction
  // Up to `limit` usage records that are open or closed past their billed_until, by id.
  Result<std::vector<UnbilledUsage>> ListUnbilledUsage(int64_t after_id, int limit);
  Status WriteLedger(const std::vector<LedgerWrite>& writes);  // one transaction
  Result<std::vector<CostGroup>> QueryCost(const CostQuery& query);  // ordered by key
  // Entries overlapping [from, to) (unclipped), by start; owner_id 0 = any. limit <= 0: all.
  Result<std::vector<CostEntry>> ListCostEntries(int64_t owner_id, double from, double to,
                                                 int64_t limit = 0);
  // Adds the counters to (endpoint_id, bucket_start) (memory_mb: the larger is kept).
  Status AddRequestUsage(const RequestUsage& usage);
  // Sums per endpoint over buckets in [from, to); owner_id 0 = any. bucket_start is 0 in results.
  Result<std::vector<RequestUsage>> SumRequestUsage(int64_t owner_id, double from, double to);
  // Bytes of dataset and model versions per owner created before `before` (owner_id 0 = all),
  // as (owner_id, bytes, weighted) where weighted = sum(bytes x seconds stored inside [from, before)).
  struct StoredBytes { int64_t owner_id = 0; double bytes = 0, byte_seconds = 0; };
  Result<std::vector<StoredBytes>> StoredArtifactBytes(int64_t owner_id, double from, double before);
  // Tags ({"k":"v"} JSON text) of a job or endpoint; kNotFound.
  Status SetSubjectTags(const std::string& subject_kind, int64_t id, const std::string& tags_json);
  Result<std::string> GetSubjectTags(const std::string& subject_kind, int64_t id);
  Result<bool> TagKeyInUse(const std::string& key);
  // Running jobs / live endpoints (state not in stopped|failed) matching a budget scope.
  Result<std::vector<int64_t>> SubjectsInScope(const std::string& subject_kind, int64_t owner_id,
                                               const std::string& tag_key,
                                               const std::string& tag_value);
  // Budgets. kAlreadyExists (owner, name), kNotFound. owner_id 0 = any owner.
  Result<Budget> CreateBudget(const Budget& budget);
  Result<Budget> GetBudget(int64_t owner_id, int64_t id);
  Result<std::vector<Budget>> ListBudgets(int64_t owner_id);
  Status UpdateBudget(const Budget& budget);
  Status SetBudgetState(int64_t id, const std::string& state_json);  // enforcer bookkeeping only
  Status DeleteBudget(int64_t owner_id, int64_t id);

  struct Impl;  // private; public only so the implementation files can share it

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sskai::store
