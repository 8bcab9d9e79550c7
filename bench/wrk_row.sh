# Sourced by the A/B benchmarks (serving_ab.sh, gateway_ab.sh): one wrk run at 64 connections
# (bench/rate.lua; RATE 0 = closed loop) and one printed row with req/s, p50, p99, errors and the
# CPU the process `pid` spent per 1,000 req/s meanwhile (from /proc/<pid>/stat).
#   wrk_row LABEL PID URL BODY_FILE RATE   (env: TOKEN, DURATION)
WRK_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ticks() { awk '{print $14+$15}' /proc/"$1"/stat; }
wrk_row() {
  local t0 t1 out rps secs
  t0=$(ticks "$2")
  out=$(TOKEN=$TOKEN RATE=$5 CONNECTIONS=64 METHOD=POST BODY_FILE=$4 \
        wrk -t2 -c64 -d"${DURATION:-5s}" -s "$WRK_HERE/rate.lua" "$3" | grep RESULT)
  t1=$(ticks "$2")
  _wrk_field() { echo "$out" | sed -E "s/.* $1=([0-9.]+).*/\1/"; }
  rps=$(_wrk_field rps) secs=$(_wrk_field duration_s)
  printf '%-30s rps=%-5s p50=%-8s p99=%-8s errors=%s non2xx=%s server_millicores_per_1000_rps=%s\n' \
    "$1" "$rps" "$(_wrk_field p50_ms)" "$(_wrk_field p99_ms)" "$(_wrk_field errors)" "$(_wrk_field non2xx)" \
    "$(awk -v t=$((t1 - t0)) -v s="$secs" -v r="$rps" -v hz="$(getconf CLK_TCK)" \
       'BEGIN {if (r > 0) printf "%.0f", (t / hz / s) / (r / 1000) * 1000; else print "-"}')"
}
