// JSON views of store rows: one function per type.
#include "api/internal.h"
#include "jobs/jobs.h"
#include "serving/serving.h"

namespace sskai::api {

json UserJson(const store::User& u) {
  return {{"id", u.id}, {"name", u.name}, {"admin", u.is_admin}, {"created_at", u.created_at}};
}

json DatasetJson(const store::Dataset& d) {
  return {{"id", d.id},
          {"name", d.name},
          {"latest_version", d.latest_version},
          {"description", d.description},
          {"created_at", d.created_at}};
}

json DatasetVersionJson(const store::DatasetVersion& v, const std::string& dataset_name) {
  return {{"dataset", dataset_name},
          {"version", v.version},
          {"format", v.format},
          {"sha256", v.blob_sha256},
          {"size_bytes", v.size_bytes},
          {"rows", v.rows},
          {"filename", v.original_filename},
          {"schema", ParseStoredJson(v.schema_json)},
          {"created_at", v.created_at}};
}

json ModelJson(const store::Model& m) {
  return {{"id", m.id}, {"name", m.name}, {"latest_version", m.latest_version},
          {"created_at", m.created_at}, {"owner_id", m.owner_id}, {"visibility", m.visibility}};
}

json ModelVersionJson(ApiContext& ctx, const store::ModelVersion& v, const std::string& model_name) {
  json lineage = json::object();
  if (v.dataset_version_id > 0) {
    auto dv = ctx.store.GetDatasetVersionById(v.dataset_version_id);
    if (dv.ok()) {
      auto ds = ctx.store.GetDatasetById(dv->dataset_id);
      lineage["dataset"] = {{"name", ds.ok() ? ds->name : ""}, {"version", dv->version}};
    }
  }
  if (v.job_id > 0) lineage["job_id"] = v.job_id;
  return {{"model", model_name},
          {"version", v.version},
          {"kind", v.kind},
          {"task", v.task},
          {"sha256", v.blob_sha256},
          {"size_bytes", v.size_bytes},
          {"metrics", ParseStoredJson(v.metrics_json)},
          {"metadata", ParseStoredJson(v.spec_json)},
          {"lineage", lineage},
          {"created_at", v.created_at}};
}

namespace {

json DatasetRef(ApiContext& ctx, int64_t dataset_version_id) {
  auto dv = ctx.store.GetDatasetVersionById(dataset_version_id);
  if (!dv.ok()) return nullptr;
  auto ds = ctx.store.GetDatasetById(dv->dataset_id);
  return {{"name", ds.ok() ? ds->name : ""},
          {"version", dv->version},
          {"format", dv->format},
          {"sha256", dv->blob_sha256}};
}

}  // namespace

json JobJson(ApiContext& ctx, const store::Job& j, std::map<int64_t, json>* memo) {
  json out = {{"id", j.id},
              {"name", j.name},
              {"kind", j.kind},
              {"state", j.state},
              {"reason", j.reason},
              {"spec", ParseStoredJson(j.spec_json)},
              {"output_model", j.output_model},
              {"executor", j.executor},
              {"attempts", j.attempts},
              {"progress", ParseStoredJson(j.progress_json)},
              {"checkpoint", {{"epoch", j.checkpoint_epoch},
                              {"step", j.checkpoint_step},
                              {"available", !j.checkpoint_sha256.empty()},
                              {"previous_available", !j.prev_checkpoint_sha256.empty()}}},
              {"limits", {{"max_attempts", j.max_attempts},
                          {"max_wall_seconds", j.max_wall_seconds},
                          {"max_cost_usd", j.max_cost_usd}}},
              {"retries", j.retries},
              {"preemptions", j.preemptions},
              {"retry_at", j.retry_at > 0 ? json(j.retry_at) : json(nullptr)},
              {"last_error", j.error_message.empty()
                                 ? json(nullptr)
                                 : json{{"message", j.error_message}, {"step", j.error_step},
                                        {"count", j.error_count}}},
              {"created_at", j.created_at},
              {"started_at", j.started_at},
              {"finished_at", j.finished_at},
              {"tags", TagsJson(ctx, "job", j.id)}};
  json dataset;
  if (memo != nullptr && memo->count(j.dataset_version_id) > 0) {
    dataset = (*memo)[j.dataset_version_id];
  } else {
    dataset = DatasetRef(ctx, j.dataset_version_id);
    if (memo != nullptr) (*memo)[j.dataset_version_id] = dataset;
  }
  if (!dataset.is_null()) out["dataset"] = std::move(dataset);
  if (j.model_version_id > 0) {
    auto mv = ctx.store.GetModelVersionById(j.model_version_id);
    if (mv.ok()) out["model_version"] = {{"name", j.output_model}, {"version", mv->version}};
  }
  return out;
}

json EndpointJson(ApiContext& ctx, const store::Endpoint& e) {
  json out = {{"id", e.id},
              {"name", e.name},
              {"state", e.state},
              {"reason", e.reason},
              {"restarts", e.restarts},
              {"url", "/v1/endpoints/" + e.name + "/predict"},
              {"created_at", e.created_at},
              {"updated_at", e.updated_at},
              {"tags", TagsJson(ctx, "endpoint", e.id)}};
  auto mv = ctx.store.GetModelVersionById(e.model_version_id);
  if (mv.ok()) {
    auto model = ctx.store.GetModelById(mv->model_id);
    out["model"] = {{"name", model.ok() ? model->name : ""}, {"version", mv->version},
                    {"task", mv->task}};
  }
  auto replicas = ctx.endpoints.Replicas();
  auto it = replicas.find(e.id);
  json reps = json::array();
  if (it != replicas.end()) {
    for (const auto& r : it->second) {
      json rep = {{"pid", r.pid}, {"host", r.host}, {"port", r.port}, {"ready", r.ready},
                  {"in_flight", r.in_flight}, {"executor", r.slurm ? "slurm" : "local"}};
      if (r.slurm) rep["slurm_job_id"] = r.pid;
      reps.push_back(std::move(rep));
    }
  }
  out["replicas"] = reps;
  auto config = serving::ParseServingConfig(e.config_json);
  if (config.ok()) {
    out["mode"] = config->mode;
    out["config"] = json::parse(serving::ServingConfigJson(*config));
  }
  out["plan"] = ParseStoredJson(e.config_json).value("plan", json(nullptr));
  if (!e.rollout_json.empty()) {  // the latest rollout, as stored (GET .../rollout: live view)
    json r = ParseStoredJson(e.rollout_json);
    out["rollout"] = {{"phase", r.value("phase", "")}, {"canary_percent", r.value("percent", 0)},
                      {"stable", r.value("stable_label", "")}, {"canary", r.value("canary_label", "")},
                      {"reason", r.value("reason", "")}};
  }
  return out;
}

json EventJson(const store::Event& e) {
  return {{"id", e.id},           {"kind", e.kind},       {"subject_id", e.subject_id},
          {"action", e.action},   {"message", e.message}, {"created_at", e.created_at}};
}

json UsageJson(const store::UsageRecord& u) {
  return {{"id", u.id},
          {"subject_kind", u.subject_kind},
          {"subject_id", u.subject_id},
          {"resource", u.resource},
          {"count", u.count},
          {"spot", u.spot},
          {"started_at", u.started_at},
          {"ended_at", u.ended_at > 0 ? json(u.ended_at) : json(nullptr)}};
}

}  // namespace sskai::api
