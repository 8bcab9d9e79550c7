// EndpointManager: replica processes — launch (fresh or from the warm pool), readiness, stop
// and reaping, and the warm pool of standby replicas.
#include <sys/un.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "artifacts/artifacts.h"
#include "common/log.h"
#include "serving/internal.h"
#include "store/store.h"

namespace sskai::serving {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr auto kStopGrace = std::chrono::seconds(2);
// A forced stop is sent again only after this long (scancel is asynchronous: the job reads
// "running" until slurmctld has killed it and the next scontrol poll sees that).
constexpr auto kKillResend = std::chrono::seconds(5);

// A local replica's Unix socket next to its port file ("<port file minus .port>.sock"), when
// enabled and the path fits a sockaddr_un; the replica listens there as well as on TCP.
void AddUnixSocket(const EndpointManager::Options& options, EndpointManager::Replica& r,
                   std::vector<std::string>& argv) {
  r.unix_socket.clear();
  if (!options.unix_sockets) return;
  std::string path = r.port_file.substr(0, r.port_file.rfind(".port")) + ".sock";
  if (path.size() >= sizeof(sockaddr_un::sun_path)) return;  // long data dirs: TCP only
  r.unix_socket = path;
  auto port_file = std::find(argv.begin(), argv.end(), "--port-file");  // it stays last
  argv.insert(port_file, {"--unix-socket", path});
}

}  // namespace

std::shared_ptr<http::ClientPool> PoolFor(const std::string& base_url,
                                          std::chrono::milliseconds timeout) {
  return std::make_shared<http::ClientPool>(
      base_url, 256, http::Client::Options{std::chrono::milliseconds(1000), timeout});
}

bool ParseReplicaAddress(const std::string& text, std::string* host, int* port) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ' || t.back() == '\r')) t.pop_back();
  auto colon = t.rfind(':');
  std::string h = colon == std::string::npos ? "127.0.0.1" : t.substr(0, colon);
  std::string p = colon == std::string::npos ? t : t.substr(colon + 1);
  int value = 0;
  for (char c : p) {
    if (c < '0' || c > '9' || value > 65535) return false;
    value = value * 10 + (c - '0');
  }
  if (p.empty() || value <= 0 || value > 65535 || h.empty()) return false;
  *host = h;
  *port = value;
  return true;
}

bool Probe(const std::string& port_file, std::string* host, int* port, const std::string& key,
           const char* target, int* status) {
  if (status) *status = 0;
  if (*port == 0) {
    std::ifstream in(port_file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!ParseReplicaAddress(text, host, port)) return false;
  }
  auto client = http::Client::Create("http://" + *host + ":" + std::to_string(*port),
                                     {std::chrono::milliseconds(500), std::chrono::milliseconds(2000)});
  if (!client.ok()) return false;
  std::map<std::string, std::string> headers;
  if (!key.empty()) headers[kReplicaKeyHeader] = key;
  auto health = (*client)->Request("GET", target, "", headers);
  if (health.ok() && status) *status = health->status;
  return health.ok() && health->status == 200;
}

void EndpointManager::Kill(Replica& r) {
  const auto now = clock_.Monotonic();
  if (r.kill_sent_at != TimePoint{} && now - r.kill_sent_at < kKillResend) return;
  r.kill_sent_at = now;
  executor_.Signal(r.handle, /*force=*/true);
}

void EndpointManager::StopReplica(Replica& r) {
  executor_.Signal(r.handle, /*force=*/false);
  r.stop_sent_at = clock_.Monotonic();
  r.ready = false;
  if (r.usage_id > 0) IgnoreError(store_.CloseUsage(r.usage_id, clock_.NowSeconds()));
  r.usage_id = 0;
  ReleaseSlurm(r);
  // Kept until it exits so a slow shutdown is finished with SIGKILL.
  for (auto& s : stopping_) {
    if (s.get() == &r) return;
  }
  auto copy = std::make_shared<Replica>();
  copy->handle = r.handle;
  copy->stop_sent_at = r.stop_sent_at;
  copy->next_poll = r.next_poll;
  copy->slurm_row_id = r.slurm_row_id;  // PollReplica throttles scontrol for it too
  copy->standby_file = r.standby_file;
  stopping_.push_back(std::move(copy));
}

void EndpointManager::ReapStopping() {
  auto now = clock_.Monotonic();
  for (auto it = stopping_.begin(); it != stopping_.end();) {
    Replica& r = **it;
    const bool polled = !r.slurm() || now >= r.next_poll;  // Slurm: at most every poll interval
    if (PollReplica(r).exited) {
      it = stopping_.erase(it);
      continue;
    }
    if (polled && now - r.stop_sent_at > kStopGrace) Kill(r);
    ++it;
  }
}

