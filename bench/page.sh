#!/usr/bin/env bash
# The web page in headless Chromium (issue 17): 100,000 pasted numbers near
# 2^63 answered in the page (seconds, numbers/s, the longest main-thread task
# and frame gap), then 1,000,000 and the page's JS heap after them (after a GC).
# Runs tests/browser/page_test.js in its bench mode against a pfgate of its own;
# writes the lines to $BUILD/bench/page.txt too.
#
# Needs $BUILD/pfgate, node, /usr/bin/chromium and tests/browser/node_modules
# (npm ci in tests/browser).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BENCH=$BUILD/bench
mkdir -p "$BENCH"

die() { echo "bench/page: $*" >&2; exit 1; }
. bench/lib.sh

[ -x "$BUILD/pfgate" ] || die "$BUILD/pfgate is missing (make)"
[ -d tests/browser/node_modules/playwright-core ] || die "tests/browser/node_modules is missing (cd tests/browser && npm ci)"

srv_start pfgate "$BENCH/page-pfgate" "$BUILD/pfgate" --grpc-addr 127.0.0.1:0 \
    --http-addr 127.0.0.1:0 --web-root web
out=$(realpath "$BENCH")
echo "page (headless Chromium, this machine):"
(cd tests/browser && PAGE_TEST_BENCH=1 timeout 600 node page_test.js "http://$SRV_HTTP/" "$out/") \
    > "$BENCH/page.out" 2>&1 || die "page_test.js failed: $(tail -5 "$BENCH/page.out")"
grep '^bench:' "$BENCH/page.out" | sed 's/^bench: /  /' | tee "$BENCH/page.txt"
srv_stop "$SRV_PID"
