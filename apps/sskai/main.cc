// sskai — one binary: the server, the worker and replica processes it starts, and the CLI.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "apps/sskai/commands.h"
#include "cli/cli.h"
#include "common/log.h"
#include "jobs/jobs.h"
#include "serving/serving.h"

namespace {

std::string EnvOr(const char* name, const std::string& def) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : def;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sskai — a self-hosted GenAIOps platform in one binary"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags (--server, --token, --json) may follow the verb
  int exit_code = 0;

  sskai::app::ServerFlags sf;
  auto* server = app.add_subcommand("server", "Run the API server on the embedded default");
  server->add_option("--listen", sf.listen, "HOST:PORT to listen on (env SSKAI_LISTEN)")
      ->capture_default_str()->envname("SSKAI_LISTEN");
  server->add_option("--data-dir", sf.data_dir, "data directory: database, artifacts, logs (env SSKAI_DATA_DIR)")
      ->capture_default_str()->envname("SSKAI_DATA_DIR");
  server->add_option("--log-level", sf.log_level, "debug|info|warn|error")->capture_default_str();
  server->add_option("--io-threads", sf.io_threads,
                     "HTTP I/O threads (0 = half the CPU cores, at least 1: replicas, workers and "
                     "clients on this machine need the rest)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  server->add_option("--replica-transport", sf.replica_transport,
                     "how the gateway reaches local replicas: unix (a socket file under run/) | tcp "
                     "(loopback); Slurm replicas always use TCP")
      ->capture_default_str()->check(CLI::IsMember({"unix", "tcp"}));
  server->add_option("--warm-pool", sf.warm_pool,
                     "standby replica processes with the ML engine loaded (fast cold starts; "
                     "0 = start each replica from scratch)")
      ->capture_default_str();
  server->add_option("--max-running-jobs", sf.max_running_jobs, "concurrent training workers")
      ->capture_default_str();
  server->add_option("--max-attempts", sf.max_attempts, "worker launches per job before it fails")
      ->capture_default_str();
  server->add_option("--max-upload-gib", sf.max_upload_gib, "largest accepted upload (GiB)")
      ->capture_default_str();
  server->add_option("--max-model-upload-mib", sf.max_model_upload_mib,
                     "largest accepted TorchScript model upload (MiB)")
      ->capture_default_str();
  server->add_option("--catalog-dir", sf.catalog_dir,
                     "planner catalog directory (default: " + sskai::app::DefaultCatalogDir() + ")");
  server->add_option("--demo-model", sf.demo_model_dir,
                     "offline demo LM directory registered as 'sskai-demo' (default: build/demo-model beside the binary; none = do not register)");
  server->add_option("--web-dir", sf.web_dir,
                     "built web console served at / (default: " + sskai::app::DefaultWebDir() + ")");
  server->add_option("--local-price", sf.local_price,
                     "what an hour of this machine costs: zero | rate:<usd/h> | "
                     "same-as:<instance type>[@<region>]")
      ->capture_default_str();
  server->add_flag("--allow-custom-commands", sf.allow_custom_commands,
                   "let jobs run the user's own training command (\"command\": [...])");
  server->add_option("--storage-usd-per-gb-month", sf.storage_usd_per_gb_month,
                     "cost of stored artifacts per GB-month (default: S3 Standard us-east-1)")
      ->capture_default_str();
  server->add_option("--executor", sf.executor,
                     "where jobs run unless they say (\"executor\"): local | slurm")
      ->capture_default_str()->check(CLI::IsMember({"local", "slurm"}));
  server->add_option("--serving-executor", sf.serving_executor,
                     "where endpoint replicas run unless the endpoint says (\"executor\"): local | "
                     "slurm (long-lived Slurm jobs reached over the network)")
      ->capture_default_str()->check(CLI::IsMember({"local", "slurm"}));
  server->add_flag("--slurm", sf.slurm,
                   "enable the Slurm executor for jobs with \"executor\": \"slurm\" "
                   "(implied by --executor slurm)");
  server->add_option("--slurm-partition", sf.slurm_partitions,
                     "price a Slurm partition as a catalog offering: "
                     "<partition>=<instance_type>@<zone>[:spot|:ondemand] (repeatable)");
  server->add_option("--slurm-warm-pool", sf.slurm_warm_pool,
                     "standby replica jobs kept on Slurm (engine loaded, no model) for fast cold "
                     "starts of Slurm endpoints, per partition: [partition=]N[..M], comma-separated "
                     "(no partition: the default one; N..M: at least N, up to M while cold starts "
                     "ask for more); they cost cluster time")
      ->capture_default_str();
  server->add_option("--slurm-default-partition", sf.slurm_default_partition,
                     "partition of Slurm jobs that name none (default: the cluster's default)");
  server->add_option("--slurm-bin-dir", sf.slurm_bin_dir,
                     "directory of sbatch/scontrol/scancel/squeue (default: PATH)");
  server->add_option("--slurm-patience", sf.slurm_patience_seconds,
                     "seconds slurmctld may not answer before a watched Slurm job counts as lost")
      ->capture_default_str();
  server->add_flag("--slurm-keep-requeue-delay", sf.slurm_keep_requeue_delay,
                   "relaunch a requeued Slurm job after Slurm's requeue delay, not at once");
  server->add_option("--hub-endpoint", sf.hub_endpoint,
                     "Hugging Face hub for `models pull` (https:// or http://)")
      ->capture_default_str()->envname("HF_ENDPOINT");
  server->add_option("--ca-bundle", sf.ca_bundle,
                     "PEM CA bundle trusted for https (hub pulls) instead of the system trust store")
      ->envname("SSKAI_CA_BUNDLE");
  server->add_option("--hf-token", sf.hf_token,
                     "default token for gated hub repositories (a pull request's own token wins)")
      ->envname("HF_TOKEN");
  server->callback([&] { exit_code = sskai::app::RunServer(sf); });

