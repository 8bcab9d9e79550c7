// `sskai server`: the composition root of the platform on the embedded default (one machine,
// SQLite, local processes).
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>

#include "api/api.h"
#include "apps/sskai/commands.h"
#include "artifacts/artifacts.h"
#include "common/log.h"
#include "common/thread_pool.h"
#include "cost/cost.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "planner/planner.h"
#include "serving/serving.h"
#include "store/store.h"

namespace sskai::app {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

std::string SelfPath() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("sskai") : p.string();
}

}  // namespace

std::string DefaultCatalogDir() {
  std::error_code ec;
#ifdef SSKAI_DEFAULT_CATALOG_DIR
  if (fs::is_directory(SSKAI_DEFAULT_CATALOG_DIR, ec)) return SSKAI_DEFAULT_CATALOG_DIR;
#endif
  fs::path beside = fs::path(SelfPath()).parent_path() / ".." / ".." / "data" / "catalog";
  if (fs::is_directory(beside, ec)) return beside.lexically_normal().string();
  return "./data/catalog";
}

std::string DefaultDemoModelDir() {
  return (fs::path(SelfPath()).parent_path() / ".." / ".." / "demo-model").lexically_normal().string();
}

std::string DefaultWebDir() {
  std::error_code ec;
  // An installed layout (<prefix>/bin/sskai, <prefix>/web) or the build tree (build/apps/sskai/sskai,
  // build/web).
  fs::path exe_dir = fs::path(SelfPath()).parent_path();
  for (const fs::path& beside : {exe_dir / ".." / "web", exe_dir / ".." / ".." / "web"}) {
    if (fs::is_regular_file(beside / "index.html", ec)) return beside.lexically_normal().string();
  }
  return "./build/web";
}

namespace {

struct Listen {
  std::string host;
  uint16_t port = 0;
};

Result<Listen> ParseListen(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("--listen: expected HOST:PORT, got '" + text + "'");
  }
  Listen l;
  l.host = text.substr(0, colon);
  try {
    int port = std::stoi(text.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    l.port = static_cast<uint16_t>(port);
  } catch (...) {
    return Status::InvalidArgument("--listen: bad port in '" + text + "'");
  }
  if (l.host.empty()) l.host = "127.0.0.1";
  return l;
}

// This machine as a local offering priced per --local-price.
Result<planner::LocalCompute> LocalComputeFromFlag(const std::string& flag) {
  planner::LocalCompute lc;
  lc.name = kLocalOffering;
  lc.vcpus = std::max(1u, std::thread::hardware_concurrency());
  lc.memory_gib = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE) /
                  (1024.0 * 1024 * 1024);
  if (flag == "zero" || flag.empty()) {
    lc.pricing = planner::LocalCompute::Pricing::kZero;
  } else if (flag.rfind("rate:", 0) == 0) {
    lc.pricing = planner::LocalCompute::Pricing::kRate;
    try {
      size_t used = 0;
      lc.usd_per_hour = std::stod(flag.substr(5), &used);
      if (used != flag.size() - 5) throw std::invalid_argument("trailing");
    } catch (...) {
      return Status::InvalidArgument("expected rate:<usd per hour>, got '" + flag + "'");
    }
  } else if (flag.rfind("same-as:", 0) == 0) {
    lc.pricing = planner::LocalCompute::Pricing::kSameAs;
    std::string rest = flag.substr(8);
    auto at = rest.find('@');
    lc.same_as_instance_type = rest.substr(0, at);
    if (at != std::string::npos) lc.same_as_region = rest.substr(at + 1);
  } else {
    return Status::InvalidArgument("expected zero, rate:<usd/h> or same-as:<type>[@<region>], got '" +
                                   flag + "'");
  }
  return lc;
}

}  // namespace

