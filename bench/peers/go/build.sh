#!/usr/bin/env bash
# Builds the grpc-go peer (issue 15) offline from Debian's Go packages, in
# GOPATH mode: build.sh OUT_DIR -> OUT_DIR/bin/pfpeer-server, pfpeer-client.
# The Go code of proto/primefactor.proto is generated into OUT_DIR, not kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
export GO111MODULE=off GOPATH="$out:$here:/usr/share/gocode" GOCACHE="$out/cache" GOFLAGS=
command -v go >/dev/null && [ -d /usr/share/gocode/src/google.golang.org/grpc ] || {
    echo "grpc-go peer: needs Debian's golang-go golang-google-grpc-dev golang-goprotobuf-dev" >&2
    exit 1
}
mkdir -p "$out/bin" "$out/src/pfpeer/pb"
# Debian's golang-goprotobuf-dev (1.3) ships protoc-gen-go's source, with the
# grpc plugin built in, but no binary.
[ -x "$out/bin/protoc-gen-go" ] || go build -o "$out/bin/protoc-gen-go" github.com/golang/protobuf/protoc-gen-go
protoc --plugin=protoc-gen-go="$out/bin/protoc-gen-go" -I"$root/proto" \
    --go_out=plugins=grpc,Mprimefactor.proto=pfpeer/pb:"$out/src/pfpeer/pb" "$root/proto/primefactor.proto"
go build -o "$out/bin/pfpeer-server" pfpeer/server
go build -o "$out/bin/pfpeer-client" pfpeer/client
