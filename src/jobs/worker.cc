// The `sskai worker` process: runs one training job, talking to the server over HTTP.
#include <signal.h>
#include <unistd.h>

#include <chrono>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/log.h"
#include "data/data.h"
#include "http/http.h"
#include "jobs/command_runner.h"
#include "jobs/jobs.h"
#include "jobs/lm_job.h"
#include "ml/ml.h"

namespace sskai::jobs {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// SIGTERM/SIGINT is a preemption notice (cancel and pause use it too): checkpoint at the next
// step boundary, upload, exit kExitPreempted.
std::atomic<bool> g_notice{false};
void OnSignal(int) { g_notice = true; }

// A server connection that retries while the server is away (restart, crash).
class ServerLink {
 public:
  ServerLink(const WorkerOptions& o) : options_(o) {
    headers_["authorization"] = "Bearer " + o.token;
    headers_["content-type"] = "application/json";
  }

  // Retries connection failures and 5xx until server_patience runs out.
  Result<http::ClientResponse> Call(const std::function<Result<http::ClientResponse>(http::Client&)>& fn) {
    auto deadline = std::chrono::steady_clock::now() + options_.server_patience;
    int delay_ms = 200;
    while (true) {
      if (!client_) {
        auto c = http::Client::Create(options_.server_url);
        if (!c.ok()) return c.status();
        client_ = std::move(*c);
      }
      auto r = fn(*client_);
      bool retry = !r.ok() ? (r.status().code() == StatusCode::kUnavailable ||
                              r.status().code() == StatusCode::kDeadlineExceeded)
                           : (r->status == 502 || r->status == 503 || r->status == 504);
      if (!retry) return r;
      if (std::chrono::steady_clock::now() > deadline) {
        return r.ok() ? Result<http::ClientResponse>(Status::Unavailable(
                            "server answered " + std::to_string(r->status)))
                      : r;
      }
      client_.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      delay_ms = std::min(delay_ms * 2, 5000);
    }
  }

  Result<json> Json(const std::string& method, const std::string& target, const json& body = {}) {
    std::string payload = body.is_null() ? "" : body.dump();
    SSKAI_ASSIGN_OR_RETURN(auto r, Call([&](http::Client& c) {
                             return c.Request(method, target, payload, headers_);
                           }));
    return Parse(r, method + " " + target);
  }

  Result<json> Upload(const std::string& target, const std::string& path) {
    auto h = headers_;
    h["content-type"] = "application/octet-stream";
    SSKAI_ASSIGN_OR_RETURN(auto r, Call([&](http::Client& c) {
                             return c.UploadFile("PUT", target, path, h);
                           }));
    return Parse(r, "PUT " + target);
  }

  Status Download(const std::string& target, const std::string& path) {
    SSKAI_ASSIGN_OR_RETURN(auto r, Call([&](http::Client& c) {
                             return c.DownloadToFile(target, path, headers_);
                           }));
    if (r.status != 200) {
      return Status::Unavailable("GET " + target + " answered " + std::to_string(r.status));
    }
    return Status::Ok();
  }

 private:
  static Result<json> Parse(const http::ClientResponse& r, const std::string& what) {
    json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (r.status >= 400) {
      std::string msg = j.is_object() && j.contains("error") ? j["error"].value("message", r.body)
                                                              : r.body;
      return Status(r.status == 404 ? StatusCode::kNotFound : StatusCode::kFailedPrecondition,
                    what + ": " + std::to_string(r.status) + " " + msg);
    }
    if (j.is_discarded()) return json::object();
    return j;
  }

  WorkerOptions options_;
  std::map<std::string, std::string> headers_;
  std::unique_ptr<http::Client> client_;
};

json MetricsJson(const ml::EpochMetrics& m) {
  json values = {{"train_loss", m.train_loss}, {"val_loss", m.val_loss}, {"seconds", m.seconds}};
  for (const auto& [k, v] : m.metrics) values[k] = v;
  return {{"epoch", m.epoch}, {"epochs", m.epochs}, {"values", values}};
}

class Worker {
 public:
  explicit Worker(const WorkerOptions& o) : options_(o), link_(o) {}

