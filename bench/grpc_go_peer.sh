#!/usr/bin/env bash
# Issue 15's starting point: pfgate against grpc-go (bench/peers/go, the
# seed's own stack) and Node's grpc-js (bench/peers/grpc_server.js) side by
# side in one run, the three servers up at once, each loaded by the grpc-go
# client that sends one message per number (pfpeer-client) and by pfgate's
# run-sending C client (grpc_uniform_load: grpc_load with the same numbers),
# on 1 stream and on 64 streams over 8 connections; numbers uniform in
# [2, 2^40] (bench/uniform40.h). Then latency at a fixed rate: pfpeer-client
# -rate, RATE numbers/s in all over 64 streams on 8 connections for
# RATE_SECONDS, one message per number, p50/p99 from just before a number's
# Send to its last answer. Rounds rotate the servers (after an uncounted
# warm-up load on each); the table has medians, the server's CPU per number
# (/proc/PID/stat ticks over the load) and its RSS at rest (just started).
# Prints a markdown table, also written to $BUILD/bench/grpc_go_peer.md.
#
# grpc-js answers about a tenth as many numbers/s as the others, so its loads
# have their own counts (NUMBERS_*_JS, a tenth): each of its loads then lasts
# about as long as theirs, and the run stays short. Numbers/s and CPU per
# number do not depend on the count; the fixed-rate load is the same for all.
#
# Env: BUILD (default build), ROUNDS (3), SCALE (divides the counts, 1),
#      NUMBERS_1 (numbers on 1 stream, 100000), NUMBERS_64 (per stream of 64, 4000),
#      NUMBERS_1_JS (10000), NUMBERS_64_JS (400), RATE (5000), RATE_SECONDS (4).
# Client and servers share the machine's cores: compare within a run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BENCH=$BUILD/bench
ROUNDS=${ROUNDS:-3}
SCALE=${SCALE:-1}
NUMBERS_1=$(( ${NUMBERS_1:-100000} / SCALE ))
NUMBERS_64=$(( ${NUMBERS_64:-4000} / SCALE ))
NUMBERS_1_JS=$(( ${NUMBERS_1_JS:-10000} / SCALE ))
NUMBERS_64_JS=$(( ${NUMBERS_64_JS:-400} / SCALE ))
RATE=${RATE:-5000}
RATE_SECONDS=${RATE_SECONDS:-4}
RATE_PER_STREAM=$(( RATE * RATE_SECONDS / 64 / SCALE )) # numbers per stream of 64
PEERS=bench/peers
PFGATE=$BUILD/pfgate
C_LOAD=$BENCH/grpc_uniform_load
GO=$BUILD/go
MD=$BENCH/grpc_go_peer.md
mkdir -p "$BENCH"

die() { echo "grpc_go_peer: $*" >&2; exit 1; }
for f in "$PFGATE" "$C_LOAD"; do
    [ -x "$f" ] || die "$f is missing (make all $C_LOAD)"
done
command -v node >/dev/null || die "node is missing"
[ -d "$PEERS/node_modules/@grpc/grpc-js" ] || die "$PEERS/node_modules is missing: (cd $PEERS && npm ci)"
echo "== building the grpc-go peer into $GO" >&2
bench/peers/go/build.sh "$GO" || die "building the grpc-go peer failed"

. bench/lib.sh
declare -A PID ADDR RSS

