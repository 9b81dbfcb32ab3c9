"""Hostile gRPC clients (issue 12): what one client can make pfgate hold, and what it hears back.

grpc core 1.51 has no bound of its own on these (NOTES-grpc-core-and-lws.md); pfgate's HTTP/2
guard (gateway/grpc/h2_guard.c, in the relay of gateway/grpc/grpc_relay.c) brings them. Each attack runs a
few seconds on loopback while pfgate's VmRSS is sampled; it must stay within 64 MiB of its value at
start during and after, the attacker must get GOAWAY or the right grpc-status, and a normal gRPC
client must get exact answers right after. The attacks that reach the guard run twice: on a
plaintext port, and on a TLS port ([tls]), where pfgate ends TLS itself and the same guard,
caps and timeouts apply (before, grpc listened on the TLS port itself, with none of them).
"""
import gzip
import socket
import struct
import threading
import time

import grpc
import hpack
import pytest

from conftest import tls_args
from pftls import h2_socket
from pfutil import drain, expected, gnu_factor, raw_stream, run_stream, tup, varint
from test_faults import (ACK, CONTINUATION, DATA, END_HEADERS, GOAWAY, H2_HELLO, HEADERS,
                         RST_STREAM, SETTINGS, H2Conn, _hpack_literal, grpc_exact,
                         grpc_headers_block, h2_frame, h2_request, oracle, rss_bound, start_warm)

RSS_BUDGET_KIB = 64 * 1024
ENHANCE_YOUR_CALM = 0xB


class RssWatch:
    """Samples a server's VmRSS every 50 ms in a thread; .peak is the highest seen."""

    def __init__(self, srv):
        self.srv = srv
        self.start = srv.rss_kib()
        self.peak = self.start
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.srv.rss_kib())
            except (OSError, TypeError):
                return
            time.sleep(0.05)

    def stop(self):
        self._stop.set()
        self._t.join(2)
        self.peak = max(self.peak, self.srv.rss_kib())
        return self

    def check(self, what):
        """RSS within the budget over the start, at the peak and now (after the attack)."""
        budget = rss_bound(RSS_BUDGET_KIB)
        now = self.srv.rss_kib()
        print(f"{what}: VmRSS {self.start // 1024} MiB at start, peak {self.peak // 1024} MiB, "
              f"after {now // 1024} MiB")
        assert self.peak - self.start <= budget, (
            f"{what}: RSS peaked {(self.peak - self.start) // 1024} MiB above its start "
            f"({self.start} -> {self.peak} KiB), budget {budget // 1024} MiB")
        assert now - self.start <= budget, f"{what}: RSS {now} KiB after, start {self.start} KiB"


def goaways(conn):
    """(last stream id, error code, debug text) of each GOAWAY the connection received."""
    return [(struct.unpack("!I", p[:4])[0] & 0x7FFFFFFF, struct.unpack("!I", p[4:8])[0], p[8:])
            for t, _, _, p in conn.frames if t == GOAWAY]


def header_blocks(conn):
    """{stream id: [header list, ...]} of every header block received, decoded in order with
    one HPACK decoder, as a client does (so a block that broke HPACK state would show)."""
    dec, out, block, sid = hpack.Decoder(), {}, b"", None
    for t, flags, s, p in conn.frames:
        if t == HEADERS:
            block, sid = p, s    # the guard's and grpc's blocks carry no padding or priority
        elif t == CONTINUATION:
            block += p
        else:
            continue
        if flags & END_HEADERS:
            out.setdefault(sid, []).append(dict(dec.decode(block)))
    return out


def grpc_status(conn, sid):
    """(grpc-status, grpc-message) of the stream's first header block with a grpc-status (the
    one that ends it for the client), or None. grpc's own blocks for a stream the guard ended
    may come after: a client ignores them, but decodes them for HPACK, as header_blocks does."""
    for b in header_blocks(conn).get(sid, []):
        if "grpc-status" in b:
            return int(b["grpc-status"]), b.get("grpc-message", "")
    return None


