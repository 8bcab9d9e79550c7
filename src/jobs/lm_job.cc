// The worker's "lm" job kind: lmdata::RunLmJob driven through the server's worker routes.
#include "jobs/lm_job.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/sha256.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "lmdata/lmdata.h"
#include "ml/ml.h"

namespace sskai::jobs {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Downloads and unpacks the job's checkpoint (`which` = "" latest, "previous") into `dir`.
bool FetchLmCheckpoint(LmJobIo& io, const std::string& jobs_path, const std::string& which,
                       const std::string& work_dir, const std::string& dir) {
  std::string packed = work_dir + "/resume.lmc";
  std::string target = jobs_path + "/checkpoint" + (which.empty() ? "" : "?which=" + which);
  Status st = io.download(target, packed);
  if (st.ok()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    st = lmdata::UnpackDirectory(packed, dir);
  }
  if (!st.ok()) {
    SSKAI_LOG_WARN("worker: the {} checkpoint is unusable: {}", which.empty() ? "latest" : which, st.ToString());
    return false;
  }
  return true;
}

// The output file set → blobs, and the manifest of the shared LM contract.
Result<json> UploadFileSet(LmJobIo& io, const std::string& jobs_path, const lmdata::LmRunResult& r,
                           const json& spec) {
  json files = json::object(), sizes = json::object();
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(r.output_dir)) {
    if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    SSKAI_ASSIGN_OR_RETURN(std::string body, io.upload(jobs_path + "/model", r.output_dir + "/" + name));
    json up = json::parse(body, nullptr, false);
    if (!up.is_object() || !up.contains("sha256")) return Status::Internal("model upload answered " + body);
    files[name] = up["sha256"];
    sizes[name] = fs::file_size(r.output_dir + "/" + name);
  }
  const ml::LmConfig& c = r.config;
  json manifest = {
      {"type", "lm"}, {"files", files}, {"sizes", sizes},
      {"config", {{"model_type", c.model_type}, {"hidden_size", c.hidden_size},
                  {"num_hidden_layers", c.num_hidden_layers}, {"num_attention_heads", c.num_attention_heads},
                  {"num_key_value_heads", c.num_key_value_heads}, {"vocab_size", c.vocab_size},
                  {"max_position_embeddings", c.max_position_embeddings}, {"intermediate_size", c.intermediate_size}}},
      {"parameters", r.parameters},
      {"tokenizer", r.adapter ? json(nullptr) : json(r.tokenizer_file)},
      {"chat_template", r.chat_template},
      {"training_precision", r.precision},
      {"adapter", false},
      {"source", {{"kind", "job"}, {"pretrained", spec.contains("config")}}}};
  if (r.adapter) {
    const json& lora = spec["hyperparameters"]["lora"];
    json base = spec.value("base", json::object());
    manifest["adapter"] = {{"base_model", base.value("name", spec.value("base_model", ""))},
                           {"base_version", base.value("version", 0)},
                           {"rank", lora.value("rank", 0)}, {"alpha", lora.value("alpha", 0.0)}};
  }
  return manifest;
}

}  // namespace

