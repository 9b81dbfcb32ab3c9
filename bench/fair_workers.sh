#!/usr/bin/env bash
# Issue 14's benchmarks (fair and multi-core), pfgate before that change and
# after it side by side in one run; `make bench` runs it. One markdown table
# per section, printed and written to $BUILD/bench/fair_workers.md:
#   fairness  a light client's round trip (gRPC, WebSocket, NDJSON, /healthz)
#             beside 64 heavy clients streaming 62-bit semiprimes (fairness.py)
#   scaling   62-bit semiprimes, 8 gRPC streams and 8 WebSockets: after's
#             --workers 2 vs 1 (target >= 1.7x), before's --threads 2 vs 1
#   small     small numbers before vs after (bench/ab.sh, target >= 0.95x)
#   idle      memory per idle WebSocket, before and after (target <= 4 KiB)
#
# Usage: bench/fair_workers.sh [SECTION]...   (default: all four, in that order)
# Env: BUILD (default build; after is $BUILD/pfgate); BEFORE: a pfgate binary,
#      or a git revision built here from `git archive` into $BUILD/before (its
#      build/pfgate), empty to measure after alone; SCALE (divides counts and
#      fairness seconds, default 1); FAIR_SECONDS (10), FAIR_ROUNDS (1),
#      SCALING_ROUNDS (3), AB_ROUNDS (5), IDLE_CONNS (10000).
# The machine's cores are shared with the load clients (and whatever else
# runs): compare before and after within a run, not across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BENCH=$BUILD/bench
AFTER=$BUILD/pfgate
SCALE=${SCALE:-1}
FAIR_SECONDS=${FAIR_SECONDS:-$(awk -v s="$SCALE" 'BEGIN { x = 10 / s; print (x < 1 ? 1 : x) }')}
FAIR_ROUNDS=${FAIR_ROUNDS:-1}
SCALING_ROUNDS=${SCALING_ROUNDS:-3}
AB_ROUNDS=${AB_ROUNDS:-5}
IDLE_CONNS=${IDLE_CONNS:-10000}
GRPC_SP=$BUILD/bench/grpc_semiprime_load
WS_SP=$BUILD/bench/ws_semiprime_load
GRPC_U=$BUILD/bench/grpc_uniform_load
WS_U=$BUILD/bench/ws_uniform_load
WS_PATH=/primefactor.Factors/PrimeFactors
LIMIT=180 # seconds, for any one load
MD=$BENCH/fair_workers.md
mkdir -p "$BENCH"

die() { echo "fair_workers: $*" >&2; exit 1; }
n() { echo $(($1 / SCALE > 0 ? $1 / SCALE : 1)); }

for f in "$AFTER" "$GRPC_SP" "$WS_SP" "$GRPC_U" "$WS_U" "$BUILD/ws_load"; do
    [ -x "$f" ] || die "$f is missing (make all $BUILD/ws_load $GRPC_SP $WS_SP $GRPC_U $WS_U)"
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# before_binary: the BEFORE pfgate, built once per revision into $BUILD/before
# from `git archive` (no worktree registered in the shared .git), or as given.
before_binary() {
    if [ -f "$BEFORE" ] && [ -x "$BEFORE" ]; then
        echo "$BEFORE"
        return
    fi
    local rev dir=$BUILD/before
    rev=$(git rev-parse --verify --quiet "$BEFORE^{commit}") || die "BEFORE=$BEFORE: no such binary or revision"
    if [ "$(cat "$dir/REV" 2>/dev/null)" != "$rev" ] || [ ! -x "$dir/build/pfgate" ]; then
        echo "== building BEFORE=$BEFORE ($rev) in $dir" >&2
        rm -rf "$dir"
        mkdir -p "$dir"
        git archive "$rev" | tar -x -C "$dir"
        # Its own Makefile, defaults and build/: nothing of this make's.
        env -u BUILD -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANITIZE -u FAULT -u LINK \
            -u CFLAGS -u LDFLAGS -u CPPFLAGS make -C "$dir" -s build/pfgate >&2 ||
            die "building $BEFORE failed"
        echo "$rev" > "$dir/REV"
    fi
    echo "$dir/build/pfgate"
}

BEFORE=${BEFORE-}
BEFORE_BIN=
[ -z "$BEFORE" ] || BEFORE_BIN=$(before_binary)

# ---- servers ----------------------------------------------------------------

. bench/lib.sh

# start BIN FLAGS...: one pfgate at a time; sets SRV_PID, SRV_GRPC and SRV_HTTP.
start() {
    srv_start "$1" "$BENCH/fw-srv" "$@" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0
    [[ -n $SRV_GRPC && -n $SRV_HTTP ]] || die "$1 printed no listening line"
}

stop() { srv_stop "$SRV_PID"; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

# emit: copies stdin (a section's markdown) to stdout and to $MD.
emit() { tee -a "$MD"; echo; echo >> "$MD"; }

# stats LIST: "median min max" of space-separated numbers.
stats() {
    tr ' ' '\n' <<< "$1" | grep . | sort -g | awk '{ a[NR] = $1 } END {
        m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        printf "%.0f %.0f %.0f\n", m, a[1], a[NR] }'
}