  sskai::jobs::WorkerOptions wo;
  auto* worker = app.add_subcommand("worker", "Run one training job (started by the server)");
  worker->add_option("--server", wo.server_url, "API URL")->required();
  worker->add_option("--job", wo.job_id, "job id")->required();
  worker->add_option("--work-dir", wo.work_dir, "scratch directory");
  worker->callback([&] {
    sskai::ConfigureLogging("info");
    wo.token = EnvOr("SSKAI_TOKEN", "");
    wo.notice_file = EnvOr("SSKAI_NOTICE_FILE", "");
    wo.chaos_notice_at_step = std::atoll(EnvOr("SSKAI_CHAOS_NOTICE_AT_STEP", "0").c_str());
    // Data parallel: Slurm tasks (srun) or SSKAI_RANK/SSKAI_WORLD_SIZE; rendezvous at
    // MASTER_ADDR:MASTER_PORT (TCPStore), else SSKAI_DIST_STORE (FileStore).
    wo.world_size = std::atoi(EnvOr("SSKAI_WORLD_SIZE", EnvOr("SLURM_NTASKS", "1")).c_str());
    wo.rank = std::atoi(EnvOr("SSKAI_RANK", EnvOr("SLURM_PROCID", "0")).c_str());
    wo.dist_store = EnvOr("SSKAI_DIST_STORE", "");
    wo.master_addr = EnvOr("MASTER_ADDR", "");
    wo.master_port = EnvOr("SSKAI_DIST_RENDEZVOUS", "tcp") == "file" ? 0 : std::atoi(EnvOr("MASTER_PORT", "0").c_str());
    wo.dist_host = EnvOr("SSKAI_DIST_HOST", std::atoi(EnvOr("SLURM_JOB_NUM_NODES", "1").c_str()) > 1
                                                ? ""  // resolve this node's hostname
                                                : "127.0.0.1");
    if (wo.work_dir.empty()) {
      wo.work_dir = EnvOr("TMPDIR", "/tmp") + "/sskai-worker-" + std::to_string(wo.job_id);
    }
    exit_code = sskai::jobs::RunWorker(wo);
  });

  sskai::serving::ReplicaOptions ro;
  auto* replica = app.add_subcommand("replica", "Serve one model (started by the server)");
  replica->add_option("--model", ro.model_path, "model artifact path");
  replica->add_flag("--standby", ro.standby,
                    "warm pool: load the engine only, then the model on POST /load");
  replica->add_option("--warmup-model", ro.warmup_model,
                      "standby: preload this model (a /load of the same path reuses it)");
  replica->add_option("--model-url", ro.model_url,
                      "fetch the model over HTTP (bearer token in $SSKAI_TOKEN) instead of --model");
  replica->add_option("--model-sha256", ro.model_sha256, "with --model-url: the model's sha256");
  replica->add_flag("--model-files", ro.model_files,
                    "with --model-url: the URL is a language model version's file list (.../files)");
  replica->add_option("--cache-dir", ro.cache_dir,
                      "with --model-url: fetched models by sha256 (default $TMPDIR/sskai-models)");
  replica->add_option("--host", ro.host, "listen address (0.0.0.0: reachable from other nodes)")
      ->capture_default_str();
  replica->add_option("--advertise-host", ro.advertise_host,
                      "the host written to --port-file (default: this node's hostname for 0.0.0.0)");
  replica->add_option("--port", ro.port, "port (0 = ephemeral)");
  replica->add_option("--port-file", ro.port_file, "write the bound port here");
  replica->add_option("--unix-socket", ro.unix_socket,
                      "also listen on this Unix socket file (local replicas: the gateway's path)");
  replica->add_option("--threads", ro.threads, "HTTP threads");
  replica->add_option("--served-name", ro.served_name,
                      "language models: the model id of the OpenAI routes (default: directory name)");
  replica->add_option("--max-batch", ro.max_batch, "language models: requests per batched generation")
      ->capture_default_str();
  replica->add_option("--batch-window-us", ro.batch_window_us,
                      "language models: how long an idle model waits for more requests to batch")
      ->capture_default_str();
  replica->add_option("--lm-batching", ro.lm_batching,
                      "language models: continuous (join the running batch) or static (wait for it to end)")
      ->check(CLI::IsMember({"continuous", "static"}))
      ->capture_default_str();
  replica->add_option("--torch-threads", ro.torch_threads, "engine intra-op threads (0 = default)");
  replica->callback([&] {
    sskai::ConfigureLogging("info");
    ro.key = EnvOr(sskai::serving::kReplicaKeyEnv, "");  // never argv (ps, squeue)
    exit_code = sskai::serving::RunReplica(ro);
  });

