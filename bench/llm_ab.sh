#!/usr/bin/env bash
# LM engine vs PyTorch eager (issue 3): several sides on the same saved model, interleaved round by
# round so each sees the same machine load; 1 thread, process CPU time (--clock cpu), as the
# "LM engine" section of BENCHMARKS.md. Prints every run's JSON, the load average before and after,
# and per side the median (min–max) of train / prefill / decode tok/s and the first-step loss.
#   bench/llm_ab.sh 'label|libsskai_ml.so or python|env assignments[|extra flags]' ...
# e.g. bench/llm_ab.sh "base|/tmp/base/libsskai_ml.so|" "new|build/apps/sskai/libsskai_ml.so|" "torch|python|"
#      bench/llm_ab.sh "bf16|build/apps/sskai/libsskai_ml.so||--precision bf16" "torch-bf16|python||--precision bf16"
# Env: ROUNDS (3), BENCH (build/bench/llm_bench), MODEL (llm_bench model flags, default the ~0.87 M
# demo shape), RUN (shared run flags, default batch 16×128), LIB (the library that saves the model).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-3}
BENCH=${BENCH:-build/bench/llm_bench}
MODEL=${MODEL:---layers 4 --hidden 128 --heads 4 --kv 2 --ffn 352 --vocab 1024 --tie 1}
RUN=${RUN:---train-batch 16 --train-seq 128 --prompt 64 --decode 32 --train-steps 5}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
dir=$(mktemp -d /tmp/sskai-llmab-XXXXXX)
trap 'rm -rf "$dir"' EXIT
# shellcheck disable=SC2086
SSKAI_ML_LIBRARY=${LIB:-build/apps/sskai/libsskai_ml.so} "$BENCH" $MODEL --prompt 4 --decode 1 --train-batch 1 --train-seq 4 --train-steps 1 --save "$dir/model" >/dev/null
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$ROUNDS"); do
  for side in "$@"; do
    IFS='|' read -r label lib envs flags <<<"$side"
    # shellcheck disable=SC2086
    if [ "$lib" = python ]; then
      out=$(env $envs /usr/bin/python3 "$HERE/llm_bench.py" "$dir/model" $RUN $flags --threads 1 --clock cpu)
    else
      out=$(env $envs SSKAI_ML_LIBRARY="$lib" "$BENCH" $MODEL $RUN $flags --threads 1 --clock cpu)
    fi
    echo "$label $out" | tee -a "$dir/runs"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$dir/runs" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, js = line.split(" ", 1)
    runs.setdefault(label, []).append(json.loads(js))
def cell(rs, key):
    v = sorted(r[key] for r in rs)
    return "%.0f (%.0f–%.0f)" % (statistics.median(v), v[0], v[-1])
print("| side | train tok/s | prefill tok/s | decode tok/s | first loss | runs |")
print("|---|---|---|---|---|---|")
for label, rs in runs.items():
    print("| %s | %s | %s | %s | %.6f | %d |" % (label, cell(rs, "train_tok_s"), cell(rs, "prefill_tok_s"),
          cell(rs, "decode_tok_s"), rs[0].get("first_loss", float("nan")), len(rs)))
PY
