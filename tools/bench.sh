#!/usr/bin/env bash
# Benchmarks, side by side with their peers. `make bench` runs it with BUILD set.
# Usage: tools/bench.sh [SECTION]...   (default: every section; sections: factor)
#
# Each section is a function bench_<name>; add one (grpc, websocket, ...) and it
# runs after the others. Inputs are generated deterministically under $BUILD/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BENCH=$BUILD/bench
PFFACTOR=${PFFACTOR:-$BUILD/pffactor}
mkdir -p "$BENCH"
status=0

# Wall time of a command in seconds (3 decimals), its output in $BENCH/last.out.
wall() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" > "$BENCH/last.out"
    t1=$(date +%s%N)
    awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f", ns / 1e9 }'
}

numgen() {
    local gen=$BENCH/numgen
    if [ ! -x "$gen" ] || [ tools/numgen.c -nt "$gen" ]; then
        cc -std=c11 -O2 -Wall -Wextra -o "$gen" tools/numgen.c
    fi
    "$gen" "$@"
}

# input FILE GENERATOR-ARGS...: generates FILE once.
input() {
    local file=$BENCH/$1
    shift
    [ -s "$file" ] || numgen "$@" > "$file"
}

# ---- factor: pffactor against GNU factor ------------------------------------
bench_factor() {
    [ -x "$PFFACTOR" ] || { echo "bench: $PFFACTOR is missing"; return 1; }
    input uniform63.txt uniform 1000000 63
    input semiprime62.txt semi 100000 62 31 31
    input primes63.txt below 10000 9223372036854775807

    echo "== factor: $PFFACTOR vs GNU $(factor --version | head -1)"
    printf '%-34s %10s %10s %9s  %s\n' input "factor s" "pffactor s" speedup output
    local f name t_gnu t_pf same
    for f in uniform63 semiprime62 primes63; do
        case $f in
        uniform63) name="1,000,000 uniform in [2, 2^63)" ;;
        semiprime62) name="100,000 semiprimes (31b x 31b)" ;;
        primes63) name="10,000 primes below 2^63" ;;
        esac
        t_gnu=$(wall factor < "$BENCH/$f.txt")
        mv "$BENCH/last.out" "$BENCH/$f.factor.out"
        t_pf=$(wall "$PFFACTOR" < "$BENCH/$f.txt")
        mv "$BENCH/last.out" "$BENCH/$f.pffactor.out"
        if cmp -s "$BENCH/$f.factor.out" "$BENCH/$f.pffactor.out"; then
            same=identical
        else
            same=DIFFERENT
            status=1
        fi
        printf '%-34s %10s %10s %8.1fx  %s\n' "$name" "$t_gnu" "$t_pf" \
            "$(awk -v a="$t_gnu" -v b="$t_pf" 'BEGIN { print (b > 0 ? a / b : 0) }')" "$same"
    done
}

sections=${*:-factor}
for s in $sections; do
    "bench_$s" || status=1
done
exit $status
