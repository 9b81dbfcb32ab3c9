#!/usr/bin/env bash
# Installs what pfgate needs on Debian 12: the missing Debian packages with
# apt-get, and, for the full set, the npm packages of the tests. Quiet and
# quick when everything is already there.
#   tools/install-deps.sh run   building and running pfgate (make, make run)
#   tools/install-deps.sh deb   that and dpkg-dev (make deb)
#   tools/install-deps.sh [all] that and everything the tests, benchmarks,
#                               fuzzing and packaging use (make deps, make test)
set -euo pipefail
cd "$(dirname "$0")/.."

set_name=${1:-all}
case $set_name in run | deb | all) ;; *) echo "usage: $0 [run|deb|all]" >&2; exit 2 ;; esac

run_packages=(
    gcc make pkg-config libc6-dev
    libgrpc-dev protobuf-c-compiler libprotobuf-c-dev protobuf-compiler libprotobuf-dev
    libwebsockets-dev libjansson-dev
    libstdc++-12-dev  # libstdc++.a: pfgate links the gRPC stack statically (Makefile, LINK)
    libcmocka-dev     # `make` also builds the unit tests (two small packages)
)
all_packages=(
    # tests
    coreutils curl openssl procps
    python3 python3-pytest python3-grpcio python3-grpc-tools python3-websockets
    python3-h2  # raw HTTP/2 frames for the hostile-client tests
    chromium fonts-liberation prometheus valgrind clang libclang-rt-14-dev
    # packaging: make deb, make install's checks (tests/deploy)
    dpkg-dev lintian man-db groff-base systemd
    # benchmarks and deployment
    nghttp2-client nginx-light
    golang-go golang-google-grpc-dev golang-goprotobuf-dev  # the grpc-go peer (bench/peers/go)
)
debian_packages=("${run_packages[@]}")
case $set_name in
deb) debian_packages+=(dpkg-dev) ;;
all) debian_packages+=("${all_packages[@]}") ;;
esac

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo

# One dpkg-query for the whole list: `make` runs this before every build.
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${debian_packages[@]}" 2>/dev/null |
    awk '/ install ok installed$/ { print $1 }') || true
missing=()
for p in "${debian_packages[@]}"; do
    grep -qx -- "$p" <<<"$installed" || missing+=("$p")
done
# Node.js may come from elsewhere with npm built in (it then conflicts with
# Debian's npm): install Debian's only when there is no npm at all.
[ "$set_name" != all ] || command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if [ ${#missing[@]} -gt 0 ]; then
    echo "deps ($set_name): installing ${missing[*]}"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
[ "$set_name" = all ] || exit 0

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
