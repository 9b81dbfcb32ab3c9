#!/usr/bin/env bash
# Old pfgate against new in one run: on a shared 2-core machine only figures
# taken side by side, alternating, can be compared. Each round starts both
# binaries, reads their VmRSS one second after start, then runs each of
# bench_net.sh's pfgate loads on one and at once on the other, the order
# alternating (OLD NEW, NEW OLD, ... and the other way in the next round), so
# that neither always runs on a warmer or quieter machine. Loads: gRPC 1 stream
# and 64 streams over 8 connections (grpc_load), WebSocket 1 and 256
# connections (ws_load). A load that fails its answer check fails the script.
#
# Usage: bench/ab.sh OLD_PFGATE NEW_PFGATE [ROUNDS]   (ROUNDS default 5)
# Env: BUILD (load clients and output, default build), SCALE (divides every
#      count as in bench_net.sh, default 1), MIN_RATIO (e.g. 0.95: adds a
#      "target" column, whether each rate's paired NEW/OLD is at least that),
#      GRPC_LOAD and WS_LOAD (the load clients, e.g. $BUILD/bench/grpc_uniform_load).
# Needs $BUILD/grpc_load and $BUILD/ws_load (make build/grpc_load build/ws_load).
#
# Prints, per load and metric, the median of OLD and of NEW, NEW/OLD, and the
# min-max of each; writes it as markdown to $BUILD/bench/ab.md. "vs range"
# says where NEW's median falls against OLD's min-max: "in" is within noise.
# "paired" is the median of the per-round NEW/OLD and "NEW better" the rounds
# NEW won: drift between rounds moves neither.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '11,17p' "$0" >&2; exit 2; }
OLD=$(realpath "$1") NEW=$(realpath "$2") ROUNDS=${3:-5}
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BENCH=$BUILD/bench
SCALE=${SCALE:-1}
GRPC_LOAD=${GRPC_LOAD:-$BUILD/grpc_load}
WS_LOAD=${WS_LOAD:-$BUILD/ws_load}
WS_PATH=/primefactor.Factors/PrimeFactors
LIMIT=180 # seconds, for any one load
mkdir -p "$BENCH"

die() { echo "ab: $*" >&2; exit 1; }
n() { echo $(($1 / SCALE > 0 ? $1 / SCALE : 1)); }

for f in "$OLD" "$NEW" "$GRPC_LOAD" "$WS_LOAD"; do
    [ -x "$f" ] || die "$f is missing or not executable"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive number"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Per binary (OLD, NEW): server PID and its HOST:PORTs.
declare -A PID GRPC HTTP
cleanup() {
    local p
    for p in "${PID[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start WHO BIN: starts BIN on port 0 and sets PID[WHO], GRPC[WHO], HTTP[WHO].
start() {
    local who=$1 bin=$2 out=$BENCH/ab-$1.out err=$BENCH/ab-$1.err
    : > "$out"
    "$bin" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 > "$out" 2> "$err" &
    PID[$who]=$!
    for _ in $(seq 100); do
        grep -qs '^listening' "$out" "$err" && break
        kill -0 "${PID[$who]}" 2>/dev/null || die "$bin did not start: $(tail -3 "$err")"
        sleep 0.1
    done
    local line
    line=$(grep -h '^listening' "$out" "$err" | head -1) || die "$bin printed no listening line"
    GRPC[$who]=$(sed -n 's/.*grpc=\([^ ]*\).*/\1/p' <<< "$line")
    HTTP[$who]=$(sed -n 's/.*http=\([^ ]*\).*/\1/p' <<< "$line")
    [[ -n ${GRPC[$who]} && -n ${HTTP[$who]} ]] || die "cannot read ports from: $line"
}

stop() {
    kill "${PID[$1]}" 2>/dev/null || true
    wait "${PID[$1]}" 2>/dev/null || true
    unset "PID[$1]"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)

# Results: R[WHO.KEY] is a space-separated list of one value per round.
declare -A R
add() { R[$1.$2]="${R[$1.$2]:-} $3"; }

# load WHO KEY TOTAL CMD...: runs a load against server WHO, checks
# it answered TOTAL numbers, and adds numbers/s and server CPU us/num.
load() {
    local who=$1 key=$2 total=$3 c0 c1 line rc=0
    shift 3
    c0=$(cpu_ticks "${PID[$who]}")
    line=$(timeout "$LIMIT" "$@" 2> "$BENCH/ab-load.err") || rc=$?
    c1=$(cpu_ticks "${PID[$who]}")
    [ $rc -eq 0 ] || die "$who $key: load failed (exit $rc): $* ($(tail -2 "$BENCH/ab-load.err"))"
    field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<< "$line"; }
    [ "$(field numbers)" = "$total" ] || die "$who $key: $(field numbers) of $total numbers answered: $line"
    local cpu
    cpu=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$total" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    add "$who" "$key.nums" "$(field numbers_per_s)"
    add "$who" "$key.cpu" "$cpu"
    printf '    %-3s %-4s %s srv_cpu_us_per_num=%s\n' "$who" "$key" "$line" "$cpu" >&2
}