class Attacker:
    """A raw HTTP/2 connection whose frames are read in a thread while the test sends."""

    def __init__(self, srv):
        self.conn = H2Conn(srv.grpc, sock=h2_socket(srv))  # over TLS on a TLS server
        self.conn.send(H2_HELLO)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        # The reader thread acknowledges the server's SETTINGS: let it do so before a test
        # starts a header block, inside which a SETTINGS ACK is a protocol error.
        t_end = time.monotonic() + 3
        while (not any(t == SETTINGS and not f & ACK for t, f, _, _ in self.conn.frames)
               and time.monotonic() < t_end):
            time.sleep(0.01)
        time.sleep(0.05)

    def _read(self):
        while not self._stop.is_set() and self.conn._read_some(time.monotonic() + 0.2):
            pass

    def flood(self, chunk, seconds):
        """Sends chunk again and again for `seconds` or until the server closes. Returns bytes sent."""
        sent, t_end = 0, time.monotonic() + seconds
        self.conn.sock.settimeout(1)
        while time.monotonic() < t_end and not self.conn.closed:
            try:
                self.conn.sock.sendall(chunk)
                sent += len(chunk)
            except socket.timeout:
                continue          # the guard stopped reading: the client is stalled, not pfgate
            except OSError:
                break
        return sent

    def send(self, data):
        self.conn.sock.settimeout(5)
        self.conn.sock.sendall(data)

    def wait_closed(self, timeout):
        t_end = time.monotonic() + timeout
        while not self.conn.closed and time.monotonic() < t_end:
            time.sleep(0.05)
        return self.conn.closed

    def wait(self, sid, timeout):
        t_end = time.monotonic() + timeout
        while sid not in self.conn.ended and not self.conn.closed and time.monotonic() < t_end:
            time.sleep(0.02)
        return sid in self.conn.ended

    def close(self):
        self._stop.set()
        self._t.join(2)
        self.conn.abort()


def exact_right_after(srv, pb, what, within=3.0):
    t0 = time.monotonic()
    grpc_exact(srv, pb, nums=[360, 2**61 - 1, 600851475143], timeout=10)
    took = time.monotonic() - t0
    assert took < within, f"{what}: exact answers took {took:.1f} s"


@pytest.fixture(params=["plaintext", "tls"])
def warm_server(request, pfgate_factory, pb):
    """start(*args): a server of the test's own, its gRPC port plaintext or TLS as the test's
    parameter says, used twice by a real client first (so that lazily made threads and pools
    are in the RSS at start)."""
    def start(*args):
        if request.param == "plaintext":
            return start_warm(pfgate_factory, pb, *args)[0]
        pki = request.getfixturevalue("pki")
        srv = pfgate_factory(*tls_args(pki), *args)
        srv.tls_ca = pki / "ca.pem"
        for _ in range(2):
            grpc_exact(srv, pb)
        return srv
    return start


# ------------------------------------------------------------- floods ---

@pytest.mark.timeout_s(30)
def test_continuation_flood_gets_goaway_and_memory_stays_bounded(warm_server, pb):
    """HEADERS without END_HEADERS, then endless 1 KiB CONTINUATIONs (CVE-2024-27316 shape): was
    4.8 GB of RSS in 16 s and no GOAWAY. Now: GOAWAY ENHANCE_YOUR_CALM after 64 KiB of block."""
    srv = warm_server()
    rss = RssWatch(srv)
    a = Attacker(srv)
    junk = _hpack_literal(b"x-junk", b"j" * 100) * 9
    a.send(h2_frame(HEADERS, 0, 1, grpc_headers_block()))
    sent = a.flood(b"".join(h2_frame(CONTINUATION, 0, 1, junk) for _ in range(64)), 3.0)
    closed = a.wait_closed(3)
    a.close()
    rss.stop()
    print(f"CONTINUATION flood: {sent // 1024} KiB sent, connection {closed}, GOAWAY {goaways(a.conn)}")
    assert [g[1] for g in goaways(a.conn)] == [ENHANCE_YOUR_CALM], goaways(a.conn)
    assert closed, "the attacker's connection stayed open"
    rss.check("CONTINUATION flood")
    exact_right_after(srv, pb, "after the CONTINUATION flood")


