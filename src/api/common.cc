// Shared API helpers: auth, JSON parsing, pagination, errors.
#include <sys/stat.h>

#include <fstream>
#include <random>

#include "api/internal.h"
#include "api/token_cache.h"
#include "common/sha256.h"
#include "common/thread_pool.h"

namespace sskai::api {

http::Response JsonResponse(int status, const json& body) {
  return http::Response::Json(status, body.dump());
}

http::Response Error(const Status& status, const json& details) {
  return http::ErrorResponse(status, details.dump());
}

namespace {

std::string RandomHex(size_t bytes) {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  std::string raw(bytes, '\0');
  urandom.read(raw.data(), static_cast<std::streamsize>(bytes));
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace

Result<std::string> CreateToken(store::Store& store, Clock& clock, int64_t user_id,
                                const std::string& name) {
  std::string token = "sk_" + RandomHex(32);
  store::ApiToken row;
  row.user_id = user_id;
  row.name = name;
  row.token_hash = Sha256Hex(token);
  row.created_at = clock.NowSeconds();
  SSKAI_RETURN_IF_ERROR(store.CreateToken(row).status());
  return token;
}

Result<std::string> BootstrapAdmin(store::Store& store, Clock& clock,
                                   const std::string& token_path) {
  SSKAI_ASSIGN_OR_RETURN(int64_t users, store.CountUsers());
  if (users > 0) return std::string();
  SSKAI_ASSIGN_OR_RETURN(store::User created, store.CreateUser("admin", true, clock.NowSeconds()));
  SSKAI_ASSIGN_OR_RETURN(std::string token, CreateToken(store, clock, created.id, "bootstrap"));
  std::string tmp = token_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << token << "\n";
    if (!out) return Status::Internal("cannot write '" + tmp + "'");
  }
  chmod(tmp.c_str(), 0600);
  if (std::rename(tmp.c_str(), token_path.c_str()) != 0) {
    return Status::Internal("cannot write '" + token_path + "'");
  }
  return token;
}

Status CheckExecutorAvailable(const ApiContext& ctx, const json& obj, const std::string& key,
                              const std::string& field) {
  if (ctx.cluster.slurm || !obj.is_object()) return Status::Ok();
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string() || *it != "slurm") return Status::Ok();
  return Status::InvalidArgument("field '" + field +
                                 "': this server has no Slurm backend (start it with --slurm)");
}

Result<store::User> Authenticate(ApiContext& ctx, const http::Request& req) {
  std::string header = req.Header("authorization");
  if (header.empty()) {
    return Status::Unauthenticated("missing 'Authorization: Bearer <token>' header");
  }
  const std::string prefix = "Bearer ";
  if (header.size() <= prefix.size() || header.compare(0, prefix.size(), prefix) != 0) {
    return Status::Unauthenticated("the Authorization header must be 'Bearer <token>'");
  }
  std::string token = header.substr(prefix.size());
  double now = ctx.clock.NowSeconds();
  // Read before the lookup: a write that lands during it moves the generation past this entry.
  uint64_t generation = ctx.store.AuthGeneration();
  if (ctx.token_cache) {
    if (auto cached = ctx.token_cache->Find(token, generation, now)) return *std::move(cached);
  }
  auto found = ctx.store.FindTokenByHash(Sha256Hex(token));
  if (!found.ok()) return Status::Unauthenticated("invalid or revoked token");
  if (found->expires_at > 0 && found->expires_at < now) {
    return Status::Unauthenticated("the token has expired");
  }
  auto user = ctx.store.GetUser(found->user_id);
  if (!user.ok()) return Status::Unauthenticated("the token's user no longer exists");
  if (ctx.token_cache) ctx.token_cache->Put(token, *user, found->expires_at, generation, now);
  return *user;
}

http::SyncHandler Authed(ApiContext& ctx, AuthedSync handler) {
  return [&ctx, handler = std::move(handler)](http::Request& req) {
    auto user = Authenticate(ctx, req);
    if (!user.ok()) {
      auto resp = Error(user.status());
      resp.headers.push_back({"WWW-Authenticate", "Bearer"});
      return resp;
    }
    return handler(req, *user);
  };
}

http::Handler AuthedAsyncHandler(ApiContext& ctx, AuthedAsync handler) {
  return [&ctx, handler = std::move(handler)](http::Request& req, http::Responder respond) {
    auto user = Authenticate(ctx, req);
    if (!user.ok()) {
      auto resp = Error(user.status());
      resp.headers.push_back({"WWW-Authenticate", "Bearer"});
      respond(std::move(resp));
      return;
    }
    handler(req, *user, std::move(respond));
  };
}

void RunBlocking(ApiContext& ctx, http::Responder respond, std::function<http::Response()> work) {
  auto shared = std::make_shared<http::Responder>(std::move(respond));
  bool queued = ctx.blocking.Submit([shared, work = std::move(work)] {
    http::Response resp;
    try {
      resp = work();
    } catch (const std::exception& e) {
      resp = Error(Status::Internal(std::string("unexpected error: ") + e.what()));
    }
    (*shared)(std::move(resp));
  });
  if (!queued) (*shared)(Error(Status::ResourceExhausted("the server is busy; retry later")));
}

Result<json> ParseObject(const std::string& body) {
  if (body.empty()) return Status::InvalidArgument("request body is empty; expected a JSON object");
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    return Status::InvalidArgument(std::string("request body is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) return Status::InvalidArgument("request body must be a JSON object");
  return j;
}

Result<std::string> StringField(const json& obj, const std::string& name, bool required,
                                const std::string& def) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    if (required) return Status::InvalidArgument("field '" + name + "' is required");
    return def;
  }
  if (!it->is_string()) {
    return Status::InvalidArgument("field '" + name + "': expected a string, got " +
                                   it->dump());
  }
  return it->get<std::string>();
}

Result<store::ModelVersion> ModelVersionFromBody(ApiContext& ctx, const json& body,
                                                 int64_t owner_id, const std::string& default_model,
                                                 std::string* model_name) {
  SSKAI_ASSIGN_OR_RETURN(std::string name,
                         StringField(body, "model", default_model.empty(), default_model));
  SSKAI_ASSIGN_OR_RETURN(int64_t version, IntField(body, "version", 0, 0, 1'000'000'000));
  auto model = ctx.store.GetVisibleModel(owner_id, name);
  if (!model.ok()) return Status::NotFound("field 'model': model '" + name + "' not found");
  auto mv = ctx.store.GetModelVersion(model->id, version);
  if (!mv.ok()) {
    return Status::NotFound("field 'version': model '" + name + "' has no version " +
                            std::to_string(version));
  }
  if (model_name != nullptr) *model_name = name;
  return *mv;
}

Result<int64_t> IntField(const json& obj, const std::string& name, int64_t def, int64_t min,
                         int64_t max) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return def;
  if (!it->is_number_integer()) {
    return Status::InvalidArgument("field '" + name + "': expected an integer, got " + it->dump());
  }
  int64_t v = it->get<int64_t>();
  if (v < min || v > max) {
    return Status::InvalidArgument("field '" + name + "': must be between " + std::to_string(min) +
                                   " and " + std::to_string(max) + ", got " + std::to_string(v));
  }
  return v;
}

namespace {
Result<int64_t> ParseInt(const std::string& text, const std::string& what) {
  if (text.empty() || text.size() > 18) return Status::InvalidArgument(what + ": expected an integer, got '" + text + "'");
  for (char c : text) {
    if (c < '0' || c > '9') return Status::InvalidArgument(what + ": expected an integer, got '" + text + "'");
  }
  return std::stoll(text);
}
}  // namespace

Result<store::Page> PageFromQuery(const http::Request& req) {
  store::Page page;
  std::string limit = req.Query("limit");
  if (!limit.empty()) {
    SSKAI_ASSIGN_OR_RETURN(int64_t v, ParseInt(limit, "query parameter 'limit'"));
    if (v < 1 || v > 1000) {
      return Status::InvalidArgument("query parameter 'limit': must be between 1 and 1000, got " + limit);
    }
    page.limit = static_cast<int>(v);
  }
  std::string after = req.Query("after");
  if (!after.empty()) {
    SSKAI_ASSIGN_OR_RETURN(page.after_id, ParseInt(after, "query parameter 'after'"));
  }
  return page;
}

Result<int64_t> VersionParam(const http::Request& req) {
  auto it = req.params.find("version");
  if (it == req.params.end() || it->second == "latest") return 0;
  SSKAI_ASSIGN_OR_RETURN(int64_t v, ParseInt(it->second, "version"));
  if (v < 1) return Status::InvalidArgument("version: must be 'latest' or ≥ 1");
  return v;
}

Result<int64_t> IdParam(const http::Request& req, const std::string& name) {
  auto it = req.params.find(name);
  if (it == req.params.end()) return Status::InvalidArgument("missing path parameter '" + name + "'");
  return ParseInt(it->second, name);
}

json ParseStoredJson(const std::string& text) {
  if (text.empty()) return json::object();
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json::object() : j;
}

void AddEvent(ApiContext& ctx, int64_t owner_id, const std::string& kind, int64_t subject_id,
              const std::string& action, const std::string& message) {
  store::Event ev;
  ev.owner_id = owner_id;
  ev.kind = kind;
  ev.subject_id = subject_id;
  ev.action = action;
  ev.message = message;
  ev.created_at = ctx.clock.NowSeconds();
  IgnoreError(ctx.store.AddEvent(ev).status());  // the activity feed is best effort
}

}  // namespace sskai::api