# ---- fairness ----------------------------------------------------------------
section_fairness() {
    echo "== fairness: light client round trip beside 64 heavy clients (${FAIR_SECONDS} s per cell)" >&2
    local args=(--build "$BUILD" --out "$BENCH" --seconds "$FAIR_SECONDS" --rounds "$FAIR_ROUNDS")
    [ -z "$BEFORE_BIN" ] || args+=(--pfgate "before=$BEFORE_BIN")
    args+=(--pfgate "after=$AFTER")
    local rc=0
    /usr/bin/python3 bench/fairness.py "${args[@]}" > "$BENCH/fairness.md" || rc=$?
    { echo "### Fairness: light round trip beside 32 gRPC streams + 32 WebSockets of 62-bit semiprimes"
      echo; cat "$BENCH/fairness.md"; } | emit
    return $rc
}

# ---- scaling -----------------------------------------------------------------
# R[KEY] is a space-separated list of one value per round.
declare -A R
add() { R[$1]="${R[$1]:-} $2"; }

# sp_load KEY TOTAL CMD...: one semiprime load; adds numbers/s and pfgate CPU %.
sp_load() {
    local key=$1 total=$2 c0 c1 t0 t1 line rc=0
    shift 2
    c0=$(cpu_ticks "$SRV_PID") t0=$(date +%s%N)
    line=$(timeout "$LIMIT" "$@" 2> "$BENCH/fw-load.err") || rc=$?
    c1=$(cpu_ticks "$SRV_PID") t1=$(date +%s%N)
    [ $rc -eq 0 ] || die "$key: load failed (exit $rc): $* ($(tail -2 "$BENCH/fw-load.err"))"
    local got rate
    got=$(sed -n 's/.*\bnumbers=\([0-9]*\).*/\1/p' <<< "$line")
    rate=$(sed -n 's/.*\bnumbers_per_s=\([0-9.]*\).*/\1/p' <<< "$line")
    [ "$got" = "$total" ] || die "$key: $got of $total numbers answered: $line"
    add "$key.nums" "$rate"
    add "$key.cpu" "$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v ns=$((t1 - t0)) \
        'BEGIN { printf "%.0f", 100 * t / hz / (ns / 1e9) }')"
    printf '    %-22s %s\n' "$key" "$line" >&2
}

# scaling_cell WHO BIN FLAG N: pfgate BIN FLAG N, then 8 gRPC streams and 8 WebSockets.
scaling_cell() {
    local who=$1 bin=$2 flag=$3 k=$4 per
    per=$(n 10000)
    start "$bin" "$flag" "$k"
    sp_load "$who.grpc.$k" $((8 * per)) "$GRPC_SP" "$SRV_GRPC" --streams 8 --conns 8 \
        --numbers "$per" --window 100
    sp_load "$who.ws.$k" $((8 * per)) "$WS_SP" "ws://$SRV_HTTP$WS_PATH" --conns 8 \
        --numbers "$per" --window 100
    stop
}

section_scaling() {
    local who bins=(after) per
    per=$(n 10000)
    [ -z "$BEFORE_BIN" ] || bins+=(before)
    echo "== scaling: 62-bit semiprimes, 8 gRPC streams on 8 conns and 8 WebSockets," \
        "$per numbers each, window 100, $SCALING_ROUNDS rounds" >&2
    local r
    for r in $(seq "$SCALING_ROUNDS"); do
        for who in "${bins[@]}"; do
            local bin=$AFTER flag=--workers
            [ "$who" = after ] || { bin=$BEFORE_BIN flag=--threads; }
            # 1 then 2 in odd rounds, 2 then 1 in even ones: drift favours neither.
            if [ $((r % 2)) -eq 1 ]; then
                scaling_cell "$who" "$bin" "$flag" 1; scaling_cell "$who" "$bin" "$flag" 2
            else
                scaling_cell "$who" "$bin" "$flag" 2; scaling_cell "$who" "$bin" "$flag" 1
            fi
        done
    done
    {
        echo "### Scaling: 62-bit semiprimes, $SCALING_ROUNDS rounds, medians (min-max)"
        echo
        echo "| front, load | pfgate | 1: numbers/s | 2: numbers/s | 2 vs 1 | paired 2 vs 1 | pfgate CPU 1 / 2 | target |"
        echo "|---|---|---:|---:|---:|---:|---:|---|"
        local front label
        for who in "${bins[@]}"; do
            for front in grpc ws; do
                label="gRPC, 8 streams on 8 conns, ${per} each"
                [ $front = grpc ] || label="WebSocket, 8 conns, ${per} each"
                scaling_row "$label" "$who" "$front"
            done
        done
    } | emit
}

