#!/usr/bin/env bash
# Keeps the layers apart, through every header a file pulls in (the
# preprocessor's list, so a header that includes another counts):
#   core/          only core/ and the C library (no I/O library, no gateway);
#   gateway/grpc/  nothing of libwebsockets, jansson or gateway/http/;
#   gateway/http/  nothing of grpc core or gateway/grpc/.
# Prints each file that breaks a rule and exits 1 if one does.
set -uo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-cc}
BUILD=${BUILD:-build}
pkg_cflags=$(pkg-config --cflags libprotobuf-c libwebsockets jansson openssl 2>/dev/null)
gateway_inc="-Igateway -Igateway/grpc -Igateway/http -Icore -I$BUILD/proto $pkg_cflags"
breaches=0

# The C library's and the compiler's headers: all core/ may include besides its own.
declare -A libc_header
while read -r h; do libc_header[$h]=1; done < <(dpkg -L libc6-dev linux-libc-dev | grep '\.h$')

headers_of() { # FILE FLAGS...: every header FILE pulls in, one per line (repo-relative or absolute)
    local deps
    if ! deps=$($CC -M -MT x -D_GNU_SOURCE -std=c11 "${@:2}" "$1"); then
        echo "check-layers: cannot preprocess $1" >&2; exit 2
    fi
    tr -d '\\' <<<"$deps" | tr ' ' '\n' | grep '\.h$' | xargs -r realpath -m |
        sed "s#^$PWD/##" | sort -u
}

check() { # FILE RULE PATTERN FLAGS...: FILE breaks RULE if a header matches PATTERN (ERE)
    local bad
    bad=$(headers_of "$1" "${@:4}" | grep -E "$3" | head -3 | paste -sd' ')
    if [ -n "$bad" ]; then
        echo "check-layers: $1: $2, but it includes $bad"
        breaches=$((breaches + 1))
    fi
}

for f in core/*.[ch]; do
    bad=""
    while read -r h; do
        [[ $h == core/* || $h == /usr/lib/gcc/* || -n ${libc_header[$h]:-} ]] || bad+=" $h"
    done < <(headers_of "$f" -Icore)
    if [ -n "$bad" ]; then
        echo "check-layers: $f: core/ knows only core/ and the C library, but it includes$bad"
        breaches=$((breaches + 1))
    fi
done
for f in gateway/grpc/*.[ch]; do
    check "$f" "the gRPC front knows nothing of libwebsockets, jansson or gateway/http" \
        '^gateway/http/|/libwebsockets\.h$|/lws_config\.h$|/jansson\.h$' $gateway_inc
done
for f in gateway/http/*.[ch]; do
    check "$f" "the HTTP front knows nothing of grpc or gateway/grpc" \
        '^gateway/grpc/|^/usr/include/grpc/' $gateway_inc
done

if [ "$breaches" -gt 0 ]; then echo "check-layers: $breaches file(s) out of their layer"; exit 1; fi
echo "check-layers: core/, gateway/grpc/ and gateway/http/ keep to their layers"
