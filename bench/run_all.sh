#!/usr/bin/env bash
# Runs every benchmark whose numbers are recorded in BENCHMARKS.md (about 10 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
echo "== API server"; ./bench/api_bench.sh "$BUILD" 1000
echo "== accuracy baseline (scikit-learn)"; /usr/bin/python3 bench/accuracy_baseline.py 2>/dev/null
echo "== built-in model accuracy (sskai)"
"$BUILD"/tests/ml/ml_test --gtest_filter='*Accuracy*' | grep '^\[accuracy\]'
"$BUILD"/tests/ml/ml_accuracy_test | grep -E 'accuracy|OK|FAILED'
if [ -x "$BUILD"/bench/planner_bench ]; then
  echo "== planner"; "$BUILD"/bench/planner_bench; "$BUILD"/bench/planner_sim 200 1
  echo "== performance model vs measurement"; ./bench/perf_model_check.py "$BUILD"
fi
if [ -x "$BUILD"/bench/tokenizer_bench ]; then
  echo "== tokenizers"; ./scripts/fetch-testdata.sh "$BUILD"/testdata; "$BUILD"/bench/tokenizer_bench "$BUILD"/testdata
fi
echo "== jobs and preemption"; ./bench/jobs_bench.sh "$BUILD" 5
if [ -x "$BUILD"/bench/cost_bench ]; then
  echo "== cost ledger"; "$BUILD"/bench/cost_bench 1000000 60
fi
