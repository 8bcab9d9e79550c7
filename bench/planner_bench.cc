// bench/planner_bench.cc — planner speed (Google Benchmark): catalog load, one training plan over
// the whole catalog, one serving plan. Run: build/bench/planner_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "planner/planner.h"

namespace sskai::planner {
namespace {

const Catalog& TheCatalog() {
  static const Catalog catalog = [] {
    auto loaded = LoadCatalog(SSKAI_CATALOG_DIR);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      std::abort();
    }
    return std::move(loaded).value();
  }();
  return catalog;
}

long RssKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

void BM_LoadCatalog(benchmark::State& state) {
  for (auto _ : state) {
    auto catalog = LoadCatalog(SSKAI_CATALOG_DIR);
    benchmark::DoNotOptimize(catalog);
  }
  // Heap bytes held by a loaded catalog (mallinfo2: in-use bytes before/after).
  size_t before = mallinfo2().uordblks;
  auto* kept = new Catalog(std::move(LoadCatalog(SSKAI_CATALOG_DIR)).value());
  state.counters["heap_kib"] = static_cast<double>(mallinfo2().uordblks - before) / 1024;
  state.counters["process_rss_kib"] = static_cast<double>(RssKib());
  state.counters["offerings"] = static_cast<double>(kept->offerings.size());
  delete kept;
}
BENCHMARK(BM_LoadCatalog)->Unit(benchmark::kMillisecond);

void BM_PlanTraining(benchmark::State& state) {
  TrainRequest r;
  r.workload.params = static_cast<double>(state.range(0)) * 1e6;
  r.workload.tokens = 20 * r.workload.params;
  if (r.workload.params > 3e9) {
    r.workload.trainable_params = r.workload.params / 1000;
    r.workload.micro_batch = 1;
    r.workload.tokens = 1e9;
  }
  r.deadline_seconds = 7 * 86400;
  r.max_nodes = 8;
  const Catalog& catalog = TheCatalog();
  int evaluated = 0;
  for (auto _ : state) {
    auto plan = PlanTraining(r, catalog, PlanOptions{});
    if (!plan.ok()) {
      state.SkipWithError(plan.status().ToString().c_str());
      break;
    }
    evaluated = plan->candidates_evaluated;
    benchmark::DoNotOptimize(plan);
  }
  state.counters["candidates"] = evaluated;
}
BENCHMARK(BM_PlanTraining)->Arg(10)->Arg(1300)->Arg(7000)->Arg(70000)->Unit(benchmark::kMillisecond);

void BM_PlanServing(benchmark::State& state) {
  ServeRequest r;
  r.traffic.mean_rps = 5;
  r.traffic.peak_rps = 20;
  r.request_gflops = 2;
  r.model_memory_gib = 0.5;
  r.latency_objective_seconds = 1;
  const Catalog& catalog = TheCatalog();
  for (auto _ : state) {
    auto plan = PlanServing(r, catalog, ServeOptions{});
    benchmark::DoNotOptimize(plan);
  }
}
BENCHMARK(BM_PlanServing)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sskai::planner

BENCHMARK_MAIN();
