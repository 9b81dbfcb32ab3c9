#!/usr/bin/env bash
# What the gRPC relay (HTTP/2 guard) costs: two pfgate binaries side by side in
# the same run, each case ROUNDS times, in alternating order, with grpc_load.
# Prints numbers/s and the server's CPU (user+system, from /proc/PID/stat) per
# number, the median of the rounds.
#
# Usage: bench/relay_cost.sh BASE_PFGATE NEW_PFGATE [GRPC_LOAD]
#   e.g. git worktree add /tmp/base 0161811 && make -C /tmp/base
#        bench/relay_cost.sh /tmp/base/build/pfgate build/pfgate
# Env: ROUNDS (default 5); TLS_DIR, a directory with server.pem, server.key and the
# ca.pem that signed them: both servers run with --tls-cert/--tls-key and the load
# with --tls-ca (TLS on the gRPC port: grpc's own before, pfgate's relay after).
set -euo pipefail
BASE=$1 NEW=$2 LOAD=${3:-build/grpc_load} ROUNDS=${ROUNDS:-5}
SERVER_TLS=() LOAD_TLS=()
if [ -n "${TLS_DIR:-}" ]; then
    SERVER_TLS=(--tls-cert "$TLS_DIR/server.pem" --tls-key "$TLS_DIR/server.key")
    LOAD_TLS=(--tls-ca "$TLS_DIR/ca.pem")
fi
TICK=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run BIN ARGS...: one server, one load; prints "numbers_per_s cpu_us_per_number"
run() {
    local bin=$1 out pid addr line t0 t1 nums
    shift
    out=$(mktemp)
    "$bin" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 "${SERVER_TLS[@]}" > "$out" 2>/dev/null &
    pid=$!
    for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
    addr=$(sed -n 's/^listening grpc=\(\S*\) .*/\1/p' "$out")
    t0=$(cpu_ticks "$pid")
    line=$(timeout 120 "$LOAD" "$addr" "${LOAD_TLS[@]}" "$@")
    t1=$(cpu_ticks "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    rm -f "$out"
    nums=$(sed -n 's/.*numbers=\([0-9]*\).*/\1/p' <<<"$line")
    echo "$(sed -n 's/.*numbers_per_s=\([0-9]*\).*/\1/p' <<<"$line")" \
         "$(( (t1 - t0) * 1000000 / TICK * 10 / nums ))"   # tenths of a microsecond
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

case_row() {
    local name=$1 b_rate=() b_cpu=() n_rate=() n_cpu=() r i
    shift
    for i in $(seq "$ROUNDS"); do
        for which in base new; do
            # alternate which goes first, so that neither always runs warm
            [ $((i % 2)) -eq 0 ] && which=$([ "$which" = base ] && echo new || echo base)
            bin=$([ "$which" = base ] && echo "$BASE" || echo "$NEW")
            read -r rate cpu < <(run "$bin" "$@")
            if [ "$which" = base ]; then b_rate+=("$rate"); b_cpu+=("$cpu"); else n_rate+=("$rate"); n_cpu+=("$cpu"); fi
        done
    done
    local br bc nr nc
    br=$(printf '%s\n' "${b_rate[@]}" | median); bc=$(printf '%s\n' "${b_cpu[@]}" | median)
    nr=$(printf '%s\n' "${n_rate[@]}" | median); nc=$(printf '%s\n' "${n_cpu[@]}" | median)
    printf '| %-26s | %9d | %9d | %5.2f | %6.1f | %6.1f | %5.2f |\n' "$name" "$br" "$nr" \
        "$(echo "$nr / $br" | bc -l)" "$(echo "$bc / 10" | bc -l)" "$(echo "$nc / 10" | bc -l)" \
        "$(echo "$nc / $bc" | bc -l)"
}

echo "| case (median of $ROUNDS) | base num/s | relay num/s | ratio | base CPU us/num | relay CPU us/num | ratio |"
echo "|---|---|---|---|---|---|---|"
case_row "1 stream, 100k numbers" --streams 1 --conns 1 --numbers 100000 --window 1000
case_row "64 streams / 8 conns" --streams 64 --conns 8 --numbers 2000 --window 100