  int Run() {
    std::string jobs_path = "/v1/jobs/" + std::to_string(options_.job_id);
    if (options_.world_size > 1 && (options_.rank < 0 || options_.rank >= options_.world_size)) {
      SSKAI_LOG_ERROR("worker: rank {} is outside world size {}", options_.rank, options_.world_size);
      return kExitFailed;
    }
    if (options_.rank > 0) options_.work_dir += "/rank-" + std::to_string(options_.rank);
    auto job = link_.Json("GET", jobs_path);
    // The controller records "running" just after it spawns us; on a busy machine we can ask
    // first. Wait for that move instead of mistaking it for a job that needs no worker.
    const auto provisioning_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (job.ok() && job->value("state", "") == "provisioning" &&
           std::chrono::steady_clock::now() < provisioning_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      job = link_.Json("GET", jobs_path);
    }
    if (!job.ok()) {
      SSKAI_LOG_ERROR("worker: cannot fetch job: {}", job.status().ToString());
      return 3;
    }
    if (job->value("state", "") != "running") {
      SSKAI_LOG_INFO("worker: job is {}, nothing to do", job->value("state", ""));
      return 0;
    }
    Status st = Train(*job, jobs_path);
    if (st.ok()) return kExitOk;
    if (st.code() == StatusCode::kCancelled && NoticeGiven()) {
      SSKAI_LOG_INFO("worker: {}; exiting for the relaunch", st.message());
      return kExitPreempted;
    }
    if (st.code() == StatusCode::kUnavailable) {
      SSKAI_LOG_ERROR("worker: lost the server: {}", st.ToString());
      return kExitNoServer;
    }
    if (NoticeGiven()) {  // e.g. the upload was refused because the job was cancelled
      SSKAI_LOG_INFO("worker: stopped on notice ({})", st.message());
      return kExitPreempted;
    }
    SSKAI_LOG_ERROR("worker: job failed at step {}: {}", last_step_, st.message());
    if (!Leader()) return kExitFailed;  // rank 0 reports (it fails too: the group broke)
    auto r = link_.Json("POST", jobs_path + "/fail", json{{"reason", st.message()}, {"step", last_step_}});
    if (!r.ok()) SSKAI_LOG_ERROR("worker: cannot report the failure: {}", r.status().ToString());
    return kExitFailed;
  }

 private:
  bool Leader() const { return options_.rank == 0; }

  ml::DataParallelOptions DataParallel() const {
    ml::DataParallelOptions dp;
    if (options_.world_size <= 1) return dp;
    dp.rank = options_.rank;
    dp.world_size = options_.world_size;
    dp.store_path = options_.dist_store;
    dp.host = options_.dist_host;
    dp.master_addr = options_.master_addr;
    dp.master_port = options_.master_port;
    SSKAI_LOG_INFO("worker: data-parallel rank {} of {} (rendezvous {})", dp.rank, dp.world_size,
                   dp.master_port > 0 ? "tcp://" + dp.master_addr + ":" + std::to_string(dp.master_port)
                                      : "file://" + dp.store_path);
    return dp;
  }

  bool NoticeGiven() const {
    if (g_notice) return true;
    if (options_.chaos_notice_at_step > 0 && last_step_ >= options_.chaos_notice_at_step) return true;
    return !options_.notice_file.empty() && ::access(options_.notice_file.c_str(), F_OK) == 0;
  }

  // Downloads the job's checkpoint (`which` = "" latest, "previous") and verifies its sha256.
  bool FetchCheckpoint(ml::Engine* engine, const std::string& jobs_path, const std::string& which,
                       const std::string& path) {
    std::string target = jobs_path + "/checkpoint" + (which.empty() ? "" : "?which=" + which);
    Status dl = link_.Download(target, path);
    if (!dl.ok()) {
      SSKAI_LOG_WARN("worker: cannot download the {} checkpoint: {}", which.empty() ? "latest" : which,
                     dl.ToString());
      return false;
    }
    auto pos = engine->ReadCheckpointPosition(path);
    if (!pos.ok()) {
      SSKAI_LOG_WARN("worker: the {} checkpoint is unusable: {}", which.empty() ? "latest" : which,
                     pos.status().ToString());
      return false;
    }
    last_step_ = pos->global_step;
    SSKAI_LOG_INFO("worker: resuming from the checkpoint of epoch {} step {} (global step {})", pos->epoch,
                   pos->step_in_epoch, pos->global_step);
    return true;
  }

