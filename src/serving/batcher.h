// src/serving/batcher.h — private to the serving module (replica.cc and tests): dynamic batching
// of predict requests inside a replica.
//
// Requests are queued; a worker thread takes the oldest request, waits until max_batch_size
// requests are queued or the oldest has waited max_delay, concatenates their rows into one
// input, runs ONE forward pass (Predictor::PredictJson) and splits the output back per request.
// With several workers (one per core the replica's passes may use), one gathers the next batch
// while another runs its pass.
// A request whose body is not a plain list of rows ({"rows"|"instances": [...]} or a JSON array
// of row objects/arrays) runs on its own. When the batched pass fails (one request has a bad
// row or shape), every request of the batch is run on its own, so only the bad one gets the
// error. Answers equal the unbatched ones (same rows, same model).
// Thread-safety: Submit is thread-safe; `done` runs on a worker thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/http.h"
#include "ml/ml.h"

namespace sskai::serving {

// The request header the gateway sets on forwarded predicts of an endpoint with batching on:
// "<max_batch_size>,<max_delay_ms>". Absent or size 1: the replica answers unbatched.
inline constexpr const char* kBatchHeader = "x-sskai-batch";

// Parses the header value; nullopt when absent, malformed or size <= 1.
struct BatchSettings {
  int max_batch_size = 1;
  std::chrono::milliseconds max_delay{0};
};
std::optional<BatchSettings> ParseBatchHeader(const std::string& value);

// The rows of a predict body, as JSON texts of an array, or nullopt when the body cannot be
// batched (not a row list, empty, a single bare row object, numbers at the top level, text
// around the rows that is not strict JSON). The row texts are cut out as written, not validated:
// the predictor's parse of the batch rejects an invalid one (and the batch then runs per request).
std::optional<std::vector<std::string>> SplitRows(const std::string& body);

// The answer JSON of the replica's /predict for `out` (all rows).
std::string PredictionsJson(const ml::PredictOutput& out);
// A bare JSON object that is not an envelope ({"instances"|"inputs"|"rows": ...}) is one row.
std::string NormalizeInput(const std::string& body);
// One unbatched predict: the replica's /predict answer for `body`.
http::Response PredictOne(ml::Predictor& predictor, const std::string& body);

class Batcher {
 public:
  using Done = std::function<void(http::Response)>;
  using PredictorFn = std::function<std::shared_ptr<ml::Predictor>()>;
  explicit Batcher(PredictorFn predictor, int workers = 1);
  ~Batcher();  // answers what is still queued (503) and joins the workers
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  void Submit(std::string body, BatchSettings settings, Done done);

  // Forward passes run so far and requests they carried (for tests and logs).
  int64_t batches() const;
  int64_t batched_requests() const;

 private:
  struct Item {
    std::string body;
    BatchSettings settings;
    Done done;
    std::chrono::steady_clock::time_point arrived;
  };
  void Loop();
  void Run(std::vector<Item>& batch, ml::Predictor& predictor);

  PredictorFn predictor_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool stop_ = false;       // guarded by mu_
  int64_t batches_ = 0, batched_requests_ = 0;  // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace sskai::serving
