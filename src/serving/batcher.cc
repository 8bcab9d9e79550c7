// Dynamic batching inside a replica: queue, coalesce, one forward pass, split back.
#include "serving/batcher.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <type_traits>

namespace sskai::serving {

using nlohmann::json;

std::optional<BatchSettings> ParseBatchHeader(const std::string& value) {
  size_t comma = value.find(',');
  if (value.empty() || comma == std::string::npos) return std::nullopt;
  BatchSettings s;
  try {
    s.max_batch_size = std::stoi(value.substr(0, comma));
    s.max_delay = std::chrono::milliseconds(std::stoi(value.substr(comma + 1)));
  } catch (...) {
    return std::nullopt;
  }
  if (s.max_batch_size <= 1 || s.max_batch_size > 1024 || s.max_delay.count() < 0 ||
      s.max_delay.count() > 1000) {
    return std::nullopt;
  }
  return s;
}

std::optional<std::vector<std::string>> SplitRows(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  const json* rows = nullptr;
  if (j.is_array()) {
    rows = &j;
  } else if (j.is_object() && j.size() == 1 && (j.contains("rows") || j.contains("instances"))) {
    rows = j.contains("rows") ? &j["rows"] : &j["instances"];
  }
  if (rows == nullptr || !rows->is_array() || rows->empty()) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(rows->size());
  for (const json& row : *rows) {
    if (!row.is_object() && !row.is_array()) return std::nullopt;  // a bare vector: ambiguous
    out.push_back(row.dump());
  }
  return out;
}

std::string PredictionsJson(const ml::PredictOutput& out) {
  json j;
  if (!out.labels.empty() || !out.classes.empty()) {
    j["predictions"] = out.labels;
    j["probabilities"] = out.probabilities;
    j["classes"] = out.classes;
  } else {
    j["predictions"] = out.values;
  }
  return j.dump();
}

std::string NormalizeInput(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.contains("instances") || j.contains("inputs") || j.contains("rows")) {
    return body;
  }
  return json::array({j}).dump();
}

http::Response PredictOne(ml::Predictor& predictor, const std::string& body) {
  auto out = predictor.PredictJson(NormalizeInput(body));
  if (!out.ok()) return http::ErrorResponse(out.status());
  return http::Response::Json(200, PredictionsJson(*out));
}

namespace {

// Rows [begin, begin + n) of `all`.
ml::PredictOutput Slice(const ml::PredictOutput& all, size_t begin, size_t n) {
  ml::PredictOutput out;
  out.classes = all.classes;
  auto part = [begin, n](const auto& v) {
    using V = std::decay_t<decltype(v)>;
    if (v.size() < begin + n) return V{};
    return V(v.begin() + static_cast<std::ptrdiff_t>(begin),
             v.begin() + static_cast<std::ptrdiff_t>(begin + n));
  };
  out.labels = part(all.labels);
  out.probabilities = part(all.probabilities);
  out.values = part(all.values);
  return out;
}

size_t RowCount(const ml::PredictOutput& out) {
  return std::max({out.labels.size(), out.probabilities.size(), out.values.size()});
}

}  // namespace

Batcher::Batcher(PredictorFn predictor)
    : predictor_(std::move(predictor)), worker_([this] { Loop(); }) {}

Batcher::~Batcher() {
  std::deque<Item> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    left.swap(queue_);
  }
  cv_.notify_all();
  worker_.join();
  for (auto& item : left) {
    item.done(http::ErrorResponse(Status::Unavailable("the replica is stopping")));
  }
}

void Batcher::Submit(std::string body, BatchSettings settings, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Item{std::move(body), settings, std::move(done),
                          std::chrono::steady_clock::now()});
  }
  cv_.notify_one();
}

int64_t Batcher::batches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_;
}

int64_t Batcher::batched_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batched_requests_;
}

void Batcher::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const BatchSettings s = queue_.front().settings;
    const auto deadline = queue_.front().arrived + s.max_delay;
    cv_.wait_until(lock, deadline, [this, &s] {
      return stop_ || static_cast<int>(queue_.size()) >= s.max_batch_size;
    });
    if (stop_) return;
    std::vector<Item> batch;
    while (!queue_.empty() && static_cast<int>(batch.size()) < s.max_batch_size) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    batches_ += 1;
    batched_requests_ += static_cast<int64_t>(batch.size());
    lock.unlock();
    std::shared_ptr<ml::Predictor> predictor = predictor_();
    if (!predictor) {
      for (auto& item : batch) item.done(http::ErrorResponse(Status::Unavailable("no model loaded")));
    } else {
      Run(batch, *predictor);
    }
    lock.lock();
  }
}

void Batcher::Run(std::vector<Item>& batch, ml::Predictor& predictor) {
  std::vector<size_t> rows(batch.size(), 0);
  std::string input = "[";
  size_t total = 0;
  for (size_t idx = 0; idx < batch.size(); ++idx) {
    auto split = SplitRows(batch[idx].body);
    if (!split) continue;  // runs on its own below
    rows[idx] = split->size();
    for (const std::string& row : *split) {
      if (total > 0) input += ',';
      input += row;
      ++total;
    }
  }
  input += ']';
  std::optional<ml::PredictOutput> all;
  if (total > 0) {
    auto out = predictor.PredictJson(input);
    if (out.ok() && RowCount(*out) == total) all = std::move(*out);
  }
  size_t offset = 0;
  for (size_t idx = 0; idx < batch.size(); ++idx) {
    Item& item = batch[idx];
    if (rows[idx] > 0 && all) {
      item.done(http::Response::Json(200, PredictionsJson(Slice(*all, offset, rows[idx]))));
      offset += rows[idx];
    } else {
      item.done(PredictOne(predictor, item.body));  // not batchable, or the batch failed
    }
  }
}

}  // namespace sskai::serving
