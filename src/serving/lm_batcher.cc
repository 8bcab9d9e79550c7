// LmBatcher: the scheduler thread that batches generation requests (see lm_batcher.h).
#include "serving/lm_batcher.h"

#include <algorithm>

#include "common/log.h"

namespace sskai::serving {

LmBatcher::LmBatcher(ml::LanguageModel& model, Options options)
    : model_(model), options_(options) {
  options_.max_batch = std::max(1, options_.max_batch);
  thread_ = std::thread([this] { Loop(); });
}

LmBatcher::~LmBatcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (auto& job : queue_) job.on_done(Status::Unavailable("the replica is stopping"));
}

void LmBatcher::Submit(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stop_) {
      queue_.push_back(std::move(job));
      cv_.notify_all();
      return;
    }
  }
  job.on_done(Status::Unavailable("the replica is stopping"));
}

LmBatcher::Stats LmBatcher::stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void LmBatcher::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    // The model is idle: give concurrent callers a short window to join this batch.
    auto deadline = std::chrono::steady_clock::now() + options_.window;
    cv_.wait_until(lock, deadline, [this] {
      return stop_ || static_cast<int>(queue_.size()) >= options_.max_batch;
    });
    if (stop_) return;
    std::vector<Job> jobs;
    while (!queue_.empty() && static_cast<int>(jobs.size()) < options_.max_batch) {
      jobs.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    stats_.batches += 1;
    stats_.requests += static_cast<int64_t>(jobs.size());
    stats_.largest_batch = std::max(stats_.largest_batch, static_cast<int>(jobs.size()));
    lock.unlock();
    RunBatch(jobs);
    lock.lock();
  }
}

void LmBatcher::RunBatch(std::vector<Job>& jobs) {
  std::vector<ml::GenerateRequest> requests;
  requests.reserve(jobs.size());
  for (auto& job : jobs) requests.push_back(job.request);
  int64_t tokens = 0;
  auto results = model_.Generate(requests, [&](size_t index, int64_t token) {
    ++tokens;
    return jobs[index].on_token ? jobs[index].on_token(token) : true;
  });
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.tokens += tokens;
  }
  if (!results.ok()) {
    SSKAI_LOG_ERROR("replica: generation of a batch of {} failed: {}", jobs.size(),
                    results.status().ToString());
    for (auto& job : jobs) job.on_done(results.status());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : *results) stats_.stopped_early += r.finish_reason == "cancelled" ? 1 : 0;
  }
  for (size_t i = 0; i < jobs.size(); ++i) jobs[i].on_done(std::move((*results)[i]));
}

}  // namespace sskai::serving
