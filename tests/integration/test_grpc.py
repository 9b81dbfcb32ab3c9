"""The gRPC front end of pfgate, tested against SPEC.md with real clients.

The shared server (fixture `pfgate`) serves every test that leaves it healthy; tests that
signal, break or saturate a server start their own (`pfgate_factory`). GNU `factor` is the
oracle. Every RPC has a deadline; the conftest watchdog bounds every test.
"""
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from pfutil import (INT64_MAX, INT64_MIN, METHOD, HeldRequests, drain, expected, gnu_factor,
                    raw_stream, run_stream, tup)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

PRIME_NEAR_2_63 = 9223372036854775783          # the largest prime below 2^63
INT64_MAX_FACTORS = [7, 7, 73, 127, 337, 92737, 649657]
CRASH_SIGNALS = {-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS, -signal.SIGFPE, -signal.SIGILL}


def ok(res, exp, what="stream"):
    """Assert a StreamResult is status OK with exactly the expected answers."""
    assert res.code == grpc.StatusCode.OK, f"{what}: status {res.code} {res.details!r}"
    got = res.tuples
    if got != exp:
        for i, (g, e) in enumerate(zip(got, exp)):
            if g != e:
                pytest.fail(f"{what}: answer #{i} is {g}, expected {e} "
                            f"(result, num, last, has_error); {len(got)} vs {len(exp)} answers",
                            pytrace=False)
        pytest.fail(f"{what}: {len(got)} answers, expected {len(exp)}; "
                    f"first missing/extra: {(got[len(exp):] or exp[len(got):])[:3]}", pytrace=False)


# ------------------------------------------------------------ the demo flows ---

def test_demo_client_streams_answers_as_numbers_arrive(stub, pb):
    """The original demo: a generator yields numbers one at a time and the client prints
    each factor as it arrives. Each number is sent only after the previous one's `last`
    answer came back, so a server that waits for the half-close before answering fails."""
    nums = [360, 97, 1, 1001, INT64_MAX, PRIME_NEAR_2_63]
    answered = queue.Queue()
    stalls = []

    def requests():
        for n in nums:
            yield pb.Request(num=n)
            try:
                answered.get(timeout=5)
            except queue.Empty:
                stalls.append(n)  # no `last` for n within 5 s while the stream stayed open
                return

    call = stub.PrimeFactors(requests(), timeout=30)
    responses, code = [], None
    try:
        for r in call:
            print(f"{r.num}: {r.result}{' (last)' if r.last else ''}")
            responses.append(r)
            if r.last:
                answered.put(r.num)
        code = call.code()
    except grpc.RpcError as e:
        code = e.code()
    assert not stalls, (f"no complete answer to {stalls[0]} within 5 s while the stream was open "
                        f"(answers only after the half-close?)")
    assert code == grpc.StatusCode.OK, code
    assert [tup(r) for r in responses] == expected(nums)
    by_num = {}
    for r in responses:
        by_num.setdefault(r.num, []).append((r.result, r.last))
    assert by_num[360] == [(2, False), (2, False), (2, False), (3, False), (3, False), (5, True)]
    assert by_num[INT64_MAX] == [(f, i == 6) for i, f in enumerate(INT64_MAX_FACTORS)]
    assert by_num[PRIME_NEAR_2_63] == [(PRIME_NEAR_2_63, True)]
    assert by_num[1] == [(0, True)]


