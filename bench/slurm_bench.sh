#!/usr/bin/env bash
# Preemption on Slurm (issue #5), with the real binary and a running Slurm (scripts/start-slurm.sh):
# a job is preempted by `scontrol requeue` (SIGTERM -> checkpoint at the next step -> requeue) and
#  * recovery time: requeue -> the relaunched worker resumes training (its "resuming from the
#    checkpoint" log line; the next step follows within milliseconds), both with sskai releasing
#    the requeued job at once and with Slurm's own requeue delay (--slurm-keep-requeue-delay);
#  * work lost with notice: steps done before the preemption minus the step it resumed from.
#   bench/slurm_bench.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
BUILD=${1:-build}
ROUNDS=${2:-3}
BIN=$(realpath "$BUILD/apps/sskai/sskai")
PORT=${PORT:-18391}
URL=http://127.0.0.1:$PORT
sinfo -h -o %T 2>/dev/null | grep -Eq 'idle|mixed' || { echo "slurm is not running: scripts/start-slurm.sh DIR" >&2; exit 1; }
echo "# sskai Slurm preemption benchmark — $(date -u +%FT%TZ) — $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo "# Slurm $(sinfo -V | cut -d' ' -f2), requeue delay: $(scontrol show config | sed -n 's/^AuthInfo *= *//p')"

run_mode() {  # label, extra server flags...
  local label=$1; shift
  DIR=$(mktemp -d /tmp/sskai-slurm-bench-XXXXXX)
  "$BIN" server --listen 127.0.0.1:$PORT --data-dir "$DIR" --executor slurm "$@" >"$DIR/server.log" 2>&1 &
  local server=$!
  for _ in $(seq 200); do curl -sf $URL/healthz >/dev/null && break; sleep 0.05; done
  TOKEN=$(cat "$DIR/admin.token")
  api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' "$@"; }
  { printf 'p%d,' $(seq 0 63); echo digit; zcat /usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz |
    awk -F, 'NF>1 {OFS=","; $NF=int($NF); print}'; } >"$DIR/digits.csv"
  api -X POST "$URL/v1/datasets/digits/versions" -H 'content-type: application/octet-stream' \
    --data-binary @"$DIR/digits.csv" >/dev/null
  id=$(api -X POST "$URL/v1/jobs" -d '{"dataset":"digits","model":"bench","hyperparameters":{"epochs":400,"batch_size":8},"checkpoint_interval_seconds":30,"max_attempts":50}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  local log="$DIR/logs/jobs/job-$id.log"
  for round in $(seq "$ROUNDS"); do
    # Let the worker train for a while (a few epochs), then preempt.
    for _ in $(seq 600); do [ "$(grep -c '^.*epoch [0-9]*/400' "$log" 2>/dev/null || true)" -ge $((round * 2)) ] && break; sleep 0.05; done
    slurm_id=$(api "$URL/v1/jobs/$id/events" | python3 -c 'import json,sys,re; print([re.search(r"Slurm job (\d+)", e["message"]).group(1) for e in json.load(sys.stdin)["items"] if "Slurm job" in e["message"]][-1])')
    resumed_before=$(grep -c 'resuming from the checkpoint' "$log" || true)
    t0=$(date +%s.%N)
    scontrol requeue "$slurm_id"
    for _ in $(seq 6000); do
      [ "$(grep -c 'resuming from the checkpoint' "$log" || true)" -gt "$resumed_before" ] && break
      sleep 0.02
    done
    t1=$(date +%s.%N)
    python3 - "$log" "$label" "$round" "$t0" "$t1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
label, rnd, t0, t1 = sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
notice = re.findall(r"preempted at step (\d+)", text)
resumed = re.findall(r"resuming from the checkpoint of epoch \d+ step \d+ \(global step (\d+)\)", text)
lost = int(notice[-1]) - int(resumed[-1]) if notice and resumed else -1
print(f"{label}: round {rnd}: requeue -> training resumed in {t1 - t0:.2f} s; "
      f"checkpointed on SIGTERM at step {notice[-1] if notice else '?'}, resumed at {resumed[-1] if resumed else '?'}: "
      f"{lost} steps lost")
PY
  done
  api -X POST "$URL/v1/jobs/$id/cancel" >/dev/null || true
  sleep 1
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$DIR"
}

run_mode "sskai releases the requeued job at once"
run_mode "Slurm's requeue delay kept" --slurm-keep-requeue-delay
