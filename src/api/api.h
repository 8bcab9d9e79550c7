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
  // Extra Prometheus exposition text appended by GET /metrics after the gateway's own series.
  std::vector<std::function<std::string()>> metrics_sources;
};

// Builds every route of the API on a new router.
std::shared_ptr<http::Router> BuildRouter(ApiContext& ctx);

// First start: when no user exists, creates user "admin" with a token, writes the token to
// `token_path` (mode 0600) and returns it; otherwise returns "". Errors: kInternal.
Result<std::string> BootstrapAdmin(store::Store& store, Clock& clock, const std::string& token_path);

// Creates an API token for `user_id` named `name`; returns the plaintext ("sk_" + 64 hex).
Result<std::string> CreateToken(store::Store& store, Clock& clock, int64_t user_id,
                                const std::string& name);

}  // namespace sskai::api
