#include "store/migrations.h"

namespace sskai::store {
namespace {

// Id columns that may be "none" are NULL in the database (0 in the structs) so foreign keys hold.
constexpr const char* kV1Catalog = R"sql(
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  is_admin INTEGER NOT NULL DEFAULT 0,
  created_at REAL NOT NULL
);
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at REAL NOT NULL,
  expires_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_by_user ON api_tokens(user_id, id);
CREATE TABLE datasets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id INTEGER NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  created_at REAL NOT NULL,
  latest_version INTEGER NOT NULL DEFAULT 0,
  description TEXT NOT NULL DEFAULT '',
  UNIQUE (owner_id, name)
);
CREATE INDEX datasets_by_owner ON datasets(owner_id, id);
CREATE TABLE dataset_versions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  blob_sha256 TEXT NOT NULL,
  format TEXT NOT NULL DEFAULT '',
  size_bytes INTEGER NOT NULL DEFAULT 0,
  rows INTEGER NOT NULL DEFAULT 0,
  schema_json TEXT NOT NULL DEFAULT '',
  stats_json TEXT NOT NULL DEFAULT '',
  original_filename TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL,
  UNIQUE (dataset_id, version)
);
CREATE TABLE models (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id INTEGER NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  created_at REAL NOT NULL,
  latest_version INTEGER NOT NULL DEFAULT 0,
  UNIQUE (owner_id, name)
);
CREATE INDEX models_by_owner ON models(owner_id, id);
)sql";

constexpr const char* kV2Jobs = R"sql(
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id INTEGER NOT NULL REFERENCES users(id),
  name TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL DEFAULT 'train',
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  spec_json TEXT NOT NULL DEFAULT '',
  dataset_version_id INTEGER REFERENCES dataset_versions(id),
  output_model TEXT NOT NULL DEFAULT '',
  model_version_id INTEGER,
  executor TEXT NOT NULL DEFAULT 'local',
  worker_pid INTEGER NOT NULL DEFAULT 0,
  worker_start_time TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  checkpoint_sha256 TEXT NOT NULL DEFAULT '',
  checkpoint_epoch INTEGER NOT NULL DEFAULT 0,
  progress_json TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL,
  started_at REAL NOT NULL DEFAULT 0,
  finished_at REAL NOT NULL DEFAULT 0,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  updated_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_owner ON jobs(owner_id, id);
CREATE INDEX jobs_by_state ON jobs(state, id);
CREATE INDEX jobs_by_dataset_version ON jobs(dataset_version_id);
CREATE TABLE job_metrics (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  values_json TEXT NOT NULL,
  created_at REAL NOT NULL
);
CREATE INDEX job_metrics_by_job ON job_metrics(job_id, id);
CREATE TABLE model_versions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  kind TEXT NOT NULL,
  task TEXT NOT NULL DEFAULT '',
  blob_sha256 TEXT NOT NULL DEFAULT '',
  dataset_version_id INTEGER REFERENCES dataset_versions(id),
  job_id INTEGER REFERENCES jobs(id),
  metrics_json TEXT NOT NULL DEFAULT '',
  spec_json TEXT NOT NULL DEFAULT '',
  size_bytes INTEGER NOT NULL DEFAULT 0,
  created_at REAL NOT NULL,
  UNIQUE (model_id, version)
);
CREATE INDEX model_versions_by_dataset_version ON model_versions(dataset_version_id);
CREATE INDEX model_versions_by_job ON model_versions(job_id);
)sql";

