// The `sskai worker` process: runs one training job, talking to the server over HTTP.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/log.h"
#include "data/data.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "ml/ml.h"

namespace sskai::jobs {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

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
    auto job = link_.Json("GET", jobs_path);
    if (!job.ok()) {
      SSKAI_LOG_ERROR("worker: cannot fetch job: {}", job.status().ToString());
      return 3;
    }
    if (job->value("state", "") != "running") {
      SSKAI_LOG_INFO("worker: job is {}, nothing to do", job->value("state", ""));
      return 0;
    }
    Status st = Train(*job, jobs_path);
    if (st.ok()) return 0;
    if (st.code() == StatusCode::kCancelled) {
      SSKAI_LOG_INFO("worker: stopped by signal");
      return 143;
    }
    if (st.code() == StatusCode::kUnavailable) {
      SSKAI_LOG_ERROR("worker: lost the server: {}", st.ToString());
      return 3;
    }
    SSKAI_LOG_ERROR("worker: job failed: {}", st.message());
    auto r = link_.Json("POST", jobs_path + "/fail", json{{"reason", st.message()}});
    if (!r.ok()) SSKAI_LOG_ERROR("worker: cannot report the failure: {}", r.status().ToString());
    return 2;
  }

 private:
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
    SSKAI_ASSIGN_OR_RETURN(ml::TrainSpec spec,
                           ml::TrainSpecFromJson(spec_json.value("hyperparameters", json::object()).dump()));
    spec.task = spec_json.value("task", "");
    spec.model = spec_json.value("model", "auto");
    SSKAI_ASSIGN_OR_RETURN(ml::Engine * engine, ml::LoadEngine());

    std::string resume;
    int ckpt_epoch = job.contains("checkpoint") ? job["checkpoint"].value("epoch", 0) : 0;
    if (ckpt_epoch > 0) {
      std::string path = options_.work_dir + "/resume.ckpt";
      Status dl = link_.Download(jobs_path + "/checkpoint", path);
      auto verified = dl.ok() ? engine->CheckpointEpoch(path) : Result<int>(dl);
      if (verified.ok()) {
        resume = path;
        SSKAI_LOG_INFO("worker: resuming from the checkpoint of epoch {}", *verified);
      } else {
        SSKAI_LOG_WARN("worker: checkpoint unusable ({}); starting from scratch",
                       verified.status().ToString());
      }
    }

    ml::TrainCallbacks cb;
    cb.should_stop = [] { return g_stop.load(); };
    cb.on_epoch = [&](const ml::EpochMetrics& m) {
      std::string extra;
      for (const auto& [k, v] : m.metrics) {
        if (k != "val_loss") extra += fmt::format(" {}={:.4f}", k, v);
      }
      SSKAI_LOG_INFO("epoch {}/{} train_loss={:.4f} val_loss={:.4f}{} ({:.2f}s)", m.epoch,
                     m.epochs, m.train_loss, m.val_loss, extra, m.seconds);
      auto r = link_.Json("POST", jobs_path + "/metrics", MetricsJson(m));
      if (!r.ok()) SSKAI_LOG_WARN("worker: metrics not delivered: {}", r.status().ToString());
    };
    cb.on_checkpoint = [&](const std::string& path, int epoch) -> Status {
      auto r = link_.Upload(jobs_path + "/checkpoint?epoch=" + std::to_string(epoch), path);
      return r.status();
    };

    data::InspectOptions io;
    io.format = ds.value("format", "");
    io.target = spec_json.value("target", "");
    std::string work = options_.work_dir + "/train";
    fs::create_directories(work);
    Result<ml::TrainResult> result = Status::Internal("unset");
    if (io.format == "idx" || io.format == "image_folder") {
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

  WorkerOptions options_;
  ServerLink link_;
};

}  // namespace

int RunWorker(const WorkerOptions& options) {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  Worker worker(options);
  return worker.Run();
}

}  // namespace sskai::jobs
