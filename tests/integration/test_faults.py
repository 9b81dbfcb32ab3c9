"""Reliability of pfgate under faults (SPEC.md, "Limits and bad input"): abrupt disconnects,
garbage on both ports, slow readers, and every limit flag, proven with exact answers after the
abuse and with the process's own resource figures (/proc/PID/fd, VmRSS, /metrics gauges).

Every test starts its own server (`pfgate_factory`): a server that was abused must not serve
the next test. Every socket wait has a deadline and every loop a bound; the whole file runs
in well under a minute on a 2-core box.

HTTP/2 is spoken by hand (frames built here, HPACK literals without Huffman): the `h2` Python
package is not installed, and garbage frames are the point anyway.
"""
import os
import random
import re
import select
import selectors
import socket
import struct
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from pftls import grpc_channel
from pfutil import METHOD, HeldRequests, drain, expected, raw_stream, run_stream, tup, varint
from pfhttp import (NDJSON_PATH, OP_TEXT, PRIME_NEAR_2_63, WS_PATH, Closed, RawWS,
                    compare_answers, connect, expected_answers, gnu_factor, http_raw,
                    metric_samples, ndjson_lines, parse_json_text, ws_frame)

# ------------------------------------------------------------------ numbers ---

CHECK_NUMS = ([360, 0, 1, -5, 2**61 - 1, PRIME_NEAR_2_63, 600851475143, 999999937 * 1000000007,
               2**62, 2**63 - 1] + list(range(2, 120)))
_POOL_RNG = random.Random(20240601)
POOL = sorted({_POOL_RNG.choice([_POOL_RNG.randrange(2, 10**6), _POOL_RNG.randrange(2**40, 2**63),
                                 _POOL_RNG.randrange(2, 1000)]) for _ in range(3000)})
_ORACLE = None


def oracle():
    global _ORACLE
    if _ORACLE is None:
        _ORACLE = gnu_factor(POOL + CHECK_NUMS + [2**62, 12])
    return _ORACLE


# ----------------------------------------------------------- process figures ---

def fd_count(srv):
    return len(os.listdir(f"/proc/{srv.pid}/fd"))


def get_metrics(srv, timeout=3.0):
    """GET /metrics on a new connection; retried while it is refused 503 (a connection limit
    whose released connections the server has not seen close yet)."""
    deadline = time.monotonic() + timeout
    while True:
        r = http_raw(srv.http, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5)
        if r.status != 503 or time.monotonic() > deadline:
            assert r.status == 200, f"/metrics: HTTP {r.status}"
            return r
        time.sleep(0.1)


def gauges(srv):
    """{series: value} of the open_streams / open_connections gauges, from /metrics over a
    new connection (which itself is one open HTTP connection while it is answered)."""
    r = get_metrics(srv)
    s = metric_samples(r.body.decode())
    g = {k: v for k, v in s.items() if k.startswith(("pfgate_open_streams", "pfgate_open_connections"))}
    assert len(g) == 6, f"/metrics lacks the open_streams/open_connections gauges: {sorted(g)}"
    return g


def counter(srv, name):
    return metric_samples(get_metrics(srv).body.decode()).get(name)


class Baseline:
    """fds, RSS and gauges of a warmed-up server at rest."""

    def __init__(self, srv):
        self.srv = srv
        self.fds = fd_count(srv)
        self.rss = srv.rss_kib()
        self.gauges = gauges(srv)

    def settle(self, fd_slack=3, timeout=8.0):
        """Wait until gauges equal the baseline and the fds are back within fd_slack.
        Returns (fds, rss_kib, gauges) as last seen."""
        deadline = time.monotonic() + timeout
        while True:
            fds, g = fd_count(self.srv), gauges(self.srv)
            if (g == self.gauges and fds <= self.fds + fd_slack) or time.monotonic() > deadline:
                return fds, self.srv.rss_kib(), g
            time.sleep(0.25)

    def check(self, what, rss_slack_kib, fd_slack=3):
        rss_slack_kib = rss_bound(rss_slack_kib)
        fds, rss, g = self.settle(fd_slack)
        assert g == self.gauges, (f"{what}: /metrics gauges did not return to their baseline "
                                  f"within 8 s: {_diff(self.gauges, g)}\n"
                                  f"TCP connections of its ports now:\n{_tcp_of(self.srv)}")
        assert fds <= self.fds + fd_slack, (f"{what}: pfgate holds {fds} fds, baseline "
                                            f"{self.fds} (leaked fds: {_fd_kinds(self.srv)})")
        assert rss - self.rss <= rss_slack_kib, (f"{what}: RSS grew {(rss - self.rss) // 1024} MiB "
                                                 f"({self.rss} -> {rss} KiB), bound "
                                                 f"{rss_slack_kib // 1024} MiB")
        return fds, rss


def instrumented():
    """Under ASan (`make test SANITIZE=1` sets ASAN_OPTIONS) or valgrind (tests/valgrind.sh
    sets PFGATE_VALGRIND)."""
    return "ASAN_OPTIONS" in os.environ or "PFGATE_VALGRIND" in os.environ


def rss_bound(kib):
    """An RSS bound measured on the plain build, for the build under test. Instrumented,
    every allocation also costs shadow memory and redzones, and freed memory waits in an
    8 MiB quarantine (valgrind's --freelist-vol): about twice the growth, plus 8."""
    if instrumented():
        return 2 * kib + 8 * 1024
    return kib


def rss_peak_until_stalled(srv, progress, seconds, peak):
    """Samples srv's RSS every 0.25 s until progress() has not changed for 1 s, or `seconds`
    pass, and returns the peak seen (from `peak` on). progress() returns None while the
    senders are not all under way yet."""
    t_end = time.monotonic() + seconds
    last, since = progress(), time.monotonic()
    while time.monotonic() < t_end:
        time.sleep(0.25)
        peak = max(peak, srv.rss_kib())
        now = progress()
        if now is None or now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > 1.0:
            break
    return peak


def _diff(a, b):
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def _tcp_of(srv):
    """`ss` lines of the TCP connections on the server's ports, both ends, with their
    processes: tells a connection the server kept from one a client library kept open."""
    ports = [a.rsplit(":", 1)[1] for a in (srv.grpc, srv.http)]
    filt = " or ".join(f"sport = :{p} or dport = :{p}" for p in ports)
    out = subprocess.run(["ss", "-tanpo", f"( {filt} )"], capture_output=True, text=True)
    return out.stdout.strip() or out.stderr.strip()


def _fd_kinds(srv):
    kinds = {}
    for fd in os.listdir(f"/proc/{srv.pid}/fd"):
        try:
            t = os.readlink(f"/proc/{srv.pid}/fd/{fd}").split(":")[0]
        except OSError:
            continue
        kinds[t] = kinds.get(t, 0) + 1
    return kinds


# ------------------------------------------------------ exact answers, 4 ways ---

def grpc_exact(srv, pb, nums=CHECK_NUMS, timeout=10):
    with grpc_channel(srv) as ch:  # over TLS for a TLS server (pftls.py)
        res = run_stream(pb.pb_grpc.FactorsStub(ch), pb, nums, timeout=timeout)
    assert res.code == grpc.StatusCode.OK, f"gRPC: status {res.code} {res.details!r}"
    want = expected(nums, oracle())
    assert res.tuples == want, f"gRPC: wrong answers ({len(res.tuples)} vs {len(want)})"


def ws_exact(srv, nums=CHECK_NUMS, timeout=10):
    exp = expected_answers(nums, oracle())
    with RawWS(srv.http, timeout=timeout) as ws:
        assert ws.status == 101, f"WebSocket upgrade: HTTP {ws.status}"
        ws.send_texts([str(n) for n in nums])
        got = [parse_json_text(t) for t in ws.recv_n(len(exp), timeout)]
        ws.send_close(1000)
    msg = compare_answers(got, exp, "WebSocket")
    assert msg is None, msg


def ndjson_exact(srv, nums=CHECK_NUMS, timeout=10):
    body = "".join(f"{n}\n" for n in nums).encode()
    r = http_raw(srv.http, b"POST " + NDJSON_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
                 + body, timeout)
    assert r.status == 200, f"NDJSON: HTTP {r.status} {r.body[:100]!r}"
    msg = compare_answers(ndjson_lines(r.body), expected_answers(nums, oracle()), "NDJSON")
    assert msg is None, msg


