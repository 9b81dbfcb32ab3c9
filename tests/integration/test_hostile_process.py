"""What one client, or the machine around pfgate, cannot take away from everyone else (issue 12):
signals, file descriptors, connection floods on the HTTP port and the health probe."""
import os
import resource
import signal
import socket
import time

import grpc
import pytest

from pfhttp import RawWS, connect, http_raw
from pfutil import expected, run_stream
from test_faults import fd_count, serving_exactly, start_warm

PAUSE = 0.5  # for the descriptors of closed connections to come back


def test_sighup_does_not_kill(pfgate_factory, pb):
    """SIGHUP (a closed terminal, a log rotation) is logged and ignored: pfgate keeps serving and
    still drains and exits 0 on SIGTERM."""
    srv = pfgate_factory()
    for _ in range(3):
        srv.signal(signal.SIGHUP)
        time.sleep(0.1)
    assert srv.alive(), srv.log_tail()
    with grpc.insecure_channel(srv.grpc) as ch:
        res = run_stream(pb.pb_grpc.FactorsStub(ch), pb, [360, 97])
    assert res.code == grpc.StatusCode.OK and res.tuples == expected([360, 97])
    assert srv.log_text().count("SIGHUP") == 3


def test_sighup_during_drain_is_not_a_second_signal(pfgate_factory):
    """A second SIGINT/SIGTERM during the drain exits at once with 1; a SIGHUP must not."""
    srv = pfgate_factory("--drain-timeout", "2")
    srv.signal(signal.SIGTERM)
    srv.signal(signal.SIGHUP)
    rc, _ = srv.wait(5)
    assert rc == 0, srv.log_tail()


# ------------------------------------------------ connection floods, HTTP port ---

def _raise_own_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _open_silent(addr, n):
    host, port = addr.rsplit(":", 1)
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((host, int(port)))
        except BlockingIOError:
            pass
        socks.append(s)
    return socks


def _health(addr, timeout=5):
    return http_raw(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout)


def _served_then_idle(addr):
    """A keep-alive connection that made one request, got its answer, and stays open."""
    s = connect(addr)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(5)
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    return s


