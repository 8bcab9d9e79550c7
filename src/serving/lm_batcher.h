// src/serving/lm_batcher.h — decode batching for one language model (private to serving).
//
// One scheduler thread owns the model (LanguageModel is not thread-safe) and one running decode
// batch (ml::LmDecoder). Requests queue up; when the model is idle the thread waits at most
// `window` for the queue to fill up to `max_batch`, prefills what is there together and decodes
// it one step (one token per sequence) at a time. Between steps:
//  - kContinuous (default): queued requests join the running batch (prefilled together, then
//    their KV cache rows are added) up to max_batch sequences, without waiting for the others;
//  - kStatic: nobody joins until the whole batch has finished (batch-at-boundaries only).
// A sequence that finishes (stop token, max_tokens, its callback returns false) leaves the batch
// at once and frees its slot; a job whose `cancelled` turns true (client gone) is dropped at the
// next step boundary, or before its prefill if it is still queued. Sampling (temperature, top-k,
// top-p, repetition penalty, seed, stop tokens, max_tokens) is per request: a seeded request
// produces the same tokens alone or in any batch.
// Thread-safety: Submit and stats are thread-safe. Callbacks run on the scheduler thread without
// the batcher's lock (they may call Submit) and must not block.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "ml/ml.h"

namespace sskai::serving {

class LmBatcher {
 public:
  enum class Mode { kContinuous, kStatic };
  struct Options {
    int max_batch = 16;                         // sequences decoding at once
    std::chrono::microseconds window{2000};     // an idle model waits this long for company
    Mode mode = Mode::kContinuous;
  };
  struct Job {
    ml::GenerateRequest request;                // validated by the caller (fits the context)
    std::function<bool(int64_t token)> on_token;  // false: stop this request ("cancelled")
    std::function<void(Result<ml::GenerateResult>)> on_done;  // exactly once
    std::function<bool()> cancelled;            // optional; polled between steps (client gone)
  };
  struct Stats {
    int64_t batches = 0;         // prefills (newcomers admitted together)
    int64_t steps = 0;           // decode steps
    int64_t requests = 0;        // requests admitted
    int64_t joined_running = 0;  // requests admitted while other sequences were decoding
    int64_t tokens = 0;
    int64_t stopped_early = 0;   // requests stopped by their callback or `cancelled` (client gone, stop string)
    int largest_batch = 0;       // most sequences decoding at once
  };

  // "continuous" | "static". kInvalidArgument otherwise.
  static Result<Mode> ParseMode(const std::string& name);

  // Borrows `model`, which must outlive the batcher. Starts the thread.
  LmBatcher(ml::LanguageModel& model, Options options);
  // Fails queued and running jobs with kUnavailable, joins the thread.
  ~LmBatcher();

  void Submit(Job job);
  Stats stats();

 private:
  void Loop();
  // Prefills `jobs` and adds them to the running batch (one by one if the group is refused).
  void Admit(std::vector<Job>& jobs);
  void DropCancelled();
  void Step();
  void FailRunning(const Status& status);

  ml::LanguageModel& model_;
  Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;  // guarded by mu_
  bool stop_ = false;      // guarded by mu_
  Stats stats_;            // guarded by mu_
  // Scheduler thread only:
  std::unique_ptr<ml::LmDecoder> decoder_;
  std::map<int64_t, Job> running_;  // by sequence id
  std::thread thread_;
};

}  // namespace sskai::serving
