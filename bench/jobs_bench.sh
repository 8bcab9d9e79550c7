#!/usr/bin/env bash
# Jobs and preemption benchmark (issue #5) on the local executor, with the real binary:
#  * work lost per preemption with notice (POST /notice at random times) and without (kill -9 of
#    the worker at random times), in optimizer steps;
#  * recovery time: notice -> the relaunched worker resumes training;
#  * checkpoint overhead as a share of training time at the checkpoint interval;
#  * the controller with 1,000 queued jobs (build/bench/jobs_controller_bench).
#   bench/jobs_bench.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
BUILD=${1:-build}
ROUNDS=${2:-5}
BIN=$BUILD/apps/sskai/sskai
DIR=$(mktemp -d /tmp/sskai-jobs-bench-XXXXXX)
PORT=${PORT:-18291}
URL=http://127.0.0.1:$PORT
INTERVAL=${INTERVAL:-2}   # checkpoint_interval_seconds of the benchmark jobs
trap 'kill $(cat $DIR/pid 2>/dev/null) 2>/dev/null || true; rm -rf $DIR' EXIT

echo "# sskai jobs benchmark — $(date -u +%FT%TZ) — $(nproc) cores, $(uname -r), load $(cut -d' ' -f1 /proc/loadavg)"
"$BIN" server --listen 127.0.0.1:$PORT --data-dir "$DIR" --max-running-jobs 1 >"$DIR/server.log" 2>&1 &
echo $! >"$DIR/pid"
for _ in $(seq 200); do curl -sf $URL/healthz >/dev/null && break; sleep 0.05; done
TOKEN=$(cat "$DIR/admin.token")
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' "$@"; }
{ printf 'p%d,' $(seq 0 63); echo digit; zcat /usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz |
  awk -F, 'NF>1 {OFS=","; $NF=int($NF); print}'; } >"$DIR/digits.csv"
api -X POST "$URL/v1/datasets/digits/versions" -H 'content-type: application/octet-stream' \
  --data-binary @"$DIR/digits.csv" >/dev/null
