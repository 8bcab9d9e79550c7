// src/api/api.h — the public REST API (/v1/...): routes, JSON <-> typed structs, auth.
//
// Every route except /healthz, /readyz, /v1/openapi.json, /v2, /v2/health/live and
// /v2/health/ready needs `Authorization: Bearer <token>`.
// Tokens are stored as sha256 hashes. Users see only their own resources: another user's id or
// name answers 404. Errors use one body: {"error":{"code","message","details"}}.
// Thread-safety: the router's handlers are thread-safe; blocking work (file inspection, store
// writes of large uploads, proxying) runs off the I/O threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sskai::store {
class Store;
}
namespace sskai::artifacts {
class BlobStore;
}
namespace sskai::jobs {
class JobController;
}
namespace sskai::serving {
class EndpointManager;
}
namespace sskai::http {
class Router;
}
namespace sskai {
class ThreadPool;
}
namespace sskai::planner {
struct Catalog;
class CatalogHolder;
}
namespace sskai::cost {  // cost ledger (issue 7)
class Ledger;
class BudgetEnforcer;
}

namespace sskai::api {

struct ApiContext {
  store::Store& store;
  artifacts::BlobStore& blobs;
  jobs::JobController& jobs;
  serving::EndpointManager& endpoints;
  Clock& clock;
  ThreadPool& blocking;           // runs inspection and other slow handler work
  std::string version = "0.1.0";
  // The planner's catalog for /v1/plans and /v1/catalog (swapped whole by a refresh); nullptr or
  // empty when it failed to load, in which case those routes answer 503 with `catalog_error`.
  planner::CatalogHolder* catalogs = nullptr;
  std::string catalog_error = "no catalog loaded";
  // Where refreshed price files are kept so a restart re-applies them ("" = not persisted).
  std::string catalog_prices_dir;
  // Profiles a model artifact (path) with options JSON and returns the profile JSON; the server
  // runs it in a child process. nullptr = profiling unavailable (503).
  std::function<Result<std::string>(const std::string& model_path, const std::string& options_json)>
      profile_model;
  // The built web console (index.html + assets/), served at / with single-page-app fallback for
  // GETs outside /v1, /v2, /healthz, /readyz and /metrics; "" or a directory without index.html
  // answers a short page saying how to build it.
  std::string web_dir;
  // Jobs may run the user's own command ("command": [...]) — off unless the operator opts in.
  bool allow_custom_commands = false;
  // Cost ledger (issue 7): synced before /v1/cost answers when set; the enforcer releases what a
  // deleted budget paused. Storage is billed per GB-month at this rate.
  cost::Ledger* ledger = nullptr;
  cost::BudgetEnforcer* budget_enforcer = nullptr;
  double storage_usd_per_gb_month = 0.023;
  // Extra Prometheus exposition text appended by GET /metrics after the gateway's own series.
  std::vector<std::function<std::string()>> metrics_sources;
};

// Builds every route of the API on a new router.
std::shared_ptr<http::Router> BuildRouter(ApiContext& ctx);

// First start: when no user exists, creates user "admin" with a token, writes the token to
// `token_path` (mode 0600) and returns it; otherwise returns "". Errors: kInternal.
Result<std::string> BootstrapAdmin(store::Store& store, Clock& clock, const std::string& token_path);

// Registers the offline demo model directory `dir` (built by `sskai lm pretrain-demo`) as the
// foundation LM "sskai-demo" of the admin user: every file becomes a blob, the version's blob and
// spec are the LM manifest. Idempotent (the same files are registered once). Returns the version,
// or 0 when `dir` holds no model. Errors: kNotFound (no admin), kInvalidArgument (bad config.json),
// kInternal.
Result<int64_t> RegisterDemoModel(ApiContext& ctx, const std::string& dir);

// Creates an API token for `user_id` named `name`; returns the plaintext ("sk_" + 64 hex).
Result<std::string> CreateToken(store::Store& store, Clock& clock, int64_t user_id,
                                const std::string& name);

}  // namespace sskai::api
