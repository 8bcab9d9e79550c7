#!/usr/bin/env bash
# Serving benchmark (issue: serving): scale-from-zero latency (time from the first request to
# its answer after the endpoint scaled to zero; p50/p95 over COLD_N cold starts) with and without
# the warm pool, failures when 100 clients hit a cold endpoint at once, the replica's engine
# (dlopen of libsskai_ml.so + libtorch) and model load times, and gateway overhead: the same
# predict load at 64 connections straight to a replica vs through the gateway (wrk), sskai vs
# FastAPI + uvicorn + PyTorch on the same model files (MLP and CNN), and batching on vs off.
#   bench/serving_bench.sh [BUILD_DIR]
# Env: SECTIONS (default "cold gateway compare sweep": which parts run), DURATION, COLD_N,
# FIXED_RATE, SWEEP_RATES, WIDE_RATES and WIDE_HIDDEN (the sweep's wide MLP), FASTAPI_WORKERS,
# HOLD=1 (after setting up the endpoints, print how to reach them and wait, for profiling by hand),
# SERVER_FLAGS (extra `sskai server` flags, e.g. "--io-threads 2").
set -euo pipefail
BUILD=${1:-build}
BIN=$BUILD/apps/sskai/sskai
DIR=$(mktemp -d /tmp/sskai-sbench-XXXXXX)
PORT=${PORT:-18291}
URL=http://127.0.0.1:$PORT
HERE=$(cd "$(dirname "$0")" && pwd)
DURATION=${DURATION:-10s}
SECTIONS=${SECTIONS-cold gateway compare sweep}
has() { [[ " $SECTIONS " == *" $1 "* ]]; }
COLD_N=${COLD_N:-50}
PY=${PYTHON:-/usr/bin/python3}  # with Debian python3-fastapi python3-uvicorn python3-torch
trap 'kill $(cat $DIR/pid 2>/dev/null) 2>/dev/null || true; rm -rf $DIR' EXIT

start() {  # extra server flags...
  # shellcheck disable=SC2086
  "$BIN" server --listen 127.0.0.1:$PORT --data-dir "$DIR" --max-running-jobs 1 "$@" ${SERVER_FLAGS:-} \
    >>"$DIR/server.log" 2>&1 &
  echo $! >"$DIR/pid"
  for _ in $(seq 100); do curl -sf $URL/healthz >/dev/null && return; sleep 0.05; done
  echo "server did not start"; cat "$DIR/server.log"; exit 1
}
stop() { kill "$(cat $DIR/pid)"; wait "$(cat $DIR/pid)" 2>/dev/null || true; }
pct() {  # file percentile -> value
  sort -n "$1" | awk -v p="$2" '{a[NR]=$1} END {i=int((NR*p+99)/100); if (i<1) i=1; printf "%.1f", a[i]}'
}

echo "# sskai serving benchmark — $(date -u +%FT%TZ) — $(nproc) cores, $(uname -r)"
# Without the cold-start part no warm pool: replicas start with --model (model_of below reads it).
if has cold; then start --warm-pool 1; else start --warm-pool 0; fi
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

if has cold; then
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
fi

# ---- Steady-state serving: gateway overhead, sskai vs FastAPI, batching on/off ----------------
# Endpoints (dedicated, 1 replica each): the iris MLP and a small Fashion-MNIST CNN, each with
# batching off and on. The FastAPI baseline serves the same model files (bench/fastapi_baseline.py).
"$PY" - "$DIR/fm.tar" "$DIR/image.json" <<'PY'
import gzip, io, json, sys, tarfile
d = "/usr/share/datasets/fashion-mnist/"
n = 3000
images = gzip.open(d + "train-images-idx3-ubyte.gz").read()
labels = gzip.open(d + "train-labels-idx1-ubyte.gz").read()
def cut(b, header, item):
    return b[:4] + n.to_bytes(4, "big") + b[8:header] + b[header:header + item * n]
with tarfile.open(sys.argv[1], "w") as t:
    for name, data in (("train-images-idx3-ubyte", cut(images, 16, 784)),
                       ("train-labels-idx1-ubyte", cut(labels, 8, 1))):
        info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
