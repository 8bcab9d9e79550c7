#!/usr/bin/env bash
# Serving benchmark (issue: serving): scale-from-zero latency (time from the first request to
# its answer after the endpoint scaled to zero; p50/p95 over COLD_N cold starts) with and without
# the warm pool, failures when 100 clients hit a cold endpoint at once, the replica's engine
# (dlopen of libsskai_ml.so + libtorch) and model load times, and gateway overhead: the same
# predict load at 64 connections straight to a replica vs through the gateway (wrk).
#   bench/serving_bench.sh [BUILD_DIR]
set -euo pipefail
BUILD=${1:-build}
BIN=$BUILD/apps/sskai/sskai
DIR=$(mktemp -d /tmp/sskai-sbench-XXXXXX)
PORT=${PORT:-18291}
URL=http://127.0.0.1:$PORT
HERE=$(cd "$(dirname "$0")" && pwd)
DURATION=${DURATION:-10s}
COLD_N=${COLD_N:-50}
trap 'kill $(cat $DIR/pid 2>/dev/null) 2>/dev/null || true; rm -rf $DIR' EXIT

start() {  # extra server flags...
  "$BIN" server --listen 127.0.0.1:$PORT --data-dir "$DIR" --max-running-jobs 1 "$@" >>"$DIR/server.log" 2>&1 &
  echo $! >"$DIR/pid"
  for _ in $(seq 100); do curl -sf $URL/healthz >/dev/null && return; sleep 0.05; done
  echo "server did not start"; cat "$DIR/server.log"; exit 1
}
stop() { kill "$(cat $DIR/pid)"; wait "$(cat $DIR/pid)" 2>/dev/null || true; }
pct() {  # file percentile -> value
  sort -n "$1" | awk -v p="$2" '{a[NR]=$1} END {i=int((NR*p+99)/100); if (i<1) i=1; printf "%.1f", a[i]}'
}

echo "# sskai serving benchmark — $(date -u +%FT%TZ) — $(nproc) cores, $(uname -r)"
start --warm-pool 1
TOKEN=$(cat "$DIR/admin.token")
auth=(-H "Authorization: Bearer $TOKEN")
( echo sepal_length,sepal_width,petal_length,petal_width,species
  tail -n +2 /usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv |
  sed -e 's/,0$/,setosa/' -e 's/,1$/,versicolor/' -e 's/,2$/,virginica/' ) >"$DIR/iris.csv"
curl -sf "${auth[@]}" --data-binary @"$DIR/iris.csv" "$URL/v1/datasets/iris/versions" >/dev/null
JOB=$(curl -sf "${auth[@]}" -d '{"dataset":"iris","model":"iris-mlp","hyperparameters":{"epochs":50}}' $URL/v1/jobs | sed -E 's/.*"id":([0-9]+).*/\1/')
for _ in $(seq 600); do
  curl -sf "${auth[@]}" $URL/v1/jobs/$JOB | grep -q '"state":"succeeded"' && break; sleep 0.2
done
echo '[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]' >"$DIR/row.json"
CFG='"config":{"idle_timeout_ms":300,"scale_down_delay_ms":0,"stable_window_ms":1000,"panic_window_ms":100}'
curl -sf "${auth[@]}" -d "{\"name\":\"fn\",\"model\":\"iris-mlp\",\"mode\":\"serverless\",$CFG}" $URL/v1/endpoints >/dev/null

wait_idle() {  # endpoint state idle and (with a warm pool) a standby ready
  for _ in $(seq 1200); do
    if curl -sf "${auth[@]}" $URL/v1/endpoints/fn | grep -q '"state":"idle"'; then
      [ "$1" = 0 ] && return
      curl -sf "${auth[@]}" $URL/metrics | grep -q '^sskai_serving_standby_ready [1-9]' && return
    fi
    sleep 0.05
  done
  echo "endpoint did not go idle"; exit 1
}
cold_starts() {  # warm_pool n -> prints p50/p95
  local pool=$1 n=$2 out=$DIR/cold-$1.txt
  : >"$out"
  for _ in $(seq "$n"); do
    wait_idle "$pool"
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "${auth[@]}" -H 'content-type: application/json' \
      --data-binary @"$DIR/row.json" $URL/v1/endpoints/fn/predict >>"$out"
  done
  local fails; fails=$(awk '$1 != 200' "$out" | wc -l)
  awk '{print $2*1000}' "$out" >"$out.ms"
  printf 'cold start, warm pool %s: n=%s p50 %s ms, p95 %s ms, max %s ms, non-200: %s\n' \
    "$pool" "$n" "$(pct "$out.ms" 50)" "$(pct "$out.ms" 95)" "$(pct "$out.ms" 100)" "$fails"
}
burst() {  # 100 clients at once on a cold endpoint
  local pool=$1
  wait_idle "$pool"
  seq 100 | xargs -P 100 -I{} curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "${auth[@]}" \
    -H 'content-type: application/json' --data-binary @"$DIR/row.json" $URL/v1/endpoints/fn/predict >"$DIR/burst.txt"
  awk '{print $2*1000}' "$DIR/burst.txt" >"$DIR/burst.ms"
  printf '100 clients on a cold endpoint, warm pool %s: non-200: %s, p50 %s ms, max %s ms\n' "$pool" \
    "$(awk '$1 != 200' "$DIR/burst.txt" | wc -l)" "$(pct "$DIR/burst.ms" 50)" "$(pct "$DIR/burst.ms" 100)"
}

