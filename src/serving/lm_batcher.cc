// LmBatcher: the scheduler thread that batches generation requests (see lm_batcher.h).
#include "serving/lm_batcher.h"

#include <algorithm>

#include "common/log.h"

namespace sskai::serving {

namespace {

ml::GenerateResult CancelledBeforeStart(const LmBatcher::Job& job) {
  ml::GenerateResult r;
  r.finish_reason = "cancelled";
  r.prompt_tokens = static_cast<int64_t>(job.request.prompt.size());
  return r;
}

bool IsCancelled(const LmBatcher::Job& job) { return job.cancelled && job.cancelled(); }

}  // namespace

Result<LmBatcher::Mode> LmBatcher::ParseMode(const std::string& name) {
  if (name == "continuous") return Mode::kContinuous;
  if (name == "static") return Mode::kStatic;
  return Status::InvalidArgument("batching mode must be 'continuous' or 'static', not '" + name + "'");
}

LmBatcher::LmBatcher(ml::LanguageModel& model, Options options) : model_(model), options_(options) {
  options_.max_batch = std::max(1, options_.max_batch);
  decoder_ = model_.NewDecoder(options_.max_batch);
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
  while (true) {
    std::vector<Job> admitted;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (running_.empty()) {
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        // The model is idle: give concurrent callers a short window to join this batch.
        auto deadline = std::chrono::steady_clock::now() + options_.window;
        cv_.wait_until(lock, deadline, [this] {
          return stop_ || static_cast<int>(queue_.size()) >= options_.max_batch;
        });
      }
      if (stop_) break;
      if (options_.mode == Mode::kContinuous || running_.empty()) {
        size_t room = static_cast<size_t>(options_.max_batch) - running_.size();
        while (!queue_.empty() && admitted.size() < room) {
          admitted.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
    }
    // A client that left while queued costs no prefill.
    std::vector<Job> live;
    for (auto& job : admitted) {
      if (IsCancelled(job)) {
        {
          std::lock_guard<std::mutex> lock(mu_);  // stats first: on_done may end a waiter
          stats_.stopped_early += 1;
        }
        job.on_done(CancelledBeforeStart(job));
      } else {
        live.push_back(std::move(job));
      }
    }
    if (!live.empty()) Admit(live);
    DropCancelled();
    if (!running_.empty()) Step();
  }
  FailRunning(Status::Unavailable("the replica is stopping"));
}

void LmBatcher::Admit(std::vector<Job>& jobs) {
  bool joined = !running_.empty();
  std::vector<ml::GenerateRequest> requests;
  for (const auto& job : jobs) requests.push_back(job.request);
  auto ids = decoder_->Add(requests);
  std::vector<std::vector<Job*>> groups;
  if (ids.ok() || jobs.size() == 1 || ids.status().code() == StatusCode::kInternal) {
    groups.push_back({});
    for (auto& job : jobs) groups.back().push_back(&job);
  } else {
    for (auto& job : jobs) groups.push_back({&job});  // one bad request must not fail the others
  }
  size_t admitted = 0;
  for (auto& group : groups) {
    if (groups.size() > 1) ids = decoder_->Add({group[0]->request});
    if (!ids.ok()) {
      SSKAI_LOG_ERROR("replica: admitting {} request(s) failed: {}", group.size(), ids.status().ToString());
      for (Job* job : group) job->on_done(ids.status());
      if (decoder_->active() != static_cast<int>(running_.size())) FailRunning(ids.status());  // batch lost
      continue;
    }
    for (size_t i = 0; i < group.size(); ++i) running_.emplace((*ids)[i], std::move(*group[i]));
    admitted += group.size();
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.batches += admitted > 0 ? 1 : 0;
  stats_.requests += static_cast<int64_t>(admitted);
  stats_.joined_running += joined ? static_cast<int64_t>(admitted) : 0;
  stats_.largest_batch = std::max(stats_.largest_batch, static_cast<int>(running_.size()));
}

void LmBatcher::DropCancelled() {
  for (auto it = running_.begin(); it != running_.end();) {
    if (!IsCancelled(it->second)) {
      ++it;
      continue;
    }
    auto result = decoder_->Cancel(it->first);
    Job job = std::move(it->second);
    it = running_.erase(it);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.stopped_early += 1;
    }
    job.on_done(std::move(result));
    if (decoder_->active() != static_cast<int>(running_.size())) {
      FailRunning(Status::Internal("the decode batch was lost"));
      break;
    }
  }
}

void LmBatcher::Step() {
  int64_t tokens = 0;
  auto finished = decoder_->Step([&](int64_t sequence, int64_t token) {
    ++tokens;
    auto& job = running_.at(sequence);
    return job.on_token ? job.on_token(token) : true;
  });
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.steps += 1;
    stats_.tokens += tokens;
  }
  if (!finished.ok()) {
    SSKAI_LOG_ERROR("replica: a decode step of {} sequences failed: {}", running_.size(),
                    finished.status().ToString());
    return FailRunning(finished.status());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& f : *finished) stats_.stopped_early += f.result.finish_reason == "cancelled" ? 1 : 0;
  }
  for (auto& f : *finished) {
    auto it = running_.find(f.sequence);
    if (it == running_.end()) continue;
    Job job = std::move(it->second);
    running_.erase(it);
    job.on_done(std::move(f.result));
  }
}

void LmBatcher::FailRunning(const Status& status) {
  auto running = std::move(running_);
  running_.clear();
  for (const auto& [id, job] : running) {
    (void)decoder_->Cancel(id);
  }
  for (auto& [id, job] : running) job.on_done(status);
}

}  // namespace sskai::serving
