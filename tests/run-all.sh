#!/usr/bin/env bash
# Runs every test suite against the binaries in $BUILD and ends with one line:
# "N passed, N failed". Usage: tests/run-all.sh [layers|unit|core|integration]...
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export PFGATE=${PFGATE:-$PWD/$BUILD/pfgate} PFFACTOR=${PFFACTOR:-$PWD/$BUILD/pffactor}
suites=${*:-layers unit core integration}
passed=0 failed=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

count() { # count PASSED FAILED
    passed=$((passed + ${1:-0})); failed=$((failed + ${2:-0}))
}

run_unit() {
    local t
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        echo "== $t"
        timeout 600 "$t" 2>&1 | tee "$log"
        local rc=${PIPESTATUS[0]}
        local p f
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
        # A crash prints no summary: count it as one failure.
        if [ "$rc" -ne 0 ] && [ -z "$f" ]; then f=1; fi
        count "$p" "$f"
    done
}

# The layers (tools/check-layers.sh) count as one test.
run_layers() {
    echo "== tools/check-layers.sh"
    if BUILD=$BUILD tools/check-layers.sh; then count 1 0; else count 0 1; fi
}

# Shell checks of the core: each script is one test, passed by exit code 0.
run_core() {
    local t
    for t in tests/core/*.sh; do
        echo "== $t"
        if timeout 600 bash "$t"; then count 1 0; else count 0 1; fi
    done
}

run_integration() {
    echo "== pytest tests/integration"
    # Debian's python3 has python3-grpcio; a pyenv python3 on PATH may not.
    timeout 3000 /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line p f e
    line=$(grep -E '^=*.*[0-9]+ (passed|failed|error)' "$log" | tail -1)
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
    f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
    e=$(grep -oE '[0-9]+ errors?' <<<"$line" | grep -oE '[0-9]+')
    f=$(( ${f:-0} + ${e:-0} ))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    count "$p" "$f"
}

for s in $suites; do "run_$s"; done
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