  // A user's own command under the environment contract of docs/jobs.md.
  Status RunCustom(const json& job, const std::string& jobs_path, const ExecutionSpec& exec,
                   const std::string& data_path, const json& ds) {
    const std::string data_dir = options_.work_dir + "/data", ckpt_dir = options_.work_dir + "/checkpoints",
                      out_dir = options_.work_dir + "/output";
    for (const auto& d : {data_dir, ckpt_dir, out_dir}) fs::create_directories(d);
    std::string data_file = data_dir + "/dataset." + ds.value("format", "bin");
    std::error_code ec;
    fs::remove(data_file, ec);
    fs::create_symlink(data_path, data_file, ec);
    if (ec) return Status::Internal("cannot link the dataset into " + data_dir + ": " + ec.message());
    CommandSpec spec;
    spec.argv = exec.command;
    spec.work_dir = options_.work_dir;
    spec.env = {{"SSKAI_DATA_DIR", data_dir}, {"SSKAI_DATASET_FILE", data_file},
                {"SSKAI_CHECKPOINT_DIR", ckpt_dir}, {"SSKAI_OUTPUT_DIR", out_dir},
                {"SSKAI_NOTICE_FILE", options_.notice_file}, {"SSKAI_JOB_ID", std::to_string(options_.job_id)},
                {"SSKAI_HYPERPARAMETERS", job.at("spec").value("hyperparameters", json::object()).dump()}};
    if (job.contains("checkpoint") && job["checkpoint"].value("available", false)) {
      std::string path = ckpt_dir + "/resume.ckpt";
      Status dl = link_.Download(jobs_path + "/checkpoint", path);
      if (dl.ok()) {
        last_step_ = job["checkpoint"].value("step", 0);
        spec.env["SSKAI_RESUME_CHECKPOINT"] = path;
        spec.env["SSKAI_RESUME_STEP"] = std::to_string(last_step_);
        SSKAI_LOG_INFO("worker: resuming the command from its checkpoint of step {}", last_step_);
      } else {
        SSKAI_LOG_WARN("worker: cannot download the checkpoint ({}); starting from scratch", dl.ToString());
      }
    }
    CommandCallbacks cb;
    cb.notice = [this] { return NoticeGiven(); };
    cb.on_metric = [&](int64_t step, const std::map<std::string, double>& values) {
      last_step_ = std::max(last_step_, step);
      json body = {{"epoch", step}, {"step", step}, {"values", values}};
      auto r = link_.Json("POST", jobs_path + "/metrics", body);
      if (!r.ok()) SSKAI_LOG_WARN("worker: metrics not delivered: {}", r.status().ToString());
    };
    cb.on_checkpoint = [&](const std::string& path, int64_t step) -> Status {
      if (!fs::is_regular_file(path)) return Status::NotFound("no checkpoint file " + path);
      last_step_ = std::max(last_step_, step);
      return link_.Upload(jobs_path + "/checkpoint?epoch=0&step=" + std::to_string(step), path).status();
    };
    SSKAI_LOG_INFO("worker: running command {}", json(exec.command).dump());
    SSKAI_ASSIGN_OR_RETURN(CommandOutcome out, RunCommand(spec, cb));
    if (!out.failure.empty()) return Status::Internal(out.failure);
    if (out.noticed && out.exit_code != 0) {
      return Status::Cancelled("command stopped on notice at step " + std::to_string(last_step_));
    }
    if (out.exit_code == 127) return Status::NotFound("command not found: " + exec.command[0]);
    if (out.signal != 0) return Status::Internal("command killed by signal " + std::to_string(out.signal));
    if (out.exit_code == kExitPreempted) return Status::Cancelled("command exited on notice");
    if (out.exit_code != 0) return Status::Internal("command exited with code " + std::to_string(out.exit_code));
    std::string model = out_dir + "/model";
    if (!fs::is_regular_file(model)) {
      return Status::InvalidArgument("the command succeeded but wrote no model file ($SSKAI_OUTPUT_DIR/model)");
    }
    SSKAI_ASSIGN_OR_RETURN(json uploaded, link_.Upload(jobs_path + "/model", model));
    json done = {{"sha256", uploaded.value("sha256", "")},
                 {"metrics", json::object()},
                 {"metadata", {{"format", "custom"}, {"command", exec.command}}}};
    SSKAI_ASSIGN_OR_RETURN(json completed, link_.Json("POST", jobs_path + "/complete", done));
    SSKAI_LOG_INFO("worker: done; model {} v{}", completed.value("model", ""), completed.value("version", 0));
    return Status::Ok();
  }