constexpr const char* kV3Serving = R"sql(
CREATE TABLE endpoints (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id INTEGER NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  model_version_id INTEGER REFERENCES model_versions(id),
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  config_json TEXT NOT NULL DEFAULT '',
  replica_pid INTEGER NOT NULL DEFAULT 0,
  replica_port INTEGER NOT NULL DEFAULT 0,
  replica_start_time TEXT NOT NULL DEFAULT '',
  restarts INTEGER NOT NULL DEFAULT 0,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL DEFAULT 0,
  UNIQUE (owner_id, name)
);
CREATE INDEX endpoints_by_state ON endpoints(state, id);
CREATE INDEX endpoints_by_model_version ON endpoints(model_version_id);
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id INTEGER NOT NULL DEFAULT 0,
  kind TEXT NOT NULL,
  subject_id INTEGER NOT NULL DEFAULT 0,
  action TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL
);
CREATE INDEX events_by_owner ON events(owner_id, id);
CREATE INDEX events_by_subject ON events(kind, subject_id, id);
CREATE TABLE usage_records (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id INTEGER NOT NULL,
  subject_kind TEXT NOT NULL,
  subject_id INTEGER NOT NULL,
  resource TEXT NOT NULL DEFAULT '',
  count INTEGER NOT NULL DEFAULT 1,
  spot INTEGER NOT NULL DEFAULT 0,
  started_at REAL NOT NULL,
  ended_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX usage_by_owner ON usage_records(owner_id, id);
CREATE INDEX usage_by_subject ON usage_records(subject_kind, subject_id, ended_at);
)sql";

constexpr const char* kV4PlansProfiles = R"sql(
CREATE TABLE plans (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id INTEGER NOT NULL REFERENCES users(id),
  kind TEXT NOT NULL,
  request_json TEXT NOT NULL,
  result_json TEXT NOT NULL,
  catalog_date TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL
);
CREATE INDEX plans_by_owner ON plans(owner_id, id);
CREATE TABLE model_profiles (
  model_version_id INTEGER PRIMARY KEY REFERENCES model_versions(id) ON DELETE CASCADE,
  profile_json TEXT NOT NULL,
  created_at REAL NOT NULL
);
)sql";

// Jobs that survive preemption: per-job limits, step checkpoints (and the previous good one),
// failure fingerprint for deterministic-failure detection, retry backoff, pause.
constexpr const char* kV6JobControl = R"sql(
ALTER TABLE jobs ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN max_wall_seconds REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN max_cost_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN checkpoint_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN prev_checkpoint_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN error_message TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN error_step INTEGER NOT NULL DEFAULT -1;
ALTER TABLE jobs ADD COLUMN error_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN preemptions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN retry_at REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN launch_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN pause_requested INTEGER NOT NULL DEFAULT 0;
)sql";

// Cost ledger (issue 7): price history, materialized cost entries with a per-day rollup, request
// usage for serverless billing, budgets, and free-form tags on jobs and endpoints.
constexpr const char* kV5Cost = R"sql(
CREATE TABLE price_points (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  resource TEXT NOT NULL,
  market TEXT NOT NULL,
  priced INTEGER NOT NULL,
  usd_per_hour REAL NOT NULL DEFAULT 0,
  effective_from REAL NOT NULL,
  source TEXT NOT NULL DEFAULT ''
);
CREATE INDEX price_points_by_resource ON price_points(resource, market, effective_from);
ALTER TABLE usage_records ADD COLUMN billed_until REAL NOT NULL DEFAULT 0;
CREATE INDEX usage_unbilled ON usage_records(id) WHERE ended_at = 0 OR billed_until < ended_at;
CREATE TABLE cost_entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  usage_id INTEGER NOT NULL,
  owner_id INTEGER NOT NULL,
  subject_kind TEXT NOT NULL,
  subject_id INTEGER NOT NULL,
  resource TEXT NOT NULL,
  spot INTEGER NOT NULL,
  count INTEGER NOT NULL,
  start REAL NOT NULL,
  end REAL NOT NULL,
  day INTEGER NOT NULL,
  priced INTEGER NOT NULL,
  cost_usd REAL NOT NULL,
  ondemand_usd REAL NOT NULL
);
CREATE INDEX cost_entries_by_usage ON cost_entries(usage_id, start);
CREATE INDEX cost_entries_by_day ON cost_entries(day, owner_id, subject_kind, subject_id, start,
  end, priced, count, cost_usd, ondemand_usd);
