// `sskai models pull`: server-side downloads from the hub, polled by the client.
//   POST /v1/models/{name}/pull {"repo","revision"?,"token"?} -> 202 {"id","state":"running",...}
//   GET  /v1/pulls/{id} -> {"state":"running"|"succeeded"|"failed","bytes_done","bytes_total",
//                           "files":{name:{done,total}},"error"?,"result"?}
// Partial downloads are kept under <artifacts>/tmp/hub/<key of endpoint+repo+revision>/, so a
// failed pull of the same revision continues where it stopped.
#include <atomic>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "api/lm_internal.h"
#include "artifacts/artifacts.h"
#include "common/log.h"
#include "common/sha256.h"

namespace sskai::api {

namespace fs = std::filesystem;

struct LmPullRegistry {
  struct Pull {
    std::string id, repo, revision, model;
    int64_t owner_id = 0;
    std::string visibility;  // of the registered model
    std::string state = "running", error;
    std::map<std::string, std::pair<uint64_t, uint64_t>> files;  // name -> (done, total)
    json result;
    double started_at = 0, finished_at = 0;
  };
  std::mutex mu;
  std::map<std::string, Pull> pulls;  // GUARDED_BY(mu)
  std::vector<std::thread> threads;   // GUARDED_BY(mu)
  std::atomic<bool> stopping{false};

  ~LmPullRegistry() {
    stopping = true;
    std::vector<std::thread> joining;
    {
      std::lock_guard lock(mu);
      joining.swap(threads);
    }
    for (auto& t : joining) t.join();
  }

  json View(const Pull& p) {
    uint64_t done = 0, total = 0;
    json files = json::object();
    for (const auto& [name, dt] : p.files) {
      done += dt.first;
      total += dt.second;
      files[name] = {{"done", dt.first}, {"total", dt.second}};
    }
    json out = {{"id", p.id}, {"repo", p.repo}, {"revision", p.revision}, {"model", p.model},
                {"state", p.state}, {"bytes_done", done}, {"bytes_total", total}, {"files", files},
                {"started_at", p.started_at}};
    if (!p.error.empty()) out["error"] = p.error;
    if (p.finished_at > 0) out["finished_at"] = p.finished_at;
    if (!p.result.is_null()) out["result"] = p.result;
    return out;
  }
};

namespace {

std::string NewPullId() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%08x%08x", rd(), rd());
  return buf;
}

bool ValidRepoId(const std::string& repo) {
  const size_t slash = repo.find('/');
  if (repo.empty() || repo.size() > 200 || repo.find('/', slash == std::string::npos ? 0 : slash + 1) != std::string::npos) {
    return false;
  }
  auto part_ok = [](const std::string& p) {
    if (p.empty() || p == "." || p == ".." || p[0] == '-' || p[0] == '.') return false;
    return p.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == std::string::npos;
  };
  if (slash == std::string::npos) return part_ok(repo);
  return part_ok(repo.substr(0, slash)) && part_ok(repo.substr(slash + 1));
}

// The pull's work: download, register, record the outcome. Runs on the pull's own thread.
void RunPull(ApiContext& ctx, LmPullRegistry& reg, std::string id, HubPullRequest hub_req) {
  LmPullRegistry::Pull snapshot;
  {
    std::lock_guard lock(reg.mu);
    snapshot = reg.pulls[id];
  }
  hub_req.cancelled = [&reg] { return reg.stopping.load(); };
  auto progress = [&reg, &id](const std::string& file, uint64_t done, uint64_t total) {
    std::lock_guard lock(reg.mu);
    reg.pulls[id].files[file] = {done, total};
  };
  auto finish = [&](const Status& st, json result) {
    std::lock_guard lock(reg.mu);
    auto& p = reg.pulls[id];
    p.state = st.ok() ? "succeeded" : "failed";
    p.error = st.ok() ? "" : st.message();
    p.result = std::move(result);
    p.finished_at = ctx.clock.NowSeconds();
  };
  auto pulled = PullFromHub(hub_req, progress);
  if (!pulled.ok()) {
    AddEvent(ctx, snapshot.owner_id, "model", 0, "pull_failed", snapshot.repo + ": " + pulled.status().message());
    return finish(pulled.status(), nullptr);
  }
  LmRegistration lm;
  lm.dir = pulled->files_dir;
  lm.move_files = true;
  lm.visibility = snapshot.visibility;
  lm.source_json = json{{"kind", "pull"}, {"repo", snapshot.repo}, {"revision", snapshot.revision},
                        {"commit", pulled->commit}, {"endpoint", hub_req.endpoint},
                        {"verified", pulled->verified}}.dump();
  auto registered = RegisterLmVersion(ctx, snapshot.owner_id, snapshot.model, lm);
  std::error_code ec;
  fs::remove_all(hub_req.work_dir, ec);  // registered, or invalid (a retry downloads afresh)
  if (!registered.ok()) return finish(registered.status().WithPrefix(snapshot.repo), nullptr);
  finish(Status::Ok(), LmVersionJson(ctx, snapshot.model, *registered));
}

}  // namespace