test = gzip.open(d + "t10k-images-idx3-ubyte.gz").read()
json.dump({"instances": [list(test[16:16 + 784])]}, open(sys.argv[2], "w"))
PY
curl -sf "${auth[@]}" --data-binary @"$DIR/fm.tar" "$URL/v1/datasets/fm/versions?filename=fm.tar" >/dev/null
JOB=$(curl -sf "${auth[@]}" -d '{"dataset":"fm","model":"fm-cnn","architecture":"cnn","hyperparameters":{"epochs":1}}' $URL/v1/jobs | sed -E 's/.*"id":([0-9]+).*/\1/')
for _ in $(seq 1500); do
  curl -sf "${auth[@]}" $URL/v1/jobs/$JOB | grep -q '"state":"succeeded"' && break; sleep 0.2
done
BATCH='"config":{"batching":{"max_batch_size":'${BATCH_SIZE:-32}',"max_delay_ms":'${BATCH_DELAY_MS:-2}'}}'
ENDPOINTS=("ded iris-mlp" "dedb iris-mlp $BATCH" "cnn fm-cnn" "cnnb fm-cnn $BATCH")
if has sweep; then
  # For the batching sweep, also a wide MLP (hidden WIDE_HIDDEN) on the same iris rows: a model
  # whose forward pass (matrix-vector products over MBs of weights), not HTTP, dominates a request.
  JOB=$(curl -sf "${auth[@]}" -d '{"dataset":"iris","model":"iris-wide","hyperparameters":{"epochs":5,"hidden":['"${WIDE_HIDDEN:-1024,1024}"']}}' \
        $URL/v1/jobs | sed -E 's/.*"id":([0-9]+).*/\1/')
  for _ in $(seq 1500); do
    curl -sf "${auth[@]}" $URL/v1/jobs/$JOB | grep -q '"state":"succeeded"' && break; sleep 0.2
  done
  ENDPOINTS+=("wide iris-wide" "wideb iris-wide $BATCH")
fi
for ep in "${ENDPOINTS[@]}"; do
  set -- $ep
  curl -sf "${auth[@]}" -d "{\"name\":\"$1\",\"model\":\"$2\",\"max_replicas\":1${3:+,$3}}" $URL/v1/endpoints >/dev/null
done
for ep in "${ENDPOINTS[@]}"; do
  name=${ep%% *}
  for _ in $(seq 600); do
    # ready, with a replica that has a port (the state can read ready before the replica list)
    curl -sf "${auth[@]}" $URL/v1/endpoints/$name | grep '"state":"ready"' | grep -q '"port":[1-9]' && break
    sleep 0.1
  done
done
field() { curl -sf "${auth[@]}" $URL/v1/endpoints/$1 | sed -E "s/.*\"$2\":([0-9]+).*/\1/"; }
RPORT=$(field ded port)
model_of() { tr '\0' '\n' </proc/"$(field "$1" pid)"/cmdline | grep -A1 -- '--model' | tail -1; }
MLP_FILE=$(model_of ded)
CNN_FILE=$(model_of cnn)
SPID=$(cat "$DIR/pid")
ticks() { awk '{print $14+$15}' /proc/"$1"/stat; }
HZ=$(getconf CLK_TCK)
run_wrk() {  # name url body [extra header]
  local t0 t1 out rps secs
  t0=$(ticks "$SPID")
  out=$(TOKEN=$TOKEN RATE=${RATE:-0} CONNECTIONS=64 METHOD=POST BODY_FILE="$3" EXTRA_HEADER="${4:-}" \
        wrk -t2 -c64 -d"$DURATION" -s "$HERE/rate.lua" "$2" | grep '^RESULT')
  t1=$(ticks "$SPID")
  rps=$(echo "$out" | sed -E 's/.*rps=([0-9]+).*/\1/')
  secs=$(echo "$out" | sed -E 's/.*duration_s=([0-9.]+).*/\1/')
  printf '%-34s %s  gateway CPU %s ticks = %s millicores per 1,000 req/s\n' "$1" "${out#RESULT }" \
    "$((t1 - t0))" "$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v s="$secs" -v r="$rps" \
                      'BEGIN {if (r > 0) printf "%.0f", (t / hz / s) / (r / 1000) * 1000; else print "-"}')"
}
if [ "${HOLD:-0}" = 1 ]; then
  echo "HOLD: server pid $SPID at $URL (token in $DIR/admin.token), replica of 'ded' on port $RPORT;"
  echo "      bodies $DIR/row.json $DIR/image.json; Ctrl-C ends"
  while sleep 3600; do :; done
