#!/usr/bin/env bash
# Installs what pfgate needs to build, run and test on Debian 12: the missing
# Debian packages with apt-get, then the npm packages of the tests. Quiet and
# quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(
    # build
    gcc make pkg-config libc6-dev
    libgrpc-dev protobuf-c-compiler libprotobuf-c-dev protobuf-compiler libprotobuf-dev
    libwebsockets-dev libjansson-dev
    libstdc++-12-dev  # libstdc++.a: pfgate links the gRPC stack statically (Makefile, LINK)
    # tests
    libcmocka-dev coreutils curl openssl procps
    python3 python3-pytest python3-grpcio python3-grpc-tools python3-websockets
    python3-h2  # raw HTTP/2 frames for the hostile-client tests
    chromium fonts-liberation prometheus valgrind clang libclang-rt-14-dev
    # benchmarks and deployment
    nghttp2-client nginx-light
    golang-go golang-google-grpc-dev golang-goprotobuf-dev  # the grpc-go peer (bench/peers/go)
)

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo

missing=()
for p in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$p")
done
# Node.js may come from elsewhere with npm built in (it then conflicts with
# Debian's npm): install Debian's only when there is no npm at all.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# npm packages, installed again only when a lock file changed.
for dir in tests/node tests/browser bench/peers; do
    [ -f "$dir/package-lock.json" ] || continue
    stamp="$dir/node_modules/.installed-lock.json"
    if ! cmp -s "$dir/package-lock.json" "$stamp"; then
        echo "deps: npm ci in $dir"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        cp "$dir/package-lock.json" "$stamp"
    fi
done