  Status Train(const json& job, const std::string& jobs_path) {
    fs::create_directories(options_.work_dir);
    const json& ds = job.at("dataset");
    std::string data_path = options_.work_dir + "/dataset-" + ds.value("sha256", "x");
    if (!fs::exists(data_path)) {
      std::string target = "/v1/datasets/" + http::UrlEncode(ds.value("name", "")) + "/versions/" +
                           std::to_string(ds.value("version", 0)) + "/content";
      SSKAI_RETURN_IF_ERROR(link_.Download(target, data_path));
    }
    const json& spec_json = job.at("spec");
    if (job.value("kind", "") == "lm") return TrainLm(job, jobs_path, data_path);
    SSKAI_ASSIGN_OR_RETURN(ExecutionSpec exec, ParseExecutionSpec(spec_json.dump()));
    if (options_.world_size > 1 && !exec.command.empty()) {
      return Status::InvalidArgument("tasks > 1 needs a built-in model (custom commands run one task)");
    }
    if (!exec.command.empty()) return RunCustom(job, jobs_path, exec, data_path, ds);
    SSKAI_ASSIGN_OR_RETURN(ml::TrainSpec spec,
                           ml::TrainSpecFromJson(spec_json.value("hyperparameters", json::object()).dump()));
    spec.task = spec_json.value("task", "");
    spec.model = spec_json.value("model", "auto");
    SSKAI_ASSIGN_OR_RETURN(ml::Engine * engine, ml::LoadEngine());

    std::string resume;
    if (job.contains("checkpoint") && job["checkpoint"].value("available", false)) {
      std::string path = options_.work_dir + "/resume.ckpt";
      if (FetchCheckpoint(engine, jobs_path, "", path) ||
          (job["checkpoint"].value("previous_available", false) &&
           FetchCheckpoint(engine, jobs_path, "previous", path))) {
        resume = path;
      } else {
        last_step_ = 0;
        SSKAI_LOG_WARN("worker: no usable checkpoint; starting from scratch");
      }
    }

    ml::TrainCallbacks cb;
    cb.checkpoint_and_stop = [this] { return NoticeGiven(); };
    auto last_step_time = std::chrono::steady_clock::now();
    cb.on_step = [this, &last_step_time](int64_t step, double) {
      last_step_ = step;
      last_step_time = std::chrono::steady_clock::now();
    };
    cb.checkpoint_every_seconds = exec.checkpoint_interval_seconds;
    cb.checkpoint_every_steps = exec.checkpoint_interval_steps;
    cb.data_parallel = DataParallel();
    cb.on_epoch = [&](const ml::EpochMetrics& m) {
      if (!Leader()) return;
      std::string extra;
      for (const auto& [k, v] : m.metrics) {
        if (k != "val_loss") extra += fmt::format(" {}={:.4f}", k, v);
      }
      SSKAI_LOG_INFO("epoch {}/{} train_loss={:.4f} val_loss={:.4f}{} ({:.2f}s)", m.epoch,
                     m.epochs, m.train_loss, m.val_loss, extra, m.seconds);
      json body = MetricsJson(m);
      body["step"] = last_step_;
      auto r = link_.Json("POST", jobs_path + "/metrics", body);
      if (!r.ok()) SSKAI_LOG_WARN("worker: metrics not delivered: {}", r.status().ToString());
    };
    cb.on_checkpoint = [&](const std::string& path, int epoch) -> Status {
      // The checkpoint was written between the last step and now (epoch ends also evaluate).
      auto started = std::chrono::steady_clock::now();
      double write_s = std::chrono::duration<double>(started - last_step_time).count();
      auto r = link_.Upload(jobs_path + "/checkpoint?epoch=" + std::to_string(epoch) +
                                "&step=" + std::to_string(last_step_),
                            path);
      SSKAI_LOG_INFO("worker: checkpoint at step {} (epoch {}) written in {:.4f} s, uploaded in {:.4f} s",
                     last_step_, epoch, write_s,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      return r.status();
    };

    data::InspectOptions io;
    io.format = ds.value("format", "");
    io.target = spec_json.value("target", "");
    std::string work = options_.work_dir + "/train";
    fs::create_directories(work);
    Result<ml::TrainResult> result = Status::Internal("unset");
    if (spec_json.contains("base") && spec_json["base"].is_object()) {
      // An uploaded TorchScript model trained further on raw CSV features.
      const json& base = spec_json["base"];
      std::string base_path = options_.work_dir + "/base-" + base.value("sha256", "x") + ".pt";
      if (!fs::exists(base_path)) {
        std::string target = "/v1/models/" + http::UrlEncode(base.value("model", "")) + "/versions/" +
                             std::to_string(base.value("version", 0)) + "/content";
        SSKAI_RETURN_IF_ERROR(link_.Download(target, base_path));
      }
      SSKAI_LOG_INFO("worker: training TorchScript model {} v{} further", base.value("model", ""),
                     base.value("version", 0));
      result = engine->TrainTorchScript(base_path, data_path, io.target, spec, resume, work, cb);
    } else if (io.format == "idx" || io.format == "image_folder") {
      SSKAI_ASSIGN_OR_RETURN(data::ImageData images, data::LoadImages(data_path, io));
      SSKAI_LOG_INFO("worker: {} images {}x{}x{}, {} classes", images.count, images.channels,
                     images.height, images.width, images.classes.size());
      result = engine->TrainImages(images, spec, resume, work, cb);
    } else if (io.format == "csv") {
      SSKAI_ASSIGN_OR_RETURN(data::TabularData table, data::LoadTabular(data_path, io, spec.task));
      SSKAI_LOG_INFO("worker: {} rows, {} features, {} classes", table.rows, table.features,
                     table.classes.size());
      result = engine->TrainTabular(table, spec, resume, work, cb);
    } else {
      return Status::InvalidArgument("datasets of format '" + io.format +
                                     "' cannot train the built-in models (use csv, idx or image_folder)");
    }
    if (!result.ok()) return result.status();
    if (!Leader()) {
      SSKAI_LOG_INFO("worker: rank {} done", options_.rank);
      return Status::Ok();
    }
    SSKAI_ASSIGN_OR_RETURN(json uploaded, link_.Upload(jobs_path + "/model", result->model_path));
    json metrics = json::object();
    for (const auto& [k, v] : result->metrics) metrics[k] = v;
    json done = {{"sha256", uploaded.value("sha256", "")},
                 {"metrics", metrics},
                 {"metadata", json::parse(result->metadata_json, nullptr, false)}};
    SSKAI_ASSIGN_OR_RETURN(json completed, link_.Json("POST", jobs_path + "/complete", done));
    SSKAI_LOG_INFO("worker: done; model {} v{}", completed.value("model", ""),
                   completed.value("version", 0));
    return Status::Ok();
  }

  // Language-model jobs (fine-tuning, pretraining): see jobs/lm_job.h.
  Status TrainLm(const json& job, const std::string& jobs_path, const std::string& data_path) {
    if (job.contains("checkpoint") && job["checkpoint"].value("available", false)) {
      last_step_ = job["checkpoint"].value("step", 0);
    }
    LmJobIo io;
    io.upload = [this](const std::string& target, const std::string& path) -> Result<std::string> {
      SSKAI_ASSIGN_OR_RETURN(json r, link_.Upload(target, path));
      return r.dump();
    };
    io.download = [this](const std::string& target, const std::string& path) { return link_.Download(target, path); };
    io.call = [this](const std::string& method, const std::string& target, const std::string& body) -> Result<std::string> {
      SSKAI_ASSIGN_OR_RETURN(json r, link_.Json(method, target, json::parse(body, nullptr, false)));
      return r.dump();
    };
    io.notice = [this] { return NoticeGiven(); };
    io.set_step = [this](int64_t step) { last_step_ = step; };
    return RunLmWorkerJob(job.dump(), jobs_path, data_path, options_.work_dir, DataParallel(), io);
  }

  WorkerOptions options_;
  ServerLink link_;
  int64_t last_step_ = 0;  // global optimizer step reached (the resume point before any step)
};

}  // namespace

int RunWorker(const WorkerOptions& options) {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  // The local executor launches workers with these blocked (LaunchSpec::hold_stop_signals): a
  // notice that came before this point is delivered now, to the handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_UNBLOCK, &stop_signals, nullptr);
  Worker worker(options);
  return worker.Run();
}

}  // namespace sskai::jobs
