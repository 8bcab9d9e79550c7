#!/usr/bin/env bash
# Gateway overhead A/B (issue 6): several sskai servers side by side (one per build or flag set),
# each serving the iris MLP from one dedicated replica; the same wrk loads alternate between them
# round by round so every side sees the same machine load. Per side and load: req/s, p50, p99 and
# the server's CPU per 1,000 req/s (from /proc/<pid>/stat); "direct" is the same load straight to
# the replica's TCP port, so gateway p50/p99 minus direct is what the gateway adds.
#   bench/gateway_ab.sh 'label|binary|server flags' ['label|binary|server flags' ...]
# e.g. bench/gateway_ab.sh "base|/tmp/base/sskai|" "tcp|build/apps/sskai/sskai|--replica-transport tcp" \
#        "unix|build/apps/sskai/sskai|"
# Env: ROUNDS (3), DURATION (5s), RATE (the fixed-rate rows, 1000), PORT (first port, 18400),
# KEEP=1 (leave the servers up and print their pids/dirs), FLOOR=1 (each round also measures
# the reference programs in bench/floor/, built here with gcc/g++: a raw epoll HTTP server, a
# raw two-hop forwarder and a minimal Boost.Beast server and proxy, to show what this machine's
# kernel and Beast cost per request before any sskai work), NOISE=N (each side gets N small
# datasets at setup, and each round adds a "+ list calls" row: the ~RATE/s gateway load while
# one client lists 1,000 datasets ~20 times a second, the control plane's work beside predicts).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-5s} RATE=${RATE:-1000} PORT=${PORT:-18400}
labels=() dirs=() ports=() pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 1
  for dir in "${dirs[@]}"; do rm -rf "$dir"; done
}
[ "${KEEP:-0}" = 1 ] || trap cleanup EXIT
. "$HERE/wrk_row.sh"

setup() {  # label binary flags port
  local dir url token job
  dir=$(mktemp -d /tmp/sskai-gwab-XXXXXX)
  url=http://127.0.0.1:$4
  # shellcheck disable=SC2086
  "$2" server --listen 127.0.0.1:"$4" --data-dir "$dir" --warm-pool 0 --max-running-jobs 1 $3 \
    >>"$dir/server.log" 2>&1 &
  pids+=($!) labels+=("$1") dirs+=("$dir") ports+=("$4")
  for _ in $(seq 200); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.05; done
  token=$(cat "$dir/admin.token")
  ( echo sepal_length,sepal_width,petal_length,petal_width,species
    tail -n +2 /usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv |
    sed -e 's/,0$/,setosa/' -e 's/,1$/,versicolor/' -e 's/,2$/,virginica/' ) >"$dir/iris.csv"
  curl -sf -H "Authorization: Bearer $token" --data-binary @"$dir/iris.csv" "$url/v1/datasets/iris/versions" >/dev/null
  job=$(curl -sf -H "Authorization: Bearer $token" -d '{"dataset":"iris","model":"iris-mlp","hyperparameters":{"epochs":20}}' \
        "$url/v1/jobs" | sed -E 's/.*"id":([0-9]+).*/\1/')
  for _ in $(seq 900); do
    curl -sf -H "Authorization: Bearer $token" "$url/v1/jobs/$job" | grep -q '"state":"succeeded"' && break; sleep 0.2
  done
  curl -sf -H "Authorization: Bearer $token" -d '{"name":"ded","model":"iris-mlp","max_replicas":1}' "$url/v1/endpoints" >/dev/null
  for _ in $(seq 600); do
    curl -sf -H "Authorization: Bearer $token" "$url/v1/endpoints/ded" | grep '"state":"ready"' | grep -q '"port":[1-9]' && break
    sleep 0.1
  done
  echo '[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]' >"$dir/row.json"
  for i in $(seq "${NOISE:-0}"); do
    printf 'a,b\n1,2\n' | curl -sf -H "Authorization: Bearer $token" --data-binary @- \
      "$url/v1/datasets/noise$i/versions" >/dev/null
  done
}