CREATE TABLE cost_rollup (
  day INTEGER NOT NULL,
  owner_id INTEGER NOT NULL,
  subject_kind TEXT NOT NULL,
  subject_id INTEGER NOT NULL,
  cost_usd REAL NOT NULL DEFAULT 0,
  ondemand_usd REAL NOT NULL DEFAULT 0,
  compute_seconds REAL NOT NULL DEFAULT 0,
  unpriced_seconds REAL NOT NULL DEFAULT 0,
  entries INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, owner_id, subject_kind, subject_id)
) WITHOUT ROWID;
CREATE TABLE cost_daily (
  day INTEGER NOT NULL,
  owner_id INTEGER NOT NULL,
  cost_usd REAL NOT NULL DEFAULT 0,
  ondemand_usd REAL NOT NULL DEFAULT 0,
  compute_seconds REAL NOT NULL DEFAULT 0,
  unpriced_seconds REAL NOT NULL DEFAULT 0,
  entries INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, owner_id)
) WITHOUT ROWID;
CREATE TABLE request_usage (
  endpoint_id INTEGER NOT NULL,
  bucket_start REAL NOT NULL,
  owner_id INTEGER NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0,
  busy_seconds REAL NOT NULL DEFAULT 0,
  memory_mb REAL NOT NULL DEFAULT 0,
  tokens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (endpoint_id, bucket_start)
) WITHOUT ROWID;
CREATE TABLE budgets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id INTEGER NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  scope TEXT NOT NULL,
  user_id INTEGER NOT NULL DEFAULT 0,
  tag_key TEXT NOT NULL DEFAULT '',
  tag_value TEXT NOT NULL DEFAULT '',
  period_from REAL NOT NULL DEFAULT 0,
  period_to REAL NOT NULL DEFAULT 0,
  limit_usd REAL NOT NULL,
  thresholds_json TEXT NOT NULL DEFAULT '',
  actions_json TEXT NOT NULL DEFAULT '',
  webhook_url TEXT NOT NULL DEFAULT '',
  state_json TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL DEFAULT 0,
  UNIQUE (owner_id, name)
);
ALTER TABLE jobs ADD COLUMN tags_json TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN tags_json TEXT NOT NULL DEFAULT '';
)sql";

// Canary / blue-green rollouts (serving): the endpoint's rollout state as JSON, written only by
// Store::SetEndpointRollout (never by UpdateEndpoint, so a stale copy cannot overwrite it).
constexpr const char* kV7Rollouts = R"sql(
ALTER TABLE endpoints ADD COLUMN rollout_json TEXT NOT NULL DEFAULT '';
)sql";

// Serving on Slurm and durable rollouts: replicas that run as Slurm jobs (a restarted server
// re-attaches to them by job id), and the rollout's per-version comparison windows.
constexpr const char* kV8SlurmReplicas = R"sql(
CREATE TABLE endpoint_replicas (
  id INTEGER PRIMARY KEY,
  endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  model_version_id INTEGER NOT NULL DEFAULT 0,
  job_id INTEGER NOT NULL DEFAULT 0,
  start_time TEXT NOT NULL DEFAULT '',
  address_file TEXT NOT NULL DEFAULT '',
  usage_id INTEGER NOT NULL DEFAULT 0,
  token_name TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX endpoint_replicas_by_endpoint ON endpoint_replicas (endpoint_id);
ALTER TABLE endpoints ADD COLUMN rollout_windows_json TEXT NOT NULL DEFAULT '';
)sql";

// Model visibility: "private" (owner only, the default) or "public" (readable, fine-tunable and
// deployable by every user; writable only by the owner or an admin).
constexpr const char* kV9ModelVisibility = R"sql(
ALTER TABLE models ADD COLUMN visibility TEXT NOT NULL DEFAULT 'private';
CREATE INDEX IF NOT EXISTS models_public ON models (name) WHERE visibility = 'public';
)sql";

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "users, tokens, datasets, models", kV1Catalog},
      {2, "jobs, job metrics, model versions", kV2Jobs},
      {3, "endpoints, events, usage", kV3Serving},
      {4, "plans, model profiles", kV4PlansProfiles},
      {5, "cost ledger, request usage, budgets, tags", kV5Cost},
      {6, "job control: limits, step checkpoints, failure fingerprints", kV6JobControl},
      {7, "endpoint rollouts (canary, blue/green)", kV7Rollouts},
      {8, "replicas on Slurm, rollout windows", kV8SlurmReplicas},
      {9, "model visibility (private | public)", kV9ModelVisibility},
  };
  return kMigrations;
}

}  // namespace sskai::store