cold_starts 1 "$COLD_N"
burst 1
stop
start --warm-pool 0
cold_starts 0 "${COLD_N_NOPOOL:-20}"
burst 0
echo "replica start-up (from the replica logs, warm pool 0 runs):"
grep -ho 'engine loaded in [0-9.]* ms' "$DIR"/logs/endpoints/*.log | awk '{print $4}' >"$DIR/engine.ms" || true
grep -ho 'model loaded in [0-9.]* ms' "$DIR"/logs/endpoints/*.log | awk '{print $4}' >"$DIR/model.ms" || true
printf '  engine load (dlopen libsskai_ml.so + libtorch): p50 %s ms, p95 %s ms (n=%s)\n' \
  "$(pct "$DIR/engine.ms" 50)" "$(pct "$DIR/engine.ms" 95)" "$(wc -l <"$DIR/engine.ms")"
printf '  model load: p50 %s ms (n=%s)\n' "$(pct "$DIR/model.ms" 50)" "$(wc -l <"$DIR/model.ms")"
grep -ho "standby loaded '[^']*' in [0-9.]* ms" "$DIR"/logs/endpoints/standby.log | awk '{print $(NF-1)}' >"$DIR/standby.ms" || true
printf '  standby /load of the model: p50 %s ms (n=%s)\n' "$(pct "$DIR/standby.ms" 50)" "$(wc -l <"$DIR/standby.ms")"

# Gateway overhead: a dedicated endpoint, the same load direct to its replica and via the gateway.
curl -sf "${auth[@]}" -d '{"name":"ded","model":"iris-mlp","max_replicas":1}' $URL/v1/endpoints >/dev/null
for _ in $(seq 600); do
  curl -sf "${auth[@]}" $URL/v1/endpoints/ded | grep -q '"state":"ready"' && break; sleep 0.1
done
RPORT=$(curl -sf "${auth[@]}" $URL/v1/endpoints/ded | sed -E 's/.*"port":([0-9]+).*/\1/')
RPID=$(curl -sf "${auth[@]}" $URL/v1/endpoints/ded | sed -E 's/.*"pid":([0-9]+).*/\1/')
SPID=$(cat "$DIR/pid")
ticks() { awk '{print $14+$15}' /proc/"$1"/stat; }
run_wrk() {  # name url
  local t0 t1 out
  t0=$(ticks "$SPID")
  out=$(TOKEN=$TOKEN RATE=${RATE:-0} CONNECTIONS=64 METHOD=POST BODY_FILE="$DIR/row.json" \
        wrk -t2 -c64 -d"$DURATION" -s "$HERE/rate.lua" "$2" | grep '^RESULT')
  t1=$(ticks "$SPID")
  printf '%-28s %s  server CPU %s ticks\n' "$1" "${out#RESULT }" "$((t1 - t0))"
}
echo "gateway overhead, 64 connections, $DURATION each (server CPU: the gateway process; $(getconf CLK_TCK) ticks/s):"
run_wrk "direct to replica" "http://127.0.0.1:$RPORT/predict"
run_wrk "through the gateway" "$URL/v1/endpoints/ded/predict"
RATE=${FIXED_RATE:-1000} run_wrk "direct, fixed rate" "http://127.0.0.1:$RPORT/predict"
RATE=${FIXED_RATE:-1000} run_wrk "gateway, fixed rate" "$URL/v1/endpoints/ded/predict"