submit() {  # epochs
  api -X POST "$URL/v1/jobs" -d "{\"dataset\":\"digits\",\"model\":\"b$RANDOM\",\"hyperparameters\":{\"epochs\":$1,\"batch_size\":8},\"checkpoint_interval_seconds\":$INTERVAL,\"max_attempts\":50}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
field() { api "$URL/v1/jobs/$1" | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"; }
wait_state() {  # id python-condition
  for _ in $(seq 2400); do [ "$(field "$1" "$2")" = True ] && return 0; sleep 0.05; done; return 1
}
log() { cat "$DIR/logs/jobs/job-$1.log"; }
ts() { python3 -c 'import time; print(f"{time.time():.3f}")'; }

# 1. Uninterrupted: step rate and checkpoint overhead at the interval.
id=$(submit 40)
wait_state "$id" 'j["state"] in ("succeeded","failed")'
python3 - "$DIR/logs/jobs/job-$id.log" "$INTERVAL" <<'PY'
import re, sys, datetime
text = open(sys.argv[1]).read()
def t(line): return datetime.datetime.strptime(line[0:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
lines = text.splitlines()
ck = [l for l in lines if "written in" in l]
write = sum(float(re.search(r"written in ([\d.]+)", l).group(1)) for l in ck)
upload = sum(float(re.search(r"uploaded in ([\d.]+)", l).group(1)) for l in ck)
start = t([l for l in lines if "rows," in l][0]); end = t([l for l in lines if "worker: done" in l][0])
steps = int(re.findall(r"checkpoint at step (\d+)", text)[-1])
print(f"uninterrupted: {steps} steps in {end-start:.2f} s ({steps/(end-start):.0f} steps/s), "
      f"{len(ck)} checkpoints (interval {sys.argv[2]} s + every 2nd epoch)")
print(f"checkpoint overhead: write {write:.3f} s + upload {upload:.3f} s = {100*(write+upload)/(end-start):.2f} % of training time")
print(f"per checkpoint: write {1000*write/len(ck):.1f} ms, upload {1000*upload/len(ck):.1f} ms -> "
      f"{100*(write+upload)/len(ck)/float(sys.argv[2]):.2f} % at a {sys.argv[2]} s interval, "
      f"{100*(write+upload)/len(ck)/30:.3f} % at the 30 s default")
open("/tmp/sskai-jobs-bench-rate", "w").write(str(steps/(end-start)))
PY

# 2. With notice: POST /notice at random times; lost = steps done - checkpoint step (from the log).
id=$(submit 400)
for round in $(seq "$ROUNDS"); do
  wait_state "$id" 'j["state"]=="running" and j["progress"].get("epoch",0)>=1' || true
  sleep "0.$((RANDOM % 9 + 1))"
  t0=$(ts)
  api -X POST "$URL/v1/jobs/$id/notice" -d '{"deadline_seconds":30}' >/dev/null || continue
  wait_state "$id" "j['state']=='running' and j['attempts']==$((round + 1))"
  for _ in $(seq 400); do [ "$(log "$id" | grep -c 'resuming from the checkpoint')" -ge "$round" ] && break; sleep 0.025; done
  python3 - "$DIR/logs/jobs/job-$id.log" "$t0" "$round" <<'PY'
import re, sys, datetime
lines = open(sys.argv[1]).read().splitlines()
def t(line): return datetime.datetime.strptime(line[0:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
pre = [l for l in lines if "preempted at step" in l][int(sys.argv[3]) - 1]
res = [l for l in lines if "resuming from the checkpoint" in l][int(sys.argv[3]) - 1]
stopped = int(re.search(r"preempted at step (\d+)", pre).group(1))
resumed = int(re.search(r"global step (\d+)", res).group(1))
print(f"notice {sys.argv[3]}: stopped after step {stopped}, resumed at step {resumed}: lost {stopped-resumed} steps; "
      f"recovery (notice -> resumed training) {t(res)-float(sys.argv[2]):.2f} s")
PY
done
api -X POST "$URL/v1/jobs/$id/cancel" >/dev/null

# 3. Without notice: kill -9 the worker at random times; lost = steps done (rate x time since the
# last checkpoint) - checkpoint step.
RATE=$(cat /tmp/sskai-jobs-bench-rate)
id=$(submit 400)
for round in $(seq "$ROUNDS"); do
  wait_state "$id" "j['state']=='running' and j['attempts']==$round and j['progress'].get('epoch',0)>=1" || true
  sleep "$((RANDOM % INTERVAL)).$((RANDOM % 9))"
  pid=$(api "$URL/v1/jobs/$id/events" | python3 -c 'import json,sys,re; print([re.search(r"worker pid (\d+)",e["message"]).group(1) for e in json.load(sys.stdin)["items"] if "worker pid" in e["message"]][-1])')
  t0=$(ts)
  kill -9 "$pid"
  wait_state "$id" "j['attempts']==$((round + 1))"
  python3 - "$DIR/logs/jobs/job-$id.log" "$t0" "$RATE" "$round" <<'PY'
import re, sys, datetime
lines = open(sys.argv[1]).read().splitlines()
def t(line): return datetime.datetime.strptime(line[0:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
kill = float(sys.argv[2]); rate = float(sys.argv[3])
# Work since the later of the last checkpoint and the (re)start of training.
marks = [l for l in lines if ("written in" in l or "resuming from the checkpoint" in l) and t(l) < kill]
lost_s = kill - t(marks[-1])
print(f"kill -9 {sys.argv[4]}: {lost_s:.2f} s of training since the last checkpoint ~ {lost_s*rate:.0f} steps lost")
PY
done
api -X POST "$URL/v1/jobs/$id/cancel" >/dev/null

# 4. The controller with 1,000 queued jobs.
"$BUILD"/bench/jobs_controller_bench 1000 2
