#!/usr/bin/env bash
# Network benchmarks of pfgate, side by side with Node peers in the same run:
# gRPC streaming against @grpc/grpc-js, gRPC call rate with h2load, WebSocket
# against `ws`, memory of idle WebSockets, and gRPC scaling with --threads.
#
# Usage: bench/bench_net.sh [SECTION]...
#   sections: grpc h2load ws idle scaling (default: all, in that order)
# Env: BUILD (build dir, default build), SCALE (divides every count, e.g.
#      SCALE=10 for a quick check; default 1), IDLE_CONNS (default 10000).
#
# Needs $BUILD/pfgate, $BUILD/grpc_load (make, make build/grpc_load), h2load
# (nghttp2-client), node, and bench/peers/node_modules (npm ci in bench/peers).
# ws_load is $BUILD/ws_load, or built into $BUILD/bench/ws_load when missing.
#
# Every server listens on 127.0.0.1 port 0; every load is bounded in count
# and wrapped in `timeout`. Loads run one at a time. Prints a table and
# writes it as markdown to $BUILD/bench/net.md. Ratios are pfgate/node: above
# 1 is better for rates, below 1 is better for latency, CPU and memory.
# "srv CPU us/num" is the server's user+system CPU time over the run divided
# by the numbers answered: less noisy than rates on a shared machine.
# Two pfgate binaries against each other, alternating in one run: bench/ab.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BENCH=$BUILD/bench
SCALE=${SCALE:-1}
IDLE_CONNS=${IDLE_CONNS:-10000}
PFGATE=$BUILD/pfgate
GRPC_LOAD=$BUILD/grpc_load
WS_LOAD=$BUILD/ws_load
PEERS=bench/peers
WS_PATH=/primefactor.Factors/PrimeFactors
LIMIT=180 # seconds, for any one load
mkdir -p "$BENCH"

die() { echo "bench_net: $*" >&2; exit 1; }
n() { echo $(($1 / SCALE > 0 ? $1 / SCALE : 1)); }

[ -x "$PFGATE" ] || die "$PFGATE is missing (make)"
[ -x "$GRPC_LOAD" ] || die "$GRPC_LOAD is missing (make $GRPC_LOAD)"
command -v node >/dev/null || die "node is missing"
command -v h2load >/dev/null || die "h2load is missing (apt-get install nghttp2-client)"
[ -d "$PEERS/node_modules/@grpc/grpc-js" ] && [ -d "$PEERS/node_modules/ws" ] ||
    die "$PEERS/node_modules is missing: (cd $PEERS && npm ci)"
if [ ! -x "$WS_LOAD" ]; then
    WS_LOAD=$BENCH/ws_load
    if [ ! -x "$WS_LOAD" ] || [ bench/ws_load.c -nt "$WS_LOAD" ]; then
        cc -std=c11 -O2 -g -Wall -Wextra -D_GNU_SOURCE $(pkg-config --cflags libwebsockets) \
            bench/ws_load.c $(pkg-config --libs libwebsockets) -o "$WS_LOAD"
    fi
fi

# Enough descriptors for IDLE_CONNS connections in one process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- servers ----------------------------------------------------------------

. bench/lib.sh

# start NAME CMD...: srv_start (on the CPUs in $SRV_CPUS when set), then a pause.
start() {
    srv_start "$1" "$BENCH/$1" "${@:2}"
    sleep 0.3
}

stop() { srv_stop "$1"; }

