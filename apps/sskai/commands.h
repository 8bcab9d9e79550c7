// apps/sskai/commands.h — the process roles of the one `sskai` binary.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace sskai::app {

struct ServerFlags {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./var";
  std::string log_level = "info";
  int io_threads = 0;  // 0: half the cores, at least 1 (http::Server::IoThreadsFor)
  std::string replica_transport = "unix";  // gateway -> local replicas: unix | tcp
  int warm_pool = 1;  // standby replica processes (engine loaded) for fast cold starts
  int max_running_jobs = 2;
  int max_attempts = 3;
  double max_upload_gib = 8;
  double max_model_upload_mib = 2048;  // TorchScript uploads (POST /v1/models/{name}/versions)
  std::string catalog_dir;  // planner catalog; "" = DefaultCatalogDir()
  std::string web_dir;      // built web console; "" = DefaultWebDir()
  // Price of this machine as a planner offering named kLocalOffering: "zero", "rate:<usd/h>" or
  // "same-as:<instance type>[@<region>]".
  std::string local_price = "zero";
  bool allow_custom_commands = false;  // jobs may run the user's own training command
  double storage_usd_per_gb_month = 0.023;  // cost ledger: stored artifacts (S3 Standard)
  // Jobs: the default executor ("local" | "slurm") and the Slurm executor's settings.
  std::string executor = "local";
  bool slurm = false;                            // enable Slurm for per-job "executor": "slurm"
  std::vector<std::string> slurm_partitions;     // "<partition>=<offering>[:spot|:ondemand]"
  std::string slurm_default_partition;
  std::string slurm_bin_dir;
  int slurm_patience_seconds = 60;
  bool slurm_keep_requeue_delay = false;         // measurements: wait out Slurm's requeue delay
  // Endpoints: where replicas run unless the endpoint says ("executor"): local | slurm.
  std::string serving_executor = "local";
  // Standby replica jobs on Slurm (engine loaded) for fast cold starts, per partition:
  // "[partition=]N[..M]", comma-separated (serving::ParseWarmPoolSpec); "0" = none.
  std::string slurm_warm_pool = "0";
  std::string hub_endpoint = "https://huggingface.co";  // models pull: Hugging Face hub (http/https)
  std::string ca_bundle;  // https: PEM CA bundle replacing the system trust store ("" = system)
  std::string hf_token;  // models pull: default token for gated repos
  // The offline demo LM registered as "sskai-demo" at start; "" = DefaultDemoModelDir().
  std::string demo_model_dir;
};
// <exe dir>/../../demo-model (build/demo-model beside build/apps/sskai/sskai), built by
// `make demo-model`.
std::string DefaultDemoModelDir();
// The offering name of this machine in the catalog and in usage records.
inline constexpr const char* kLocalOffering = "this-machine";
// SSKAI_DEFAULT_CATALOG_DIR when set at build time and present, else <exe dir>/../../data/catalog
// when present, else ./data/catalog.
std::string DefaultCatalogDir();
// The built web console: <exe dir>/../web (build/web beside build/apps/sskai/sskai) when it has an
// index.html, else ./build/web.
std::string DefaultWebDir();
int RunServer(const ServerFlags& flags);

// `sskai profile-model`: profiles a model artifact with the ML engine and prints the profile JSON
// (exit 0), or the error on stderr (exit 3: bad input, 2: the model failed to run).
int RunProfileModel(const std::string& model_path, const std::string& options_json);
// Runs `binary profile-model ...` as a child process (the server never loads libtorch) and
// returns its JSON. Errors: kInvalidArgument (bad options / not a model), kInternal (the model
// failed to run, with its stderr), kDeadlineExceeded (killed after `timeout`), kUnavailable.
Result<std::string> RunProfilerProcess(const std::string& binary, const std::string& model_path,
                                       const std::string& options_json, std::chrono::seconds timeout);

// `sskai validate-model`: validates a TorchScript upload by running it (Engine::ValidateTorchScript),
// writes the module with its spec embedded to `out_path` and prints the report JSON (exit 0), or
// the reason on stderr (exit 3: the model or spec is bad, 2: internal).
int RunValidateModel(const std::string& file_path, const std::string& spec_json, const std::string& out_path);
// Runs `binary validate-model ...` as a child process. Errors: kInvalidArgument (the reason the
// model is refused), kInternal, kDeadlineExceeded, kUnavailable.
Result<std::string> RunValidatorProcess(const std::string& binary, const std::string& file_path,
                                        const std::string& spec_json, const std::string& out_path,
                                        std::chrono::seconds timeout);
// `sskai lm pretrain`: trains a Llama-shaped model from scratch (tokenizer included) in this
// process and writes a Hugging Face model directory to `out` (atomically: out.tmp, then renamed).
struct LmPretrainFlags {
  std::string out;
  std::string corpus;     // a JSONL ({"text"}) or plain-text file; --demo: the fortunes directory
  std::string spec_json;  // {"config": {...}, "hyperparameters": {...}} as for POST /v1/jobs
  std::string work_dir;   // "" = <out>.work (removed afterwards)
  bool demo = false;      // the offline demo recipe (DemoJobSpecJson) on Debian's fortunes-min
  int steps = 0;          // overrides hyperparameters.max_steps when > 0
};
std::string DemoJobSpecJson();
// Exit 0, 3 (bad input), 2 (other errors).
int RunLmPretrain(const LmPretrainFlags& flags);

struct LmGenerateFlags {
  std::string model_dir, prompt;
  bool chat = false;  // render the prompt as a user turn with the model's chat template
  int max_tokens = 64;
  double temperature = 0;
  int top_k = 0;
  uint64_t seed = 0;
};
int RunLmGenerate(const LmGenerateFlags& flags);

}  // namespace sskai::app