std::shared_ptr<EndpointManager::Replica> EndpointManager::Launch(store::Endpoint& ep,
                                                                  EndpointRt& rt,
                                                                  int64_t version_id) {
  if (version_id == 0) version_id = ep.model_version_id;
  auto mv = store_.GetModelVersionById(version_id);
  bool lm = mv.ok() && IsLmVersion(*mv);
  auto path = !mv.ok() ? Result<std::string>(mv.status())
              : lm     ? MaterializeLm(blobs_, *mv,
                                       options_.lm_dir.empty() ? options_.run_dir + "/lm"
                                                               : options_.lm_dir)
                       : blobs_.LocalPath(mv->blob_sha256);
  if (!path.ok() && rt.IsCanary(version_id, ep.model_version_id)) {
    rt.canary_failures = 1 << 20;  // the canary cannot start at all: roll back
    return nullptr;
  }
  if (!mv.ok()) {
    SetState(ep, kFailed, "model version is gone: " + mv.status().message());
    rt.failed = true;
    return nullptr;
  }
  if (!path.ok()) {
    SetState(ep, kFailed, "model file is missing: " + path.status().message());
    rt.failed = true;
    return nullptr;
  }
  std::shared_ptr<Replica> r;
  if (OnSlurm(rt)) {
    auto launched = LaunchSlurm(ep, rt, *mv, lm);
    if (!launched.ok()) {
      if (rt.IsCanary(version_id, ep.model_version_id)) {
        rt.canary_failures = 1 << 20;
        return nullptr;
      }
      SetState(ep, kFailed, "cannot submit a replica to Slurm: " + launched.status().message());
      rt.failed = true;
      return nullptr;
    }
    r = *launched;
  } else {
    r = LaunchLocal(ep, rt, *path, lm);
    if (!r) return nullptr;
  }
  r->model_version_id = version_id;
  r->model_version = mv->version;
  r->launched_at = clock_.Monotonic();
  store::UsageRecord usage;
  usage.owner_id = ep.owner_id;
  usage.subject_kind = "endpoint";
  usage.subject_id = ep.id;
  usage.resource = r->handle.resource.empty() ? options_.resource : r->handle.resource;
  usage.spot = r->handle.spot;  // a Slurm partition priced as spot
  usage.count = 1;
  usage.started_at = clock_.NowSeconds();
  SpotLaunch(ep, rt, *r, usage);
  auto opened = store_.OpenUsage(usage);
  if (opened.ok()) r->usage_id = opened->id;
  r->owner_id = ep.owner_id;
  if (r->slurm()) PersistSlurm(ep.id, *r);
  ep.replica_pid = r->handle.pid;
  ep.replica_start_time = r->handle.start_time;
  ep.replica_port = 0;
  WriteEndpoint(ep);
  rt.replicas.push_back(r);
  return r;
}

// A replica process on this machine: a warm standby when there is one, else a fresh process.
std::shared_ptr<EndpointManager::Replica> EndpointManager::LaunchLocal(store::Endpoint& ep,
                                                                       EndpointRt& rt,
                                                                       const std::string& path,
                                                                       bool lm) {
  std::shared_ptr<Replica> r;
  if (!lm) warmup_model_ = path;  // standbys preload tabular/image models only
  for (auto it = standby_.begin(); it != standby_.end(); ++it) {
    if ((*it)->ready) {
      r = *it;
      standby_.erase(it);
      break;
    }
  }
  if (r && lm) r->served_name = ep.name;
  if (!r && !standby_.empty()) {
    // A standby still loading the engine is further along than a fresh process: take it and
    // send it the model once it is healthy.
    r = standby_.front();
    standby_.erase(standby_.begin());
    r->pending_model = path;
    if (lm) r->served_name = ep.name;
  } else if (r) {
    StartLoad(ep.id, r, path);
  }
  if (r) {
    r->ready = false;
  } else {
    r = std::make_shared<Replica>();
    r->id = next_replica_id_++;
    r->port_file = options_.run_dir + "/endpoint-" + std::to_string(ep.id) + "-r" +
                   std::to_string(r->id) + ".port";
    std::error_code ec;
    fs::remove(r->port_file, ec);
    jobs::LaunchSpec spec;
    spec.argv = {options_.binary, "replica", "--model", path, "--port-file", r->port_file};
    AddUnixSocket(options_, *r, spec.argv);
    if (lm) spec.argv.insert(spec.argv.end(), {"--served-name", ep.name});
    spec.log_path = LogPath(ep.id);
    spec.new_session = true;
    spec.die_with_parent = true;
    spec.executor = "local";
    auto handle = executor_.Launch(spec);
    if (!handle.ok()) {
      SetState(ep, kFailed, "cannot start a replica: " + handle.status().message());
      rt.failed = true;
      return nullptr;
    }
    r->handle = *handle;
  }
  return r;
}

void EndpointManager::StartLoad(int64_t endpoint_id, const std::shared_ptr<Replica>& r,
                                const std::string& path) {
  // A warm standby: the engine is loaded; it only has to load the model file.
  json load = {{"model_path", path}};
  if (!r->served_name.empty()) load["served_name"] = r->served_name;
  SendLoad(endpoint_id, r, load.dump(), r->key);
}