def v1_exact(srv, timeout=5):
    r = http_raw(srv.http, b"GET /v1/factors/360 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 timeout)
    assert r.status == 200 and r.json() == {"num": "360", "factors": ["2", "2", "2", "3", "3", "5"]}, r


def serving_exactly(srv, pb, what):
    """Every front end gives exact answers; returns the seconds each took."""
    assert srv.alive(), f"pfgate died {what}: rc {srv.proc.poll()}\n{srv.log_tail()}"
    took = {}
    for name, fn in (("grpc", lambda: grpc_exact(srv, pb)), ("websocket", lambda: ws_exact(srv)),
                     ("ndjson", lambda: ndjson_exact(srv)), ("v1", lambda: v1_exact(srv))):
        t0 = time.monotonic()
        try:
            fn()
        except (AssertionError, OSError, Closed, TimeoutError, grpc.RpcError) as e:
            pytest.fail(f"{what}: the {name} front end no longer answers exactly: {e!r}",
                        pytrace=False)
        took[name] = time.monotonic() - t0
    return took


def start_warm(pfgate_factory, pb, *args):
    """A server of the test's own, used once on every front (so that lazily made threads,
    pools and fds are in the baseline), and its baseline."""
    srv = pfgate_factory(*args)
    serving_exactly(srv, pb, "at start")
    serving_exactly(srv, pb, "at start")
    return srv, Baseline(srv)


# ------------------------------------------------------------- raw HTTP/2 ---

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4


def h2_frame(ftype, flags, sid, payload=b"", length=None):
    n = len(payload) if length is None else length
    return struct.pack("!I", n)[1:] + bytes([ftype, flags]) + struct.pack("!I", sid) + payload


def _hpack_literal(name, value):
    """Literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2)."""
    def s(b):
        assert len(b) < 127
        return bytes([len(b)]) + b
    return b"\x00" + s(name) + s(value)


def grpc_headers_block(path=METHOD.encode()):
    return b"".join(_hpack_literal(k, v) for k, v in [
        (b":method", b"POST"), (b":scheme", b"http"), (b":path", path), (b":authority", b"x"),
        (b"content-type", b"application/grpc"), (b"te", b"trailers")])


def grpc_msg(payload):
    return b"\x00" + struct.pack("!I", len(payload)) + payload


H2_HELLO = PREFACE + h2_frame(SETTINGS, 0, 0)


def h2_request(sid, payloads, end=True):
    return (h2_frame(HEADERS, END_HEADERS, sid, grpc_headers_block())
            + h2_frame(DATA, END_STREAM if end else 0, sid, b"".join(grpc_msg(p) for p in payloads)))


class H2Conn:
    """A raw HTTP/2 client connection: bytes out as given, frames in, parsed."""

    def __init__(self, addr, timeout=5, sock=None):
        self.sock = sock if sock is not None else connect(addr, timeout)
        self.buf = bytearray()
        self.frames = []
        self.ended = set()          # stream ids the server has ended
        self.closed = None          # "eof" / "reset" once the server closed

    def send(self, data):
        self.sock.sendall(data)

    def _read_some(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or self.closed:
            return False
        # select(), not the socket's timeout: a thread sending on this socket sets that one
        # (a reader that took the sender's 8 s waited for the server's idle GOAWAY instead).
        try:
            if not select.select([self.sock], [], [], min(left, 0.5))[0]:
                return True
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            return True
        except (OSError, ValueError):
            self.closed = "reset"
            return False
        if not chunk:
            self.closed = "eof"
            return False
        self.buf += chunk
        # One pass over the buffer, cut once: the floods bring ~10,000 frames, and slicing
        # the rest of the buffer per frame (or rescanning all frames per read) is quadratic,
        # enough to starve this process's other test threads of the GIL for seconds.
        at = 0
        while len(self.buf) - at >= 9:
            n = int.from_bytes(self.buf[at:at + 3], "big")
            if len(self.buf) - at < 9 + n:
                break
            f = (self.buf[at + 3], self.buf[at + 4],
                 int.from_bytes(self.buf[at + 5:at + 9], "big") & 0x7FFFFFFF,
                 bytes(self.buf[at + 9:at + 9 + n]))
            at += 9 + n
            self.frames.append(f)
            if f[0] in (HEADERS, DATA) and f[1] & END_STREAM or f[0] == RST_STREAM:
                self.ended.add(f[2])
            if f[0] == SETTINGS and not f[1] & ACK:
                try:
                    self.sock.sendall(h2_frame(SETTINGS, ACK, 0))
                except OSError:
                    pass
        del self.buf[:at]
        return True

    def stream_done(self, sid):
        return sid in self.ended

    def wait(self, sid, timeout):
        """Until stream sid ends or the connection closes: 'answered' or 'closed' or 'hang'."""
        deadline = time.monotonic() + timeout
        while not self.stream_done(sid):
            if not self._read_some(deadline):
                break
        if self.stream_done(sid):
            return "answered"
        return "closed" if self.closed else "hang"

    def wait_closed(self, timeout):
        deadline = time.monotonic() + timeout
        while self._read_some(deadline):
            pass
        return self.closed

    def responses(self, pb, sid):
        data = b"".join(p for t, _, s, p in self.frames if t == DATA and s == sid)
        out, i = [], 0
        while i + 5 <= len(data):
            n = int.from_bytes(data[i + 1:i + 5], "big")
            out.append(tup(pb.Response.FromString(data[i + 5:i + 5 + n])))
            i += 5 + n
        return out

    def abort(self):
        """TCP RST."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def rst_close(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def wait_all_closed(socks, timeout):
    """Read every socket until the server closes it, all at once. Returns {sock: seconds to
    close, or None if still open at the deadline}, plus what each one received."""
    sel = selectors.DefaultSelector()
    t0 = time.monotonic()
    took = {s: None for s in socks}
    got = {s: b"" for s in socks}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    left = len(socks)
    while left and time.monotonic() - t0 < timeout:
        for key, _ in sel.select(0.2):
            s = key.fileobj
            try:
                chunk = s.recv(1 << 16)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if chunk:
                got[s] += chunk[:4096] if len(got[s]) < 65536 else b""
                continue
            took[s] = time.monotonic() - t0
            sel.unregister(s)
            left -= 1
    sel.close()
    return took, got


# ==================================================== 1. abrupt disconnects ===

def _client(kind, i, srv, pb, errors):
    """One client that goes away at a random point. Answers read before that are checked."""
    rng = random.Random(7000 + i)
    orc = oracle()
    nums = [rng.choice(POOL) for _ in range(rng.choice([1, 5, 50, 500, 2000]))]
    read_n = rng.choice([0, 0, 1, 3, 20, 200])
    exp_grpc = expected(nums, orc)
    exp_json = expected_answers(nums, orc)
    try:
        if kind == "grpc-cancel":
            # A connection of its own (grpc would share one between all these channels).
            ch = grpc.insecure_channel(srv.grpc, options=[("grpc.use_local_subchannel_pool", 1)])
            reqs = HeldRequests([pb.Request(num=n) for n in nums], hold=5)
            # The deadline only bounds a hang; it is no latency bound. grpc's Python client
            # needs a few GIL hand-offs per message, and here it shares one GIL with 49 busy
            # client threads: sending 50 numbers and reading 200 answers took 0.05 s in a
            # process of its own but 10-12 s in this one, with pfgate idle, every answer
            # written, waiting for the next request (its deadline status was the failure).
            # 30 s is past the whole load phase and within the test's 60 s.
            call = pb.pb_grpc.FactorsStub(ch).PrimeFactors(iter(reqs), timeout=30)
            got = []
            if read_n:
                for r in call:
                    got.append(tup(r))
                    if len(got) >= min(read_n, len(exp_grpc)):
                        break
            call.cancel()
            reqs.release()
            ch.close()
            if got != exp_grpc[:len(got)]:
                errors.append(f"{kind} #{i}: wrong answers before the cancel")
        elif kind in ("h2-rst", "h2-fin"):
            c = H2Conn(srv.grpc)
            body = b"".join(grpc_msg(pb.Request(num=n).SerializeToString()) for n in nums)
            cut = rng.randrange(0, len(body) + 1)
            out = H2_HELLO + h2_frame(HEADERS, END_HEADERS, 1, grpc_headers_block())
            if cut:
                out += h2_frame(DATA, 0, 1, body[:min(cut, 16384)])
            c.send(out)
            if read_n:
                deadline = time.monotonic() + 0.3
                while time.monotonic() < deadline and c._read_some(deadline):
                    pass
            c.abort() if kind == "h2-rst" else c.close()
        elif kind in ("ws-rst", "ws-noclose"):
            ws = RawWS(srv.http)
            if ws.status != 101:
                errors.append(f"{kind} #{i}: upgrade got HTTP {ws.status}")
                ws.close()
                return
            ws.send_texts([str(n) for n in nums])
            if read_n:
                got = [parse_json_text(t) for t in ws.recv_n(min(read_n, len(exp_json)), 10)]
                if compare_answers(got, exp_json[:len(got)]):
                    errors.append(f"{kind} #{i}: wrong answers before the disconnect")
            ws.abort() if kind == "ws-rst" else ws.close()
        elif kind == "ws-half-handshake":
            s = connect(srv.http)
            req = (f"GET {WS_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade"
                   f"\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13"
                   f"\r\n\r\n").encode()
            s.sendall(req[:rng.randrange(1, len(req))])
            rst_close(s) if rng.random() < 0.5 else s.close()
        elif kind == "http-half":
            s = connect(srv.http)
            req = b"GET /v1/factors/" + str(nums[0]).encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
            s.sendall(req[:rng.randrange(1, len(req))])
            rst_close(s) if rng.random() < 0.5 else s.close()
        elif kind == "v1-rst":
            s = connect(srv.http)
            s.sendall(b"GET /v1/factors/" + str(nums[0]).encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            rst_close(s)
        elif kind == "ndjson-cut":
            s = connect(srv.http)
            body = "".join(f"{n}\n" for n in nums).encode()
            s.sendall(b"POST " + NDJSON_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: "
                      + str(len(body) + 100).encode() + b"\r\n\r\n" + body[:rng.randrange(0, len(body))])
            if read_n:
                s.settimeout(0.5)
                try:
                    s.recv(4096)
                except OSError:
                    pass
            rst_close(s) if rng.random() < 0.5 else s.close()
        else:
            raise AssertionError(kind)
    except (OSError, Closed, TimeoutError, AssertionError, grpc.RpcError) as e:
        errors.append(f"{kind} #{i}: {e!r}")


CLIENT_KINDS = ["grpc-cancel", "h2-rst", "h2-fin", "ws-rst", "ws-noclose", "ws-half-handshake",
                "http-half", "v1-rst", "ndjson-cut"]


@pytest.mark.timeout_s(60)
def test_1000_clients_vanish_mid_stream(pfgate_factory, pb):
    """1,000 clients (50 at a time) that vanish at random points: TCP RST, FIN without a
    WebSocket Close, gRPC cancel, half-sent requests and handshakes, NDJSON bodies cut short.
    Afterwards: exact answers on every front, fds and /metrics gauges back at their baseline,
    RSS within baseline + 20 MiB.

    The RSS bound: freed memory stays in glibc's per-thread arenas and is not all returned to
    the kernel, so RSS settles a few MiB above the baseline (measured: 1-4 MiB); a leak of
    20 KiB per client (one answer buffer or connection struct each) would exceed 20 MiB."""
    srv, base = start_warm(pfgate_factory, pb)
    errors = []
    order = [CLIENT_KINDS[i % len(CLIENT_KINDS)] for i in range(1000)]
    random.Random(1000).shuffle(order)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(lambda a: _client(a[1], a[0], srv, pb, errors), enumerate(order)))
    took = time.monotonic() - t0
    print(f"1000 vanishing clients in {took:.1f}s")
    assert srv.alive(), f"pfgate died: rc {srv.proc.poll()}\n{srv.log_tail()}"
    assert not errors, f"{len(errors)} clients saw errors before their disconnect: {errors[:5]}"
    serving_exactly(srv, pb, "after 1000 vanishing clients")
    fds, rss = base.check("after 1000 vanishing clients", rss_slack_kib=20 * 1024)
    print(f"fds {base.fds} -> {fds}, RSS {base.rss} -> {rss} KiB")


# ======================================================== 2. bad input ===

@pytest.mark.timeout_s(40)
def test_random_bytes_on_both_ports(pfgate_factory, pb):
    """Seeded random bytes (some after a valid HTTP/2 preface, a valid HTTP request line, a
    WebSocket handshake or an h2c upgrade), 120 connections per port held open: the server
    closes every one by itself within --header-timeout/--idle-timeout (2 s) + slack, never
    hangs, and then answers exactly."""
    srv, base = start_warm(pfgate_factory, pb, "--header-timeout", "2", "--idle-timeout", "2")
    rng = random.Random(424242)
    socks = {}
    prefixes_grpc = [b"", PREFACE, H2_HELLO, b"PRI * HTTP/2.0\r\n"]
    prefixes_http = [b"", b"GET / HTTP/1.1\r\n", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                     b"POST " + NDJSON_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n",
                     b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]
    for port, prefixes in ((srv.grpc, prefixes_grpc), (srv.http, prefixes_http)):
        for i in range(120):
            s = connect(port)
            data = rng.choice(prefixes) + rng.randbytes(rng.choice([1, 9, 64, 512, 4096]))
            try:
                s.sendall(data)
            except OSError:
                pass
            socks[s] = (port, data[:48])
    # On the HTTP port after a WebSocket upgrade, random frames; they may be a valid partial
    # frame that waits for its rest (no timeout covers that), so these are only sent and reset.
    ws_socks = []
    for i in range(30):
        ws = RawWS(srv.http)
        assert ws.status == 101
        try:
            ws.send_raw(rng.randbytes(rng.choice([2, 16, 300])))
        except OSError:
            pass
        ws_socks.append(ws)
    took, got = wait_all_closed(list(socks), timeout=6.0)
    for ws in ws_socks:
        ws.abort()
    hung = [socks[s] for s, t in took.items() if t is None]
    for s in socks:
        s.close()
    assert not hung, (f"{len(hung)} connections with garbage were still open 6 s later "
                      f"(--header-timeout 2, --idle-timeout 2): {hung[:4]}")
    serving_exactly(srv, pb, "after random bytes")
    base.check("after random bytes", rss_slack_kib=20 * 1024)


P = NDJSON_PATH.encode()
WS_KEY = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
WS_UP = b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
ANY_ERR = {4, 5}    # 4xx/5xx, or a plain close

# (id, request, allowed status classes; a close without a response is allowed too)
BROKEN_HTTP = [
    ("bad-method", b"FOO@ / HTTP/1.1\r\nHost: x\r\n\r\n", ANY_ERR),
    ("nul-in-target", b"GET /v1/factors/36\x000 HTTP/1.1\r\nHost: x\r\n\r\n", ANY_ERR),
    ("nul-only", b"\x00" * 600, ANY_ERR),
    ("target-only-spaces", b"GET      HTTP/1.1\r\nHost: x\r\n\r\n", ANY_ERR),
    ("2000-headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
     + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(2000)) + b"\r\n", ANY_ERR),
    ("header-no-colon", b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", ANY_ERR),
    ("obs-fold", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", ANY_ERR),
    ("chunked-bad-size", b"POST " + P + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"zz\r\n360\n\r\n0\r\n\r\n", ANY_ERR),
    ("chunked-huge-size", b"POST " + P + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"FFFFFFFFFFFFFFFFFF\r\n360\n", ANY_ERR),
    ("chunked-negative", b"POST " + P + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"-4\r\n360\n\r\n0\r\n\r\n", ANY_ERR),
    # RFC 9112 6.1: both Content-Length and chunked is smuggling bait; must not be served as 200
    ("cl-and-te", b"POST " + P + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n4\r\n360\n\r\n0\r\n\r\n", ANY_ERR),
    ("two-content-lengths", b"POST " + P + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
     b"Content-Length: 40\r\n\r\n360\n", {4}),
    ("content-length-hex", b"POST " + P + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0x4\r\n\r\n360\n", {4}),
    ("content-length-plus", b"POST " + P + b" HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\n360\n", {4}),
    # WebSocket handshakes that must not become a WebSocket
    ("ws-no-key", b"GET " + P + b" HTTP/1.1\r\nHost: x\r\n" + WS_UP + b"Sec-WebSocket-Version: 13\r\n\r\n",
     ANY_ERR),
    ("ws-no-connection-header", b"GET " + P + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
     + WS_KEY + b"Sec-WebSocket-Version: 13\r\n\r\n", ANY_ERR | {2}),
    ("ws-wrong-path", b"GET /nope HTTP/1.1\r\nHost: x\r\n" + WS_UP + WS_KEY
     + b"Sec-WebSocket-Version: 13\r\n\r\n", {4}),
]

# Clear RFC 6455 4.2.1 / 4.2.2 violations (found by this file); pf_ws_confirm_upgrade refuses
# those in FIXED_WS. HTTP/1.0 is not visible to pfgate's callbacks in lws 4.1 and stays xfail.
WS_BUG = "BUG (found by test_faults): pfgate answers 101 to an invalid WebSocket handshake"
BROKEN_WS_XFAIL = [
    ("ws-version-8", b"GET " + P + b" HTTP/1.1\r\nHost: x\r\n" + WS_UP + WS_KEY
     + b"Sec-WebSocket-Version: 8\r\n\r\n", {4}, "RFC 6455 4.2.2: version != 13 gets 426 + "
     "Sec-WebSocket-Version: 13"),
    ("ws-no-version", b"GET " + P + b" HTTP/1.1\r\nHost: x\r\n" + WS_UP + WS_KEY + b"\r\n", {4},
     "RFC 6455 4.2.1: Sec-WebSocket-Version is required"),
    ("ws-short-key", b"GET " + P + b" HTTP/1.1\r\nHost: x\r\n" + WS_UP
     + b"Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n", {4},
     "RFC 6455 4.2.1: the key must be 16 bytes, base64"),
    ("ws-post", b"POST " + P + b" HTTP/1.1\r\nHost: x\r\n" + WS_UP + WS_KEY
     + b"Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n", {4},
     "RFC 6455 4.1: the handshake is a GET"),
    ("ws-http-1.0", b"GET " + P + b" HTTP/1.0\r\nHost: x\r\n" + WS_UP + WS_KEY
     + b"Sec-WebSocket-Version: 13\r\n\r\n", {4}, "RFC 6455 4.1: HTTP/1.1 or higher"),
    ("h2c-upgrade", b"GET " + P + b" HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n"
     b"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n", {2, 4},
     "the WebSocket path switches to h2c (101) although SPEC offers only WebSocket there"),
]


def _one_broken(srv, raw, timeout):
    """Send raw, read until the server closes or timeout. Returns (statuses, closed, data)."""
    s = connect(srv.http)
    try:
        try:
            s.sendall(raw)
        except OSError:
            pass
        took, got = wait_all_closed([s], timeout)
        data = got[s]
        statuses = [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3})", data)]
        return statuses, took[s] is not None, data
    finally:
        rst_close(s)


@pytest.mark.timeout_s(30)
def test_broken_http_and_websocket_handshakes(pfgate_factory, pb):
    """Malformed HTTP/1.1 (bad request lines, 2000 headers, NUL bytes, bad chunked, smuggling
    bait, bad Content-Length) and bad WebSocket handshakes: each gets a 4xx/5xx (or a close),
    never a 101, the connection is closed by --header-timeout (2 s) + slack at the latest, and
    the server then answers exactly."""
    srv, base = start_warm(pfgate_factory, pb, "--header-timeout", "2", "--idle-timeout", "2")
    results = {}

    def run(case):
        name, raw, allowed = case[:3]
        results[name] = _one_broken(srv, raw, 5.0)

    with ThreadPoolExecutor(max_workers=len(BROKEN_HTTP)) as pool:
        list(pool.map(run, BROKEN_HTTP))
    bad = []
    for name, raw, allowed in BROKEN_HTTP:
        statuses, closed, data = results[name]
        if not closed:
            bad.append(f"{name}: still open 5 s later (--header-timeout 2)")
        elif 101 in statuses:
            bad.append(f"{name}: got 101 Switching Protocols")
        elif statuses and statuses[0] // 100 not in allowed:
            bad.append(f"{name}: HTTP {statuses[0]}, expected {sorted(allowed)}xx: {data[:80]!r}")
    assert not bad, "\n".join(bad)
    serving_exactly(srv, pb, "after broken HTTP")
    base.check("after broken HTTP", rss_slack_kib=20 * 1024)


FIXED_WS = {"ws-version-8", "ws-no-version", "ws-short-key", "ws-post", "h2c-upgrade"}


@pytest.mark.parametrize("name,raw,allowed,why", [
    pytest.param(*c, id=c[0]) if c[0] in FIXED_WS else
    pytest.param(*c, marks=pytest.mark.xfail(strict=True, reason=f"{WS_BUG}: {c[3]}"), id=c[0])
    for c in BROKEN_WS_XFAIL])
def test_invalid_websocket_handshake_refused(pfgate_factory, name, raw, allowed, why):
    srv = pfgate_factory("--header-timeout", "2")
    s = connect(srv.http)
    try:
        s.sendall(raw)
        s.settimeout(3)
        data = b""
        while b"\r\n\r\n" not in data:          # the response head, or a close
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    finally:
        rst_close(s)
    statuses = [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3})", data)]
    assert 101 not in statuses, f"{name}: 101 Switching Protocols ({why}): {data[:120]!r}"
    assert not statuses or statuses[0] // 100 in allowed, f"{name}: HTTP {statuses}"
    if name == "ws-version-8":
        assert statuses == [426] and b"sec-websocket-version: 13" in data.lower(), data[:200]


# ------------------------------------------------------- garbage HTTP/2 frames ---

def _settings_flood():
    return h2_frame(SETTINGS, 0, 0, b"\x00\x03\x00\x00\x00\x64") * 5000


def _rapid_reset():
    # CVE-2023-44487 shape, bounded: 3000 streams opened and reset at once
    out = []
    for i in range(3000):
        sid = 1 + 2 * i
        out.append(h2_frame(HEADERS, END_HEADERS, sid, grpc_headers_block())
                   + h2_frame(RST_STREAM, 0, sid, b"\x00\x00\x00\x08"))
    return b"".join(out)


def _continuation_flood():
    # CVE-2024-27316 shape, bounded: a header block that never ends, 1,000 x 1 KiB
    junk = _hpack_literal(b"x-junk", b"j" * 100) * 9
    return (h2_frame(HEADERS, 0, 1, grpc_headers_block())
            + b"".join(h2_frame(CONTINUATION, 0, 1, junk) for _ in range(1000)))


# (id, bytes after the preface + SETTINGS, what must happen: "answered" = a valid request
# sent next on the same connection is answered exactly; "closed" = the server closes the
# connection; "either" = one of the two). Never "hang".
H2_GARBAGE = [
    ("unknown-frame-types", h2_frame(0x42, 0, 0, b"hello") + h2_frame(0xFA, 0xFF, 3, b"x" * 100),
     "answered"),                                                   # RFC 9113 4.1: ignore
    ("settings-bad-length", h2_frame(SETTINGS, 0, 0, b"\x00" * 7), "closed"),
    ("settings-ack-with-payload", h2_frame(SETTINGS, ACK, 0, b"\x00" * 6), "closed"),
    ("settings-on-stream", h2_frame(SETTINGS, 0, 1, b""), "closed"),
    ("data-on-stream-0", h2_frame(DATA, 0, 0, b"abc"), "either"),
    ("headers-garbage-hpack", h2_frame(HEADERS, END_HEADERS | END_STREAM, 1, b"\xff\xff\xff\xff\xff\x7f"),
     "either"),
    ("frame-over-max-size", h2_frame(0x42, 0, 0, b"z" * 20000), "closed"),
    ("window-update-zero", h2_frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x00"), "closed"),
    ("window-update-overflow", h2_frame(WINDOW_UPDATE, 0, 0, b"\x7f\xff\xff\xff") * 2, "either"),
    ("ping-bad-length", h2_frame(PING, 0, 0, b"\x00" * 5), "closed"),
    ("length-lies", h2_frame(DATA, 0, 1, b"abc", length=16000), "closed"),
    ("headers-even-stream", h2_frame(HEADERS, END_HEADERS, 2, grpc_headers_block()), "either"),
    ("priority-self-dependency", h2_frame(PRIORITY, 0, 1, b"\x00\x00\x00\x01\x10"), "either"),
    ("rst-idle-stream", h2_frame(RST_STREAM, 0, 5, b"\x00\x00\x00\x08"), "either"),
    ("continuation-without-headers", h2_frame(CONTINUATION, END_HEADERS, 1, b""), "closed"),
    # RFC 9113 8.4 says PROTOCOL_ERROR; grpc core ignores it (not pfgate's to change)
    ("push-promise-from-client", h2_frame(PUSH, END_HEADERS, 1, b"\x00\x00\x00\x02"), "either"),
    ("goaway-then-request", h2_frame(GOAWAY, 0, 0, b"\x00\x00\x00\x00\x00\x00\x00\x00"), "either"),
    ("preface-then-garbage", b"GARBAGE!" * 64, "closed"),
    ("settings-flood-5000", _settings_flood(), "either"),
    ("rapid-reset-3000", _rapid_reset(), "either"),
    ("continuation-flood-1MiB", _continuation_flood(), "either"),
    ("empty-data-flood", h2_frame(HEADERS, END_HEADERS, 1, grpc_headers_block())
     + h2_frame(DATA, 0, 1, b"") * 10000, "either"),
]


def _h2_case(srv, pb, case):
    name, garbage, want = case
    c = H2Conn(srv.grpc)
    t0 = time.monotonic()
    reader_stop = threading.Event()

    def reader():      # keep reading while a flood is sent, or the send could block forever
        while not reader_stop.is_set() and c._read_some(time.monotonic() + 0.2):
            pass

    t = threading.Thread(target=reader, daemon=True)
    try:
        c.send(H2_HELLO)
        t.start()
        try:
            c.sock.settimeout(8)
            c.sock.sendall(garbage)
        except OSError:
            pass
        time.sleep(0.2)
        reader_stop.set()
        t.join(3)
        # A fresh odd stream id above any the garbage used.
        sid = 10001
        sent = time.monotonic()
        try:
            c.send(h2_request(sid, [pb.Request(num=360).SerializeToString()]))
        except OSError:
            c.closed = c.closed or "reset"
        outcome = c.wait(sid, 6.0) if not c.closed else "closed"
        if outcome == "answered":
            got = c.responses(pb, sid)
            if got != expected([360], oracle()):
                return f"{name}: wrong answers on the same connection: {got}"
        if outcome == "hang":
            return f"{name}: neither answered nor closed within 6 s"
        if want != "either" and outcome != want:
            goaway = [p[8:60] for t, _, _, p in c.frames if t == GOAWAY]
            return (f"{name}: {outcome} ({c.closed}, GOAWAY {goaway}), expected {want}; "
                    f"request sent {sent - t0:.2f} s after connecting, {time.monotonic() - t0:.2f} s ago")
        return None
    finally:
        reader_stop.set()
        c.abort()


@pytest.mark.timeout_s(40)
def test_garbage_http2_frames_on_grpc_port(pfgate_factory, pb):
    """Hand-built bad HTTP/2 after a valid preface: bad types and lengths, frames on the wrong
    stream, bad HPACK, and bounded floods (SETTINGS, PING, rapid reset, CONTINUATION, empty
    DATA). Each connection either still answers a valid request exactly or is closed by the
    server; none hangs. Then: exact answers, fds and gauges back, RSS bounded."""
    srv, base = start_warm(pfgate_factory, pb, "--header-timeout", "2", "--idle-timeout", "3")
    with ThreadPoolExecutor(max_workers=8) as pool:
        errs = [e for e in pool.map(lambda c: _h2_case(srv, pb, c), H2_GARBAGE) if e]
    assert srv.alive(), f"pfgate died: rc {srv.proc.poll()}\n{srv.log_tail()}"
    assert not errs, "\n".join(errs)
    serving_exactly(srv, pb, "after garbage HTTP/2")
    # 32 MiB: the rapid reset alone costs grpc ~6 KiB per stream while it lasts (3000
    # streams: ~19 MiB measured), which glibc keeps after it is freed. A per-stream or
    # per-connection leak over these ~10,000 frames and 23 connections exceeds it.
    base.check("after garbage HTTP/2", rss_slack_kib=32 * 1024)


@pytest.mark.timeout_s(30)
def test_http2_ping_flood_memory_bounded(pfgate_factory, pb):
    """5,000 HTTP/2 PINGs at once used to raise pfgate's RSS by ~35 MiB (grpc core 1.51 holds
    an answer for each); pfgate's HTTP/2 guard now closes a connection with 1,000 of them
    unanswered (gateway/grpc/h2_guard.c) with GOAWAY ENHANCE_YOUR_CALM."""
    srv, base = start_warm(pfgate_factory, pb)
    for i in range(3):
        err = _h2_case(srv, pb, ("ping-flood-5000", h2_frame(PING, 0, 0, b"12345678") * 5000,
                                 "either"))
        assert err is None, err
    serving_exactly(srv, pb, "after PING floods")
    base.check("after 3 PING floods of 5,000", rss_slack_kib=20 * 1024)


def _read_varint(b, i):
    """(value, next index) or raises ValueError (truncated, over 10 bytes) or LookupError
    (a 10th byte above 1: past 64 bits, where parsers differ)."""
    v = 0
    for k in range(10):
        if i >= len(b):
            raise ValueError("truncated varint")
        c = b[i]
        i += 1
        if k == 9 and c > 1:
            raise LookupError("varint past 64 bits")
        v |= (c & 0x7F) << (7 * k)
        if not c & 0x80:
            return v, i
    raise ValueError("varint over 10 bytes")


def strict_request(b):
    """A strict protobuf oracle for primefactor.Request: ("ok", num), ("bad", None) for bytes
    no protobuf parser may accept, or ("skip", None) where parsers legitimately differ (groups,
    field 1 with another wire type, field numbers past 2^29-1)."""
    num, i = 0, 0
    try:
        while i < len(b):
            start = i
            key, i = _read_varint(b, i)
            field, wt = key >> 3, key & 7
            if field == 0 and b[i - 1] == 0 and i - start > 1:
                # an overlong (non-canonical) encoding of field 0: protobuf-c 1.4 takes it
                # as an unknown field instead of an error (reported; not pfgate's parser)
                return "skip", None
            if field == 0 or wt in (6, 7):
                return "bad", None
            if wt in (3, 4) or field >= 1 << 29 or (field == 1 and wt != 0):
                return "skip", None
            if wt == 0:
                v, i = _read_varint(b, i)
                if field == 1:
                    num = v - (1 << 64) if v >= 1 << 63 else v
            elif wt == 2:
                n, i = _read_varint(b, i)
                if i + n > len(b):
                    return "bad", None
                i += n
            else:
                i += 8 if wt == 1 else 4
                if i > len(b):
                    return "bad", None
    except ValueError:
        return "bad", None
    except LookupError:
        return "skip", None
    return "ok", num


@pytest.mark.timeout_s(30)
def test_protobuf_garbage_in_valid_grpc_frames(pfgate_factory, pb):
    """Seeded random message bodies inside well-formed gRPC frames, judged by a strict oracle
    (strict_request): what no parser may accept must end the stream with INVALID_ARGUMENT and
    no answer; what parses must be answered exactly like the num it holds."""
    srv, base = start_warm(pfgate_factory, pb)
    rng = random.Random(31337)
    bad, good = [], []
    tries = 0
    alphabet = [0x08, 0x80, 0xff, 0x0a, 0x7a, 0x01, 0x00, 0x10, 0x12, 0x15, 0x19, 0x7f]
    while (len(bad) < 150 or len(good) < 60) and tries < 50000:
        tries += 1
        n = rng.choice([1, 2, 3, 5, 8, 13, 40])
        payload = bytes(rng.choice(alphabet + [rng.randrange(256)]) for _ in range(n))
        verdict, num = strict_request(payload)
        if verdict == "bad" and len(bad) < 150:
            bad.append(payload)
        elif verdict == "ok" and len(good) < 60:
            good.append((payload, num))
    assert len(bad) == 150 and len(good) == 60, (len(bad), len(good))
    errs = []
    with grpc.insecure_channel(srv.grpc) as ch:
        for p in bad:
            res = raw_stream(ch, [p], timeout=5)
            if res.code != grpc.StatusCode.INVALID_ARGUMENT or res.responses:
                errs.append(f"undecodable {p.hex()}: {res.code} {res.details!r}, "
                            f"{len(res.responses)} answers")
        orc = gnu_factor([n for _, n in good])
        for p, n in good:
            res = raw_stream(ch, [p], timeout=5)
            got = [tup(pb.Response.FromString(b)) for b in res.responses]
            if res.code != grpc.StatusCode.OK or got != expected([n], orc):
                errs.append(f"decodable {p.hex()} (num {n}): {res.code} {res.details!r} {got[:3]}")
        # and all of them, good and bad, on one stream: answers up to the first bad one
        mixed = [p for p, _ in good[:5]] + [bad[0]] + [p for p, _ in good[5:10]]
        res = raw_stream(ch, mixed, timeout=5)
        got = [tup(pb.Response.FromString(b)) for b in res.responses]
        want = expected([n for _, n in good[:5]], orc)
        if res.code != grpc.StatusCode.INVALID_ARGUMENT or got != want[:len(got)]:
            errs.append(f"mixed stream: {res.code}, {len(got)} answers")
    assert not errs, f"{len(errs)} differences from the protobuf oracle:\n" + "\n".join(errs[:10])
    serving_exactly(srv, pb, "after protobuf garbage")
    base.check("after protobuf garbage", rss_slack_kib=20 * 1024)


# ====================================================== 3. slow readers ===

SLOW_SECONDS = 12          # stop sending after this long even if never stalled
SLOW_TOTAL = 1_000_000


@pytest.mark.timeout_s(45)
def test_slow_readers_on_every_front_rss_bounded(pfgate_factory, pb):
    """A gRPC stream, a WebSocket and an NDJSON POST that send up to 1,000,000 numbers each
    (2^62: 62 answers each) and never read an answer, all at once. pfgate must stop reading
    them (the senders stall), keep its RSS under a ceiling, and answer a small request on every
    front end in under 2 s meanwhile; after they go, fds and gauges return to their baseline.

    Ceiling: per stream pfgate holds at most --max-pending (1024) numbers, their answers
    (62 x 1024 ~ 64 K answers, ~40 bytes each framed: ~2.5 MiB), plus the transports' send
    buffers (HTTP/2 window 64 KiB-4 MiB, lws 32 KiB): a few MiB. Measured growth for the
    three together: under 1 MiB (the senders stall after ~10,000 gRPC and ~100,000 WebSocket /
    NDJSON numbers, most of them in kernel socket buffers). The ceiling is baseline + 32 MiB:
    room for malloc's per-thread arenas, but a server that kept reading would hold 1,000,000
    numbers x 62 answers (> 1 GiB) and pass it within a second."""
    srv, base = start_warm(pfgate_factory, pb)
    ceiling = base.rss + rss_bound(32 * 1024)
    stop = threading.Event()
    sent = {"grpc": 0, "websocket": 0, "ndjson": 0}
    peak = [base.rss]

    # gRPC: grpcio only takes the next request from the iterator when flow control allows.
    ch = grpc.insecure_channel(srv.grpc)
    req = pb.Request(num=2**62)

    def flood():
        for _ in range(SLOW_TOTAL):
            if stop.is_set():
                return
            sent["grpc"] += 1
            yield req

    call = pb.pb_grpc.FactorsStub(ch).PrimeFactors(flood(), timeout=SLOW_SECONDS + 20)

    ws = RawWS(srv.http)
    assert ws.status == 101
    frame = ws_frame(OP_TEXT, str(2**62))
    nd = connect(srv.http)
    line = f"{2**62}\n".encode()
    nd.sendall(b"POST " + NDJSON_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: "
               + str(len(line) * SLOW_TOTAL).encode() + b"\r\n\r\n")

    def pump(sock, unit, key):
        # Short waits, so that the thread sees `stop` at once: a thread blocked in send()
        # would keep the socket alive after close(), and its reset would come only when the
        # send gave up (or pfgate timed the body out), racing the check of the gauges.
        sock.settimeout(0.2)
        data = memoryview(unit * 1000)
        off = 0
        while not stop.is_set() and sent[key] < SLOW_TOTAL:
            try:
                off += sock.send(data[off:])
            except socket.timeout:
                continue
            except OSError:
                return
            if off == len(data):
                sent[key] += 1000
                off = 0

    threads = [threading.Thread(target=pump, args=(ws.sock, frame, "websocket"), daemon=True),
               threading.Thread(target=pump, args=(nd, line, "ndjson"), daemon=True)]
    for t in threads:
        t.start()
    try:
        # Until all three senders have started and stop advancing (or SLOW_SECONDS pass).
        peak[0] = rss_peak_until_stalled(
            srv, lambda: dict(sent) if min(sent.values()) > 0 else None, SLOW_SECONDS, peak[0])
        print(f"sent before the stall: {sent}, RSS {base.rss} -> {srv.rss_kib()} KiB "
              f"(peak {peak[0]})")
        for k, v in sent.items():
            assert v < SLOW_TOTAL, f"{k}: pfgate read all {SLOW_TOTAL} numbers from a client " \
                                   f"that never reads (no flow control)"
        # Others are served quickly, and exactly, meanwhile.
        small = [360, PRIME_NEAR_2_63, 12]
        for name, fn in (("grpc", lambda: grpc_exact(srv, pb, small, 5)),
                         ("websocket", lambda: ws_exact(srv, small, 5)),
                         ("ndjson", lambda: ndjson_exact(srv, small, 5)),
                         ("v1", lambda: v1_exact(srv))):
            t0 = time.monotonic()
            fn()
            took = time.monotonic() - t0
            assert took < 2.0, f"{name}: a small request took {took:.2f}s beside three stalled readers"
        rss = srv.rss_kib()
        peak[0] = max(peak[0], rss)
        assert peak[0] <= ceiling, (f"RSS peaked at {peak[0] // 1024} MiB with three stalled readers, "
                                    f"ceiling {ceiling // 1024} MiB (baseline {base.rss // 1024} MiB)")
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        call.cancel()
        ch.close()
        ws.abort()
        rst_close(nd)
    serving_exactly(srv, pb, "after the slow readers went")
    base.check("after the slow readers went", rss_slack_kib=32 * 1024)


STALLED_STREAMS = 100


@pytest.mark.timeout_s(45)
def test_many_stalled_grpc_streams_hold_little_each(pfgate_factory, pb):
    """100 gRPC streams on one connection send 2^62 (62 answers each) and never read. pfgate
    buffers each stream's answers only up to a small bound beyond its flow-control window: the
    hinted-write buffer is 4 KiB a stream (GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE). Measured growth
    for the 100: 3.4-3.8 MiB (2.0-2.2 with 1 KiB, 2.5-2.7 without hinted writes); with grpc's
    64 KiB default 4.7-8.3 MiB, over this bound of 4.5 MiB in 4 runs of 6."""
    srv, base = start_warm(pfgate_factory, pb)
    ch = grpc.insecure_channel(srv.grpc)
    stub = pb.pb_grpc.FactorsStub(ch)
    stop = threading.Event()
    sent = [0]
    req = pb.Request(num=2**62)

    def flood():
        while not stop.is_set():
            sent[0] += 1
            yield req

    calls = [stub.PrimeFactors(flood(), timeout=40) for _ in range(STALLED_STREAMS)]
    peak = base.rss
    try:
        # Until the senders stop advancing (all stalled), at most 8 s: grpcio goes on taking a
        # few requests a second, so the growth is measured as it levels off.
        peak = max(rss_peak_until_stalled(srv, lambda: sent[0], 8, peak), srv.rss_kib())
        print(f"sent {sent[0]} requests, RSS {base.rss} -> peak {peak} KiB")
        # Instrumented, each of the many small buffers here carries redzones and shadow
        # (18 MiB of growth under ASan, 8x): the bound is the plain build's.
        bound = 48 * 1024 if instrumented() else 4608
        assert peak - base.rss <= bound, (
            f"{STALLED_STREAMS} stalled streams took RSS up {peak - base.rss} KiB "
            f"(bound {bound}): {(peak - base.rss) // STALLED_STREAMS} KiB a stream")
    finally:
        stop.set()
        for c in calls:
            c.cancel()
        ch.close()
    serving_exactly(srv, pb, "after the stalled streams went")


# ============================================================ 4. limits ===

PREFACE_SETTINGS = H2_HELLO + h2_frame(SETTINGS, ACK, 0)


@pytest.mark.timeout_s(30)
def test_max_connections_both_ports(pfgate_factory, pb):
    """--max-connections 4: with 4 held (HTTP keep-alive and a WebSocket; raw HTTP/2 on the
    gRPC port), a 5th HTTP connection's request gets 503 and its upgrade 503, a 5th gRPC
    connection is closed at once; once one is released the next connection is served. Three
    rounds, so that a counter that drifts shows; refusals are counted in /metrics."""
    srv, base = start_warm(pfgate_factory, pb, "--max-connections", "4")
    refused0 = (counter(srv, 'pfgate_refused_connections_total{front="http"}'),
                counter(srv, 'pfgate_refused_connections_total{front="grpc"}'))
    for round_ in range(3):
        held_http = []
        for _ in range(3):
            s = connect(srv.http)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            assert s.recv(4096).startswith(b"HTTP/1.1 200"), f"round {round_}: a held connection"
            held_http.append(s)
        ws = RawWS(srv.http)
        assert ws.status == 101, f"round {round_}: 4th connection (WebSocket): HTTP {ws.status}"
        held_grpc = []
        for _ in range(4):
            c = H2Conn(srv.grpc)
            c.send(PREFACE_SETTINGS)
            held_grpc.append(c)
        time.sleep(0.3)
        try:
            r = http_raw(srv.http, b"GET /v1/factors/12 HTTP/1.1\r\nHost: x\r\n\r\n", 5)
            assert r.status == 503, f"round {round_}: 5th HTTP connection: HTTP {r.status}"
            ws5 = RawWS(srv.http, timeout=5)
            ws5.close()
            assert ws5.status == 503, f"round {round_}: 5th connection's upgrade: HTTP {ws5.status}"
            c5 = H2Conn(srv.grpc)
            t0 = time.monotonic()
            try:
                c5.send(PREFACE_SETTINGS + h2_request(1, [pb.Request(num=12).SerializeToString()]))
            except OSError:
                c5.closed = "reset"
            outcome = c5.wait(1, 3.0) if not c5.closed else "closed"
            c5.abort()
            assert outcome == "closed" and time.monotonic() - t0 < 1.5, \
                f"round {round_}: a 5th gRPC connection was {outcome}, expected closed at once"
            # The held ones still work.
            ws.send_text("12")
            msg = compare_answers([parse_json_text(t) for t in ws.recv_n(3)],
                                  expected_answers([12], oracle()))
            assert msg is None, msg
            held_grpc[0].send(h2_request(1, [pb.Request(num=360).SerializeToString()]))
            assert held_grpc[0].wait(1, 5) == "answered"
            assert held_grpc[0].responses(pb, 1) == expected([360], oracle())
        finally:
            for s in held_http:
                s.close()
            ws.abort()
            for c in held_grpc:
                c.abort()
        deadline = time.monotonic() + 5
        while gauges(srv) != base.gauges and time.monotonic() < deadline:
            time.sleep(0.2)
    serving_exactly(srv, pb, "after connection limits")
    refused1 = (counter(srv, 'pfgate_refused_connections_total{front="http"}'),
                counter(srv, 'pfgate_refused_connections_total{front="grpc"}'))
    assert refused1[0] - refused0[0] >= 6 and refused1[1] - refused0[1] == 3, \
        f"refused connections in /metrics: {refused0} -> {refused1}"
    base.check("after connection limits", rss_slack_kib=20 * 1024)


@pytest.mark.timeout_s(30)
def test_max_streams_per_connection(pfgate_factory, pb):
    """--max-streams 3: a 4th concurrent stream on one connection gets RESOURCE_EXHAUSTED at
    once, another connection is not affected, the 3 open ones answer exactly; after 200
    cancelled streams and 100 undecodable ones (each must give its slot back), 3 concurrent
    streams still open."""
    srv, base = start_warm(pfgate_factory, pb, "--max-streams", "3")
    nums = [360, PRIME_NEAR_2_63, 2**62]

    def three_open_then_fourth(ch, what):
        stub = pb.pb_grpc.FactorsStub(ch)
        held = [HeldRequests([pb.Request(num=n) for n in nums], hold=10) for _ in range(3)]
        calls = [stub.PrimeFactors(iter(h), timeout=15) for h in held]
        for c in calls:
            assert tup(next(c)) == expected(nums, oracle())[0], f"{what}: first answer"
        t0 = time.monotonic()
        res = run_stream(stub, pb, [12], timeout=5)
        assert res.code == grpc.StatusCode.RESOURCE_EXHAUSTED, \
            f"{what}: a 4th stream on the connection: {res.code} {res.details!r}"
        assert time.monotonic() - t0 < 1.5
        # another connection (grpcio shares connections between channels unless told not to)
        with grpc.insecure_channel(srv.grpc, options=[("grpc.use_local_subchannel_pool", 1)]) as other:
            res = run_stream(pb.pb_grpc.FactorsStub(other), pb, [12], timeout=5)
            assert res.code == grpc.StatusCode.OK and res.tuples == expected([12], oracle())
        for h in held:
            h.release()
        for c in calls:
            res = drain(c)
            assert res.code == grpc.StatusCode.OK and res.tuples == expected(nums, oracle())[1:], \
                f"{what}: an open stream: {res}"

    with grpc.insecure_channel(srv.grpc) as ch:
        three_open_then_fourth(ch, "first")
        stub = pb.pb_grpc.FactorsStub(ch)
        for i in range(200):
            h = HeldRequests([pb.Request(num=2**62)] * 50, hold=5)
            call = stub.PrimeFactors(iter(h), timeout=5)
            if i % 2:
                next(call)
            call.cancel()
            h.release()
        for i in range(100):
            res = raw_stream(ch, [b"\x08\xff"], timeout=5)
            assert res.code == grpc.StatusCode.INVALID_ARGUMENT
        three_open_then_fourth(ch, "after 300 streams ended early")
    serving_exactly(srv, pb, "after stream limits")
    base.check("after stream limits", rss_slack_kib=20 * 1024)


@pytest.mark.timeout_s(60)
def test_a_stream_that_waited_for_a_slot_ends_ok(pfgate_factory, pb):
    """--max-streams 1: a second stream on the connection waits for a slot (up to 50 ms); when
    the first ends within the wait, the second is let in and, after its half-close, answered in
    full with OK (its close is watched from the wait on, and not a second time at its
    half-close: checked to fail when it was, the call then being cancelled)."""
    srv = pfgate_factory("--max-streams", "1")
    nums = [360, 2**62, PRIME_NEAR_2_63, 12]
    waited = 0
    with grpc.insecure_channel(srv.grpc) as ch, ThreadPoolExecutor(1) as ex:
        stub = pb.pb_grpc.FactorsStub(ch)
        for _ in range(20):
            first = HeldRequests([pb.Request(num=6)], hold=10)
            call = stub.PrimeFactors(iter(first), timeout=10)
            assert tup(next(call)) == expected([6], oracle())[0]
            second = ex.submit(run_stream, stub, pb, nums, 10)
            time.sleep(0.02)              # the second is at the server, waiting for the slot
            first.release()
            assert drain(call).code == grpc.StatusCode.OK
            res = second.result(15)
            if res.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                continue                  # the slot came too late: not let in this time
            assert res.code == grpc.StatusCode.OK and res.tuples == expected(nums, oracle()), \
                f"a stream let in after waiting for a slot: {res.code} {res.details!r}"
            waited += 1
    assert waited >= 3, f"only {waited} of 20 second streams were let in within the wait"
    serving_exactly(srv, pb, "after streams that waited for a slot")


@pytest.mark.timeout_s(30)
def test_max_streams_in_all(pfgate_factory, pb):
    """--max-streams-total 3: with 3 streams open on 3 connections, a 4th stream on a 4th
    connection gets RESOURCE_EXHAUSTED naming the flag, at once; the 3 answer exactly, and
    once one has ended a new stream is served."""
    srv, _ = start_warm(pfgate_factory, pb, "--max-streams-total", "3")
    nums = [360, PRIME_NEAR_2_63]

    def channel():
        return grpc.insecure_channel(srv.grpc, options=[("grpc.use_local_subchannel_pool", 1)])

    chans = [channel() for _ in range(4)]
    try:
        held = [HeldRequests([pb.Request(num=n) for n in nums], hold=10) for _ in range(3)]
        calls = [pb.pb_grpc.FactorsStub(ch).PrimeFactors(iter(h), timeout=15)
                 for ch, h in zip(chans, held)]
        for c in calls:
            assert tup(next(c)) == expected(nums, oracle())[0]
        t0 = time.monotonic()
        res = run_stream(pb.pb_grpc.FactorsStub(chans[3]), pb, [12], timeout=5)
        assert res.code == grpc.StatusCode.RESOURCE_EXHAUSTED and \
            "--max-streams-total" in res.details, f"a 4th stream: {res.code} {res.details!r}"
        assert time.monotonic() - t0 < 1.5
        held[0].release()
        res = drain(calls[0])
        assert res.code == grpc.StatusCode.OK and res.tuples == expected(nums, oracle())[1:]
        res = run_stream(pb.pb_grpc.FactorsStub(chans[3]), pb, [12], timeout=5)
        assert res.code == grpc.StatusCode.OK and res.tuples == expected([12], oracle()), \
            f"a stream once one has ended: {res.code} {res.details!r}"
        for h, c in zip(held[1:], calls[1:]):
            h.release()
            res = drain(c)
            assert res.code == grpc.StatusCode.OK and res.tuples == expected(nums, oracle())[1:]
    finally:
        for ch in chans:
            ch.close()
    serving_exactly(srv, pb, "after the total stream limit")


def _padded(total_len, num):
    """A Request of exactly total_len bytes: unknown field 15 (bytes) padding, then num."""
    pb_num = b"\x08" + varint(num)
    for pad in range(total_len, -1, -1):
        body = b"\x7a" + varint(pad) + b"p" * pad + pb_num
        if len(body) == total_len:
            return body
    raise AssertionError(total_len)


def test_max_message_explicit_boundary(pfgate_factory, pb):
    """--max-message 1024: a 1024-byte request is answered, a 1025-byte one ends its stream
    with RESOURCE_EXHAUSTED (the answers before it are kept), and the server goes on."""
    srv = pfgate_factory("--max-message", "1024")
    at, over = _padded(1024, 360), _padded(1025, 360)
    assert len(at) == 1024 and len(over) == 1025
    assert pb.Request.FromString(at).num == 360
    with grpc.insecure_channel(srv.grpc) as ch:
        res = raw_stream(ch, [at, at], timeout=5)
        assert res.code == grpc.StatusCode.OK, (res.code, res.details)
        assert [tup(pb.Response.FromString(b)) for b in res.responses] == expected([360, 360], oracle())
        res = raw_stream(ch, [over], timeout=5)
        assert res.code == grpc.StatusCode.RESOURCE_EXHAUSTED, (res.code, res.details)
        assert res.responses == []
        res = raw_stream(ch, [pb.Request(num=12).SerializeToString(), over], timeout=5)
        assert res.code == grpc.StatusCode.RESOURCE_EXHAUSTED, (res.code, res.details)
        got = [tup(pb.Response.FromString(b)) for b in res.responses]
        assert got == expected([12], oracle())[:len(got)]
    grpc_exact(srv, pb)


def _trickle(addr, data, gap, limit):
    """Send data one byte every `gap` s (cycling) until the server closes. Returns seconds to
    the close, or None if still open after `limit` s."""
    s = connect(addr)
    t0 = time.monotonic()
    i = 0
    try:
        s.settimeout(gap)
        while time.monotonic() - t0 < limit:
            try:
                s.send(data[i % len(data):i % len(data) + 1])
                i += 1
            except OSError:
                return time.monotonic() - t0
            try:
                if not s.recv(4096):
                    return time.monotonic() - t0
            except socket.timeout:
                pass
            except OSError:
                return time.monotonic() - t0
        return None
    finally:
        rst_close(s)


HEADER_TIMEOUT = 2
# Cut off "at about the timeout": not before it, and within 2.5 s after it (slack for a
# loaded 2-core box; the next timeout that could cut them, --idle-timeout, is 20 s).
EARLY, LATE = HEADER_TIMEOUT - 0.3, HEADER_TIMEOUT + 2.5


@pytest.mark.timeout_s(30)
def test_header_timeout_both_ports(pfgate_factory, pb):
    """--header-timeout 2 (--idle-timeout 20, so that it cannot be what cuts): on both ports a
    silent connection and a half-sent request (HTTP headers, HTTP/2 preface) are closed at
    about 2 s, and an HTTP slowloris that trickles header bytes forever is cut at about 2 s
    as well. (The HTTP silent/half-sent cases at 1 s are test_http.py's; this adds gRPC and
    the trickle.)"""
    srv = pfgate_factory("--header-timeout", str(HEADER_TIMEOUT), "--idle-timeout", "20")
    socks = {}
    for what, addr, data in [("grpc silent", srv.grpc, b""),
                             ("grpc half preface", srv.grpc, PREFACE[:10]),
                             ("http silent", srv.http, b""),
                             ("http half request", srv.http, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")]:
        s = connect(addr)
        if data:
            s.sendall(data)
        socks[s] = what
    took, _ = wait_all_closed(list(socks), 6.0)
    trickle_http = _trickle(srv.http, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 5000,
                            0.2, 6.0)
    for s in socks:
        s.close()
    bad = [f"{socks[s]}: {'still open after 6 s' if t is None else f'closed after {t:.1f}s'}"
           for s, t in took.items() if t is None or not EARLY <= t <= LATE]
    if trickle_http is None or not EARLY <= trickle_http <= LATE:
        bad.append(f"http trickled headers: closed after {trickle_http}")
    assert not bad, f"--header-timeout {HEADER_TIMEOUT}: " + "; ".join(bad)
    grpc_exact(srv, pb)
    v1_exact(srv)


def test_grpc_preface_trickle_cut_at_header_timeout(pfgate_factory):
    srv = pfgate_factory("--header-timeout", str(HEADER_TIMEOUT), "--idle-timeout", "20")
    t = _trickle(srv.grpc, PREFACE, 0.3, LATE + 0.5)
    assert t is not None and EARLY <= t <= LATE, \
        f"a trickled HTTP/2 preface (1 byte / 0.3 s): closed after {t} s, --header-timeout 2"


@pytest.mark.timeout_s(30)
def test_idle_timeout_ends_a_connection_after_its_last_stream_with_goaway(pfgate_factory, pb):
    """--idle-timeout 2: a connection whose one stream ended at about 1.5 s is idle from then:
    it gets GOAWAY(NO_ERROR) naming that stream, then EOF, about 2 s after the stream ended,
    not 2 s after the connection opened; and a client that opens a new stream after the
    GOAWAY is not answered on it (its GOAWAY says so: it opens it again elsewhere)."""
    srv = pfgate_factory("--idle-timeout", "2", "--header-timeout", "10")
    h2 = H2Conn(srv.grpc)
    h2.send(PREFACE_SETTINGS)
    t0 = time.monotonic()
    h2.send(h2_frame(HEADERS, END_HEADERS, 1, grpc_headers_block()))
    time.sleep(1.5)
    h2.send(h2_frame(DATA, END_STREAM, 1, grpc_msg(pb.Request(num=360).SerializeToString())))
    assert h2.wait(1, 5) == "answered"
    ended = time.monotonic() - t0
    assert h2.responses(pb, 1) == expected([360], oracle())
    deadline = time.monotonic() + 5
    while not any(f[0] == GOAWAY for f in h2.frames) and h2._read_some(deadline):
        pass
    at = time.monotonic() - t0
    goaway = [f for f in h2.frames if f[0] == GOAWAY]
    assert goaway, f"no GOAWAY within 5 s of the stream's end ({h2.closed})"
    last_sid, code = struct.unpack("!II", goaway[0][3][:8])
    assert (last_sid, code) == (1, 0), goaway[0]
    assert ended + 1.7 <= at <= ended + 3.5, \
        f"GOAWAY {at - ended:.2f} s after the last stream ended (--idle-timeout 2)"
    try:
        h2.send(h2_request(3, [pb.Request(num=12).SerializeToString()]))
    except OSError:
        pass
    assert h2.wait_closed(5) in ("eof", "reset")
    assert h2.responses(pb, 3) == []
    h2.close()
    serving_exactly(srv, pb, "after an idle connection was ended")


def test_idle_timeout_closes_only_connections_without_a_stream(pfgate_factory, pb):
    """--idle-timeout 2: an HTTP/2 connection with no stream and an HTTP keep-alive connection
    after its answer are closed at about 2 s; a gRPC stream and a WebSocket that stay quiet
    for 3.5 s are not, and answer exactly afterwards."""
    srv = pfgate_factory("--idle-timeout", "2", "--header-timeout", "10")
    h2 = H2Conn(srv.grpc)
    h2.send(PREFACE_SETTINGS)
    ka = connect(srv.http)
    ka.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    ka.settimeout(5)
    assert ka.recv(4096).startswith(b"HTTP/1.1 200")
    t0 = time.monotonic()

    # The quiet ones.
    ws = RawWS(srv.http)
    assert ws.status == 101
    ch = grpc.insecure_channel(srv.grpc)
    gate = threading.Event()

    def reqs():
        yield pb.Request(num=12)
        gate.wait(8)
        yield pb.Request(num=360)

    call = pb.pb_grpc.FactorsStub(ch).PrimeFactors(reqs(), timeout=15)
    got = [tup(next(call)) for _ in range(3)]
    try:
        assert got == expected([12], oracle())
        closed = {}
        deadline = t0 + 6
        while time.monotonic() < deadline and len(closed) < 2:
            if "h2" not in closed and h2.wait_closed(0.1):
                closed["h2"] = time.monotonic() - t0
            if "ka" not in closed:
                ka.settimeout(0.1)
                try:
                    if not ka.recv(4096):
                        closed["ka"] = time.monotonic() - t0
                except socket.timeout:
                    pass
                except OSError:
                    closed["ka"] = time.monotonic() - t0
        for k in ("h2", "ka"):
            assert k in closed and 1.7 <= closed[k] <= 3.5, \
                f"--idle-timeout 2: {k} connection closed after {closed.get(k)}"
        time.sleep(max(0.0, 3.5 - (time.monotonic() - t0)))
        gate.set()
        res = drain(call)
        assert res.code == grpc.StatusCode.OK and res.tuples == expected([360], oracle()), \
            f"a gRPC stream quiet for 3.5 s (> --idle-timeout): {res}"
        ws.send_text("360")
        msg = compare_answers([parse_json_text(t) for t in ws.recv_n(6)],
                              expected_answers([360], oracle()))
        assert msg is None, f"a WebSocket quiet for 3.5 s: {msg}"
    finally:
        gate.set()
        call.cancel()
        ch.close()
        ws.abort()
        h2.abort()
        ka.close()


# ============================================================ 5. shutdown ===

@pytest.mark.timeout_s(30)
def test_drain_deadline_websocket_still_gets_a_close_frame(pfgate_factory):
    """A reader far slower than pfgate has megabytes of answers in the socket
    buffers when the deadline passes. Linux reports such a socket writable
    only once a third of its send buffer is free, which this reader does not
    reach before pfgate exits: the Close must go out anyway, behind them."""
    srv = pfgate_factory("--drain-timeout", "2")
    ws = RawWS(srv.http)
    assert ws.status == 101
    ws.send_raw(ws_frame(OP_TEXT, str(2**62)) * 3000)       # 186,000 answers: > 2 s to read
    ws.recv_n(10)
    srv.signal()
    time.sleep(1.7)                     # past the cancel (1.6 s): every buffer full
    n, end = 0, None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            m = ws.recv(5)
        except (Closed, TimeoutError) as e:
            end = repr(e)
            break
        if not isinstance(m, str):
            end = m
            break
        n += 1
        if n % 10 == 0 and srv.alive():
            time.sleep(0.01)            # some 50 KB/s while pfgate runs, then at once
    rc, _ = srv.wait(5)
    ws.abort()
    assert rc == 0
    assert getattr(end, "code", None) in (1001, 1011), \
        f"after {n} answers the socket ended with {end}, not a Close frame"