def test_seed_client_two_field_proto(pfgate, seed_stubs_dir):
    """A client generated from the original two-field proto, unmodified, in its own process:
    it sees a flat list of `result`s (num/last/error are unknown fields to it)."""
    nums = [360, 97, 2, 1001, INT64_MAX, PRIME_NEAR_2_63, 1, 65536]
    env = dict(os.environ, PYTHONPATH=str(seed_stubs_dir))
    r = subprocess.run([PYTHON, str(HERE / "seed_client.py"), pfgate.grpc] + [str(n) for n in nums],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 0, f"seed client failed ({r.returncode}): {r.stderr}"
    got = [int(x) for x in r.stdout.split()]
    oracle = gnu_factor(nums)
    want = []
    for n in nums:
        want.extend(oracle[n] if n >= 2 else [0])
    assert got == want


# ------------------------------------------------------------ answers ---

def test_order_2_to_5000_on_one_stream(stub, pb):
    nums = list(range(2, 5001))
    res = run_stream(stub, pb, nums, timeout=30)
    ok(res, expected(nums), "2..5000")


@pytest.mark.parametrize("n, want", [
    (0, [(0, 0, True, False)]),
    (1, [(0, 1, True, False)]),
    (2, [(2, 2, True, False)]),
    (360, [(2, 360, False, False), (2, 360, False, False), (2, 360, False, False),
           (3, 360, False, False), (3, 360, False, False), (5, 360, True, False)]),
    (INT64_MAX, [(f, INT64_MAX, i == 6, False) for i, f in enumerate(INT64_MAX_FACTORS)]),
    (PRIME_NEAR_2_63, [(PRIME_NEAR_2_63, PRIME_NEAR_2_63, True, False)]),
    (2**62, [(2, 2**62, i == 61, False) for i in range(62)]),
    (-1, [(0, -1, True, True)]),
    (-5, [(0, -5, True, True)]),
    (-360, [(0, -360, True, True)]),
    (INT64_MIN, [(0, INT64_MIN, True, True)]),
    (INT64_MIN + 1, [(0, INT64_MIN + 1, True, True)]),
], ids=lambda v: str(v) if isinstance(v, int) else None)
def test_single_number(stub, pb, n, want):
    res = run_stream(stub, pb, [n], timeout=10)
    ok(res, want, f"num={n}")
    for r in res.responses:
        if r.error:
            assert r.result == 0 and r.last, r
            assert 0 < len(r.error) <= 200, f"error text should be short and non-empty: {r.error!r}"


def test_errors_do_not_end_the_stream(stub, pb):
    nums = [-5, 12, 0, INT64_MIN, 1, 360, -1, INT64_MAX, -2**62, 97]
    res = run_stream(stub, pb, nums, timeout=10)
    ok(res, expected(nums), "mixed stream")
    errs = [r for r in res.responses if r.error]
    assert [r.num for r in errs] == [-5, INT64_MIN, -1, -2**62]


def _hard_numbers():
    """Numbers that break naive factoring: big primes, strong pseudoprimes, Carmichael
    numbers, semiprimes of two ~31-bit primes, prime powers, random 63-bit values."""
    rng = random.Random(20240607)
    near = list(range(3037000400, 3037000500))         # around sqrt(2^63)
    small_primes_31 = [p for p, fs in gnu_factor(near).items() if fs == [p]]
    semis = [p * q for p, q in zip(small_primes_31, small_primes_31[1:]) if p * q <= INT64_MAX]
    psp = [2047, 1373653, 25326001, 3215031751, 2152302898747, 3474749660383, 341550071728321,
           3825123056546413051, 561, 41041, 825265, 321197185, 5394826801, 232250619601,
           9746347772161, 4294967297, 18446744073709551557 % 2**63]
    big_primes = [p for p, fs in gnu_factor(range(INT64_MAX - 2000, INT64_MAX + 1)).items() if fs == [p]]
    powers = [3**39, 7**22, 2**61 * 3, 4611686014132420609]   # last: (2^31-1)^2
    rnd = [rng.randrange(2**62, 2**63) for _ in range(200)]
    return semis + psp + big_primes[-40:] + powers + rnd


def test_hard_numbers_exact_and_fast(stub, pb):
    """SPEC: the whole int64 range answered fast (a prime near 2^63 in microseconds).
    ~300 hard numbers on one stream within 5 s, exact against GNU factor."""
    nums = _hard_numbers()
    exp = expected(nums)
    t0 = time.monotonic()
    res = run_stream(stub, pb, nums, timeout=30)
    took = time.monotonic() - t0
    ok(res, exp, "hard numbers")
    assert took < 5.0, f"{len(nums)} hard numbers took {took:.2f}s (trial division?)"


def test_large_primes_round_trip_latency(stub, pb):
    """One prime near 2^63 at a time on an open stream: each answer back within 100 ms."""
    primes = [p for p, fs in gnu_factor(range(INT64_MAX - 3000, INT64_MAX + 1)).items() if fs == [p]][-20:]
    q = queue.Queue()
    slow = []

    def requests():
        for p in primes:
            t0 = time.monotonic()
            yield pb.Request(num=p)
            try:
                q.get(timeout=5)
            except queue.Empty:
                slow.append((p, "no answer in 5 s"))
                return
            dt = time.monotonic() - t0
            if dt > 0.1:
                slow.append((p, f"{dt * 1000:.0f} ms"))

    call = stub.PrimeFactors(requests(), timeout=30)
    got = []
    try:
        for r in call:
            got.append(tup(r))
            if r.last:
                q.put(r.num)
    except grpc.RpcError as e:
        pytest.fail(f"status {e.code()} {e.details()!r}")
    assert got == [(p, p, True, False) for p in primes]
    assert not slow, f"slow answers: {slow}"


# ------------------------------------------------------------ concurrency ---

def test_64_concurrent_streams(pfgate, pb):
    n_streams, per = 64, 60
    plan = {i: [2 + i + n_streams * k for k in range(per)] + [INT64_MAX - 2 * i, -(i + 1), PRIME_NEAR_2_63]
            for i in range(n_streams)}
    oracle = gnu_factor([n for v in plan.values() for n in v])
    barrier = threading.Barrier(n_streams, timeout=15)
    channels = [grpc.insecure_channel(pfgate.grpc) for _ in range(8)]

    def one(i):
        stub = pb.pb_grpc.FactorsStub(channels[i % len(channels)])

        def requests():
            barrier.wait()  # every stream is open before any sends a number
            for n in plan[i]:
                yield pb.Request(num=n)

        return drain(stub.PrimeFactors(requests(), timeout=30))

    try:
        with ThreadPoolExecutor(n_streams) as ex:
            results = list(ex.map(one, range(n_streams)))
    finally:
        for ch in channels:
            ch.close()
    for i, res in enumerate(results):
        ok(res, expected(plan[i], oracle), f"stream {i}")


# ------------------------------------------------------------ stream lifecycle ---

@pytest.mark.parametrize("threads", [2, 3])
def test_streams_after_bursts_reach_a_worker(pfgate_factory, pb, threads):
    """Each worker has a request for the next stream pending on its completion queue, and
    grpc cannot take one back: bursts of streams held open together, each followed by single
    streams one after another on new connections, with 2 and 3 workers. Every stream is
    answered exactly and ends OK; none is left waiting for a worker (checked to fail when a
    worker may leave the next stream without a request)."""
    srv = pfgate_factory("--threads", str(threads))
    prime = 7919
    for rnd in range(2):
        channels = [grpc.insecure_channel(srv.grpc) for _ in range(4)]
        held = [HeldRequests([pb.Request(num=prime)], hold=10) for _ in range(12)]
        calls = [pb.pb_grpc.FactorsStub(channels[i % 4]).PrimeFactors(iter(h), timeout=10)
                 for i, h in enumerate(held)]
        try:
            firsts = [tup(next(c)) for c in calls]   # all 12 open at once
            assert firsts == [(prime, prime, True, False)] * 12, firsts
        finally:
            for h in held:
                h.release()
        for i, c in enumerate(calls):
            res = drain(c)
            assert res.code == grpc.StatusCode.OK and not res.responses, \
                f"round {rnd}: held stream {i}: {res}"
        for ch in channels:
            ch.close()
        for i in range(8):
            with grpc.insecure_channel(srv.grpc) as ch:
                res = run_stream(pb.pb_grpc.FactorsStub(ch), pb, [360, prime], timeout=10)
            ok(res, expected([360, prime]), f"round {rnd}: single stream {i}")


def test_half_close_all_answered_status_ok(stub, pb):
    nums = [n * 7919 for n in range(1, 1001)]
    res = run_stream(stub, pb, nums, timeout=20)
    ok(res, expected(nums), "half-closed stream")
    assert res.code == grpc.StatusCode.OK


def test_empty_stream_ok_no_responses(stub, pb):
    res = run_stream(stub, pb, [], timeout=5)
    assert res.code == grpc.StatusCode.OK, (res.code, res.details)
    assert res.responses == []


def test_empty_stream_held_open_then_closed(stub, pb):
    reqs = HeldRequests([], hold=0.5)
    res = drain(stub.PrimeFactors(iter(reqs), timeout=5))
    assert res.code == grpc.StatusCode.OK, (res.code, res.details)
    assert res.responses == []


def test_client_cancel_mid_stream_then_server_healthy(pfgate, channel, stub, pb):
    nums = list(range(2, 50002))
    exp = expected(nums[:2000])
    for round_ in range(5):
        reqs = HeldRequests((pb.Request(num=n) for n in nums), hold=10)
        call = stub.PrimeFactors(iter(reqs), timeout=20)
        got = []
        for r in call:
            got.append(tup(r))
            if len(got) >= 100:
                break
        call.cancel()
        reqs.release()
        assert call.code() == grpc.StatusCode.CANCELLED
        assert got == exp[:len(got)], f"round {round_}: answers before cancel were wrong"
    # cancel before any answer, many times, on fresh channels too
    for _ in range(20):
        ch = grpc.insecure_channel(pfgate.grpc)
        call = pb.pb_grpc.FactorsStub(ch).PrimeFactors(iter([pb.Request(num=INT64_MAX)] * 50), timeout=5)
        call.cancel()
        ch.close()
    assert pfgate.alive()
    res = run_stream(stub, pb, [360, INT64_MAX], timeout=10)
    ok(res, expected([360, INT64_MAX]), "stream after cancels")


def test_abrupt_disconnect_mid_stream(pfgate, pb):
    """A client that vanishes (its TCP connection closes) mid-stream costs only its stream."""
    for _ in range(5):
        ch = grpc.insecure_channel(pfgate.grpc)
        reqs = HeldRequests([pb.Request(num=n) for n in range(2, 20000)], hold=5)
        call = pb.pb_grpc.FactorsStub(ch).PrimeFactors(iter(reqs), timeout=10)
        next(iter(call))
        ch.close()
        reqs.release()
    time.sleep(0.2)
    assert pfgate.alive()
    with grpc.insecure_channel(pfgate.grpc) as ch:
        res = run_stream(pb.pb_grpc.FactorsStub(ch), pb, [360], timeout=10)
    ok(res, expected([360]))


# ------------------------------------------------------------ wire-level input ---

def test_raw_wire_protobuf_semantics(channel, pb):
    """Bytes as an unmodified or future client may send them: empty message is num 0,
    unknown fields are skipped, a repeated scalar field takes the last value."""
    cases = [
        (b"", [(0, 0, True, False)]),
        (b"\x08\xe8\x02", [(f, 360, i == 5, False) for i, f in enumerate([2, 2, 2, 3, 3, 5])]),
        (b"\x08\x05\x08\x0c", [(2, 12, False, False), (2, 12, False, False), (3, 12, True, False)]),
        (b"\x78\x01\x08\x61\x7a\x03abc", [(97, 97, True, False)]),     # unknown fields 15 (varint, bytes)
        (b"\x08" + b"\xff" * 9 + b"\x01", [(0, -1, True, True)]),           # -1, 10-byte varint
    ]
    payloads = [c[0] for c in cases]
    res = raw_stream(channel, payloads, timeout=10)
    want = [t for c in cases for t in c[1]]
    assert res.code == grpc.StatusCode.OK, (res.code, res.details)
    got = [tup(pb.Response.FromString(b)) for b in res.responses]
    assert got == want


@pytest.mark.parametrize("payload", [
    b"\x08",                                   # tag, value missing
    b"\x08\xff",                               # truncated varint
    b"\xff\xff\xff",                           # truncated tag varint
    b"\x0a\x05ab",                             # length-delimited, length past the end
    b"\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",  # 11-byte varint
    b"\x7a\x0a\x01",                           # unknown field 15, truncated bytes
], ids=lambda b: b.hex())
def test_undecodable_message_invalid_argument(pfgate, channel, stub, pb, payload):
    res = raw_stream(channel, [payload], timeout=5)
    assert res.code == grpc.StatusCode.INVALID_ARGUMENT, (res.code, res.details)
    assert res.responses == []
    ok(run_stream(stub, pb, [360], timeout=5), expected([360]), "next stream")


def test_undecodable_after_good_message(channel, pb):
    good = pb.Request(num=360).SerializeToString()
    res = raw_stream(channel, [good, b"\x08\xff", good], timeout=5)
    assert res.code == grpc.StatusCode.INVALID_ARGUMENT, (res.code, res.details)
    got = [tup(pb.Response.FromString(b)) for b in res.responses]
    exp = expected([360])
    assert got == exp[:len(got)], "answers before the bad message must be right and in order"


def test_undecodable_message_ends_an_open_stream_promptly(channel):
    """The client does not half-close: the bad message alone must end the stream."""
    mc = channel.stream_stream(METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    reqs = HeldRequests([b"\x08\xff"], hold=8)
    t0 = time.monotonic()
    res = drain(mc(iter(reqs), timeout=10))
    reqs.release()
    assert res.code == grpc.StatusCode.INVALID_ARGUMENT, (res.code, res.details)
    assert time.monotonic() - t0 < 3


def test_oversized_message_resource_exhausted(pfgate, channel, stub, pb):
    """5 MiB in unknown field 15 (a parser would skip it) is over the 4 MiB default limit."""
    size = 5 * 1024 * 1024
    ln, varint = size, bytearray()
    while True:
        b = ln & 0x7F
        ln >>= 7
        varint.append(b | (0x80 if ln else 0))
        if not ln:
            break
    payload = b"\x7a" + bytes(varint) + b"\0" * size + b"\x08\xe8\x02"
    res = raw_stream(channel, [payload], timeout=10)
    assert res.code == grpc.StatusCode.RESOURCE_EXHAUSTED, (res.code, res.details)
    assert res.responses == []
    assert pfgate.alive()
    ok(run_stream(stub, pb, [360], timeout=5), expected([360]), "next stream")


def test_padded_message_within_limit(channel, pb):
    """A 1 KiB unknown field is still a valid message."""
    payload = b"\x7a\x80\x08" + b"x" * 1024 + b"\x08\xe8\x02"
    res = raw_stream(channel, [payload], timeout=5)
    assert res.code == grpc.StatusCode.OK, (res.code, res.details)
    assert [tup(pb.Response.FromString(b)) for b in res.responses] == expected([360])


@pytest.mark.parametrize("method", ["/primefactor.Factors/Nope", "/no.such.Service/Method",
                                    "/primefactor.Factors/primefactors"])
@pytest.mark.parametrize("kind", ["unary", "stream"])
def test_unknown_method_unimplemented(channel, method, kind):
    t0 = time.monotonic()
    if kind == "unary":
        mc = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as ei:
            mc(b"\x08\x01", timeout=5)
        code = ei.value.code()
    else:
        res = raw_stream(channel, [b"\x08\x01"], timeout=5, method=method)
        code = res.code
    assert code == grpc.StatusCode.UNIMPLEMENTED
    assert time.monotonic() - t0 < 4


# ------------------------------------------------------------ flow control ---

PADDED_2_62 = b"\x7a\x80\x08" + b"p" * 1024 + b"\x08" + bytes([0x80] * 8 + [0x40])  # 2^62 + 1 KiB unknown field


def _wait_stall(counter, limit=12.0, quiet=1.0, min_count=100):
    """Wait until counter[0] (at least min_count, so the stream is surely open and flowing)
    stops growing for `quiet` seconds. Returns True if it stalled."""
    t_end = time.monotonic() + limit
    last, since = counter[0], time.monotonic()
    while time.monotonic() < t_end:
        time.sleep(0.1)
        if counter[0] != last or counter[0] < min_count:
            last, since = counter[0], time.monotonic()
        elif time.monotonic() - since >= quiet:
            return True
    return False


def _stalled_call(ch, counter, stop=None, total=200_000):
    """A stream of 2^62s (62 answers each, 1 KiB requests) whose client never reads."""
    def flood():
        for _ in range(total):
            if stop is not None and stop.is_set():
                return
            yield PADDED_2_62
            counter[0] += 1

    mc = ch.stream_stream(METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    return mc(flood(), timeout=12)


def test_slow_reader_flow_control(pfgate, pb):
    """SPEC: a client that stops reading must not make pfgate buffer without bound: pfgate
    stops reading that stream's requests; other streams are unaffected.
    Each request is 2^62 (62 answers) with 1 KiB of padding, so a non-reading client fills
    every window fast; if pfgate kept reading, the client could keep sending."""
    ch_slow = grpc.insecure_channel(pfgate.grpc)
    ch_other = grpc.insecure_channel(pfgate.grpc)
    rss0 = pfgate.rss_kib()
    sent = [0]
    stop = threading.Event()
    slow_call = _stalled_call(ch_slow, sent, stop)
    try:
        stalled = _wait_stall(sent, limit=10.0, quiet=1.0)
        rss1 = pfgate.rss_kib()
        assert stalled, (f"the non-reading stream kept being read: {sent[0]} requests (1 KiB, 62 "
                         f"answers each) accepted in 10 s without stalling")
        assert rss1 - rss0 < 64 * 1024, f"pfgate RSS grew {(rss1 - rss0) // 1024} MiB for one slow reader"
        # Other streams, on the same connection and on another, are unaffected.
        nums = list(range(2, 3002))
        t0 = time.monotonic()
        for ch in (ch_slow, ch_other):
            ok(run_stream(pb.pb_grpc.FactorsStub(ch), pb, nums, timeout=10), expected(nums),
               "a stream beside the stalled one")
        took = time.monotonic() - t0
        assert took < 5, f"other streams were slowed down: {took:.1f}s"
        # The stalled stream's answers are still exact and in order once it reads again.
        got = []
        for b in slow_call:
            got.append(tup(pb.Response.FromString(b)))
            if len(got) >= 62 * 20:
                break
        assert got == [(2, 2**62, i % 62 == 61, False) for i in range(len(got))]
    finally:
        stop.set()
        slow_call.cancel()
        ch_slow.close()
        ch_other.close()
    assert pfgate.alive()


# ------------------------------------------------------------ command line ---

def test_listening_line(pfgate_factory):
    """SPEC: once both listeners are bound, exactly one line `listening grpc=HOST:PORT
    http=HOST:PORT` with the real ports (':0' asked for a free one). Both ports accept a TCP
    connection; a client that connects and leaves at once must not hurt the later SIGTERM
    (the factory's teardown checks exit 0)."""
    srv = pfgate_factory()
    assert srv.grpc.startswith("127.0.0.1:") and srv.http.startswith("127.0.0.1:"), srv.listen_line
    assert srv.grpc_port != 0, srv.listen_line
    assert srv.http_port != 0, f"http port printed as 0 (HTTP listener not bound?): {srv.listen_line!r}"
    assert srv.grpc_port != srv.http_port
    for port in (srv.grpc_port, srv.http_port):
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass



def _run_cli(*args, timeout=10):
    exe = os.environ.get("PFGATE") or str(REPO / "build" / "pfgate")
    if not os.access(exe, os.X_OK):
        pytest.fail(f"pfgate binary not found: {exe}", pytrace=False)
    try:
        return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"`pfgate {' '.join(args)}` did not exit within {timeout}s "
                    f"(stdout {e.stdout!r}, stderr {e.stderr!r})", pytrace=False)


def test_help():
    r = _run_cli("--help")
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert "--grpc-addr" in r.stdout, f"--help must go to stdout and list --grpc-addr: {r.stdout!r}"


@pytest.mark.parametrize("flag", ["--grpc-addr", "--http-addr", "--web-root", "--drain-timeout",
                                  "--tls-cert", "--tls-key", "--reuse-port", "--allow-origin",
                                  "--max-frame", "--ws-idle-timeout", "--header-timeout",
                                  "--idle-timeout"])
def test_help_lists_spec_flags(flag):
    """SPEC: `pfgate --help` lists every flag (these are the ones SPEC.md names)."""
    r = _run_cli("--help")
    assert r.returncode == 0
    assert re.search(re.escape(flag) + r"\b", r.stdout), f"--help does not mention {flag}"


def test_version():
    r = _run_cli("--version")
    assert r.returncode == 0, (r.returncode, r.stderr)
    version = (REPO / "VERSION").read_text().strip()
    assert version in r.stdout, f"--version printed {r.stdout!r}, VERSION is {version}"
    assert "listening" not in r.stdout


@pytest.mark.parametrize("args", [
    ["--no-such-flag"],
    ["--grpc-addr"],                               # missing value
    ["--grpc-addr", "127.0.0.1:99999"],            # port out of range
    ["--grpc-addr", "not an address"],
    ["--drain-timeout", "soon"],
    ["stray-positional-argument"],
], ids=lambda a: " ".join(a))
def test_bad_command_line(args):
    r = _run_cli(*args, "--http-addr", "127.0.0.1:0") if args[0] != "--grpc-addr" or len(args) > 1 \
        else _run_cli(*args)
    assert r.returncode != 0, f"`pfgate {' '.join(args)}` exited 0"
    assert r.stderr.strip(), "a bad command line must explain itself on stderr"
    assert "listening" not in r.stdout


@pytest.mark.parametrize("which", ["grpc", "http"])
def test_busy_port(pfgate_factory, which):
    first = pfgate_factory()
    port = first.grpc if which == "grpc" else first.http
    args = (["--grpc-addr", port, "--http-addr", "127.0.0.1:0"] if which == "grpc"
            else ["--grpc-addr", "127.0.0.1:0", "--http-addr", port])
    exe = os.environ.get("PFGATE") or str(REPO / "build" / "pfgate")
    p = subprocess.Popen([exe, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"a second pfgate on busy {which} port {port} kept running "
                    f"(SO_REUSEPORT left on?); stdout {out!r}", pytrace=False)
    assert p.returncode != 0, f"second pfgate on busy {which} port exited 0; stdout {out!r}"
    assert "listening" not in out
    port_no = port.rsplit(":", 1)[1]
    assert port_no in err or re.search(r"in use|bind", err, re.I), \
        f"the error should name the port or say it is in use: {err!r}"
    assert first.alive()


# ------------------------------------------------------------ signals ---

def _reader(call, sink):
    def run():
        sink["res"] = drain(call)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("sig, reading", [(signal.SIGTERM, True), (signal.SIGINT, True),
                                          (signal.SIGTERM, False)],
                         ids=["SIGTERM", "SIGINT", "SIGTERM-backlog"])
def test_signal_drains_open_stream(pfgate_factory, pb, sig, reading):
    """SIGTERM/SIGINT while a stream is open (not half-closed) and streaming: every number
    already sent is answered, the stream ends with OK, pfgate exits 0 within 5 s.
    `backlog`: the client sent its numbers (more than --max-pending, 1024) but had not read
    yet, so pfgate holds unanswered numbers when the signal comes; the client reads after it."""
    srv = pfgate_factory()
    rng = random.Random(7)
    nums = []
    for i in range(3000):
        nums.append(i + 2 if i % 4 else rng.randrange(2**62, 2**63))
    exp = expected(nums)
    with grpc.insecure_channel(srv.grpc) as ch:
        reqs = HeldRequests([pb.Request(num=n) for n in nums], hold=15)
        call = pb.pb_grpc.FactorsStub(ch).PrimeFactors(iter(reqs), timeout=15)
        sink = {}
        t = _reader(call, sink) if reading else None
        assert reqs.all_sent.wait(10), f"could not send the numbers ({reqs.sent} sent)"
        time.sleep(0.05 if reading else 0.3)
        srv.signal(sig)
        if not reading:
            t = _reader(call, sink)
        rc, took = srv.wait(6)
        t.join(10)
        reqs.release()
        if rc is None:
            srv.kill()
            pytest.fail(f"pfgate did not exit within 6 s of {sig.name}")
        assert "res" in sink, "the client stream did not end"
        res = sink["res"]
        assert res.code == grpc.StatusCode.OK, (res.code, res.details)
        got = res.tuples
        answered = len({t[1] for t in got if t[2]})
        assert got == exp, (f"stream ended {res.code} with {answered} of {len(nums)} numbers answered "
                            f"({len(got)} of {len(exp)} answers); numbers sent before the signal "
                            f"were dropped" if got == exp[:len(got)] else "wrong answers")
        assert rc == 0, f"{sig.name}: exit {rc}"
        assert took <= 5.5, f"exit took {took:.1f}s"


def _stalled_stream(srv, pb, ch):
    """A stream whose client never reads: every window fills, pfgate cannot finish it."""
    sent = [0]
    call = _stalled_call(ch, sent)
    _wait_stall(sent, limit=8.0, quiet=0.5)
    return call


def test_drain_deadline_with_stalled_reader(pfgate_factory, pb):
    """A reader that never reads cannot be drained: at --drain-timeout (5 s) pfgate ends the
    stream with UNAVAILABLE and exits 0. During the drain the gRPC port takes no new streams."""
    srv = pfgate_factory()
    # No BDP probing on the client: its window stays small, so the answers it buffered
    # (and must read before it sees the status) fit in its 12 s deadline.
    ch = grpc.insecure_channel(srv.grpc, options=[("grpc.http2.bdp_probe", 0)])
    try:
        call = _stalled_stream(srv, pb, ch)
        srv.signal(signal.SIGTERM)
        t0 = time.monotonic()
        time.sleep(0.5)
        assert srv.alive(), "pfgate exited at once although a stream still had answers to send"
        with grpc.insecure_channel(srv.grpc) as ch2:
            res2 = run_stream(pb.pb_grpc.FactorsStub(ch2), pb, [360], timeout=2)
        assert res2.code == grpc.StatusCode.UNAVAILABLE, \
            f"a new connection during the drain got {res2.code} {res2.details!r}, expected UNAVAILABLE"
        rc, _ = srv.wait(6.5 - (time.monotonic() - t0))
        took = time.monotonic() - t0
        if rc is None:
            srv.kill()
            pytest.fail("pfgate did not exit within 6.5 s of SIGTERM with a stalled reader")
        assert rc == 0, f"exit {rc}"
        assert took <= 6.0, f"exit took {took:.1f}s (drain timeout 5 s)"
        res = drain(call)
        assert res.code == grpc.StatusCode.UNAVAILABLE, (
            f"after the drain deadline the stalled stream ended {res.code} {res.details!r} "
            f"(DEADLINE_EXCEEDED = the client's own 12 s deadline: no status ever reached it)")
        got = [tup(pb.Response.FromString(b)) for b in res.responses]
        assert got == [(2, 2**62, i % 62 == 61, False) for i in range(len(got))]
    finally:
        ch.close()
        srv.kill()


def test_second_signal_exits_at_once(pfgate_factory, pb):
    srv = pfgate_factory()
    ch = grpc.insecure_channel(srv.grpc)
    call = None
    try:
        # Keep the call: a dropped call object is cancelled by grpcio, and the
        # stream would then have nothing left to drain.
        call = _stalled_stream(srv, pb, ch)
        srv.signal(signal.SIGTERM)
        time.sleep(0.5)
        assert srv.alive(), "pfgate exited at once although a stream still had answers to send"
        srv.signal(signal.SIGTERM)
        rc, took = srv.wait(1.5)
        if rc is None:
            srv.kill()
            pytest.fail("a second SIGTERM did not make pfgate exit within 1.5 s")
        assert rc not in CRASH_SIGNALS, f"second signal: pfgate crashed ({rc})"
    finally:
        if call is not None:
            call.cancel()
        ch.close()
        srv.kill()


def test_sigterm_idle_exits_zero_fast(pfgate_factory, pb):
    srv = pfgate_factory()
    with grpc.insecure_channel(srv.grpc) as ch:   # an idle open connection must not hold it
        ok(run_stream(pb.pb_grpc.FactorsStub(ch), pb, [360], timeout=5), expected([360]))
        srv.signal(signal.SIGTERM)
        rc, took = srv.wait(5.5)
    if rc is None:
        srv.kill()
        pytest.fail("idle pfgate did not exit within 5.5 s of SIGTERM")
    assert rc == 0
    assert took < 2.0, f"an idle pfgate took {took:.1f}s to exit"
