#!/usr/bin/env bash
# API benchmark (issue: platform core): throughput and latency of a list call and a predict call
# at 64 connections with wrk, against /healthz as the baseline (the HTTP layer alone), plus the
# server's RSS idle and with N datasets/jobs/models.
#   bench/api_bench.sh [BUILD_DIR] [N]   (env: SERVER_FLAGS, extra `sskai server` flags)
set -euo pipefail
BUILD=${1:-build}
N=${2:-1000}
BIN=$BUILD/apps/sskai/sskai
SEED=$BUILD/bench/seed_store
DIR=$(mktemp -d /tmp/sskai-bench-XXXXXX)
PORT=${PORT:-18191}
URL=http://127.0.0.1:$PORT
HERE=$(cd "$(dirname "$0")" && pwd)
DURATION=${DURATION:-10s}
trap 'kill $(cat $DIR/pid 2>/dev/null) 2>/dev/null || true; rm -rf $DIR' EXIT

start() {
  # shellcheck disable=SC2086
  "$BIN" server --listen 127.0.0.1:$PORT --data-dir "$DIR" --max-running-jobs 1 ${SERVER_FLAGS:-} >"$DIR/server.log" 2>&1 &
  echo $! >"$DIR/pid"
  for _ in $(seq 100); do curl -sf $URL/healthz >/dev/null && return; sleep 0.05; done
  echo "server did not start"; cat "$DIR/server.log"; exit 1
}
stop() { kill "$(cat $DIR/pid)"; wait "$(cat $DIR/pid)" 2>/dev/null || true; }
rss() { awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/"$(cat $DIR/pid)"/status; }
run_wrk() {  # name target [rate] [method] [body]
  local name=$1 target=$2 rate=${3:-0} method=${4:-GET} body=${5:-}
  local out
  out=$(TOKEN=$TOKEN RATE=$rate CONNECTIONS=64 METHOD=$method BODY_FILE=$body \
        wrk -t2 -c64 -d"$DURATION" -s "$HERE/rate.lua" "$URL$target" | grep '^RESULT')
  printf '%-34s %-10s %s\n' "$name" "${rate:-max}" "${out#RESULT }"
}

echo "# sskai API benchmark — $(date -u +%FT%TZ) — $(nproc) cores, $(uname -r)"
start
TOKEN=$(cat "$DIR/admin.token")
sleep 1
echo "idle RSS (empty data dir): $(rss)"
stop
"$SEED" "$DIR" "$N"
start
sleep 1
echo "idle RSS with $N datasets/jobs/models: $(rss)"

# A real model to predict with: iris, trained by the platform itself.
( echo sepal_length,sepal_width,petal_length,petal_width,species
  tail -n +2 /usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv |
  sed -e 's/,0$/,setosa/' -e 's/,1$/,versicolor/' -e 's/,2$/,virginica/' ) >"$DIR/iris.csv"
auth=(-H "Authorization: Bearer $TOKEN")
curl -sf "${auth[@]}" --data-binary @"$DIR/iris.csv" "$URL/v1/datasets/iris/versions" >/dev/null
JOB=$(curl -sf "${auth[@]}" -d '{"dataset":"iris","model":"iris-mlp","hyperparameters":{"epochs":50}}' $URL/v1/jobs | sed -E 's/.*"id":([0-9]+).*/\1/')
for _ in $(seq 600); do
  curl -sf "${auth[@]}" $URL/v1/jobs/$JOB | grep -q '"state":"succeeded"' && break; sleep 0.2
done
curl -sf "${auth[@]}" -d '{"name":"iris","model":"iris-mlp"}' $URL/v1/endpoints >/dev/null
for _ in $(seq 600); do
  curl -sf "${auth[@]}" $URL/v1/endpoints/iris | grep -q '"state":"ready"' && break; sleep 0.1
done
echo '[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]' >"$DIR/row.json"

printf '\n%-34s %-10s %s\n' "call (64 connections, $DURATION)" "rate" "result"
run_wrk "GET /healthz (baseline)" /healthz
run_wrk "GET /v1/datasets?limit=50" "/v1/datasets?limit=50"
run_wrk "GET /healthz (baseline)" /healthz 1000
run_wrk "GET /v1/datasets?limit=50" "/v1/datasets?limit=50" 1000
run_wrk "POST /v1/endpoints/iris/predict" /v1/endpoints/iris/predict 0 POST "$DIR/row.json"
run_wrk "POST /v1/endpoints/iris/predict" /v1/endpoints/iris/predict 1000 POST "$DIR/row.json"
echo "server RSS after the load: $(rss)"

# A large streamed upload: the body goes to disk while it is hashed, so the server's peak RSS
# (VmHWM) must not grow with the file.
UPLOAD_MB=${UPLOAD_MB:-512}
awk -v mb="$UPLOAD_MB" 'BEGIN { print "id,x,k,label"; n = mb * 1024 * 1024 / 26;
  for (i = 0; i < n; i++) printf "%d,%.3f,%d,%s\n", i, i * 0.5, i % 7, (i % 2 ? "x" : "y") }' >"$DIR/big.csv"
hwm() { awk '/VmHWM/ {print $2/1024 " MiB"}' /proc/"$(cat $DIR/pid)"/status; }
echo "peak RSS before the upload: $(hwm)"
start_s=$(date +%s.%N)
curl -sf "${auth[@]}" --data-binary @"$DIR/big.csv" "$URL/v1/datasets/big/versions" >"$DIR/big.json"
end_s=$(date +%s.%N)
echo "uploaded $(du -m "$DIR/big.csv" | cut -f1) MiB CSV (validated + statistics) in $(echo "$end_s - $start_s" | bc) s: $(head -c 120 "$DIR/big.json")..."
echo "peak RSS after the upload: $(hwm)"