void AddLmPullRoutes(ApiContext& ctx, http::Router& router) {
  if (!ctx.lm_pulls) ctx.lm_pulls = std::make_shared<LmPullRegistry>();
  LmPullRegistry* reg = ctx.lm_pulls.get();  // owned by ctx (threads join before ctx dies)

  router.AddSync("POST", "/v1/models/{name}/pull", Authed(ctx, [&ctx, reg](http::Request& req, const store::User& u) {
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto repo = StringField(*body, "repo", true);
    if (!repo.ok()) return Error(repo.status());
    if (!ValidRepoId(*repo)) return Error(Status::InvalidArgument("field 'repo': expected a repository id like 'org/name'"));
    auto revision = StringField(*body, "revision", false, "main");
    if (!revision.ok()) return Error(revision.status());
    if (revision->empty() || revision->size() > 200 || revision->find("..") != std::string::npos) {
      return Error(Status::InvalidArgument("field 'revision': expected a branch, tag or commit"));
    }
    auto token = StringField(*body, "token", false, "");
    if (!token.ok()) return Error(token.status());
    // Gallery models pulled by an admin are shared with every user unless asked otherwise.
    auto visibility = VisibilityField(*body, u.is_admin ? "public" : "");
    if (!visibility.ok()) return Error(visibility.status());
    const std::string name = req.params.at("name");
    Status name_ok = store::ValidateName(name);
    if (!name_ok.ok()) return Error(name_ok);
    if (ctx.hub_endpoint.empty()) return Error(Status::Unavailable("no hub endpoint configured"));

    HubPullRequest hub_req;
    hub_req.endpoint = ctx.hub_endpoint;
    hub_req.ca_file = ctx.hub_ca_file;
    hub_req.repo = *repo;
    hub_req.revision = *revision;
    hub_req.token = token->empty() ? ctx.hub_token : *token;
    hub_req.chunk_bytes = ctx.hub_chunk_bytes;
    hub_req.work_dir = ctx.blobs.temp_dir() + "/hub/" +
                       Sha256Hex(ctx.hub_endpoint + "\n" + *repo + "\n" + *revision).substr(0, 24);
    LmPullRegistry::Pull pull;
    pull.id = NewPullId();
    pull.repo = *repo;
    pull.revision = *revision;
    pull.model = name;
    pull.owner_id = u.id;
    pull.visibility = *visibility;
    pull.started_at = ctx.clock.NowSeconds();
    json view;
    {
      std::lock_guard lock(reg->mu);
      for (const auto& [id, p] : reg->pulls) {
        if (p.state == "running" && p.repo == pull.repo && p.revision == pull.revision) {
          return Error(Status::AlreadyExists("pull " + id + " of " + p.repo + "@" + p.revision + " is running"));
        }
      }
      reg->pulls[pull.id] = pull;
      view = reg->View(pull);
      reg->threads.emplace_back([&ctx, r = reg, id = pull.id, hub_req] {
        RunPull(ctx, *r, id, hub_req);
      });
    }
    AddEvent(ctx, u.id, "model", 0, "pull_started", pull.repo + "@" + pull.revision + " -> " + name);
    return JsonResponse(202, view);
  }), {.summary = "Download a model from the Hugging Face hub (server-side) and register it; poll /v1/pulls/{id}"});

  router.AddSync("GET", "/v1/pulls/{id}", Authed(ctx, [reg](http::Request& req, const store::User& u) {
    std::lock_guard lock(reg->mu);
    auto it = reg->pulls.find(req.params.at("id"));
    if (it == reg->pulls.end() || (it->second.owner_id != u.id && !u.is_admin)) {
      return Error(Status::NotFound("pull '" + req.params.at("id") + "' not found"));
    }
    return JsonResponse(200, reg->View(it->second));
  }), {.summary = "A pull's progress and outcome"});
}

}  // namespace sskai::api
