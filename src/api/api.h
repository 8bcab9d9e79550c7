// src/api/api.h — the public REST API (/v1/...): routes, JSON <-> typed structs, auth.
//
// Every route except /healthz, /readyz, /v1/openapi.json, /v2, /v2/health/live and
// /v2/health/ready needs `Authorization: Bearer <token>`.
// Tokens are stored as sha256 hashes. Users see only their own resources: another user's id or
// name answers 404. Errors use one body: {"error":{"code","message","details"}}.
// Thread-safety: the router's handlers are thread-safe; blocking work (file inspection, store
// writes of large uploads, proxying) runs off the I/O threads.
#pragma once

#include <cstdint>
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

struct LmPullRegistry;  // routes_lm_pull.cc
class TokenCache;       // token_cache.h

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
  // Validates a TorchScript upload (file, spec JSON) by running it in a child process and writes
  // the module with its spec embedded to the third path; returns the report JSON. Errors:
  // kInvalidArgument (the reason the model is refused). nullptr = uploads unavailable (503).
  std::function<Result<std::string>(const std::string& file_path, const std::string& spec_json,
                                    const std::string& out_path)>
      validate_torchscript;
  // Largest TorchScript upload (bytes); larger bodies answer 413 before anything is stored.
  uint64_t max_model_upload_bytes = 2ull << 30;
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
  // LM pulls (docs/llm.md): the Hugging Face hub endpoint (--hub-endpoint / HF_ENDPOINT; http or
  // https), the CA bundle trusted for https (--ca-bundle / SSKAI_CA_BUNDLE; "" = the system trust
  // store), the default token for gated repos (--hf-token / HF_TOKEN; a request's own token
  // wins) and the bytes asked per Range request.
  std::string hub_endpoint = "https://huggingface.co";
  std::string hub_ca_file;
  std::string hub_token;
  uint64_t hub_chunk_bytes = 64ull << 20;
  // Where work can run, for GET /v1/cluster (the console's and CLI's "run on" choice): the Slurm
  // backend's partitions when the server runs with one, and the default executors.
  struct SlurmPartitionInfo {
    std::string name, offering;  // offering "" = unpriced
    bool spot = false;
  };
  struct ClusterInfo {
    // Whether the server runs a Slurm backend (--slurm / --executor slurm / --serving-executor
    // slurm). Without one, a job or endpoint asking for "executor": "slurm" is a 400 naming the field.
    bool slurm = false;
    std::string default_job_executor = "local", default_endpoint_executor = "local";
    std::string default_partition;
    std::vector<SlurmPartitionInfo> partitions;
  };
  ClusterInfo cluster;
  // Bearer token → user answers for Authenticate (created by BuildRouter when null; nullptr =
  // every request hashes its token and asks the store). Dropped whenever the store's tokens or
  // users change, so a revoke takes effect on the next request.
  std::shared_ptr<TokenCache> token_cache;
  // Running pulls, created by BuildRouter. Declared last so it is destroyed (its download threads
  // cancelled and joined) before anything above.
  std::shared_ptr<LmPullRegistry> lm_pulls;
};

// ---- LM model versions (docs/llm.md "Storage"). An LM version is a Hugging Face file set; each
// file is its own blob, and the version's blob_sha256 / spec_json is a manifest:
// {"type":"lm","files":{name:sha256},"sizes":{name:bytes},"config":{...},"parameters":N,
//  "tokenizer":"tokenizer.json"|"tokenizer.model"|"","chat_template":"llama3"|"chatml"|"none",
//  "adapter":false|{"base_model","base_version","rank","alpha"},"source":{...}}.

// True for the file names an LM file set keeps: config.json, generation_config.json,
// tokenizer.json, tokenizer.model, tokenizer_config.json, special_tokens_map.json,
// added_tokens.json, vocab.json, merges.txt, *.safetensors, model.safetensors.index.json,
// adapter_config.json. Never pickles (*.bin, *.pt, *.pth, *.pkl, *.ckpt). Pure.
bool IsLmFileName(const std::string& name);

struct LmRegistration {
  std::string dir;                  // directory holding the files (top level; others ignored)
  bool move_files = false;          // true: files are moved into the blob store (dir consumed)
  std::string kind = "foundation";  // "foundation" (pulled/imported/demo) | "finetuned"
  std::string source_json = "{}";   // manifest "source": {"kind":"pull"|"import"|"job"|"demo",...}
  // Adapters (dir holds adapter_config.json): the base model version, which must be an LM version
  // of the same owner (0 = its latest); its config is copied into the manifest.
  std::string base_model;
  int64_t base_version = 0;
  int64_t job_id = 0, dataset_version_id = 0;  // lineage (0 = none)
  std::string metrics_json = "{}";
  // "" keeps the model's visibility (new models are private); "private" | "public" sets it.
  std::string visibility;
};
struct LmRegistered {
  int64_t model_version_id = 0, version = 0;
  std::string manifest_sha256, manifest_json;
};

// Validates the file set in reg.dir and registers it as the next version of `model_name`:
// config.json (fields and model_type, via ml::LmConfigFromJson), every safetensors header and
// the index's weight_map, embed_tokens/layer tensors against the config, the tokenizer (it must
// load and fit the vocabulary), or for an adapter adapter_config.json + adapter_model.safetensors.
// Nothing is registered on failure (blobs already written are unreferenced and left to GC).
// Blocking (hashes every byte): call it off the I/O threads. Thread-safe.
// Errors: kInvalidArgument naming the file and field, kNotFound (dir / base model),
// kInternal (I/O, store).
Result<LmRegistered> RegisterLmVersion(ApiContext& ctx, int64_t owner_id,
                                       const std::string& model_name, const LmRegistration& reg);

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
