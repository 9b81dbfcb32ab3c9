#!/usr/bin/env bash
# Regenerates tools/startup-text.list (see tools/startup_text.py): links $BUILD/pfgate with a
# link map, runs it under callgrind with the default flags until it is at rest (1 s after
# its `listening` line), and lists the input sections it executed. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
work=$(mktemp -d)
trap 'kill "${vg:-}" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
rm -f "$BUILD/pfgate"
make -s "$BUILD/pfgate" LDFLAGS="-Wl,-Map=$work/pfgate.map"
valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$work/cg.out" \
    "$PWD/$BUILD/pfgate" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 \
    >"$work/stdout" 2>"$work/stderr" &
vg=$!
for _ in $(seq 600); do grep -q '^listening' "$work/stdout" && break; sleep 0.1; done
grep -q '^listening' "$work/stdout" || { cat "$work/stderr" >&2; exit 1; }
sleep 1
callgrind_control -d "$vg" >/dev/null 2>&1
for _ in $(seq 100); do [ -s "$work/cg.out.1" ] && break; sleep 0.1; done
kill -9 "$vg"; wait "$vg" 2>/dev/null || true
python3 tools/startup_text.py "$work/pfgate.map" "$work/cg.out.1" tools/startup-text.list