fi
if has gateway; then
echo "(b) gateway overhead, iris MLP, 64 connections, $DURATION each ($HZ ticks/s):"
idle_t0=$(ticks "$SPID"); sleep "${DURATION%s}"; idle_t1=$(ticks "$SPID")
echo "server process idle (no requests) for $DURATION: $((idle_t1 - idle_t0)) ticks"
run_wrk "direct to replica" "http://127.0.0.1:$RPORT/predict" "$DIR/row.json"
run_wrk "through the gateway" "$URL/v1/endpoints/ded/predict" "$DIR/row.json"
for rate in ${FIXED_RATE:-1000}; do
  RATE=$rate run_wrk "direct, offered $rate/s" "http://127.0.0.1:$RPORT/predict" "$DIR/row.json"
  RATE=$rate run_wrk "gateway, offered $rate/s" "$URL/v1/endpoints/ded/predict" "$DIR/row.json"
done
fi

if has compare; then
echo "(a) sskai (through the gateway) vs FastAPI + uvicorn + PyTorch ($("$PY" -c 'import fastapi, uvicorn, torch; print("fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__, "torch", torch.__version__)')), 64 connections:"
FPORT=$((PORT + 7))
baseline() {  # model_file workers
  "$PY" "$HERE/fastapi_baseline.py" "$1" "$FPORT" --workers "$2" >>"$DIR/fastapi.log" 2>&1 &
  echo $! >"$DIR/fastapi.pid"
  for _ in $(seq 300); do
    if curl -s -o /dev/null -d '{}' http://127.0.0.1:$FPORT/predict; then return; fi
    sleep 0.1
  done
  echo "the FastAPI baseline did not start"; cat "$DIR/fastapi.log"; exit 1
}
stop_baseline() { kill "$(cat "$DIR/fastapi.pid")" 2>/dev/null || true; wait "$(cat "$DIR/fastapi.pid")" 2>/dev/null || true; }
for model in "mlp ded dedb $MLP_FILE $DIR/row.json" "cnn cnn cnnb $CNN_FILE $DIR/image.json"; do
  set -- $model
  echo "  same answer? sskai $(curl -sf "${auth[@]}" --data-binary @"$5" $URL/v1/endpoints/$2/predict | cut -c1-60)"
  echo "               fastapi $("$PY" "$HERE/fastapi_baseline.py" "$4" 0 --check <"$5" | cut -c1-60)"
  run_wrk "$1 sskai, batching off" "$URL/v1/endpoints/$2/predict" "$5"
  run_wrk "$1 sskai, batching on" "$URL/v1/endpoints/$3/predict" "$5"
  for workers in 1 ${FASTAPI_WORKERS:-2}; do
    baseline "$4" "$workers"
    run_wrk "$1 fastapi, $workers worker(s)" "http://127.0.0.1:$FPORT/predict" "$5"
    stop_baseline
  done
done

fi

if has sweep; then
echo "(c) batching on vs off, offered load sweep (p95 at each rate; compare throughput at equal p95):"
for model in "mlp ded dedb $DIR/row.json" "cnn cnn cnnb $DIR/image.json" "wide-mlp wide wideb $DIR/row.json"; do
  set -- $model
  rates=${SWEEP_RATES:-200 400 800 1600 3200}
  [ "$1" = wide-mlp ] && rates=${WIDE_RATES:-100 200 400 800 1600}
  for rate in $rates; do
    RATE=$rate run_wrk "$1 off, offered $rate/s" "$URL/v1/endpoints/$2/predict" "$4"
    RATE=$rate run_wrk "$1 on,  offered $rate/s" "$URL/v1/endpoints/$3/predict" "$4"
  done
done
fi
