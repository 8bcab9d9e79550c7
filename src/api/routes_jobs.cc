// Training jobs: submit, list, show, cancel, logs, metrics.
#include <chrono>
#include <fstream>
#include <functional>

#include "api/internal.h"
#include "jobs/jobs.h"
#include "ml/ml.h"

namespace sskai::api {

// Job control shared by every job kind: limits and where/how it runs (spot simulation,
// checkpoint cadence). Sets the limits on `job` and returns the execution fields in `exec`.
Status ParseJobControl(const ApiContext& ctx, const json& body, const json& plan, store::Job* job,
                       json* exec_out) {
  SSKAI_ASSIGN_OR_RETURN(int64_t max_attempts, IntField(body, "max_attempts", 0, 0, 1000));
  double limits[2] = {0, 0};
  const char* limit_names[2] = {"max_wall_seconds", "max_cost_usd"};
  for (int idx = 0; idx < 2; ++idx) {
    if (!body.contains(limit_names[idx]) || body[limit_names[idx]].is_null()) continue;
    const json& v = body[limit_names[idx]];
    if (!v.is_number() || !(v.get<double>() > 0) || v.get<double>() > 1e9) {
      return Status::InvalidArgument("field '" + std::string(limit_names[idx]) +
                                     "': expected a positive number (0 < x <= 1e9)");
    }
    limits[idx] = v.get<double>();
  }
  json exec = json::object();
  for (const char* key : {"executor", "offering", "interruption_band", "acceleration", "notice_seconds",
                          "chaos", "checkpoint_interval_seconds", "checkpoint_interval_steps", "command",
                          "tasks", "partition"}) {
    if (body.contains(key)) exec[key] = body[key];
  }
  // The planner's checkpoint interval (Young/Daly or on-notice) unless the request sets one.
  if (plan.is_object() && !exec.contains("checkpoint_interval_seconds") &&
      !exec.contains("checkpoint_interval_steps")) {
    double interval = plan["choice"].value("checkpoint_interval_seconds", 0.0);
    if (interval >= 1 && interval <= 86400) exec["checkpoint_interval_seconds"] = interval;
  }
  auto parsed_exec = jobs::ParseExecutionSpec(exec.dump());
  if (!parsed_exec.ok()) return parsed_exec.status();
  SSKAI_RETURN_IF_ERROR(CheckExecutorAvailable(ctx, body, "executor", "executor"));
  if (parsed_exec->executor == "spot-sim" && !parsed_exec->offering.empty() &&
      parsed_exec->offering.find('@') == std::string::npos) {
    return Status::InvalidArgument("field 'offering': expected '<instance_type>@<zone>', got '" +
                                   parsed_exec->offering + "'");
  }
  job->max_attempts = max_attempts;
  job->max_wall_seconds = limits[0];
  job->max_cost_usd = limits[1];
  *exec_out = exec;
  return Status::Ok();
}

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
  const bool custom = body.contains("command") && !body["command"].is_null();
  if (custom && !ctx.allow_custom_commands) {
    return Status::PermissionDenied(
        "field 'command': custom training commands are disabled on this server (start it with "
        "--allow-custom-commands)");
  }
  // A custom command gets its hyperparameters as they are (SSKAI_HYPERPARAMETERS).
  auto spec = custom ? Result<ml::TrainSpec>(ml::TrainSpec{}) : ml::TrainSpecFromJson(hyper.dump());
  if (!spec.ok()) return spec.status().WithPrefix("field 'hyperparameters'");