  std::string profile_model, profile_options = "{}";
  auto* profile = app.add_subcommand("profile-model", "Profile a model artifact on this machine (used by the server)");
  profile->add_option("--model", profile_model, "model artifact path")->required();
  profile->add_option("--options", profile_options, "JSON: batch_sizes, warmup, repeats, threads");
  profile->callback([&] { exit_code = sskai::app::RunProfileModel(profile_model, profile_options); });

  std::string validate_file, validate_spec, validate_out;
  auto* validate = app.add_subcommand("validate-model", "Validate a TorchScript upload by running it (used by the server)");
  validate->add_option("--file", validate_file, "TorchScript archive")->required();
  validate->add_option("--spec", validate_spec, "input spec JSON")->required();
  validate->add_option("--out", validate_out, "where to write the module with its spec embedded")->required();
  validate->callback([&] { exit_code = sskai::app::RunValidateModel(validate_file, validate_spec, validate_out); });
  sskai::app::LmPretrainFlags lm_pre;
  sskai::app::LmGenerateFlags lm_gen;
  auto* lm = app.add_subcommand("lm", "Local language-model commands (run the engine in this process)");
  lm->require_subcommand(1);
  auto* pretrain = lm->add_subcommand("pretrain", "Pretrain a Llama-shaped model from scratch on a corpus");
  pretrain->add_option("--out", lm_pre.out, "output model directory")->required();
  pretrain->add_option("--corpus", lm_pre.corpus, "JSONL ({\"text\"}) or plain-text corpus")->required();
  pretrain->add_option("--spec", lm_pre.spec_json, "JSON {config, hyperparameters} as for POST /v1/jobs")->required();
  pretrain->add_option("--steps", lm_pre.steps, "override hyperparameters.max_steps");
  pretrain->add_option("--work-dir", lm_pre.work_dir, "scratch directory (default <out>.work)");
  pretrain->callback([&] { exit_code = sskai::app::RunLmPretrain(lm_pre); });
  sskai::app::LmPretrainFlags demo_flags;
  auto* demo = lm->add_subcommand("pretrain-demo", "Build the offline demo model 'sskai-demo' (fortunes, ~2 min on 2 cores)");
  demo->add_option("--out", demo_flags.out, "output model directory")->required();
  demo->add_option("--corpus", demo_flags.corpus, "fortunes directory (default /usr/share/games/fortunes)");
  demo->add_option("--steps", demo_flags.steps, "override the recipe's step count");
  demo->callback([&] {
    demo_flags.demo = true;
    exit_code = sskai::app::RunLmPretrain(demo_flags);
  });
  auto* generate = lm->add_subcommand("generate", "Generate from a local model directory");
  generate->add_option("--model", lm_gen.model_dir, "model directory")->required();
  generate->add_option("--prompt", lm_gen.prompt, "prompt text")->required();
  generate->add_flag("--chat", lm_gen.chat, "render the prompt as a chat user turn");
  generate->add_option("--max-tokens", lm_gen.max_tokens, "new tokens at most");
  generate->add_option("--temperature", lm_gen.temperature, "0 = greedy");
  generate->add_option("--top-k", lm_gen.top_k, "0 = off");
  generate->add_option("--seed", lm_gen.seed, "sampling seed");
  generate->callback([&] { exit_code = sskai::app::RunLmGenerate(lm_gen); });

  sskai::cli::AddClientCommands(app, &exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {  // last resort for foreign input
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  return exit_code;
}