G1=$(n 100000) G64=$(n 2000) W1=$(n 100000) W256=$(n 500)

# run_load WHO KEY: one of the four loads against server WHO.
run_load() {
    local who=$1 url=ws://${HTTP[$1]}$WS_PATH
    case $2 in
    g1) load "$who" g1 "$G1" "$GRPC_LOAD" "${GRPC[$who]}" --streams 1 --numbers "$G1" --window 1000 ;;
    g64) load "$who" g64 $((64 * G64)) "$GRPC_LOAD" "${GRPC[$who]}" --streams 64 --conns 8 \
        --numbers "$G64" --window 100 ;;
    w1) load "$who" w1 "$W1" "$WS_LOAD" "$url" --conns 1 --numbers "$W1" --window 1000 ;;
    w256) load "$who" w256 $((256 * W256)) "$WS_LOAD" "$url" --conns 256 --numbers "$W256" --window 32 ;;
    esac
}

# round R: fresh servers, their memory at rest, then each load on both, back
# to back, OLD first or NEW first in turn (ABAB in odd rounds, BABA in even).
round() {
    local first=OLD second=NEW k i=0
    [ $(($1 % 2)) -eq 1 ] || { first=NEW second=OLD; }
    start "$first" "$([ $first = OLD ] && echo "$OLD" || echo "$NEW")"
    start "$second" "$([ $second = OLD ] && echo "$OLD" || echo "$NEW")"
    sleep 1
    for k in OLD NEW; do
        add "$k" rest.rss "$(status_kib "${PID[$k]}" VmRSS)"
        add "$k" rest.anon "$(status_kib "${PID[$k]}" RssAnon)"
    done
    for k in g1 g64 w1 w256; do
        if [ $((i++ % 2)) -eq 0 ]; then
            run_load "$first" $k; run_load "$second" $k
        else
            run_load "$second" $k; run_load "$first" $k
        fi
    done
    stop OLD; stop NEW
}

echo "ab: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "ROUNDS=$ROUNDS SCALE=$SCALE" >&2
echo "ab: OLD $OLD ($(sha256sum "$OLD" | cut -c1-12))" >&2
echo "ab: NEW $NEW ($(sha256sum "$NEW" | cut -c1-12))" >&2
for r in $(seq "$ROUNDS"); do
    echo "== round $r of $ROUNDS" >&2
    round "$r"
done

# stats LIST: "median min max" (median of an even count: mean of the middle two).
stats() {
    tr ' ' '\n' <<< "$1" | grep . | sort -g | awk '
        function f(x) { return x >= 100 || x == int(x) ? sprintf("%.0f", x) : sprintf("%.2f", x) }
        { a[NR] = $1 }
        END {
            m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
            print f(m), f(a[1]), f(a[NR])
        }'
}

