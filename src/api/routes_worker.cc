// Routes used by `sskai worker`: metrics, checkpoints, the trained model, completion.
#include <fmt/format.h>

#include <limits>

#include "api/internal.h"
#include "artifacts/artifacts.h"
#include "jobs/jobs.h"

namespace sskai::api {

namespace {

// The caller's job, which must be running (workers of finished jobs are told so with 409).
Result<store::Job> RunningJob(ApiContext& ctx, const http::Request& req, const store::User& u) {
  SSKAI_ASSIGN_OR_RETURN(int64_t id, IdParam(req, "id"));
  SSKAI_ASSIGN_OR_RETURN(store::Job job, ctx.store.GetJob(u.id, id));
  if (job.state != jobs::kRunning && job.state != jobs::kCheckpointing) {
    return Status::FailedPrecondition("job " + std::to_string(id) + " is " + job.state + ", not running");
  }
  return job;
}

}  // namespace

void AddWorkerRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("POST", "/v1/jobs/{id}/metrics", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto job = RunningJob(ctx, req, u);
    if (!job.ok()) return Error(job.status());
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto epoch = IntField(*body, "epoch", 0, 0, 1'000'000'000);
    if (!epoch.ok()) return Error(epoch.status());
    json values = body->value("values", json::object());
    if (!values.is_object()) return Error(Status::InvalidArgument("field 'values': expected an object"));
    store::JobMetric m;
    m.job_id = job->id;
    m.step = *epoch;
    m.values_json = values.dump();
    m.created_at = ctx.clock.NowSeconds();
    auto added = ctx.store.AddJobMetric(m);
    if (!added.ok()) return Error(added.status());
    json progress = {{"epoch", *epoch}, {"epochs", body->value("epochs", 0)}, {"values", values},
                     {"step", body->value("step", 0)}, {"updated_at", m.created_at}};
    Status st = ctx.store.SetJobProgress(job->id, progress.dump(), m.created_at);
    if (!st.ok()) return Error(st);
    return JsonResponse(200, {{"ok", true}});
  }), {.summary = "Worker: report an epoch's metrics"});

  router.Add("PUT", "/v1/jobs/{id}/checkpoint",
             AuthedAsyncHandler(ctx, [&ctx](http::Request& req, const store::User& u, http::Responder respond) {
    auto request = std::make_shared<http::Request>(req);  // outlives the handler call
    RunBlocking(ctx, std::move(respond), [&ctx, request, u] {
      http::Request& req = *request;
      auto job = RunningJob(ctx, req, u);
      if (!job.ok()) return Error(job.status());
      char* end = nullptr;
      std::string q = req.Query("epoch");
      long epoch = std::strtol(q.c_str(), &end, 10);
      if (q.empty() || *end != '\0' || epoch < 0) {
        return Error(Status::InvalidArgument("query parameter 'epoch': expected a non-negative integer"));
      }
      std::string qs = req.Query("step");
      long long step = qs.empty() ? epoch : std::strtoll(qs.c_str(), &end, 10);
      if (!qs.empty() && (*end != '\0' || step < 0)) {
        return Error(Status::InvalidArgument("query parameter 'step': expected a non-negative integer"));
      }
      if (req.body_size == 0) return Error(Status::InvalidArgument("empty checkpoint"));
      auto sha = ctx.blobs.Adopt(req.body_file, req.body_sha256);
      if (!sha.ok()) return Error(sha.status());
      auto recorded = ctx.store.SetJobCheckpoint(job->id, *sha, epoch, step, ctx.clock.NowSeconds());
      if (!recorded.ok()) return Error(recorded.status());
      if (*recorded) {
        AddEvent(ctx, u.id, "job", job->id, "checkpoint",
                 "checkpoint at step " + std::to_string(step) + " (epoch " + std::to_string(epoch) + ")");
      }
      return JsonResponse(200, {{"sha256", *sha}, {"epoch", epoch}, {"step", step}});
    });
  }), {.stream_body = true, .summary = "Worker: upload a checkpoint (?epoch=completed epochs&step=global step)"});

  router.AddSync("GET", "/v1/jobs/{id}/checkpoint", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto id = IdParam(req, "id");
    if (!id.ok()) return Error(id.status());
    auto job = ctx.store.GetJob(u.id, *id);
    if (!job.ok()) return Error(job.status());
    std::string which = req.Query("which");
    if (!which.empty() && which != "latest" && which != "previous") {
      return Error(Status::InvalidArgument("query parameter 'which': expected 'latest' or 'previous'"));
    }
    const std::string& sha = which == "previous" ? job->prev_checkpoint_sha256 : job->checkpoint_sha256;
    if (sha.empty()) {
      return Error(Status::NotFound("job " + std::to_string(*id) + " has no " +
                                    (which == "previous" ? "previous " : "") + "checkpoint"));
    }
    auto path = ctx.blobs.LocalPath(sha);
    if (!path.ok()) return Error(path.status());
    http::Response resp;
    resp.content_type = "application/octet-stream";
    resp.file_path = *path;
    resp.headers.push_back({"X-Sskai-Epoch", std::to_string(job->checkpoint_epoch)});
    resp.headers.push_back({"X-Sskai-Step", std::to_string(job->checkpoint_step)});
    return resp;
  }), {.summary = "Worker: download the latest (or ?which=previous) checkpoint"});

  router.Add("PUT", "/v1/jobs/{id}/model",
             AuthedAsyncHandler(ctx, [&ctx](http::Request& req, const store::User& u, http::Responder respond) {
    auto request = std::make_shared<http::Request>(req);  // outlives the handler call
    RunBlocking(ctx, std::move(respond), [&ctx, request, u] {
      auto job = RunningJob(ctx, *request, u);
      if (!job.ok()) return Error(job.status());
      if (request->body_size == 0) return Error(Status::InvalidArgument("empty model file"));
      auto sha = ctx.blobs.Adopt(request->body_file, request->body_sha256);
      if (!sha.ok()) return Error(sha.status());
      return JsonResponse(200, {{"sha256", *sha}, {"size_bytes", request->body_size}});
    });
  }), {.stream_body = true, .summary = "Worker: upload the trained model artifact"});

  router.AddSync("POST", "/v1/jobs/{id}/complete", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto job = RunningJob(ctx, req, u);
    if (!job.ok()) return Error(job.status());
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto sha = StringField(*body, "sha256", true);
    if (!sha.ok()) return Error(sha.status());
    if (!ctx.blobs.Exists(*sha)) {
      return Error(Status::FailedPrecondition("model blob " + *sha + " was not uploaded"));
    }
    json metadata = body->value("metadata", json::object());
    store::ModelVersion mv;
    mv.kind = "trained";
    mv.task = metadata.is_object() ? metadata.value("task", "") : "";
    if (job->kind == "lm") {  // the blob is the manifest of an LM file set (shared LM contract)
      if (!metadata.is_object() || metadata.value("type", "") != "lm" || !metadata.contains("files") ||
          !metadata["files"].is_object()) {
        return Error(Status::InvalidArgument("field 'metadata': expected an LM manifest"));
      }
      for (const auto& [file, fsha] : metadata["files"].items()) {
        if (!fsha.is_string() || !ctx.blobs.Exists(fsha.get<std::string>())) {
          return Error(Status::FailedPrecondition("file '" + file + "' of the model was not uploaded"));
        }
      }
      mv.kind = "finetuned";
      mv.task = "lm";
      // An adapter's file set also names its base's files (blobs are shared, nothing is copied),
      // so the version is self-contained: it deploys and downloads like any LM version.
      if (metadata["adapter"].is_object()) {
        const json& adapter = metadata["adapter"];
        auto base_model = ctx.store.GetVisibleModel(u.id, adapter.value("base_model", ""));
        auto base = base_model.ok()
                        ? ctx.store.GetModelVersion(base_model->id, adapter.value("base_version", int64_t{0}))
                        : Result<store::ModelVersion>(base_model.status());
        json base_spec = base.ok() ? ParseStoredJson(base->spec_json) : json();
        if (base_spec.is_object() && base_spec["files"].is_object()) {
          for (const auto& [file, fsha] : base_spec["files"].items()) {
            if (metadata["files"].contains(file) || file.rfind("adapter_", 0) == 0) continue;
            metadata["files"][file] = fsha;
            if (base_spec["sizes"].is_object() && base_spec["sizes"].contains(file)) {
              metadata["sizes"][file] = base_spec["sizes"][file];
            }
          }
          if (metadata["tokenizer"].is_null()) metadata["tokenizer"] = base_spec.value("tokenizer", json());
        }
      }
    }
    mv.blob_sha256 = *sha;
    mv.dataset_version_id = job->dataset_version_id;
    mv.job_id = job->id;
    mv.metrics_json = body->value("metrics", json::object()).dump();
    mv.spec_json = metadata.dump();
    auto size = ctx.blobs.Size(*sha);
    mv.size_bytes = size.ok() ? static_cast<int64_t>(*size) : 0;
    mv.created_at = ctx.clock.NowSeconds();
    auto added = ctx.store.AddModelVersion(u.id, job->output_model, mv);
    if (!added.ok()) return Error(added.status());
    auto moved = ctx.store.TransitionJob(job->id, job->state, jobs::kSucceeded, "", mv.created_at);
    if (!moved.ok()) return Error(moved.status());
    auto fresh = ctx.store.GetJob(u.id, job->id);
    if (fresh.ok()) {
      fresh->model_version_id = added->id;
      fresh->finished_at = mv.created_at;
      IgnoreError(ctx.store.UpdateJob(*fresh));
    }
    std::string acc;
    json metrics = ParseStoredJson(mv.metrics_json);
    if (metrics.contains("val_accuracy")) acc = ", held-out accuracy " + metrics["val_accuracy"].dump();
    if (metrics.contains("eval_loss")) {
      acc = fmt::format(", eval loss {:.4f} (perplexity {:.2f})", metrics["eval_loss"].get<double>(),
                        metrics.value("perplexity", 0.0));
    }
    AddEvent(ctx, u.id, "job", job->id, "succeeded",
             "job " + std::to_string(job->id) + " succeeded: model '" + job->output_model + "' v" +
                 std::to_string(added->version) + acc);
    return JsonResponse(200, {{"model", job->output_model}, {"version", added->version}});
  }), {.summary = "Worker: register the trained model and finish the job"});

  router.AddSync("POST", "/v1/jobs/{id}/fail", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto job = RunningJob(ctx, req, u);
    if (!job.ok()) return Error(job.status());
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto reason = StringField(*body, "reason", true);
    if (!reason.ok()) return Error(reason.status());
    auto step = IntField(*body, "step", 0, 0, std::numeric_limits<int64_t>::max());
    if (!step.ok()) return Error(step.status());
    // The controller classifies the worker's exit: the same error twice at the same step fails
    // the job; a first one is retried.
    auto count = ctx.store.RecordJobError(job->id, *reason, *step, ctx.clock.NowSeconds());
    if (!count.ok()) return Error(count.status());
    return JsonResponse(200, {{"ok", true}, {"count", *count}});
  }), {.summary = "Worker: report an error {reason, step}; the same error twice at a step fails the job"});
}

}  // namespace sskai::api