Status RunLmWorkerJob(const std::string& job_json, const std::string& jobs_path, const std::string& data_path,
                      const std::string& work_dir, const ml::DataParallelOptions& data_parallel, LmJobIo& io) {
  const bool leader = data_parallel.rank == 0;
  json job = json::parse(job_json, nullptr, false);
  const json& spec_json = job.at("spec");
  SSKAI_ASSIGN_OR_RETURN(lmdata::LmJobSpec spec, lmdata::ParseLmJobSpec(spec_json.dump()));
  SSKAI_ASSIGN_OR_RETURN(ExecutionSpec exec, ParseExecutionSpec(spec_json.dump()));
  if (spec.train.checkpoint_every == 0 && exec.checkpoint_interval_steps > 0) {
    spec.train.checkpoint_every = static_cast<int>(exec.checkpoint_interval_steps);
  }
  SSKAI_ASSIGN_OR_RETURN(ml::Engine * engine, ml::LoadEngine());

  lmdata::LmRunInput in;
  in.spec = spec;
  in.data_path = data_path;
  in.data_format = "jsonl";
  in.base_dir = spec_json.value("base_dir", "");
  in.work_dir = work_dir + "/lm";
  in.output_dir = work_dir + "/lm-output";
  in.data_parallel = data_parallel;
  std::error_code ec;
  fs::create_directories(in.work_dir, ec);
  if (job.contains("checkpoint") && job["checkpoint"].value("available", false)) {
    std::string dir = in.work_dir + "/resume";
    if (FetchLmCheckpoint(io, jobs_path, "", in.work_dir, dir) ||
        (job["checkpoint"].value("previous_available", false) &&
         FetchLmCheckpoint(io, jobs_path, "previous", in.work_dir, dir))) {
      in.resume_dir = dir;
      SSKAI_LOG_INFO("worker: resuming the LM job from its checkpoint");
    } else {
      SSKAI_LOG_WARN("worker: no usable checkpoint; starting from scratch");
      io.set_step(0);
    }
  }

  lmdata::LmRunCallbacks cb;
  cb.log = [](const std::string& m) { SSKAI_LOG_INFO("worker: {}", m); };
  cb.should_stop = [&io] { return io.notice(); };
  cb.on_step = [&](const ml::LmStepMetrics& m, double tps) {
    io.set_step(m.step);
    if (!leader) return;
    SSKAI_LOG_INFO("step {}/{} loss={:.4f} lr={:.3e} grad_norm={:.3f} tokens/s={:.0f}", m.step, m.steps, m.loss,
                   m.learning_rate, m.grad_norm, tps);
    json body = {{"epoch", m.step}, {"epochs", m.steps}, {"step", m.step},
                 {"values", {{"loss", m.loss}, {"lr", m.learning_rate}, {"grad_norm", m.grad_norm},
                             {"tokens", m.tokens}, {"tokens_per_second", tps}}}};
    auto r = io.call("POST", jobs_path + "/metrics", body.dump());
    if (!r.ok()) SSKAI_LOG_WARN("worker: metrics not delivered: {}", r.status().ToString());
  };
  cb.on_checkpoint = [&](const std::string& packed, int step) -> Status {
    io.set_step(step);
    auto r = io.upload(jobs_path + "/checkpoint?epoch=0&step=" + std::to_string(step), packed);
    SSKAI_LOG_INFO("worker: checkpoint at step {} uploaded", step);
    return r.status();
  };
  SSKAI_ASSIGN_OR_RETURN(lmdata::LmRunResult result, lmdata::RunLmJob(*engine, in, cb));
  if (result.resumed_from_step > 0) {
    SSKAI_LOG_INFO("worker: resumed at step {}", result.resumed_from_step);
  }
  if (!leader) {  // rank 0 holds the same weights and reports them
    SSKAI_LOG_INFO("worker: rank {} done", data_parallel.rank);
    fs::remove_all(in.output_dir, ec);
    return Status::Ok();
  }
  SSKAI_ASSIGN_OR_RETURN(json manifest, UploadFileSet(io, jobs_path, result, spec_json));
  std::string manifest_path = work_dir + "/lm-manifest.json";
  {
    std::ofstream out(manifest_path, std::ios::trunc);
    out << manifest.dump();
    if (!out) return Status::Internal("cannot write " + manifest_path);
  }
  SSKAI_ASSIGN_OR_RETURN(std::string up_body, io.upload(jobs_path + "/model", manifest_path));
  json up = json::parse(up_body, nullptr, false);
  json metrics = json::object();
  for (const auto& [k, v] : result.metrics) metrics[k] = v;
  json done = {{"sha256", up.is_object() ? up.value("sha256", "") : ""}, {"metrics", metrics},
               {"metadata", manifest}};
  SSKAI_ASSIGN_OR_RETURN(std::string completed, io.call("POST", jobs_path + "/complete", done.dump()));
  SSKAI_LOG_INFO("worker: done; {}", completed);
  fs::remove_all(in.output_dir, ec);
  return Status::Ok();
}

}  // namespace sskai::jobs