ROWS=()
# row CASE METRIC KEY BETTER: BETTER is "high" or "low".
row() {
    local om omin omax nm nmin nmax ratio where
    read -r om omin omax < <(stats "${R[OLD.$3]}")
    read -r nm nmin nmax < <(stats "${R[NEW.$3]}")
    ratio=$(awk -v a="$nm" -v b="$om" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')
    where=$(awk -v m="$nm" -v lo="$omin" -v hi="$omax" -v better="$4" 'BEGIN {
        if (m >= lo && m <= hi) print "in"
        else if ((m > hi) == (better == "high")) print "better"
        else print "worse" }')
    # Round by round (both ran minutes apart at most): median NEW/OLD, and in
    # how many rounds NEW did better, which drift between rounds cannot bias.
    local pairs pm wins
    pairs=$(paste -d' ' <(tr ' ' '\n' <<< "${R[OLD.$3]}" | grep .) <(tr ' ' '\n' <<< "${R[NEW.$3]}" | grep .))
    pm=$(awk '$1 > 0 { print $2 / $1 }' <<< "$pairs" | tr '\n' ' ')
    pm=$([ -n "${pm// /}" ] && stats "$pm" | awk '{ printf "%.3f", $1 }' || echo -)
    wins=$(awk -v better="$4" '(better == "high" ? $2 > $1 : $2 < $1) { w++ }
        END { printf "%d/%d", w, NR }' <<< "$pairs")
    local tgt=
    if [ -n "${MIN_RATIO:-}" ] && [ "$4" = high ]; then
        tgt=$(awk -v p="$pm" -v m="$MIN_RATIO" 'BEGIN {
            printf ">= %s: %s", m, ((p != "-" && p + 0 >= m + 0) ? "met" : "NOT met") }')
    fi
    ROWS+=("$1|$2|$om|$nm|$ratio|$omin-$omax|$nmin-$nmax|$where|$pm|$wins${MIN_RATIO:+|$tgt}")
}

row "gRPC 1 stream, $G1 numbers, window 1000" "numbers/s" g1.nums high
row "gRPC 1 stream, $G1 numbers, window 1000" "srv CPU us/num" g1.cpu low
row "gRPC 64 streams/8 conns, 64x$G64, window 100" "numbers/s" g64.nums high
row "gRPC 64 streams/8 conns, 64x$G64, window 100" "srv CPU us/num" g64.cpu low
row "WS 1 conn, $W1 numbers, window 1000" "numbers/s" w1.nums high
row "WS 1 conn, $W1 numbers, window 1000" "srv CPU us/num" w1.cpu low
row "WS 256 conns, 256x$W256, window 32" "numbers/s" w256.nums high
row "WS 256 conns, 256x$W256, window 32" "srv CPU us/num" w256.cpu low
row "at rest, 1 s after start" "VmRSS KiB" rest.rss low
row "at rest, 1 s after start" "RssAnon KiB" rest.anon low

HEAD="case|metric|OLD median|NEW median|NEW/OLD|OLD min-max|NEW min-max|vs range|paired NEW/OLD|NEW better${MIN_RATIO:+|target}"
echo
{
    printf '%-44s %-15s %9s %9s %7s %15s %15s %-6s %7s %-10s %s\n' case metric "OLD med" \
        "NEW med" NEW/OLD "OLD min-max" "NEW min-max" range paired "NEW better" "${MIN_RATIO:+target}"
    for x in "${ROWS[@]}"; do
        IFS='|' read -r c m a b q ra rb w pr pw tg <<< "$x"
        printf '%-44s %-15s %9s %9s %7s %15s %15s %-6s %7s %-10s %s\n' "$c" "$m" "$a" "$b" "$q" \
            "$ra" "$rb" "$w" "$pr" "$pw" "${tg:-}"
    done
}
{
    echo "| ${HEAD//|/ | } |"
    echo "|---|---|---:|---:|---:|---:|---:|---|---:|---:|${MIN_RATIO:+---|}"
    for x in "${ROWS[@]}"; do
        echo "| ${x//|/ | } |"
    done
} > "$BENCH/ab.md"
echo "(markdown: $BENCH/ab.md)"
