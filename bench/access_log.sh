#!/usr/bin/env bash
# What the access log costs: the same pfgate with --access-log off and on, a
# fresh process per run, alternating, ROUNDS rounds. Per load, pfgate's CPU
# (perf stat task-clock on the process: every thread, the log's writer too)
# per number or request, and the client's rate; then the medians and the
# median of the per-round on/off ratios (BENCHMARKS.md, "Access log").
#
# Usage: bench/access_log.sh [ROUNDS] [LOAD...]   (default 5; loads: grpc64 ws256 h2grpc get)
# Needs $BUILD/pfgate, $BUILD/grpc_load, $BUILD/ws_load, h2load, perf.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${1:-5}
shift || true
LOADS=${*:-grpc64 ws256 h2grpc get}
TMP=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$TMP"' EXIT
PID=
printf '\x00\x00\x00\x00\x03\x08\xe8\x02' > "$TMP/req360.grpc" # Request{num: 360}

start() {
    "$BUILD/pfgate" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 "$@" > "$TMP/listen" 2>/dev/null &
    PID=$!
    for _ in $(seq 100); do grep -q listening "$TMP/listen" && break; sleep 0.1; done
    GP=$(sed -n 's/.*grpc=\(\S*\) .*/\1/p' "$TMP/listen")
    HP=$(sed -n 's/.*http=\(\S*\).*/\1/p' "$TMP/listen")
}

run() { # LOAD: prints "RATE UNITS"
    case $1 in
    grpc64) "$BUILD/grpc_load" "$GP" --streams 64 --conns 8 --numbers 2000 --window 100 |
            sed -n 's/.*numbers_per_s=\([0-9]*\).*/\1 128000/p' ;;
    ws256)  "$BUILD/ws_load" "ws://$HP/primefactor.Factors/PrimeFactors" --conns 256 --numbers 500 \
                --window 32 | sed -n 's/.*numbers_per_s=\([0-9]*\).*/\1 128000/p' ;;
    h2grpc) h2load -n 20000 -c 8 -m 16 --header 'content-type: application/grpc' \
                --header 'te: trailers' -d "$TMP/req360.grpc" \
                "http://$GP/primefactor.Factors/PrimeFactors" | awk '/^finished in/ {print $4, 20000}' ;;
    get)    h2load --h1 -n 50000 -c 16 "http://$HP/v1/factors/600851475143" |
            awk '/^finished in/ {print $4, 50000}' ;;
    esac
}

for _ in $(seq "$ROUNDS"); do
    for load in $LOADS; do
        for mode in off on; do
            rm -f "$TMP/access.log"
            if [ $mode = on ]; then start --access-log "$TMP/access.log"; else start; fi
            perf stat -x, -e task-clock -p "$PID" -o "$TMP/stat" &
            SP=$!
            sleep 0.2
            read -r rate units <<< "$(run "$load")"
            kill -INT $SP; wait $SP || true
            kill $PID; wait $PID || true
            ms=$(awk -F, '/task-clock/ {print $1}' "$TMP/stat")
            echo "$load $mode $rate $(awk -v m="$ms" -v u="$units" 'BEGIN {printf "%.3f", m * 1000 / u}')"
        done
    done
done | tee "$TMP/rows" >&2
python3 - "$TMP/rows" <<'PY'
import statistics as st, sys
rows = {}
for line in open(sys.argv[1]):
    load, mode, rate, cpu = line.split()
    rows.setdefault(load, {}).setdefault(mode, []).append((float(rate), float(cpu)))
print(f"{'load':8} {'CPU us/unit off':>15} {'on':>7} {'ratio':>6} {'paired':>6} {'rate ratio':>10} {'paired':>6}")
for load, m in rows.items():
    off, on = m["off"], m["on"]
    med = lambda xs, i: st.median(x[i] for x in xs)
    pair = lambda i: st.median(b[i] / a[i] for a, b in zip(off, on) if a[i] > 0)
    print(f"{load:8} {med(off, 1):15.2f} {med(on, 1):7.2f} {med(on, 1) / med(off, 1):6.3f} "
          f"{pair(1):6.3f} {med(on, 0) / med(off, 0):10.3f} {pair(0):6.3f}")
PY