list_calls() {  # side seconds: GET 1,000 datasets ~20 times a second (one keep-alive connection)
  TOKEN=$(cat "${dirs[$1]}/admin.token") RATE=20 CONNECTIONS=1 METHOD=GET \
    wrk -t1 -c1 -d"$2"s -s "$HERE/rate.lua" "http://127.0.0.1:${ports[$1]}/v1/datasets?limit=1000" |
    grep RESULT | sed -E 's/.* rps=([0-9.]+).* p50_ms=([0-9.]+).* p99_ms=([0-9.]+).*/  (list calls: \1\/s, p50 \2 ms, p99 \3 ms)/'
}

one() {  # label side url rate
  TOKEN=$(cat "${dirs[$2]}/admin.token") wrk_row "$1" "${pids[$2]}" "$3" "${dirs[$2]}/row.json" "$4"
}

echo "# gateway A/B — $(date -u +%FT%TZ) — $(nproc) cores; $ROUNDS rounds of $DURATION per load"
port=$PORT
for spec in "$@"; do
  IFS='|' read -r label bin flags <<<"$spec"
  setup "$label" "$bin" "$flags" "$port"
  port=$((port + 1))
done
floor_pids=()
if [ "${FLOOR:-0}" = 1 ]; then
  fdir=$(mktemp -d /tmp/sskai-floor-XXXXXX)
  dirs+=("$fdir")
  gcc -O2 -o "$fdir/epoll_floor" "$HERE/floor/epoll_floor.c"
  g++ -O2 -std=c++20 -o "$fdir/beast_floor" "$HERE/floor/beast_floor.cc" -lpthread
  fport=$((PORT + 50))
  "$fdir/epoll_floor" server "$fport" "$fdir/answer.sock" & floor_pids+=($!)
  sleep 0.2
  "$fdir/epoll_floor" proxy $((fport + 1)) "$fdir/answer.sock" & floor_pids+=($!)
  "$fdir/beast_floor" server $((fport + 2)) & floor_pids+=($!)
  "$fdir/beast_floor" proxy $((fport + 3)) "$fdir/answer.sock" & floor_pids+=($!)
  pids+=("${floor_pids[@]}")
  echo '[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]' >"$fdir/row.json"
  sleep 0.3
fi
floor_rows() {  # rate label
  local names=("C epoll server" "C epoll proxy" "Beast server" "Beast proxy") idx
  for idx in 0 1 2 3; do
    TOKEN=x wrk_row "floor: ${names[$idx]} $2" "${floor_pids[$idx]}" \
      "http://127.0.0.1:$((fport + idx))/predict" "$fdir/row.json" "$1"
  done
}
for round in $(seq "$ROUNDS"); do
  echo "round $round, $(uptime | sed 's/.*load/load/')"
  if [ "${FLOOR:-0}" = 1 ]; then floor_rows "$RATE" "~$RATE/s"; floor_rows 0 closed; fi
  for side in "${!labels[@]}"; do
    dir=${dirs[$side]} url=http://127.0.0.1:${ports[$side]}
    rport=$(curl -sf -H "Authorization: Bearer $(cat "$dir/admin.token")" "$url/v1/endpoints/ded" |
            sed -E 's/.*"port":([0-9]+).*/\1/')
    one "${labels[$side]} direct ~$RATE/s" "$side" "http://127.0.0.1:$rport/predict" "$RATE"
    one "${labels[$side]} gateway ~$RATE/s" "$side" "$url/v1/endpoints/ded/predict" "$RATE"
    if [ "${NOISE:-0}" -gt 0 ]; then
      list_calls "$side" "${DURATION%s}" &
      one "${labels[$side]} gateway ~$RATE/s + list calls" "$side" "$url/v1/endpoints/ded/predict" "$RATE"
      wait $!
    fi
    one "${labels[$side]} gateway closed" "$side" "$url/v1/endpoints/ded/predict" 0
  done
done
if [ "${KEEP:-0}" = 1 ]; then
  for side in "${!labels[@]}"; do echo "KEEP ${labels[$side]} pid ${pids[$side]} dir ${dirs[$side]} port ${ports[$side]}"; done
fi