void EndpointManager::SendLoad(int64_t endpoint_id, const std::shared_ptr<Replica>& r,
                               std::string body, const std::string& key) {
  r->ready = false;
  r->loading = true;
  if (!r->pool) r->pool = PoolFor(r->BaseUrl(), options_.predict_timeout);
  std::weak_ptr<Replica> weak = r;
  auto pool = r->pool;
  std::map<std::string, std::string> headers = {{"content-type", "application/json"}};
  if (!key.empty()) headers[kReplicaKeyHeader] = key;
  bool submitted = proxy_->pool.Submit([this, weak, endpoint_id, body, pool, headers] {
    auto resp = pool->Request("POST", "/load", body, headers);
    std::vector<Done> after;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto r = weak.lock();
      auto it = endpoints_.find(endpoint_id);
      if (!r || it == endpoints_.end()) return;
      if (resp.ok() && resp->status == 200) {
        MarkReady(*it->second, *r);
        DrainQueue(*it->second, after);
      } else {
        SSKAI_LOG_WARN("serving: standby could not load the model of endpoint {}: {}",
                       endpoint_id, resp.ok() ? resp->body : resp.status().ToString());
        r->loading = false;
        r->load_failed = true;
        executor_.Signal(r->handle, /*force=*/true);  // its exit counts as a failed start
      }
    }
    for (auto& fn : after) fn();
    Kick();
  });
  if (!submitted) {
    r->loading = false;
    r->load_failed = true;
    executor_.Signal(r->handle, /*force=*/true);
  }
}

void EndpointManager::MarkReady(EndpointRt& rt, Replica& r) {
  r.ready = true;
  r.was_ready = true;
  r.loading = false;
  if (!r.pool) r.pool = PoolFor(r.BaseUrl(), options_.predict_timeout);
  rt.failed_starts = 0;
  rt.cold = false;
  if (r.slurm() && !r.token_name.empty()) {  // the model is fetched: the token is not needed
    if (options_.revoke_token) options_.revoke_token(r.owner_id, r.token_name);
    r.token_name.clear();
    PersistSlurm(rt.id, r);
  }
}

void EndpointManager::CheckReady(store::Endpoint& ep, EndpointRt& rt, Replica& r) {
  int status = 0;
  if (Probe(r.port_file, &r.host, &r.port, r.key, ReadinessTarget(r.key), &status)) {
    MarkReady(rt, r);
    ep.replica_port = r.port;
    return;
  }
  if (status == 401) {
    // It answers, but not to its key, and never will: a standby the server took and then
    // crashed before sending the load order (which carries the key), or a changed secret
    // file. Replaced now rather than after the ready timeout; its exit is a failed start.
    if (r.kill_sent_at == TimePoint{}) {
      SSKAI_LOG_WARN("serving: replica {} of '{}' rejects its key (401 on {}); replacing it",
                     r.handle.pid, ep.name, ReadinessTarget(r.key));
    }
    Kill(r);
    return;
  }
  if (clock_.Monotonic() - r.launched_at > ReadyTimeout(r)) {
    Kill(r);  // the exit is handled on a later pass
  }
}

void EndpointManager::FillWarmPool() {
  for (auto it = standby_.begin(); it != standby_.end();) {
    Replica& r = **it;
    if (executor_.Poll(r.handle).exited) {
      it = standby_.erase(it);
      continue;
    }
    if (!r.ready && Probe(r.port_file, &r.host, &r.port, r.key)) {
      r.ready = true;
      r.pool = PoolFor(r.BaseUrl(), options_.predict_timeout);
    }
    ++it;
  }
  while (static_cast<int>(standby_.size()) < options_.warm_pool) {
    auto r = std::make_shared<Replica>();
    r->id = next_replica_id_++;
    r->port_file = options_.run_dir + "/standby-r" + std::to_string(r->id) + ".port";
    std::error_code ec;
    fs::remove(r->port_file, ec);
    jobs::LaunchSpec spec;
    spec.argv = {options_.binary, "replica", "--standby", "--port-file", r->port_file};
    AddUnixSocket(options_, *r, spec.argv);
    if (!warmup_model_.empty()) {
      spec.argv.push_back("--warmup-model");
      spec.argv.push_back(warmup_model_);
    }
    spec.log_path = options_.log_dir + "/standby.log";
    spec.new_session = true;
    spec.die_with_parent = true;
    spec.executor = "local";
    auto handle = executor_.Launch(spec);
    if (!handle.ok()) {
      SSKAI_LOG_WARN("serving: cannot start a standby replica: {}", handle.status().ToString());
      return;
    }
    r->handle = *handle;
    r->launched_at = clock_.Monotonic();
    standby_.push_back(std::move(r));
  }
}

}  // namespace sskai::serving