@pytest.mark.timeout_s(30)
def test_rapid_reset_on_four_connections_gets_goaway(warm_server, pb):
    """HEADERS + RST_STREAM in a loop (CVE-2023-44487) on 4 connections: was 1.55 GB and gRPC
    stalled ~12 s after. Now: GOAWAY ENHANCE_YOUR_CALM past the RST_STREAM budget."""
    srv = warm_server()
    rss = RssWatch(srv)
    attackers = [Attacker(srv) for _ in range(4)]

    def attack(a):
        chunk = bytearray()
        sid = 1
        batches = []
        for _ in range(20):       # 20 batches of 200 streams, then repeated with the same ids:
            chunk = bytearray()   # by then the server has closed (a server that has not, says
            for _ in range(200):  # PROTOCOL_ERROR on reused ids: also a close)
                chunk += h2_frame(HEADERS, END_HEADERS, sid, grpc_headers_block())
                chunk += h2_frame(RST_STREAM, 0, sid, b"\x00\x00\x00\x08")
                sid += 2
            batches.append(bytes(chunk))
        t_end = time.monotonic() + 3
        while time.monotonic() < t_end and not a.conn.closed:
            for b in batches:
                if a.flood(b, 0.001) == 0:
                    break

    threads = [threading.Thread(target=attack, args=(a,)) for a in attackers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    for a in attackers:
        a.wait_closed(3)
        a.close()
    rss.stop()
    for i, a in enumerate(attackers):
        codes = [g[1] for g in goaways(a.conn)]
        assert codes == [ENHANCE_YOUR_CALM], f"attacker {i}: GOAWAY {goaways(a.conn)}"
        assert a.conn.closed, f"attacker {i}: connection left open"
    rss.check("Rapid Reset x4")
    exact_right_after(srv, pb, "after Rapid Reset")


# ----------------------------------------------- messages the guard refuses ---

def _refused_then_usable(srv, pb, prefix, body, want_code, window_bytes=60000):
    """Opens stream 1 with a message that starts with `prefix`, sends up to the flow-control
    window of its body, expects grpc-status want_code on stream 1, keeps sending some of the
    body (dropped), then checks that stream 3 on the same connection is answered exactly:
    HPACK and the connection window are still in step."""
    a = Attacker(srv)
    try:
        a.send(h2_frame(HEADERS, END_HEADERS, 1, grpc_headers_block()))
        data = prefix + body[:window_bytes]
        for i in range(0, len(data), 16384):
            a.send(h2_frame(DATA, 0, 1, data[i:i + 16384]))
        assert a.wait(1, 5), f"stream 1 not ended; frames {[f[:3] for f in a.conn.frames][-10:]}"
        status = grpc_status(a.conn, 1)
        assert status and status[0] == want_code, f"stream 1: {status}, want {want_code}"
        # What the client had in flight when the status came is dropped, and its window
        # given back: 40 KB more, then a normal request on the same connection.
        for i in range(0, 40000, 16384):
            a.send(h2_frame(DATA, 0, 1, b"\0" * 16384))
        a.send(h2_request(3, [pb.Request(num=360).SerializeToString()]))
        assert a.wait(3, 5), (f"stream 3 not answered; closed={a.conn.closed}, GOAWAY "
                              f"{goaways(a.conn)}, frames {[f[:3] for f in a.conn.frames][-8:]}")
        assert a.conn.responses(pb, 3) == expected([360], oracle())
        assert grpc_status(a.conn, 3) == (0, "") or grpc_status(a.conn, 3)[0] == 0
        return status
    finally:
        a.close()


@pytest.mark.timeout_s(30)
def test_length_prefix_of_4_gib_gets_resource_exhausted(warm_server, pb):
    """A message prefix announcing 4 GiB with --max-message 4 MiB: grpc buffered the body as it
    came (85 MB in 10 s), no error. Now RESOURCE_EXHAUSTED before grpc holds any of it."""
    srv = warm_server()
    rss = RssWatch(srv)
    status = _refused_then_usable(srv, pb, b"\x00\xff\xff\xff\xff", b"\x08" * 60000,
                                  grpc.StatusCode.RESOURCE_EXHAUSTED.value[0])
    rss.stop()
    print("4 GiB prefix:", status)
    rss.check("4 GiB prefix")
    exact_right_after(srv, pb, "after the 4 GiB prefix")


def _request_of_size(pb, size):
    """A valid Request(num=360) padded with an unknown bytes field (15) to exactly size bytes."""
    base = pb.Request(num=360).SerializeToString()
    for n in range(size, 0, -1):
        extra = b"\x7a" + varint(n) + b"x" * n
        if len(base) + len(extra) == size:
            return base + extra
    raise AssertionError(size)


@pytest.mark.timeout_s(30)
def test_message_just_over_max_message_gets_resource_exhausted(pfgate_factory, pb):
    """A real gRPC client: a message of --max-message bytes is answered, one byte more is
    RESOURCE_EXHAUSTED."""
    srv = pfgate_factory("--max-message", "1024")
    with grpc.insecure_channel(srv.grpc) as ch:
        ok = raw_stream(ch, [_request_of_size(pb, 1024)])
        assert ok.code == grpc.StatusCode.OK, (ok.code, ok.details)
        assert [tup(pb.Response.FromString(r)) for r in ok.responses] == expected([360], oracle())
        res = raw_stream(ch, [_request_of_size(pb, 1025)])
        print("1025 bytes:", res.code, res.details)
        assert res.code == grpc.StatusCode.RESOURCE_EXHAUSTED, (res.code, res.details)
        again = raw_stream(ch, [pb.Request(num=360).SerializeToString()])
        assert again.code == grpc.StatusCode.OK, "the same channel no longer serves"


@pytest.mark.timeout_s(30)
def test_gzip_from_a_real_client_is_refused_clearly(pfgate_factory, pb):
    """compression=Gzip: compression is off (identity only), so the call ends UNIMPLEMENTED
    (grpc's own answer to a disabled algorithm, or the guard's to a compressed message)."""
    srv = pfgate_factory()
    with grpc.insecure_channel(srv.grpc) as ch:
        stub = pb.pb_grpc.FactorsStub(ch)
        call = stub.PrimeFactors(iter([pb.Request(num=360)]), timeout=10,
                                 compression=grpc.Compression.Gzip)
        res = drain(call)
        print("gzip:", res.code, res.details)
        assert res.code == grpc.StatusCode.UNIMPLEMENTED, (res.code, res.details)
        assert res.responses == []
        assert drain(stub.PrimeFactors(iter([pb.Request(num=360)]), timeout=10)).code == grpc.StatusCode.OK


@pytest.mark.timeout_s(30)
def test_gzip_bomb_is_refused_without_inflating(warm_server, pb):
    """grpc-encoding: gzip and a compressed message that inflates to 256 MiB: was a 1.12 GB
    peak for a 1 GiB bomb. Now refused (UNIMPLEMENTED) from its 5-byte prefix."""
    srv = warm_server()
    z = gzip.compress(b"\0" * (256 << 20), compresslevel=9)
    rss = RssWatch(srv)
    a = Attacker(srv)
    try:
        block = grpc_headers_block() + _hpack_literal(b"grpc-encoding", b"gzip")
        a.send(h2_frame(HEADERS, END_HEADERS, 1, block))
        data = b"\x01" + struct.pack("!I", len(z)) + z[:60000]
        for i in range(0, len(data), 16384):
            a.send(h2_frame(DATA, 0, 1, data[i:i + 16384]))
        assert a.wait(1, 5), "stream 1 not ended"
        status = grpc_status(a.conn, 1)
        print("gzip bomb:", status)
        assert status and status[0] == grpc.StatusCode.UNIMPLEMENTED.value[0], status
    finally:
        a.close()
    rss.stop()
    rss.check("gzip bomb")
    exact_right_after(srv, pb, "after the gzip bomb")


@pytest.mark.timeout_s(30)
def test_compressed_flag_without_grpc_encoding_is_refused(pfgate_factory, pb):
    """Flag byte 1 but no grpc-encoding: was read as plain. Now UNIMPLEMENTED (compression is off),
    and the connection goes on serving."""
    srv = pfgate_factory()
    msg = pb.Request(num=360).SerializeToString()
    status = _refused_then_usable(srv, pb, b"\x01" + struct.pack("!I", len(msg)) + msg, b"",
                                  grpc.StatusCode.UNIMPLEMENTED.value[0])
    print("compressed flag:", status)


@pytest.mark.timeout_s(30)
def test_message_flag_other_than_0_or_1_is_internal(pfgate_factory, pb):
    srv = pfgate_factory()
    msg = pb.Request(num=360).SerializeToString()
    _refused_then_usable(srv, pb, b"\x02" + struct.pack("!I", len(msg)) + msg, b"",
                         grpc.StatusCode.INTERNAL.value[0])


@pytest.mark.timeout_s(30)
def test_many_concurrent_streams_through_the_relay_stay_exact(pfgate_factory, pb):
    """The relay under ordinary load: 16 streams on 4 channels, 500 numbers each, every answer
    exact (a relay that lost or reordered bytes, or broke HPACK, would show here). The Python
    client is the bottleneck (about 7k numbers/s), hence the modest sizes."""
    srv = pfgate_factory()
    nums = list(range(10**12, 10**12 + 500))
    want = expected(nums, gnu_factor(nums))
    errors = []

    def one(ch):
        res = run_stream(pb.pb_grpc.FactorsStub(ch), pb, nums, timeout=20)
        if res.code != grpc.StatusCode.OK or res.tuples != want:
            errors.append((res.code, res.details, len(res.tuples)))

    chans = [grpc.insecure_channel(srv.grpc) for _ in range(4)]
    threads = [threading.Thread(target=one, args=(chans[i % 4],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for ch in chans:
        ch.close()
    assert not errors, errors[:3]