int RunServer(const ServerFlags& flags) {
  ConfigureLogging(flags.log_level);
  auto listen = ParseListen(flags.listen);
  if (!listen.ok()) {
    std::cerr << listen.status().message() << "\n";
    return 2;
  }
  auto slurm_pools = serving::ParseWarmPoolSpec(flags.slurm_warm_pool, flags.slurm_default_partition);
  if (!slurm_pools.ok()) {
    std::cerr << slurm_pools.status().message() << "\n";
    return 2;
  }
  std::error_code ec;
  fs::path data_dir = fs::absolute(flags.data_dir);
  for (const char* sub : {"", "logs/jobs", "logs/endpoints", "run"}) {
    fs::create_directories(data_dir / sub, ec);
    if (ec) {
      std::cerr << "cannot create " << (data_dir / sub) << ": " << ec.message() << "\n";
      return 2;
    }
  }
  // One server per data directory.
  std::string lock_path = (data_dir / "server.lock").string();
  int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    std::cerr << "another sskai server is using " << data_dir << "\n";
    return 2;
  }

  Clock& clock = SystemClock::Default();
  auto store = store::Store::Open((data_dir / "sskai.db").string());
  if (!store.ok()) {
    std::cerr << "store: " << store.status().ToString() << "\n";
    return 2;
  }
  auto blobs = artifacts::OpenLocalBlobStore((data_dir / "artifacts").string());
  if (!blobs.ok()) {
    std::cerr << "artifacts: " << blobs.status().ToString() << "\n";
    return 2;
  }
  auto admin = api::BootstrapAdmin(**store, clock, (data_dir / "admin.token").string());
  if (!admin.ok()) {
    std::cerr << "bootstrap: " << admin.status().ToString() << "\n";
    return 2;
  }
  if (!admin->empty()) {
    std::cout << "Created user 'admin'. Its API token (shown once; also in "
              << (data_dir / "admin.token").string() << ", mode 0600):\n  " << *admin << "\n"
              << std::flush;
  }

  std::string host_for_workers = listen->host == "0.0.0.0" ? "127.0.0.1" : listen->host;
  auto executor = jobs::MakeLocalExecutor();
  // Jobs go to the local executor or, per job or by default, to Slurm.
  std::unique_ptr<jobs::Executor> slurm_executor;
  api::ApiContext::ClusterInfo cluster;  // what GET /v1/cluster reports
  cluster.default_job_executor = flags.executor;
  cluster.default_endpoint_executor = flags.serving_executor;
  if (flags.slurm || flags.executor == "slurm" || flags.serving_executor == "slurm") {
    jobs::SlurmOptions so;
    so.script_dir = (data_dir / "slurm").string();
    so.bin_dir = flags.slurm_bin_dir;
    so.default_partition = flags.slurm_default_partition;
    so.controller_patience = std::chrono::seconds(std::max(1, flags.slurm_patience_seconds));
    so.skip_requeue_delay = !flags.slurm_keep_requeue_delay;
    for (const auto& value : flags.slurm_partitions) {
      auto parsed = jobs::ParseSlurmPartitionFlag(value);
      if (!parsed.ok()) {
        std::cerr << parsed.status().message() << "\n";
        return 2;
      }
      so.partitions[parsed->first] = parsed->second;
      cluster.partitions.push_back({parsed->first, parsed->second.offering, parsed->second.spot});
    }
    cluster.slurm = true;
    cluster.default_partition = flags.slurm_default_partition;
    slurm_executor = jobs::MakeSlurmExecutor(std::move(so), clock);
  }
  auto job_executor = jobs::MakeRoutingExecutor(*executor, slurm_executor.get(), flags.executor);
  store::Store& st = **store;
  jobs::JobController::Options jo;
  jo.binary = SelfPath();
  jo.log_dir = (data_dir / "logs/jobs").string();
  jo.work_root = (data_dir / "work").string();
  jo.max_running = flags.max_running_jobs;
  jo.max_attempts = flags.max_attempts;
  jo.resource = kLocalOffering;
  // server_url is set once the port is known (ephemeral ports in tests).
  auto mint = [&st, &clock](const store::Job& job) {
    return api::CreateToken(st, clock, job.owner_id, "worker:job:" + std::to_string(job.id));
  };
  auto revoke = [&st](const store::Job& job) {
    IgnoreError(st.DeleteTokensByName(job.owner_id, "worker:job:" + std::to_string(job.id)).status());
  };

  serving::EndpointManager::Options eo;
  eo.binary = jo.binary;
  eo.run_dir = (data_dir / "run").string();
  eo.log_dir = (data_dir / "logs/endpoints").string();
  eo.warm_pool = flags.warm_pool;
  eo.unix_sockets = flags.replica_transport == "unix";
  eo.resource = kLocalOffering;
  // Replicas on Slurm: submitted through the routing executor; each fetches its model with a
  // token of the endpoint's owner that is revoked once the replica is ready.
  eo.default_executor = flags.serving_executor;
  eo.slurm_default_partition = flags.slurm_default_partition;
  if (slurm_executor) eo.slurm_warm_pools = std::move(*slurm_pools);
  eo.mint_token = [&st, &clock](int64_t owner_id, const std::string& name) {
    return api::CreateToken(st, clock, owner_id, name);
  };
  eo.revoke_token = [&st](int64_t owner_id, const std::string& name) {
    IgnoreError(st.DeleteTokensByName(owner_id, name).status());
  };

  // Per-request serving records for serverless billing, aggregated per endpoint-minute.
  cost::RequestMeter request_meter;
  eo.on_request = [&request_meter, &clock](int64_t endpoint_id, int64_t owner_id, double busy, bool ok) {
    request_meter.Record(endpoint_id, owner_id, busy, ok, clock.NowSeconds());
  };
  planner::CatalogHolder catalogs;
  // What an hour of an offering costs now (jobs' max_cost_usd); nullopt when unpriced.
  jo.price_per_hour = [&catalogs](const std::string& offering, bool spot) -> std::optional<double> {
    auto catalog = catalogs.Get();
    if (catalog == nullptr) return std::nullopt;
    auto at = offering.find('@');
    std::string type = offering.substr(0, at);
    std::string zone = at == std::string::npos ? "" : offering.substr(at + 1);
    for (const auto& o : catalog->offerings) {
      if (o.instance_type != type || (!zone.empty() && o.zone != zone)) continue;
      return spot && !o.local ? o.spot_usd_per_hour : o.ondemand_usd_per_hour;
    }
    return std::nullopt;
  };

  ThreadPool blocking(4);
  auto endpoints = std::make_unique<serving::EndpointManager>(eo, st, **blobs, *job_executor, clock);
  auto controller = std::make_unique<jobs::JobController>(jo, st, *job_executor, clock, mint, revoke);

  api::ApiContext ctx{st, **blobs, *controller, *endpoints, clock, blocking};
  ctx.allow_custom_commands = flags.allow_custom_commands;
  ctx.cluster = std::move(cluster);
  if (flags.demo_model_dir != "none") {
    std::string demo_dir = flags.demo_model_dir.empty() ? DefaultDemoModelDir() : flags.demo_model_dir;
    auto demo = api::RegisterDemoModel(ctx, demo_dir);
    if (!demo.ok()) {
      SSKAI_LOG_WARN("demo model {} not registered: {}", demo_dir, demo.status().ToString());
    } else if (*demo > 0) {
      SSKAI_LOG_INFO("demo model 'sskai-demo' v{} from {}", *demo, demo_dir);
    } else {
      SSKAI_LOG_INFO("no demo model at {} (`make demo-model` builds it)", demo_dir);
    }
  }
  // The planner catalog is optional: without it the server runs and plan requests answer 503.
  std::string catalog_dir = flags.catalog_dir.empty() ? DefaultCatalogDir() : flags.catalog_dir;
  auto catalog = planner::LoadCatalog(catalog_dir);
  ctx.catalogs = &catalogs;
  if (catalog.ok()) {
    auto local = LocalComputeFromFlag(flags.local_price);
    if (!local.ok()) {
      std::cerr << "--local-price: " << local.status().message() << "\n";
      return 2;
    }
    auto with_local = planner::AddLocalCompute(*catalog, {*local});
    if (!with_local.ok()) {
      std::cerr << "--local-price: " << with_local.status().message() << "\n";
      return 2;
    }
    catalog = std::move(with_local);
    // Price files applied by earlier refreshes, in arrival order.
    ctx.catalog_prices_dir = (data_dir / "catalog-prices").string();
    std::vector<fs::path> price_files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(ctx.catalog_prices_dir, ec)) {
      if (entry.is_regular_file() && entry.path().extension() != ".tmp") price_files.push_back(entry.path());
    }
    std::sort(price_files.begin(), price_files.end());
    for (const auto& file : price_files) {
      auto applied = planner::ApplyPriceFile(*catalog, file.string());
      if (!applied.ok()) {
        SSKAI_LOG_WARN("kept price file {} no longer applies, skipped: {}", file.string(),
                       applied.status().message());
        continue;
      }
      catalog = std::move(applied);
    }
    catalogs.Set(std::make_shared<const planner::Catalog>(*catalog));
    // cost ledger: price history (call again after each catalog refresh).
    Status prices = cost::RecordCatalogPrices(st, *catalog, clock.NowSeconds());
    if (!prices.ok()) SSKAI_LOG_WARN("cost: recording catalog prices: {}", prices.message());
    SSKAI_LOG_INFO("planner catalog {} ({} offerings, prices {})", catalog_dir,
                   catalog->offerings.size(), catalog->prices_date);
  } else {
    ctx.catalog_error = catalog_dir + ": " + catalog.status().message();
    SSKAI_LOG_WARN("planner catalog not loaded, /v1/plans will answer 503: {}", ctx.catalog_error);
  }
  ctx.profile_model = [binary = jo.binary](const std::string& model_path, const std::string& options) {
    return RunProfilerProcess(binary, model_path, options, std::chrono::seconds(300));
  };
  ctx.validate_torchscript = [binary = jo.binary](const std::string& file, const std::string& spec,
                                                 const std::string& out) {
    return RunValidatorProcess(binary, file, spec, out, std::chrono::seconds(300));
  };
  ctx.max_model_upload_bytes = static_cast<uint64_t>(flags.max_model_upload_mib * (1ull << 20));
  ctx.web_dir = flags.web_dir.empty() ? DefaultWebDir() : flags.web_dir;
  std::error_code web_ec;
  if (!fs::is_regular_file(fs::path(ctx.web_dir) / "index.html", web_ec)) {
    SSKAI_LOG_INFO("web console not built ({} has no index.html): `make web` builds it", ctx.web_dir);
  }
  // Cost ledger: materialized every 2 s with budget evaluation; budgets act through the job
  // controller (checkpoint and pause, resume) and the endpoint manager (scale to zero, 402).
  cost::Ledger ledger(st);
  cost::BudgetActions actions;
  actions.pause_job = [&controller](int64_t id) { return controller->Pause(id, "budget exceeded"); };
  actions.resume_job = [&controller](int64_t id) { return controller->Resume(id); };
  actions.block_endpoint = [&endpoints](int64_t id, const std::string& reason) {
    return endpoints->Block(id, reason);
  };
  actions.unblock_endpoint = [&endpoints](int64_t id) { return endpoints->Unblock(id); };
  cost::BudgetEnforcer budget_enforcer(st, clock, actions);
  ctx.ledger = &ledger;
  ctx.budget_enforcer = &budget_enforcer;
  ctx.storage_usd_per_gb_month = flags.storage_usd_per_gb_month;
  ctx.hub_endpoint = flags.hub_endpoint;
  ctx.hub_token = flags.hf_token;
  ctx.hub_ca_file = flags.ca_bundle;
  ctx.metrics_sources.push_back([&st, &clock] { return cost::PrometheusText(st, clock.NowSeconds()); });
  auto router = api::BuildRouter(ctx);
  http::Server::Options so;
  so.host = listen->host;
  so.port = listen->port;
  so.io_threads = http::Server::IoThreadsFor(flags.io_threads,
                                             static_cast<int>(std::thread::hardware_concurrency()));
  so.temp_dir = (*blobs)->temp_dir();
  so.max_stream_body_bytes = static_cast<uint64_t>(flags.max_upload_gib * (1ull << 30));
  so.on_response = [](const http::Request& req, const http::RouteInfo* route, int status,
                      double seconds) {
    if (status >= 500) {
      SSKAI_LOG_WARN("{} {} -> {} ({:.1f} ms)", req.method, req.path, status, seconds * 1000);
    }
  };
  auto server = http::Server::Create(so, router);
  if (!server.ok()) {
    std::cerr << "http: " << server.status().ToString() << "\n";
    return 2;
  }
  // Workers reach the API at the bound port (an ephemeral one in tests).
  controller->set_server_url("http://" + host_for_workers + ":" +
                             std::to_string((*server)->port()));
  // Slurm replicas may run on other nodes: a server listening on every interface is reached by
  // this node's hostname.
  std::string host_for_replicas = host_for_workers;
  if (listen->host == "0.0.0.0") {
    char name[256] = {};
    if (gethostname(name, sizeof(name) - 1) == 0) host_for_replicas = name;
  }
  endpoints->set_server_url("http://" + host_for_replicas + ":" + std::to_string((*server)->port()));

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  controller->Start();
  endpoints->Start();
  budget_enforcer.Start(&ledger, std::chrono::seconds(2));  // cost ledger
  SSKAI_LOG_INFO("data dir {}", data_dir.string());
  SSKAI_LOG_INFO("http io threads {}", so.io_threads);
  std::cout << "sskai server listening on http://" << listen->host << ":" << (*server)->port()
            << std::endl;
  // Unreferenced blobs (replaced checkpoints, failed uploads) are collected every 10 minutes
  // once they are an hour old.
  auto next_gc = clock.Monotonic() + std::chrono::seconds(30);
  auto next_meter_flush = clock.Monotonic();
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (clock.Monotonic() >= next_meter_flush) {
      next_meter_flush = clock.Monotonic() + std::chrono::seconds(2);
      Status flushed = request_meter.Flush(st);
      if (!flushed.ok()) SSKAI_LOG_WARN("cost: request usage not recorded yet: {}", flushed.message());
    }
    if (clock.Monotonic() < next_gc) continue;
    next_gc = clock.Monotonic() + std::chrono::minutes(10);
    auto refs = st.ReferencedBlobs();
    if (!refs.ok()) continue;
    auto gc = (*blobs)->CollectGarbage(*refs, 3600);
    if (gc.ok() && gc->removed > 0) {
      SSKAI_LOG_INFO("gc: removed {} unreferenced blobs ({} bytes)", gc->removed, gc->bytes);
    }
  }
  SSKAI_LOG_INFO("shutting down");
  (*server)->Stop();
  budget_enforcer.Stop();  // cost ledger
  IgnoreError(request_meter.Flush(st));
  endpoints->Stop();
  controller->StopWorkers();
  close(lock_fd);
  return 0;
}

}  // namespace sskai::app
