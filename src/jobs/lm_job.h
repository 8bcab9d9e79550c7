// src/jobs/lm_job.h — the worker's "lm" job kind (private to the jobs module): fine-tuning or
// pretraining a language model, with the same checkpoint/notice protocol as the built-in models.
// Thread-safety: runs on the worker's main thread.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "ml/ml.h"

namespace sskai::jobs {

// The worker's server link, reduced to what an LM job needs.
struct LmJobIo {
  // PUT a file; returns the response body (JSON text).
  std::function<Result<std::string>(const std::string& target, const std::string& path)> upload;
  // GET a file into `path`.
  std::function<Status(const std::string& target, const std::string& path)> download;
  // A JSON call; returns the response body.
  std::function<Result<std::string>(const std::string& method, const std::string& target,
                                    const std::string& body)> call;
  std::function<bool()> notice;                  // a preemption notice is pending
  std::function<void(int64_t step)> set_step;    // the global step reached (for failure reports)
};

// Runs job `job_json` (GET /v1/jobs/{id}) whose dataset file is `data_path`: resumes from the
// job's checkpoint when it has one (falling back to the previous one, then to a fresh start),
// streams per-step metrics, uploads packed checkpoints (every checkpoint_every steps and on
// notice), then uploads the output file set and its manifest and completes the job.
// Data parallel (data_parallel.world_size > 1): every rank runs this on its own work_dir and
// resumes from the same (downloaded) checkpoint; only rank 0 streams metrics, uploads checkpoints
// and the output and completes the job — the other ranks return OK after training.
// Errors: as lmdata::RunLmJob; kCancelled after a notice checkpoint.
Status RunLmWorkerJob(const std::string& job_json, const std::string& jobs_path, const std::string& data_path,
                      const std::string& work_dir, const ml::DataParallelOptions& data_parallel, LmJobIo& io);

}  // namespace sskai::jobs