start_pfgate() { start pfgate "$PFGATE" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 "$@"; }
start_node_grpc() { start node_grpc node "$PEERS/grpc_server.js" 0; }
start_node_ws() { start node_ws node "$PEERS/ws_server.js" 0; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# load PID CMD...: runs a load client against the server PID; sets R_NUMS,
# R_ANS (per s), R_P50, R_P99 (us), R_CPU (server CPU us per number).
load() {
    local pid=$1 c0 c1 line hz
    shift
    hz=$(getconf CLK_TCK)
    c0=$(cpu_ticks "$pid")
    if ! line=$(timeout "$LIMIT" "$@" 2> "$BENCH/load.err"); then
        echo "bench_net: load failed: $* ($(tail -2 "$BENCH/load.err"))" >&2
        line=${line:-numbers=0}
    fi
    c1=$(cpu_ticks "$pid")
    field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<< "$line"; }
    R_NUMS=$(field numbers_per_s)
    R_ANS=$(field answers_per_s)
    R_P50=$(field p50_us)
    R_P99=$(field p99_us)
    local total
    total=$(field numbers)
    R_CPU=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v n="${total:-0}" \
        'BEGIN { printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0) }')
    echo "    $(printf '%-10s' "$CUR") $line srv_cpu_us_per_num=$R_CPU" >&2
}

# ---- the table ----------------------------------------------------------------

ROWS=()
# row CASE METRIC PFGATE NODE: ratio pfgate/node when both are numbers.
row() {
    local ratio=-
    if [[ $3 =~ ^[0-9.]+$ && $4 =~ ^[0-9.]+$ ]]; then
        ratio=$(awk -v a="$3" -v b="$4" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    fi
    ROWS+=("$1|$2|$3|$4|$ratio")
}

print_table() {
    local r c m a b x
    printf '\n%-44s %-16s %10s %10s %8s\n' case metric pfgate node pf/node
    for r in "${ROWS[@]}"; do
        IFS='|' read -r c m a b x <<< "$r"
        printf '%-44s %-16s %10s %10s %8s\n' "$c" "$m" "$a" "$b" "$x"
    done
    {
        echo "| case | metric | pfgate | node | pfgate/node |"
        echo "|---|---|---:|---:|---:|"
        for r in "${ROWS[@]}"; do
            IFS='|' read -r c m a b x <<< "$r"
            echo "| $c | $m | $a | $b | $x |"
        done
    } > "$BENCH/net.md"
    echo "(markdown: $BENCH/net.md)"
}

# pair CASE PFGATE-PREFIX NODE-PREFIX: rows for rates, latency and CPU.
declare -A V
keep() { V[$1.nums]=$R_NUMS V[$1.ans]=$R_ANS V[$1.p50]=$R_P50 V[$1.p99]=$R_P99 V[$1.cpu]=$R_CPU; }
pair_rows() {
    local c=$1 a=$2 b=$3
    shift 3
    local m
    for m in "$@"; do
        case $m in
        nums) row "$c" "numbers/s" "${V[$a.nums]}" "${V[$b.nums]}" ;;
        ans) row "$c" "answers/s" "${V[$a.ans]}" "${V[$b.ans]}" ;;
        p50) row "$c" "p50 us" "${V[$a.p50]}" "${V[$b.p50]}" ;;
        p99) row "$c" "p99 us" "${V[$a.p99]}" "${V[$b.p99]}" ;;
        cpu) row "$c" "srv CPU us/num" "${V[$a.cpu]}" "${V[$b.cpu]}" ;;
        esac
    done
}