  auto ds = ctx.store.GetDataset(u.id, dataset);
  if (!ds.ok()) return Status::NotFound("field 'dataset': dataset '" + dataset + "' not found");
  auto dv = ctx.store.GetDatasetVersion(ds->id, ds_version);
  if (!dv.ok()) {
    return Status::NotFound("field 'dataset_version': dataset '" + dataset + "' has no version " +
                            std::to_string(ds_version));
  }
  if (dv->format == "jsonl" && !custom) {
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
  // Training further from an uploaded TorchScript model version (base_model, base_version?).
  json base = nullptr;
  SSKAI_ASSIGN_OR_RETURN(std::string base_model, StringField(body, "base_model", false));
  if (!base_model.empty()) {
    SSKAI_ASSIGN_OR_RETURN(int64_t base_version, IntField(body, "base_version", 0, 0, 1'000'000'000));
    auto bm = ctx.store.GetVisibleModel(u.id, base_model);
    if (!bm.ok()) return Status::NotFound("field 'base_model': model '" + base_model + "' not found");
    auto bv = ctx.store.GetModelVersion(bm->id, base_version);
    if (!bv.ok()) return Status::NotFound("field 'base_version': model '" + base_model + "' has no such version");
    json meta = ParseStoredJson(bv->spec_json);
    if (meta.value("format", "") != "torchscript") {
      return Status::InvalidArgument("field 'base_model': '" + base_model + "' v" + std::to_string(bv->version) +
                                     " is not a TorchScript model");
    }
    if (bv->task != "classification" && bv->task != "regression") {
      return Status::InvalidArgument("field 'base_model': its task is '" + bv->task +
                                     "'; training needs classification or regression");
    }
    if (dv->format != "csv") return Status::InvalidArgument("field 'dataset': TorchScript training reads CSV datasets");
    if (custom) return Status::InvalidArgument("field 'command': not with 'base_model'");
    base = {{"model", bm->name}, {"version", bv->version}, {"sha256", bv->blob_sha256}};
  }
  SSKAI_ASSIGN_OR_RETURN(json plan, PlanReference(ctx, body, u.id, "train"));
  store::Job job;
  json exec;
  SSKAI_RETURN_IF_ERROR(ParseJobControl(ctx, body, plan, &job, &exec));
  job.owner_id = u.id;
  job.name = name;
  job.kind = "train";
  job.state = jobs::kQueued;
  job.dataset_version_id = dv->id;
  job.output_model = output;
  json spec_fields = json{{"task", task},
                       {"target", target},
                       {"model", arch},
                       {"hyperparameters", custom ? hyper : ParseStoredJson(ml::TrainSpecToJson(*spec))},
                       {"plan", plan}};
  if (!base.is_null()) spec_fields["base"] = base;
  json stored = spec_fields;
  stored.update(exec);
  job.spec_json = stored.dump();
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
    auto job = body->value("kind", "train") == "lm" ? ParseLmJobRequest(ctx, *body, u)
                                                    : ParseTrainRequest(ctx, *body, u);
    if (!job.ok()) return Error(job.status());
    if (Status admit = AdmitNewWork(ctx, u, *tags); !admit.ok()) return Error(admit);
    auto created = ctx.store.CreateJob(*job);
    if (!created.ok()) return Error(created.status());
    SaveTags(ctx, "job", created->id, *tags);
    AddEvent(ctx, u.id, "job", created->id, "queued",
             "job " + std::to_string(created->id) + " queued: train '" + created->output_model + "'");
    ctx.jobs.Kick();
    return JsonResponse(201, JobJson(ctx, *created));
  }), {.summary = "Submit a training job {dataset, model, task?, target?, architecture?, base_model?, base_version?, hyperparameters?, max_attempts?, max_wall_seconds?, max_cost_usd?, executor?: local|spot-sim|slurm, tasks?: 1..64 (data-parallel ranks: srun tasks or local processes), partition? (slurm), offering?, interruption_band?, acceleration?, notice_seconds?, chaos?: {every_seconds, after_steps, seed}, checkpoint_interval_seconds?, checkpoint_interval_steps?}"});

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

  router.AddSync("POST", "/v1/jobs/{id}/notice", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto id = IdParam(req, "id");
    if (!id.ok()) return Error(id.status());
    auto body = ParseObject(req.body.empty() ? "{}" : req.body);
    if (!body.ok()) return Error(body.status());
    auto deadline = IntField(*body, "deadline_seconds", 120, 1, 3600);
    if (!deadline.ok()) return Error(deadline.status());
    auto reason = StringField(*body, "reason", false, "preemption notice");
    if (!reason.ok()) return Error(reason.status());
    Status st = ctx.jobs.Notice(u.is_admin ? 0 : u.id, *id, std::chrono::seconds(*deadline), *reason);
    if (!st.ok()) return Error(st);
    auto job = ctx.store.GetJob(0, *id);
    if (!job.ok()) return Error(job.status());
    return JsonResponse(200, JobJson(ctx, *job));
  }), {.summary = "Preemption notice {deadline_seconds?=120, reason?}: checkpoint at the next step, then relaunch"});

  // Pause and resume act through the controller, then answer the job as it is now.
  auto control = [&ctx](std::function<Status(int64_t job_id, const store::User& u)> act) {
    return Authed(ctx, [&ctx, act](http::Request& req, const store::User& u) {
      auto id = IdParam(req, "id");
      if (!id.ok()) return Error(id.status());
      auto job = ctx.store.GetJob(u.id, *id);
      if (!job.ok()) return Error(job.status());
      Status st = act(*id, u);
      if (!st.ok()) return Error(st);
      job = ctx.store.GetJob(u.id, *id);
      if (!job.ok()) return Error(job.status());
      return JsonResponse(200, JobJson(ctx, *job));
    });
  };
  router.AddSync("POST", "/v1/jobs/{id}/pause", control([&ctx](int64_t id, const store::User& u) {
    return ctx.jobs.Pause(id, "by user " + u.name);
  }), {.summary = "Pause: checkpoint and release compute (state paused)"});
  router.AddSync("POST", "/v1/jobs/{id}/resume", control([&ctx](int64_t id, const store::User&) {
    return ctx.jobs.Resume(id);
  }), {.summary = "Resume a paused job (back to queued)"});

  router.AddSync("GET", "/v1/jobs/{id}/events", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto id = IdParam(req, "id");
    if (!id.ok()) return Error(id.status());
    auto job = ctx.store.GetJob(u.id, *id);
    if (!job.ok()) return Error(job.status());
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    if (req.Query("limit").empty()) page->limit = 1000;
    auto list = ctx.store.ListEvents(u.id, *page, store::EventFilter{"job", *id});
    if (!list.ok()) return Error(list.status());
    return JsonResponse(200, ListJson(list->items, list->next_after_id, EventJson));
  }), {.summary = "The job's timeline, oldest first: states, checkpoints, preemptions, recoveries"});

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
