"""--reuse-port: several pfgate processes share the same ports and the kernel spreads the
connections (SPEC: Running many); without it a second process on a busy port fails loudly."""
import os
import socket
import subprocess
import time
import urllib.request

import grpc

from conftest import Pfgate, extra_args, pfgate_path
from pfutil import expected, run_stream


def _established(pid, port):
    """How many established TCP connections on local `port` process `pid` holds."""
    inodes = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(path).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "01":
                inodes.add(f[9])
    held = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            held += 1
    return held


def test_two_processes_share_both_ports(pb):
    a = Pfgate(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--reuse-port"]
               + extra_args())
    b = None
    socks = []
    try:
        b = Pfgate(["--grpc-addr", a.grpc, "--http-addr", a.http, "--reuse-port"] + extra_args())
        assert (b.grpc, b.http) == (a.grpc, a.http)
        # Both serve: exact answers on fresh connections, whichever process takes them.
        for _ in range(20):
            with grpc.insecure_channel(a.grpc) as ch:
                res = run_stream(pb.pb_grpc.FactorsStub(ch), pb, [360], timeout=5)
                assert res.tuples == expected([360])
            body = urllib.request.urlopen(f"http://{a.http}/v1/factors/12", timeout=5).read()
            assert body == b'{"num":"12","factors":["2","2","3"]}'
        # And the kernel spreads connections over both: hold 40 on each port and look at
        # which process owns them.
        for addr in (a.grpc, a.http):
            host, port = addr.rsplit(":", 1)
            for _ in range(40):
                socks.append(socket.create_connection((host, int(port)), timeout=5))
        time.sleep(0.5)
        for addr in (a.grpc, a.http):
            port = int(addr.rsplit(":", 1)[1])
            counts = [_established(s.pid, port) for s in (a, b)]
            assert all(c > 0 for c in counts), f"port {port}: one process got no connection: {counts}"
    finally:
        for sock in socks:
            sock.close()
        for s in (a, b):
            if s is not None:
                s.stop()


def test_busy_port_without_reuse_port_fails_loudly():
    a = Pfgate(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"] + extra_args())
    try:
        for flags in (["--grpc-addr", a.grpc, "--http-addr", "127.0.0.1:0"],
                      ["--grpc-addr", "127.0.0.1:0", "--http-addr", a.http],
                      ["--grpc-addr", a.grpc, "--http-addr", a.http, "--reuse-port"]):
            r = subprocess.run([pfgate_path(), *flags], capture_output=True, text=True, timeout=20)
            assert r.returncode == 1, (flags, r.returncode, r.stderr)
            assert "Address already in use" in r.stderr or "cannot listen" in r.stderr, r.stderr
            assert r.stdout == ""
    finally:
        a.stop()