# ---- a. gRPC streaming ----------------------------------------------------------
bench_grpc() {
    local n1 n64 nr
    n1=$(n 100000) n64=$(n 2000) nr=$(n 25000)
    echo "== gRPC streaming: pfgate vs node @grpc/grpc-js" >&2
    local who
    for who in pf node; do
        if [ $who = pf ]; then start_pfgate; else start_node_grpc; fi
        local pid=$SRV_PID addr=$SRV_GRPC
        CUR=$who
        load "$pid" "$GRPC_LOAD" "$addr" --streams 1 --numbers "$n1" --window 1000
        keep "g1.$who"
        load "$pid" "$GRPC_LOAD" "$addr" --streams 64 --conns 8 --numbers "$n64" --window 100
        keep "g64.$who"
        load "$pid" "$GRPC_LOAD" "$addr" --streams 1 --numbers "$nr" --window 1000 --rate 5000
        keep "gr.$who"
        stop "$pid"
    done
    pair_rows "gRPC 1 stream, $n1 numbers, window 1000" g1.pf g1.node nums ans cpu
    pair_rows "gRPC 64 streams/8 conns, 64x$n64, window 100" g64.pf g64.node nums ans cpu
    pair_rows "gRPC 1 stream at 5,000 numbers/s" gr.pf gr.node nums p50 p99

    # The 64 streams again with the server on CPU 0 and the load client on CPU 1:
    # above, the two compete for both cores, and pfgate's second worker shares
    # them with the client while node's one thread leaves the client a core.
    [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null || return 0
    echo "== gRPC streaming, server on CPU 0, load client on CPU 1" >&2
    for who in pf node; do
        if [ $who = pf ]; then SRV_CPUS=0 start_pfgate; else SRV_CPUS=0 start_node_grpc; fi
        CUR=$who
        load "$SRV_PID" taskset -c 1 "$GRPC_LOAD" "$SRV_GRPC" --streams 64 --conns 8 \
            --numbers "$n64" --window 100
        keep "g64p.$who"
        stop "$SRV_PID"
    done
    pair_rows "gRPC 64 streams/8 conns, one core each" g64p.pf g64p.node nums cpu
}

# ---- b. gRPC call rate with h2load ----------------------------------------------
bench_h2load() {
    local calls body=$BENCH/req360.grpc
    calls=$(n 20000)
    # One gRPC message: flag 0, length 3, Request{num: 360} = 08 e8 02.
    printf '\x00\x00\x00\x00\x03\x08\xe8\x02' > "$body"
    echo "== gRPC call rate: h2load, one PrimeFactors call per request (num 360)" >&2
    local who rps=()
    for who in pf node; do
        if [ $who = pf ]; then start_pfgate; else start_node_grpc; fi
        local out
        out=$(timeout "$LIMIT" h2load -n "$calls" -c 8 -m 16 \
            --header 'content-type: application/grpc' --header 'te: trailers' \
            -d "$body" "http://$SRV_GRPC/primefactor.Factors/PrimeFactors" 2>&1) || true
        echo "    $(printf '%-10s' $who) $(grep -E '^(finished|requests:)' <<< "$out" | tr '\n' ' ')" >&2
        grep -q "$calls succeeded" <<< "$out" || echo "bench_net: h2load: not every call succeeded" >&2
        rps+=("$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<< "$out" | cut -d. -f1)")
        stop "$SRV_PID"
    done
    row "gRPC calls, h2load -n $calls -c 8 -m 16" "calls/s" "${rps[0]:-}" "${rps[1]:-}"
}

# ---- c. WebSocket ----------------------------------------------------------------
bench_ws() {
    local n1 n256 nr nr256
    n1=$(n 100000) n256=$(n 500) nr=$(n 25000) nr256=$(n 100)
    echo "== WebSocket: pfgate vs node ws" >&2
    local who
    for who in pf node; do
        if [ $who = pf ]; then start_pfgate; else start_node_ws; fi
        local pid=$SRV_PID url=ws://$SRV_HTTP$WS_PATH
        CUR=$who
        load "$pid" "$WS_LOAD" "$url" --conns 1 --numbers "$n1" --window 1000
        keep "w1.$who"
        load "$pid" "$WS_LOAD" "$url" --conns 256 --numbers "$n256" --window 32
        keep "w256.$who"
        load "$pid" "$WS_LOAD" "$url" --conns 1 --numbers "$nr" --window 1000 --rate 5000
        keep "wr.$who"
        load "$pid" "$WS_LOAD" "$url" --conns 256 --numbers "$nr256" --window 1000 --rate 20
        keep "wr256.$who"
        stop "$pid"
    done
    pair_rows "WS 1 conn, $n1 numbers, window 1000" w1.pf w1.node nums ans cpu
    pair_rows "WS 256 conns, 256x$n256, window 32" w256.pf w256.node nums ans cpu p50 p99
    pair_rows "WS 1 conn at 5,000 numbers/s" wr.pf wr.node nums p50 p99
    pair_rows "WS 256 conns at 20/s each (5,120/s)" wr256.pf wr256.node nums p50 p99
}

# ---- d. memory: at rest, and per idle WebSocket ----------------------------------
bench_idle() {
    local conns=$IDLE_CONNS
    echo "== memory: at rest, and $conns idle WebSockets" >&2
    local who line rest=() anon=() per=() per_anon=()
    for who in pf node; do
        if [ $who = pf ]; then
            set -- "$PFGATE" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 \
                --max-connections $((conns * 2))
        else
            set -- node "$PEERS/ws_server.js" 0
        fi
        line=$(WS_LOAD=$WS_LOAD OUT=$BENCH bench/idle_mem.sh "$conns" "$@") ||
            { echo "bench_net: idle: $who failed" >&2; line=; }
        echo "    $(printf '%-10s' $who) $line" >&2
        field() { sed -n "s/.*\\b$1=\\([0-9.-]*\\).*/\\1/p" <<< "$line"; }
        rest+=("$(field rest_rss)") anon+=("$(field rest_anon)")
        per+=("$(field per_conn_rss)") per_anon+=("$(field per_conn_anon)")
    done
    row "RSS at rest, just started (target < 10 MiB)" "VmRSS KiB" "${rest[0]}" "${rest[1]}"
    row "RSS at rest, just started" "RssAnon KiB" "${anon[0]}" "${anon[1]}"
    row "$conns idle WebSockets (target <= 4 KiB)" "VmRSS KiB/conn" "${per[0]}" "${per[1]}"
    row "$conns idle WebSockets" "RssAnon KiB/conn" "${per_anon[0]}" "${per_anon[1]}"
}

# ---- e. scaling with --threads -----------------------------------------------------
bench_scaling() {
    local n64 nbig big=9000000000000000000
    n64=$(n 2000) nbig=$(n 1000)
    echo "== scaling: pfgate --threads 1 and 2, gRPC 64 streams/8 conns" >&2
    local t
    for t in 1 2; do
        start_pfgate --threads $t
        CUR="threads=$t"
        load "$SRV_PID" "$GRPC_LOAD" "$SRV_GRPC" --streams 64 --conns 8 --numbers "$n64" --window 100
        keep "s$t"
        # 63-bit numbers: factoring, not the gRPC path, takes most of the time.
        load "$SRV_PID" "$GRPC_LOAD" "$SRV_GRPC" --streams 64 --conns 8 --numbers "$nbig" \
            --window 100 --start $big
        keep "b$t"
        stop "$SRV_PID"
    done
    scaling_rows s "pfgate gRPC 64x$n64 from 2, --threads 2 vs 1"
    scaling_rows b "pfgate gRPC 64x$nbig from 9e18, --threads 2 vs 1"
}

# scaling_rows KEY CASE: rows for the 2-thread run KEY2 against the 1-thread run KEY1.
scaling_rows() {
    local k=$1 ratio
    ratio=$(awk -v a="${V[${k}2.nums]}" -v b="${V[${k}1.nums]}" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
    ROWS+=("$2|numbers/s|${V[${k}2.nums]}|${V[${k}1.nums]} (1 thr)|$ratio")
    ROWS+=("$2|srv CPU us/num|${V[${k}2.cpu]}|${V[${k}1.cpu]} (1 thr)|-")
}

sections=${*:-grpc h2load ws idle scaling}
echo "bench_net: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), node $(node --version), SCALE=$SCALE" >&2
for s in $sections; do
    declare -F "bench_$s" >/dev/null || die "unknown section $s"
    "bench_$s"
done
print_table
