// Datasets: streamed upload with validation, versions, preview, statistics, content.
#include "api/internal.h"
#include "artifacts/artifacts.h"
#include "data/data.h"

namespace sskai::api {

namespace {

// Resolves {name} and {version} to the caller's dataset version.
Result<std::pair<store::Dataset, store::DatasetVersion>> FindVersion(ApiContext& ctx,
                                                                     const http::Request& req,
                                                                     int64_t owner_id) {
  SSKAI_ASSIGN_OR_RETURN(store::Dataset ds, ctx.store.GetDataset(owner_id, req.params.at("name")));
  SSKAI_ASSIGN_OR_RETURN(int64_t version, VersionParam(req));
  SSKAI_ASSIGN_OR_RETURN(store::DatasetVersion dv, ctx.store.GetDatasetVersion(ds.id, version));
  return std::make_pair(ds, dv);
}

// {"line": N, "column": M} from a validation message "line N: column M ..." (either may be
// absent), so clients can point at the spot without parsing prose.
json LocationDetails(const std::string& message) {
  json details = json::object();
  for (const char* key : {"line", "column"}) {
    std::string word = std::string(key) + " ";
    size_t pos = message.find(word);
    if (pos == std::string::npos || (pos > 0 && std::isalpha(static_cast<unsigned char>(message[pos - 1])))) continue;
    size_t start = pos + word.size(), end = start;
    while (end < message.size() && std::isdigit(static_cast<unsigned char>(message[end]))) ++end;
    if (end > start && end - start < 12) details[key] = std::stoll(message.substr(start, end - start));
  }
  return details;
}

http::Response Upload(ApiContext& ctx, http::Request& req, const store::User& u) {
  const std::string& name = req.params.at("name");
  Status valid = store::ValidateName(name);
  if (!valid.ok()) return Error(valid.WithPrefix("dataset name"));
  if (req.body_file.empty() || req.body_size == 0) {
    return Error(Status::InvalidArgument("the upload is empty; send the file as the request body"));
  }
  data::InspectOptions options;
  options.format = req.Query("format");
  options.target = req.Query("target");
  auto info = data::Inspect(req.body_file, options);
  if (!info.ok()) {
    std::string filename = req.Query("filename");
    return Error(info.status().WithPrefix(filename.empty() ? "upload" : "'" + filename + "'"),
                 LocationDetails(info.status().message()));
  }
  auto sha = ctx.blobs.Adopt(req.body_file, req.body_sha256);
  if (!sha.ok()) return Error(sha.status());
  store::DatasetVersion dv;
  dv.blob_sha256 = *sha;
  dv.format = data::FormatName(info->format);
  dv.size_bytes = static_cast<int64_t>(req.body_size);
  dv.rows = info->rows;
  json schema = ParseStoredJson(info->schema_json);
  if (!info->task.empty()) schema["task"] = info->task;
  if (!info->target.empty()) schema["target"] = info->target;
  dv.schema_json = schema.dump();
  dv.stats_json = info->stats_json;
  dv.original_filename = req.Query("filename");
  dv.created_at = ctx.clock.NowSeconds();
  auto added = ctx.store.AddDatasetVersion(u.id, name, dv);
  if (!added.ok()) return Error(added.status());  // the blob stays unreferenced: GC removes it
  auto ds = ctx.store.GetDataset(u.id, name);
  AddEvent(ctx, u.id, "dataset", ds.ok() ? ds->id : 0, "uploaded",
           "dataset '" + name + "' v" + std::to_string(added->version) + " uploaded (" +
               dv.format + ", " + std::to_string(dv.rows) + " rows)");
  return JsonResponse(201, DatasetVersionJson(*added, name));
}

}  // namespace

void AddDatasetRoutes(ApiContext& ctx, http::Router& router) {
  router.Add("POST", "/v1/datasets/{name}/versions",
             AuthedAsyncHandler(ctx, [&ctx](http::Request& req, const store::User& u,
                                            http::Responder respond) {
               // Inspection reads the whole file: off the I/O thread. The request (and its
               // temp file) lives until `respond` is called.
               auto request = std::make_shared<http::Request>(req);  // outlives the handler call
               RunBlocking(ctx, std::move(respond), [&ctx, request, u] {
                 return Upload(ctx, *request, u);
               });
             }),
             {.stream_body = true,
              .summary = "Upload a new dataset version (body = the file; ?format=csv|jsonl|idx|"
                         "image_folder&target=column&filename=name)"});

  router.AddSync("GET", "/v1/datasets", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    auto list = ctx.store.ListDatasets(u.id, *page);
    if (!list.ok()) return Error(list.status());
    return JsonResponse(200, ListJson(list->items, list->next_after_id, DatasetJson));
  }), {.summary = "List the caller's datasets"});

  router.AddSync("GET", "/v1/datasets/{name}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto ds = ctx.store.GetDataset(u.id, req.params.at("name"));
    if (!ds.ok()) return Error(ds.status());
    json out = DatasetJson(*ds);
    auto latest = ctx.store.GetDatasetVersion(ds->id, 0);
    if (latest.ok()) out["latest"] = DatasetVersionJson(*latest, ds->name);
    return JsonResponse(200, out);
  }), {.summary = "A dataset and its latest version"});

  router.AddSync("DELETE", "/v1/datasets/{name}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto ds = ctx.store.GetDataset(u.id, req.params.at("name"));
    if (!ds.ok()) return Error(ds.status());
    Status st = ctx.store.DeleteDataset(u.id, ds->name);
    if (!st.ok()) return Error(st);
    AddEvent(ctx, u.id, "dataset", ds->id, "deleted", "dataset '" + ds->name + "' deleted");
    return JsonResponse(200, {{"deleted", ds->name}});
  }), {.summary = "Delete a dataset (refused while a job or model references it)"});

  router.AddSync("GET", "/v1/datasets/{name}/versions", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto ds = ctx.store.GetDataset(u.id, req.params.at("name"));
    if (!ds.ok()) return Error(ds.status());
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    auto list = ctx.store.ListDatasetVersions(ds->id, *page);
    if (!list.ok()) return Error(list.status());
    std::string name = ds->name;
    return JsonResponse(200, ListJson(list->items, list->next_after_id, [&](const store::DatasetVersion& v) {
      return DatasetVersionJson(v, name);
    }));
  }), {.summary = "List a dataset's versions"});

  router.AddSync("GET", "/v1/datasets/{name}/versions/{version}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto found = FindVersion(ctx, req, u.id);
    if (!found.ok()) return Error(found.status());
    return JsonResponse(200, DatasetVersionJson(found->second, found->first.name));
  }), {.summary = "One dataset version ('latest' or a number)"});

  router.AddSync("GET", "/v1/datasets/{name}/versions/{version}/statistics", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto found = FindVersion(ctx, req, u.id);
    if (!found.ok()) return Error(found.status());
    return JsonResponse(200, {{"dataset", found->first.name},
                              {"version", found->second.version},
                              {"rows", found->second.rows},
                              {"schema", ParseStoredJson(found->second.schema_json)},
                              {"statistics", ParseStoredJson(found->second.stats_json)}});
  }), {.summary = "Schema and statistics computed at upload"});

  router.Add("GET", "/v1/datasets/{name}/versions/{version}/preview",
             AuthedAsyncHandler(ctx, [&ctx](http::Request& req, const store::User& u, http::Responder respond) {
    auto found = FindVersion(ctx, req, u.id);
    if (!found.ok()) return respond(Error(found.status()));
    int64_t limit = 20;
    std::string q = req.Query("limit");
    if (!q.empty()) {
      char* end = nullptr;
      limit = std::strtoll(q.c_str(), &end, 10);
      if (*end != '\0' || limit < 1 || limit > 1000) {
        return respond(Error(Status::InvalidArgument("query parameter 'limit': must be between 1 and 1000")));
      }
    }
    auto version = found->second;
    auto name = found->first.name;
    RunBlocking(ctx, std::move(respond), [&ctx, version, name, limit] {
      auto path = ctx.blobs.LocalPath(version.blob_sha256);
      if (!path.ok()) return Error(path.status());
      data::InspectOptions options;
      options.format = version.format;
      auto rows = data::PreviewJson(*path, options, static_cast<int>(limit));
      if (!rows.ok()) return Error(rows.status());
      return JsonResponse(200, {{"dataset", name}, {"version", version.version},
                                {"rows", ParseStoredJson(*rows)}});
    });
  }), {.summary = "The first rows (?limit=20)"});

  router.AddSync("GET", "/v1/datasets/{name}/versions/{version}/content", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto found = FindVersion(ctx, req, u.id);
    if (!found.ok()) return Error(found.status());
    auto path = ctx.blobs.LocalPath(found->second.blob_sha256);
    if (!path.ok()) return Error(path.status());
    http::Response resp;
    resp.content_type = "application/octet-stream";
    resp.file_path = *path;
    resp.headers.push_back({"X-Sskai-Sha256", found->second.blob_sha256});
    return resp;
  }), {.summary = "Download the uploaded file"});
}

}  // namespace sskai::api
