#!/usr/bin/env bash
# Interleaved A/B of two sskai servers set up by `HOLD=1 SECTIONS="" bench/serving_bench.sh BUILD`
# (one per build, on different PORTs): the same wrk loads alternate A, B, A, B so that both
# sides see the same machine load. Prints req/s, p50, p99 and the server's CPU per 1,000 req/s.
#   bench/serving_ab.sh A_DATA_DIR:A_PORT B_DATA_DIR:B_PORT [ROUNDS]
# Env: DURATION (default 5s), RATE (the fixed-rate row, default 1000).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
A_SIDE=$1 B_SIDE=$2 ROUNDS=${3:-2}
. "$HERE/wrk_row.sh"
one() { wrk_row "$@"; }
replica_port() {  # dir port endpoint
  curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$2/v1/endpoints/$3" |
    sed -E 's/.*"port":([0-9]+).*/\1/'
}
for round in $(seq "$ROUNDS"); do
  echo "round $round, $(uptime | sed 's/.*load/load/')"
  for side in "A:$A_SIDE" "B:$B_SIDE"; do
    name=${side%%:*} rest=${side#*:}
    dir=${rest%%:*} port=${rest##*:}
    TOKEN=$(cat "$dir/admin.token")
    spid=$(cat "$dir/pid")
    gw=http://127.0.0.1:$port/v1/endpoints
    one "$name direct mlp ~${RATE:-1000}/s" "$spid" "http://127.0.0.1:$(replica_port "$dir" "$port" ded)/predict" "$dir/row.json" "${RATE:-1000}"
    one "$name gw mlp ~${RATE:-1000}/s" "$spid" "$gw/ded/predict" "$dir/row.json" "${RATE:-1000}"
    one "$name gw mlp closed" "$spid" "$gw/ded/predict" "$dir/row.json" 0
    one "$name gw mlp batch closed" "$spid" "$gw/dedb/predict" "$dir/row.json" 0
    one "$name gw cnn closed" "$spid" "$gw/cnn/predict" "$dir/image.json" 0
    one "$name gw cnn batch closed" "$spid" "$gw/cnnb/predict" "$dir/image.json" 0
  done
done
