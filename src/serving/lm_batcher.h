// src/serving/lm_batcher.h — decode batching for one language model (private to serving).
//
// One scheduler thread owns the model (LanguageModel is not thread-safe). Requests queue up;
// whenever the model is free the thread waits at most `window` for the queue to fill up to
// `max_batch`, takes what is there and runs one batched Generate (batched prefill, then one
// forward per step for every running request with the KV cache). Requests that arrive while a
// batch runs wait for its end (admission between generations: the engine's Generate takes a
// fixed batch). A request finishing early (stop token, stop string, client gone) stops
// consuming sampling work but keeps its slot until the batch ends.
// Thread-safety: Submit and stats are thread-safe; callbacks run on the scheduler thread and
// must not block or call Submit synchronously.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "ml/ml.h"

namespace sskai::serving {

class LmBatcher {
 public:
  struct Options {
    int max_batch = 16;                         // requests per Generate call
    std::chrono::microseconds window{2000};     // wait for company when the model is idle
  };
  struct Job {
    ml::GenerateRequest request;                // validated by the caller (fits the context)
    std::function<bool(int64_t token)> on_token;  // false: stop this request ("cancelled")
    std::function<void(Result<ml::GenerateResult>)> on_done;  // exactly once
  };
  struct Stats {
    int64_t batches = 0;
    int64_t requests = 0;
    int64_t tokens = 0;
    int64_t stopped_early = 0;  // requests whose callback stopped them (client gone, stop string)
    int largest_batch = 0;
  };

  // Borrows `model`, which must outlive the batcher. Starts the thread.
  LmBatcher(ml::LanguageModel& model, Options options);
  // Finishes the running batch, fails queued jobs with kUnavailable, joins the thread.
  ~LmBatcher();

  void Submit(Job job);
  Stats stats();

 private:
  void Loop();
  void RunBatch(std::vector<Job>& jobs);

  ml::LanguageModel& model_;
  Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;  // guarded by mu_
  bool stop_ = false;      // guarded by mu_
  Stats stats_;            // guarded by mu_
  std::thread thread_;
};

}  // namespace sskai::serving
