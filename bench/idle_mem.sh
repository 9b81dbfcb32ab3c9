#!/usr/bin/env bash
# Memory of one server at rest and per idle WebSocket: starts CMD (a server
# that prints `listening ... http=HOST:PORT`), reads its VmRSS and RssAnon one
# second later, opens CONNS WebSockets that stay idle (ws_load --hold), reads
# them again once all are open, stops the server and prints one line:
#   rest_rss=KiB rest_anon=KiB idle_rss=KiB idle_anon=KiB established=N
#   per_conn_rss=KiB per_conn_anon=KiB      (per_conn_*: - when none opened)
# Usage: bench/idle_mem.sh CONNS CMD...   Env: WS_LOAD (default build/ws_load),
#        OUT (directory for the server's and client's output, default build/bench).
# bench_net.sh (pfgate and node) and fair_workers.sh (before and after) use it.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '8,9p' "$0" >&2; exit 2; }
CONNS=$1
shift
WS_LOAD=${WS_LOAD:-build/ws_load}
OUT=${OUT:-build/bench}
LIMIT=180
WS_PATH=/primefactor.Factors/PrimeFactors
mkdir -p "$OUT"
die() { echo "idle_mem: $*" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

. "$(dirname "$0")/lib.sh"
LPID=
cleanup() {
    [ -z "$LPID" ] || kill "$LPID" 2>/dev/null || true
    srv_stop_all
    wait 2>/dev/null || true
}
trap cleanup EXIT
srv_start "$1" "$OUT/idle-srv" "$@"
PID=$SRV_PID HTTP=$SRV_HTTP
[ -n "$HTTP" ] || die "$1 printed no listening line with http="

kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }
sleep 1
r0=$(kib VmRSS) a0=$(kib RssAnon)
: > "$OUT/idle.out"
timeout "$LIMIT" "$WS_LOAD" "ws://$HTTP$WS_PATH" --conns "$CONNS" --hold 3 \
    > "$OUT/idle.out" 2> "$OUT/idle.err" &
LPID=$!
for _ in $(seq $((LIMIT * 5))); do
    grep -q established "$OUT/idle.out" && break
    kill -0 "$LPID" 2>/dev/null || break
    sleep 0.2
done
sleep 1
r1=$(kib VmRSS) a1=$(kib RssAnon)
wait "$LPID" || true
LPID=
est=$(sed -n 's/.*established=\([0-9]*\).*/\1/p' "$OUT/idle.out")
est=${est:-0}
[ "$est" = "$CONNS" ] || echo "idle_mem: only $est of $CONNS connections opened ($1)" >&2
per() { [ "$est" -gt 0 ] && awk -v a="$1" -v b="$2" -v n="$est" 'BEGIN { printf "%.1f", (b - a) / n }' || echo -; }
echo "rest_rss=$r0 rest_anon=$a0 idle_rss=$r1 idle_anon=$a1 established=$est" \
    "per_conn_rss=$(per "$r0" "$r1") per_conn_anon=$(per "$a0" "$a1")"