def _cpu_seconds(srv):
    with open(f"/proc/{srv.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.timeout_s(60)
def test_silent_connection_flood_http_port(pfgate_factory, pb):
    """5,400 silent TCP connections to the HTTP port with default flags: pfgate counts them at
    accept and closes the oldest silent one for each new one past --max-connections, so its
    descriptors stay bounded (no EMFILE), /healthz answers 200, and every front end, the gRPC
    port included, serves exactly meanwhile (before: out of fds, both ports down)."""
    if _raise_own_fd_limit() < 6000:
        pytest.skip("this test needs 6,000 descriptors of its own")
    srv, base = start_warm(pfgate_factory, pb)
    socks = []
    try:
        for _ in range(6):
            socks += _open_silent(srv.http, 900)
            time.sleep(0.2)
        time.sleep(0.5)
        assert fd_count(srv) <= base.fds + 1024 + 40, f"pfgate holds {fd_count(srv)} fds"
        r = _health(srv.http)
        assert r.status == 200 and r.json() == {"status": "SERVING"}, r
        serving_exactly(srv, pb, "during a silent flood of the HTTP port")
    finally:
        for s in socks:
            s.close()
    base.check("after a silent flood", rss_slack_kib=64 * 1024, fd_slack=8)
    assert "out of file descriptors" not in srv.log_text() and \
        "cannot accept" not in srv.log_text()


@pytest.mark.timeout_s(40)
def test_idle_keepalive_flood_leaves_health_to_the_reserve(pfgate_factory, pb):
    """--max-connections 8, held by clients that made a request and stay idle (keep-alive): a
    9th connection lands in the reserve, where /healthz and /metrics answer 200 and anything
    else gets 503; past the reserve (32 more), new connections are closed at accept."""
    srv = pfgate_factory("--max-connections", "8")
    held = []
    try:
        for _ in range(8):
            held.append(_served_then_idle(srv.http))
        r = _health(srv.http)
        assert r.status == 200 and r.json() == {"status": "SERVING"}, r
        r = http_raw(srv.http, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5)
        assert r.status == 200 and b"pfgate_refused_connections_total" in r.body
        r = http_raw(srv.http, b"GET /v1/factors/12 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5)
        assert r.status == 503, r
        ws = RawWS(srv.http, timeout=5)
        ws.close()
        assert ws.status == 503
        # Fill the reserve with busy connections (a request each, answered, kept open).
        for _ in range(32):
            held.append(_served_then_idle(srv.http))
        s = connect(srv.http)
        s.settimeout(3)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            got = s.recv(4096)
        except OSError:
            got = b""
        s.close()
        assert got == b"", f"a connection past the reserve was served: {got[:60]!r}"
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    serving_exactly(srv, pb, "after the keep-alive flood")


@pytest.mark.timeout_s(40)
def test_admin_port_serves_probes_whatever_the_clients_hold(pfgate_factory, pb):
    """--admin-addr: /healthz and /metrics answer there while the public port is full of
    silent and busy connections; other paths are 404 there; the listening line names it."""
    srv = pfgate_factory("--max-connections", "4", "--admin-addr", "127.0.0.1:0")
    assert srv.admin and srv.admin.startswith("127.0.0.1:") and not srv.admin.endswith(":0")
    socks = _open_silent(srv.http, 200)
    try:
        for _ in range(3):
            r = _health(srv.admin)
            assert r.status == 200 and r.json() == {"status": "SERVING"}, r
        r = http_raw(srv.admin, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5)
        assert r.status == 200 and b"pfgate_open_connections" in r.body
        r = http_raw(srv.admin, b"GET /v1/factors/12 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5)
        assert r.status == 404 and "error" in r.json(), r
        r = http_raw(srv.admin, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5)
        assert r.status == 404, r
    finally:
        for s in socks:
            s.close()


@pytest.mark.timeout_s(60)
@pytest.mark.parametrize("port", ["http", "grpc"])
def test_out_of_descriptors_neither_spins_nor_floods_the_log(pfgate_factory, pb, port):
    """pfgate under a hard descriptor limit of 160, --max-connections 1000: 400 connections to
    one port run it out of descriptors. It pauses its accepts instead of spinning (under 0.5 s
    of CPU in 2 s), logs it at most once a second, goes on serving a connection that was open
    before, and serves new ones once the flood is gone."""
    srv = pfgate_factory("--max-connections", "1000",
                         listen_args=["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"],
                         prefix=["prlimit", "--nofile=160:160", "--"])
    keep = connect(srv.http)
    keep.settimeout(5)
    channel = grpc.insecure_channel(srv.grpc)
    stub = pb.pb_grpc.FactorsStub(channel)
    assert run_stream(stub, pb, [12]).tuples == expected([12])
    socks = []
    try:
        socks += _open_silent(getattr(srv, port), 400)
        time.sleep(0.5)
        cpu0 = _cpu_seconds(srv)
        time.sleep(2)
        cpu = _cpu_seconds(srv) - cpu0
        assert cpu < 0.5, f"pfgate used {cpu:.2f} s of CPU in 2 s while out of descriptors"
        keep.sendall(b"GET /v1/factors/360 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert keep.recv(4096).startswith(b"HTTP/1.1 200")
        res = run_stream(stub, pb, [360, 97])
        assert res.code == grpc.StatusCode.OK and res.tuples == expected([360, 97])
    finally:
        for s in socks:
            s.close()
        keep.close()
        channel.close()
    lines = [l for l in srv.log_text().splitlines() if "cannot accept" in l]
    assert 1 <= len(lines) <= 8, f"{len(lines)} log lines about accept failures"
    time.sleep(PAUSE)
    serving_exactly(srv, pb, "after running out of descriptors")


@pytest.mark.timeout_s(40)
def test_silent_connection_flood_grpc_port(pfgate_factory, pb):
    """--max-connections 16 and 300 silent connections to the gRPC port: each new connection
    takes the place of the oldest one that has not sent its HTTP/2 preface, so a real client
    is served at once (before: UNAVAILABLE until the silent ones timed out), and pfgate holds
    no more descriptors than the cap allows."""
    srv, base = start_warm(pfgate_factory, pb, "--max-connections", "16")
    socks = _open_silent(srv.grpc, 300)
    try:
        time.sleep(0.5)
        assert fd_count(srv) <= base.fds + 2 * 16 + 4, f"pfgate holds {fd_count(srv)} fds"
        for _ in range(3):
            with grpc.insecure_channel(srv.grpc) as ch:
                res = run_stream(pb.pb_grpc.FactorsStub(ch), pb, [360, 97], timeout=5)
            assert res.code == grpc.StatusCode.OK and res.tuples == expected([360, 97]), res.code
    finally:
        for s in socks:
            s.close()
    base.check("after a silent flood of the gRPC port", rss_slack_kib=16 * 1024, fd_slack=8)