# scaling_row LABEL WHO FRONT
scaling_row() {
    local k=$2.$3 m1 lo1 hi1 m2 lo2 hi2 c1 c2 ratio paired tgt=- what
    read -r m1 lo1 hi1 < <(stats "${R[$k.1.nums]}")
    read -r m2 lo2 hi2 < <(stats "${R[$k.2.nums]}")
    read -r c1 _ < <(stats "${R[$k.1.cpu]}")
    read -r c2 _ < <(stats "${R[$k.2.cpu]}")
    ratio=$(awk -v a="$m2" -v b="$m1" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')
    paired=$(paste -d' ' <(tr ' ' '\n' <<< "${R[$k.1.nums]}" | grep .) \
        <(tr ' ' '\n' <<< "${R[$k.2.nums]}" | grep .) | awk '{ print $2 / $1 }' | sort -g |
        awk '{ a[NR] = $1 } END { printf "%.2fx", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
    what="--workers"
    if [ "$2" = after ]; then
        # Two workers can only scale when pfgate gets two cores: say when it did not.
        tgt=$(awk -v p="${paired%x}" -v c="$c2" 'BEGIN { printf ">= 1.7x: %s%s",
            (p >= 1.7 ? "met" : "NOT met"), (c < 150 ? " (pfgate got < 1.5 cores)" : "") }')
    else
        what="--threads"
    fi
    echo "| $1 | $2 $what | $m1 ($lo1-$hi1) | $m2 ($lo2-$hi2) | $ratio | $paired | $c1% / $c2% | $tgt |"
}

# ---- small numbers -------------------------------------------------------------
section_small() {
    [ -n "$BEFORE_BIN" ] || { echo "fair_workers: small: no BEFORE, skipped" >&2; return 0; }
    echo "== small numbers: bench/ab.sh before after $AB_ROUNDS" >&2
    BUILD=$BUILD SCALE=$SCALE MIN_RATIO=0.95 GRPC_LOAD=$GRPC_U WS_LOAD=$WS_U \
        bench/ab.sh "$BEFORE_BIN" "$AFTER" "$AB_ROUNDS" >&2
    { echo "### Small numbers, uniform in [2, 2^40]: OLD = before, NEW = after, $AB_ROUNDS rounds"
      echo; cat "$BENCH/ab.md"; } | emit
}

# ---- idle WebSockets -----------------------------------------------------------
section_idle() {
    local who line bins=(after) conns=$IDLE_CONNS
    [ -z "$BEFORE_BIN" ] || bins=(before after)
    echo "== memory: at rest and with $conns idle WebSockets" >&2
    declare -A M
    for who in "${bins[@]}"; do
        local bin=$AFTER
        [ "$who" = after ] || bin=$BEFORE_BIN
        line=$(WS_LOAD=$BUILD/ws_load OUT=$BENCH bench/idle_mem.sh "$conns" "$bin" \
            --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --max-connections $((conns * 2)))
        echo "    $(printf '%-7s' "$who") $line" >&2
        local kv
        for kv in $line; do
            M[$who.${kv%%=*}]=${kv#*=}
        done
    done
    {
        echo "### Memory: at rest, and per idle WebSocket ($conns open)"
        echo
        echo "| case | metric | ${bins[*]/%/ |} after/before | target |" | sed 's/  */ /g'
        echo "|---|---|$(printf -- '---:|%.0s' "${bins[@]}")---:|---|"
        idle_row "at rest, 1 s after start" "VmRSS KiB" rest_rss "< 10 MiB" 10240
        idle_row "at rest, 1 s after start" "RssAnon KiB" rest_anon - -
        idle_row "$conns idle WebSockets" "VmRSS KiB/conn" per_conn_rss "<= 4 KiB" 4
        idle_row "$conns idle WebSockets" "RssAnon KiB/conn" per_conn_anon - -
    } | emit
}

# idle_row CASE METRIC KEY TARGET-TEXT BOUND (uses M and bins of section_idle)
idle_row() {
    local who cells="" ratio=- tgt=-
    for who in "${bins[@]}"; do
        cells+=" ${M[$who.$3]} |"
    done
    [ -z "$BEFORE_BIN" ] || ratio=$(awk -v a="${M[after.$3]}" -v b="${M[before.$3]}" \
        'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    [ "$5" = - ] || tgt=$(awk -v a="${M[after.$3]}" -v m="$5" -v t="$4" \
        'BEGIN { printf "%s: %s", t, (a + 0 <= m + 0 ? "met" : "NOT met") }')
    echo "| $1 | $2 |$cells $ratio | $tgt |"
}

sections=${*:-fairness scaling small idle}
: > "$MD"
{
    echo "fair_workers: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), SCALE=$SCALE"
    echo "  after:  $AFTER ($(sha256sum "$AFTER" | cut -c1-12))"
    [ -z "$BEFORE_BIN" ] || echo "  before: BEFORE=$BEFORE, $BEFORE_BIN ($(sha256sum "$BEFORE_BIN" | cut -c1-12))"
} | tee -a "$MD" >&2
echo >> "$MD"
status=0
for s in $sections; do
    declare -F "section_$s" >/dev/null || die "unknown section $s"
    "section_$s" || status=1
done
echo "(markdown: $MD)" >&2
exit $status
