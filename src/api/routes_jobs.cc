// Training jobs: submit, list, show, cancel, logs, metrics.
#include <fstream>

#include "api/internal.h"
#include "jobs/jobs.h"
#include "ml/ml.h"

namespace sskai::api {

namespace {

// Validates a train request into a job row. Errors name the field.
Result<store::Job> ParseTrainRequest(ApiContext& ctx, const json& body, const store::User& u) {
  SSKAI_ASSIGN_OR_RETURN(std::string dataset, StringField(body, "dataset", true));
  SSKAI_ASSIGN_OR_RETURN(int64_t ds_version, IntField(body, "dataset_version", 0, 0, 1'000'000'000));
  SSKAI_ASSIGN_OR_RETURN(std::string output, StringField(body, "model", true));
  Status valid = store::ValidateName(output);
  if (!valid.ok()) return valid.WithPrefix("field 'model'");
  SSKAI_ASSIGN_OR_RETURN(std::string task, StringField(body, "task", false));
  if (!task.empty() && task != "classification" && task != "regression") {
    return Status::InvalidArgument("field 'task': expected 'classification' or 'regression', got '" + task + "'");
  }
  SSKAI_ASSIGN_OR_RETURN(std::string arch, StringField(body, "architecture", false, "auto"));
  if (arch != "auto" && arch != "mlp" && arch != "cnn") {
    return Status::InvalidArgument("field 'architecture': expected 'auto', 'mlp' or 'cnn', got '" + arch + "'");
  }
  SSKAI_ASSIGN_OR_RETURN(std::string target, StringField(body, "target", false));
  SSKAI_ASSIGN_OR_RETURN(std::string name, StringField(body, "name", false, output));
  json hyper = body.value("hyperparameters", json::object());
  if (!hyper.is_object()) return Status::InvalidArgument("field 'hyperparameters': expected an object");
  auto spec = ml::TrainSpecFromJson(hyper.dump());
  if (!spec.ok()) return spec.status().WithPrefix("field 'hyperparameters'");

  auto ds = ctx.store.GetDataset(u.id, dataset);
  if (!ds.ok()) return Status::NotFound("field 'dataset': dataset '" + dataset + "' not found");
  auto dv = ctx.store.GetDatasetVersion(ds->id, ds_version);
  if (!dv.ok()) {
    return Status::NotFound("field 'dataset_version': dataset '" + dataset + "' has no version " +
                            std::to_string(ds_version));
  }
  if (dv->format == "jsonl") {
    return Status::InvalidArgument("field 'dataset': '" + dataset +
                                   "' is a JSONL text dataset; the built-in models train on csv, idx or image_folder data");
  }
  if (!target.empty()) {
    json schema = ParseStoredJson(dv->schema_json);
    std::vector<std::string> names;
    for (const auto& col : schema.value("columns", json::array())) names.push_back(col.value("name", ""));
    if (dv->format != "csv") {
      return Status::InvalidArgument("field 'target': only CSV datasets have a target column");
    }
    if (std::find(names.begin(), names.end(), target) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      return Status::InvalidArgument("field 'target': column '" + target + "' does not exist in dataset '" +
                                     dataset + "' v" + std::to_string(dv->version) + "; columns are: " + list);
    }
  }
  store::Job job;
  job.owner_id = u.id;
  job.name = name;
  job.kind = "train";
  job.state = jobs::kQueued;
  job.dataset_version_id = dv->id;
  job.output_model = output;
  job.spec_json = json{{"task", task},
                       {"target", target},
                       {"model", arch},
                       {"hyperparameters", ParseStoredJson(ml::TrainSpecToJson(*spec))}}
                      .dump();
  job.executor = "local";
  job.created_at = ctx.clock.NowSeconds();
  job.updated_at = job.created_at;
  return job;
}

std::string TailFile(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  auto size = static_cast<size_t>(in.tellg());
  size_t start = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(start));
  std::string out(size - start, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return out;
}

}  // namespace

void AddJobRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("POST", "/v1/jobs", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto tags = ParseTags(*body);  // cost: tags + refuse_new budgets
    if (!tags.ok()) return Error(tags.status());
    auto job = ParseTrainRequest(ctx, *body, u);
    if (!job.ok()) return Error(job.status());
    if (Status admit = AdmitNewWork(ctx, u, *tags); !admit.ok()) return Error(admit);
    auto created = ctx.store.CreateJob(*job);
    if (!created.ok()) return Error(created.status());
    SaveTags(ctx, "job", created->id, *tags);
    AddEvent(ctx, u.id, "job", created->id, "queued",
             "job " + std::to_string(created->id) + " queued: train '" + created->output_model + "'");
    ctx.jobs.Kick();
    return JsonResponse(201, JobJson(ctx, *created));
  }), {.summary = "Submit a training job {dataset, model, task?, target?, architecture?, hyperparameters?}"});

  router.AddSync("GET", "/v1/jobs", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    auto list = ctx.store.ListJobs(u.id, *page, req.Query("state"));
    if (!list.ok()) return Error(list.status());
    std::map<int64_t, json> memo;
    return JsonResponse(200, ListJson(list->items, list->next_after_id, [&](const store::Job& j) {
      return JobJson(ctx, j, &memo);
    }));
  }), {.summary = "List the caller's jobs (?state=running)"});

  router.AddSync("GET", "/v1/jobs/{id}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto id = IdParam(req, "id");
    if (!id.ok()) return Error(id.status());
    auto job = ctx.store.GetJob(u.id, *id);
    if (!job.ok()) return Error(job.status());
    return JsonResponse(200, JobJson(ctx, *job));
  }), {.summary = "One job: state, reason, progress, checkpoint, resulting model"});

  router.AddSync("POST", "/v1/jobs/{id}/cancel", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto id = IdParam(req, "id");
    if (!id.ok()) return Error(id.status());
    Status st = ctx.jobs.Cancel(u.id, *id);
    if (!st.ok()) return Error(st);
    auto job = ctx.store.GetJob(u.id, *id);
    if (!job.ok()) return Error(job.status());
    return JsonResponse(200, JobJson(ctx, *job));
  }), {.summary = "Cancel a queued or running job"});

  router.AddSync("GET", "/v1/jobs/{id}/logs", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto id = IdParam(req, "id");
    if (!id.ok()) return Error(id.status());
    auto job = ctx.store.GetJob(u.id, *id);
    if (!job.ok()) return Error(job.status());
    return http::Response::Text(200, TailFile(ctx.jobs.LogPath(*id), 1 << 20));
  }), {.summary = "The job's worker log (last MiB, plain text)"});

  router.AddSync("GET", "/v1/jobs/{id}/metrics", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto id = IdParam(req, "id");
    if (!id.ok()) return Error(id.status());
    auto job = ctx.store.GetJob(u.id, *id);
    if (!job.ok()) return Error(job.status());
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    if (req.Query("limit").empty()) page->limit = 1000;
    auto list = ctx.store.ListJobMetrics(*id, *page);
    if (!list.ok()) return Error(list.status());
    return JsonResponse(200, ListJson(list->items, list->next_after_id, [](const store::JobMetric& m) {
      json values = ParseStoredJson(m.values_json);
      return json{{"step", m.step}, {"values", values}, {"created_at", m.created_at}};
    }));
  }), {.summary = "Per-epoch metrics (loss, accuracy)"});
}

}  // namespace sskai::api