# start WHO CMD...: runs a server printing `listening grpc=HOST:PORT`.
start() {
    local who=$1
    srv_start "$who" "$BENCH/gg-$who" "${@:2}"
    PID[$who]=$SRV_PID ADDR[$who]=$SRV_GRPC
    [ -n "${ADDR[$who]}" ] || die "$who printed no listening line"
    sleep 0.5
    RSS[$who]=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/${PID[$who]}/status")
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

# R[KEY] is a space-separated list of one value per round.
declare -A R
add() { R[$1]="${R[$1]:-} $2"; }
median() {
    tr ' ' '\n' <<< "$1" | grep . | sort -g | awk '{ a[NR] = $1 } END {
        printf "%s\n", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# load WHO CLIENT STREAMS CONNS NUMBERS: adds numbers/s and server µs per number.
load() {
    local who=$1 client=$2 s=$3 c=$4 n=$5 c0 c1 line key=$1.$2.$3
    local total=$((s * n))
    c0=$(cpu_ticks "${PID[$who]}")
    if [ "$client" = go ]; then
        line=$(timeout 300 "$GO/bin/pfpeer-client" -addr "${ADDR[$who]}" -streams "$s" -conns "$c" -numbers "$n") ||
            die "$who, go client, $s streams: failed: $line"
    elif [ "$client" = rate ]; then
        line=$(timeout 300 "$GO/bin/pfpeer-client" -addr "${ADDR[$who]}" -streams "$s" -conns "$c" -numbers "$n" \
            -rate "$RATE") || die "$who, go client at $RATE/s, $s streams: failed: $line"
        add "$key.p50" "$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<< "$line")"
        add "$key.p99" "$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<< "$line")"
    else
        line=$(timeout 300 "$C_LOAD" "${ADDR[$who]}" --streams "$s" --conns "$c" --numbers "$n") ||
            die "$who, C client, $s streams: failed: $line"
    fi
    c1=$(cpu_ticks "${PID[$who]}")
    echo "  $who $client $s: $line" >&2
    add "$key.nps" "$(sed -n 's/.*numbers_per_s=\([0-9.]*\).*/\1/p' <<< "$line")"
    add "$key.cpu" "$(awk -v d=$((c1 - c0)) -v hz="$HZ" -v t="$total" 'BEGIN { printf "%.2f", d / hz / t * 1e6 }')"
}

echo "grpc_go_peer: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "$(go version | cut -d' ' -f3), grpc-go $(dpkg-query -W -f='${Version}' golang-google-grpc-dev)," \
    "node $(node --version), grpc-js $(node -p "require('./$PEERS/node_modules/@grpc/grpc-js/package.json').version")," \
    "ROUNDS=$ROUNDS SCALE=$SCALE" >&2
start pfgate "$PFGATE" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0
start grpcgo "$GO/bin/pfpeer-server" -addr 127.0.0.1:0
start grpcjs node "$PEERS/grpc_server.js" 0

# One uncounted load per server first (after RSS at rest): Node compiles its
# hot paths in the first thousands of messages, and round 1 would pay for it.
warm() { # WHO STREAMS CONNS NUMBERS
    timeout 300 "$GO/bin/pfpeer-client" -addr "${ADDR[$1]}" -streams "$2" -conns "$3" \
        -numbers "$(($4 > 0 ? $4 : 1))" > /dev/null || die "$1: the warm-up load failed"
}
for who in pfgate grpcgo grpcjs; do
    warm "$who" 1 1 "$NUMBERS_1_JS"
    warm "$who" 64 8 "$((NUMBERS_64_JS / 4))"
done

for r in $(seq "$ROUNDS"); do
    echo "== round $r" >&2
    # Rotate which server goes first from one round to the next.
    servers=(pfgate grpcgo grpcjs)
    k=$(((r - 1) % 3))
    order="${servers[*]:k} ${servers[*]:0:k}"
    for client in go c; do
        for who in $order; do
            if [ "$who" = grpcjs ]; then
                load "$who" "$client" 1 1 "$NUMBERS_1_JS"
                load "$who" "$client" 64 8 "$NUMBERS_64_JS"
            else
                load "$who" "$client" 1 1 "$NUMBERS_1"
                load "$who" "$client" 64 8 "$NUMBERS_64"
            fi
        done
    done
    for who in $order; do
        load "$who" rate 64 8 "$RATE_PER_STREAM"
    done
done

row() { # LABEL KEY FORMAT: pfgate, grpc-go, grpc-js, pfgate/grpc-go, pfgate/grpc-js
    local a b c
    a=$(median "${R[pfgate.$2]}")
    b=$(median "${R[grpcgo.$2]}")
    c=$(median "${R[grpcjs.$2]}")
    awk -v l="$1" -v a="$a" -v b="$b" -v c="$c" -v f="$3" 'BEGIN {
        printf "| %s | " f " | " f " | " f " | %.2f | %.2f |\n", l, a, b, c, (b > 0 ? a / b : 0), (c > 0 ? a / c : 0) }'
}
{
    echo "### gRPC: pfgate vs grpc-go and grpc-js, numbers uniform in [2, 2^40] (medians of $ROUNDS rounds)"
    echo
    echo "| case | pfgate | grpc-go | grpc-js | pfgate/grpc-go | pfgate/grpc-js |"
    echo "|---|---:|---:|---:|---:|---:|"
    for client in go c; do
        if [ "$client" = go ]; then cl="one message per number (grpc-go client)"; else cl="run-sending (grpc_uniform_load)"; fi
        row "1 stream, $cl, numbers/s" "$client.1.nps" "%.0f"
        row "64 streams on 8 connections, $cl, numbers/s" "$client.64.nps" "%.0f"
        row "server CPU per number (µs), 1 stream, $cl" "$client.1.cpu" "%.2f"
        row "server CPU per number (µs), 64 streams, $cl" "$client.64.cpu" "%.2f"
    done
    rl="at $RATE numbers/s, 64 streams on 8 connections, one message per number (grpc-go client)"
    row "p50 latency (µs) $rl" rate.64.p50 "%.0f"
    row "p99 latency (µs) $rl" rate.64.p99 "%.0f"
    for who in pfgate grpcgo grpcjs; do
        R[$who.rss]=$(awk -v k="${RSS[$who]}" 'BEGIN { printf "%.1f", k / 1024 }')
    done
    row "RSS at rest, just started (MiB)" rss "%.1f"
    echo
    echo "grpc-js's loads: $NUMBERS_1_JS numbers on 1 stream, 64 × $NUMBERS_64_JS (the others: $NUMBERS_1, 64 × $NUMBERS_64);" \
        "at $RATE/s: 64 × $RATE_PER_STREAM numbers for all."
} | tee "$MD"
