// bench/jobs_controller_bench.cc — the job controller with 1,000 queued jobs: memory, the time of
// one reconciliation pass (scheduling latency), and the time to drain the queue through a fake
// executor whose workers finish at once. Usage: jobs_controller_bench [jobs=1000] [max_running=2]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "jobs/jobs.h"
#include "store/store.h"

namespace {

using namespace sskai;

long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

// Workers that exist until told to exit; the bench finishes them as soon as they start.
class InstantExecutor : public jobs::Executor {
 public:
  std::string name() const override { return "bench"; }
  Result<jobs::WorkerHandle> Launch(const jobs::LaunchSpec&) override {
    int pid = next_pid_++;
    alive_[pid] = true;
    return jobs::WorkerHandle{pid, "t"};
  }
  jobs::ExitInfo Poll(const jobs::WorkerHandle& h) override {
    jobs::ExitInfo info;
    if (alive_[h.pid]) return info;
    info.exited = true;
    info.exit_code = 0;
    return info;
  }
  void Signal(const jobs::WorkerHandle& h, bool) override { alive_[h.pid] = false; }
  void FinishAll() {
    for (auto& [pid, alive] : alive_) alive = false;
  }

 private:
  int next_pid_ = 1000;
  std::map<int, bool> alive_;
};

double Ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  int count = argc > 1 ? std::atoi(argv[1]) : 1000;
  int max_running = argc > 2 ? std::atoi(argv[2]) : 2;
  std::string dir = (std::filesystem::temp_directory_path() / ("sskai-jobs-bench-" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  auto store = store::Store::Open(dir + "/meta.db");
  if (!store.ok()) return std::fprintf(stderr, "%s\n", store.status().ToString().c_str()), 1;
  auto user = (*store)->CreateUser("bench", false, 1);
  SystemClock& clock = SystemClock::Default();
  auto created = std::chrono::steady_clock::now();
  for (int idx = 0; idx < count; ++idx) {
    store::Job job;
    job.owner_id = user->id;
    job.name = "job-" + std::to_string(idx);
    job.state = jobs::kQueued;
    job.spec_json = R"({"task":"classification","hyperparameters":{"epochs":5}})";
    job.created_at = clock.NowSeconds();
    if (!(*store)->CreateJob(job).ok()) return 1;
  }
  double create_ms = Ms(created);
  long rss_before = RssKiB();
  InstantExecutor executor;
  jobs::JobController::Options o;
  o.binary = "/bin/true";
  o.server_url = "http://127.0.0.1:1";
  o.log_dir = dir;
  o.max_running = max_running;
  jobs::JobController controller(o, **store, executor, clock,
                                 [](const store::Job&) -> Result<std::string> { return std::string("t"); },
                                 [](const store::Job&) {});
  auto first = std::chrono::steady_clock::now();
  controller.RunOnce();
  double first_ms = Ms(first);
  long rss_after = RssKiB();
  // Steady state: passes with the queue full and max_running workers alive.
  double steady_ms = 0;
  const int kPasses = 20;
  for (int idx = 0; idx < kPasses; ++idx) {
    auto t = std::chrono::steady_clock::now();
    controller.RunOnce();
    steady_ms += Ms(t);
  }
  // Drain: workers finish at once (succeeded over the "API"), the next pass starts the next ones.
  auto drain = std::chrono::steady_clock::now();
  int passes = 0;
  while (true) {
    auto running = (*store)->ListJobsInStates({jobs::kRunning});
    if (running->empty() && (*store)->ListJobsInStates({jobs::kQueued})->empty()) break;
    for (const auto& j : *running) IgnoreError((*store)->TransitionJob(j.id, jobs::kRunning, jobs::kSucceeded, "", 0).status());
    executor.FinishAll();
    controller.RunOnce();
    ++passes;
  }
  double drain_ms = Ms(drain);
  std::printf("jobs=%d max_running=%d\n", count, max_running);
  std::printf("create %d queued jobs: %.1f ms\n", count, create_ms);
  std::printf("first reconciliation pass (list + place %d): %.2f ms\n", max_running, first_ms);
  std::printf("steady pass with %d queued: %.2f ms\n", count - max_running, steady_ms / kPasses);
  std::printf("drain all %d jobs: %.0f ms over %d passes = %.2f ms per scheduling decision\n", count, drain_ms,
              passes, drain_ms / count);
  std::printf("controller RSS: %ld KiB process, +%ld KiB for the controller and its first pass\n", rss_after,
              rss_after - rss_before);
  std::filesystem::remove_all(dir);
  return 0;
}
