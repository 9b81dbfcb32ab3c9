#!/usr/bin/env bash
# The package on this (fresh Debian 12) machine, as root: `make deb`, `apt-get install`
# of it (apt resolves its Depends), the installed /usr/bin/pfgate started as the unit
# starts it (its Environment=, /etc/default/pfgate, ExecStart; as an unprivileged user),
# answers over HTTP and gRPC, then `apt-get purge` leaves none of its files.
# Run by `make test-deb`, e.g. on a fresh root:
#   bash ../shared/tools/fresh-debian.sh --shared ../shared . -- 'make test-deb'
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "install-test: run as root (apt-get install)" >&2; exit 2; }
fail() { echo "install-test: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
export DEBIAN_FRONTEND=noninteractive

step "make deb"
make deb
deb=$(ls build/pfgate_"$(cat VERSION)"_"$(dpkg --print-architecture)".deb)
mapfile -t files < <(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -n 's|^\./|/|; /[^/]$/p')

step "apt-get install ./$deb"
apt-get install -y -qq --no-install-recommends "./$deb" >/dev/null
dpkg-query -W -f='${Status} ${Version}\n' pfgate | grep -qx "install ok installed $(cat VERSION)" ||
    fail "pfgate is not installed"
for f in "${files[@]}"; do [ -e "$f" ] || fail "$f missing after install"; done
# Enabled (deb-systemd-helper), not started: systemd does not run here.
[ -L /etc/systemd/system/multi-user.target.wants/pfgate.service ] || fail "pfgate.service not enabled"

step "the clients: curl, python3-grpcio"
apt-get install -y -qq --no-install-recommends curl python3-grpcio >/dev/null

step "start /usr/bin/pfgate as pfgate.service would"
unit=/lib/systemd/system/pfgate.service
env_args=()
while IFS= read -r kv; do env_args+=("$kv"); done < <(sed -n 's/^Environment=//p' "$unit")
[ "$(sed -n 's/^EnvironmentFile=-//p' "$unit")" = /etc/default/pfgate ] || fail "EnvironmentFile"
while IFS= read -r kv; do env_args+=("$kv"); done < <(grep -E '^PFGATE_[A-Z_]+=' /etc/default/pfgate || true)
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ "$exec_start" = /usr/bin/pfgate ] || fail "ExecStart=$exec_start"
log=$(mktemp)
# An unprivileged user, as DynamicUser=yes gives it.
env -i PATH=/usr/bin:/bin "${env_args[@]}" \
    setpriv --reuid=65534 --regid=65534 --clear-groups $exec_start >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^listening ' "$log" && break; sleep 0.1; done
grep '^listening grpc=127.0.0.1:50051 http=127.0.0.1:8080$' "$log" || { cat "$log"; fail "no listening line"; }

step "HTTP"
got=$(curl -sS --max-time 10 http://127.0.0.1:8080/v1/factors/360)
[ "$got" = '{"num":"360","factors":["2","2","2","3","3","5"]}' ] || fail "GET /v1/factors/360: $got"
curl -sS --max-time 10 -o /tmp/page.html http://127.0.0.1:8080/
cmp /tmp/page.html /usr/share/pfgate/web/index.html || fail "GET / is not the packaged page"
echo "GET /v1/factors/360 -> $got; GET / -> the packaged index.html"

step "gRPC"
/usr/bin/python3 - <<'PY'
import grpc

def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)

def fields(msg):  # Response: result=1, num=2, last=3 (varints), error=4 (string)
    i, f = 0, {}
    while i < len(msg):
        key, shift, v = msg[i], 0, 0
        i += 1
        if key & 7 == 0:
            while True:
                b = msg[i]; i += 1
                v |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80:
                    break
            f[key >> 3] = v
        else:
            ln = msg[i]; i += 1
            f[key >> 3] = msg[i:i + ln].decode(); i += ln
    return f

with grpc.insecure_channel("127.0.0.1:50051") as ch:
    call = ch.stream_stream("/primefactor.Factors/PrimeFactors",
                            request_serializer=lambda b: b, response_deserializer=lambda b: b)
    got = [fields(m) for m in call(iter([b"\x08" + varint(360)]), timeout=10)]
want = [{1: p, 2: 360} for p in (2, 2, 2, 3, 3)] + [{1: 5, 2: 360, 3: 1}]
assert got == want, got
print("PrimeFactors(360) ->", [g[1] for g in got])
PY

step "SIGTERM"
kill -TERM "$pid"
wait "$pid" || fail "pfgate exited $? after SIGTERM"
grep -q 'pfgate info: stopped' "$log" || { cat "$log"; fail "no 'stopped' line"; }

step "apt-get purge pfgate"
apt-get purge -y -qq pfgate >/dev/null
dpkg-query -W -f='${Status}\n' pfgate 2>/dev/null | grep -q 'installed' && fail "still installed"
for f in "${files[@]}" /etc/systemd/system/multi-user.target.wants/pfgate.service \
    /var/lib/systemd/deb-systemd-helper-enabled/pfgate.service.dsh-also /usr/share/pfgate \
    /usr/share/doc/pfgate; do
    [ ! -e "$f" ] && [ ! -L "$f" ] || fail "$f left after purge"
done
left=$(find / -xdev -name '*pfgate*' -not -path "$PWD/*" -not -path /proc/\* 2>/dev/null | grep -v '^/tmp/' || true)
[ -z "$left" ] || fail "left after purge: $left"
echo "install-test: OK (installed, served HTTP and gRPC, purged without a trace)"
