# Servers for the benchmark scripts (bench_net.sh, fair_workers.sh,
# grpc_go_peer.sh, idle_mem.sh), sourced; the caller defines die MESSAGE.
#
# srv_start NAME PREFIX CMD...: starts CMD (stdout in PREFIX.out, stderr in
#   PREFIX.err; on the CPUs $SRV_CPUS through taskset when set), waits for its
#   `listening ...` line and sets SRV_PID, SRV_GRPC and SRV_HTTP (HOST:PORT,
#   empty when the line has none). Dies when CMD exits first or says nothing.
# srv_stop PID: stops one of them. srv_stop_all: all that are left, which the
#   EXIT trap set here does (a caller with more to clean up calls it in its own).

SRV_PIDS=()

srv_start() {
    local name=$1 out=$2.out err=$2.err
    shift 2
    : > "$out" # an old `listening` line must not count
    ${SRV_CPUS:+taskset -c "$SRV_CPUS"} "$@" > "$out" 2> "$err" &
    SRV_PID=$!
    SRV_PIDS+=("$SRV_PID")
    for _ in $(seq 100); do
        grep -qs '^listening' "$out" && break
        kill -0 "$SRV_PID" 2>/dev/null || die "$name did not start: $(tail -3 "$err")"
        sleep 0.1
    done
    grep -qs '^listening' "$out" || die "$name printed no listening line"
    SRV_GRPC=$(sed -n 's/^listening.*grpc=\([^ ]*\).*/\1/p' "$out")
    SRV_HTTP=$(sed -n 's/^listening.*http=\([^ ]*\).*/\1/p' "$out")
}

srv_stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local p keep=()
    for p in "${SRV_PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    SRV_PIDS=("${keep[@]}")
}

srv_stop_all() {
    local p
    for p in "${SRV_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${SRV_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    SRV_PIDS=()
}

trap srv_stop_all EXIT
trap 'exit 130' INT TERM
