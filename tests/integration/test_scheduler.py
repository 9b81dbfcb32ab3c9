"""Issue 14, the factoring workers (core/scheduler.c), from outside (SPEC: "Many clients at
once"): exact answers in order on every front while streams share the workers, the same bytes
whatever --workers, cancels and disconnects with numbers queued at the workers, drains with
queued work, the queue limits, and the probes that never wait behind factoring.

Balanced 62-bit semiprimes (two primes in [2^30.5, 2^31)) are what goes to the workers; their
oracle is their two primes. Every other number's oracle is GNU `factor`. Nothing is timed:
deadlines only bound a hang.
"""
import random
import signal
import subprocess
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from pfutil import INT64_MAX, INT64_MIN, METHOD, HeldRequests, drain, expected, gnu_factor, tup, v2
from pfhttp import (NDJSON_PATH, OP_CLOSE, OP_TEXT, PRIME_NEAR_2_63, RawWS, SockReader,
                    close_payload, compare_answers, connect, decode_error_answer,
                    expected_answers, http_raw, metric_samples, next_prime, parse_json_text,
                    pfgate_path, read_http_body, read_http_head, ws_frame)
from test_faults import get_metrics, serving_exactly, start_warm
from test_grpc_reflection import SERVICES, ask, refl  # noqa: F401  (refl is a fixture)

REPO = Path(__file__).resolve().parent.parent.parent

# ------------------------------------------------------------------ numbers ---

_RNG = random.Random(1414)
_PRIMES = sorted({next_prime(_RNG.randrange(1518500250, 2**31 - 100)) for _ in range(40)})
SEMIPRIMES = [p * q for i, p in enumerate(_PRIMES) for q in _PRIMES[i + 1:]]
_SEMI_ORACLE = {p * q: [p, q] for i, p in enumerate(_PRIMES) for q in _PRIMES[i + 1:]}
QUICK = sorted({360, 12, 97, 1001, 2**62, 2**61 - 1, PRIME_NEAR_2_63, INT64_MAX, 600851475143,
                2**40 - 87, 3**39} | {_RNG.randrange(2, 10**6) for _ in range(120)}
               | {_RNG.randrange(2**20, 2**40) for _ in range(40)})
SPECIAL = [0, 1, -1, -5, INT64_MIN]
# Each is one {"last":true,"error":...} answer on the JSON fronts (SPEC: JSON messages).
BAD = ["bad", '{"num": 1.5}', '{"num": "360", "x": 1}', "[360]", '{"num": 1e3}', '"12a"',
       '{"num": 92233720368547758080}']
_ORACLE = None


class Bad(str):
    """A JSON request that cannot be decoded."""


def oracle():
    global _ORACLE
    if _ORACLE is None:
        assert all(n.bit_length() == 62 for n in SEMIPRIMES) and len(SEMIPRIMES) > 700
        _ORACLE = {**gnu_factor(QUICK), **_SEMI_ORACLE}
    return _ORACLE


def mix(rng, count, semi=0.4, bad=True):
    """`count` requests: semiprimes (fraction `semi`), 0, 1 and negatives, undecodable JSON
    (unless bad=False, for gRPC), and numbers settled on the stream's own thread."""
    out = []
    for _ in range(count):
        r = rng.random()
        if r < semi:
            out.append(rng.choice(SEMIPRIMES))
        elif r < semi + 0.05:
            out.append(rng.choice(SPECIAL))
        elif bad and r < semi + 0.08:
            out.append(Bad(rng.choice(BAD)))
        else:
            out.append(rng.choice(QUICK))
    return out


def json_texts(items):
    """The JSON requests for `items`, in every request form SPEC allows, in turn."""
    forms = ("{}", '"{}"', '{{"num": {}}}', '{{"num": "{}"}}')
    return [it if isinstance(it, str) else forms[i % 4].format(it) for i, it in enumerate(items)]


def exp_json(items):
    o, out = oracle(), []
    for it in items:
        out += [decode_error_answer()] if isinstance(it, str) else expected_answers([it], o)
    return out


def check_json(got_texts, items, what):
    got = [parse_json_text(t, f"{what} answer") for t in got_texts]
    msg = compare_answers(got, exp_json(items), what)
    assert msg is None, msg


def check_json_prefix(got_texts, items, what):
    """Answers of a stream that was cut short: exactly the first len(got) of the full answer."""
    got = [parse_json_text(t, f"{what} answer") for t in got_texts]
    msg = compare_answers(got, exp_json(items)[:len(got)], what)
    assert msg is None, msg


def check_grpc(res, nums, pb, what, code=grpc.StatusCode.OK):
    assert res.code == code, f"{what}: status {res.code} {res.details!r}, expected {code}"
    got = [tup(pb.Response.FromString(b)) for b in res.responses]
    want = expected(nums, oracle())
    if got != want:
        i = next((i for i, (g, e) in enumerate(zip(got, want)) if g != e), min(len(got), len(want)))
        pytest.fail(f"{what}: answer #{i} is {got[i:i + 1]}, expected {want[i:i + 1]} "
                    f"({len(got)} answers, expected {len(want)})", pytrace=False)


# --------------------------------------------------------------- sessions ---

def _sender(sock, data):
    """Writes `data` from a thread (the reader must read meanwhile, or both sides block)."""
    def run():
        try:
            sock.sendall(data)
        except OSError:
            pass  # the test closed the socket or pfgate refused the rest
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def raw_call(ch, requests, timeout):
    """A PrimeFactors call of request bytes, its responses as bytes."""
    mc = ch.stream_stream(METHOD, request_serializer=lambda b: b,
                          response_deserializer=lambda b: b)
    return mc(iter(requests), timeout=timeout)


def grpc_session(addr, nums, timeout=30):
    """One gRPC stream on a channel of its own: every number pipelined, then the half-close.
    Returns the StreamResult with the responses as bytes."""
    with grpc.insecure_channel(addr) as ch:
        return drain(raw_call(ch, [v2(n) for n in nums], timeout))


def ws_session(addr, texts, ending="close", timeout=30):
    """A raw WebSocket: every text pipelined, then a Close 1000 or {"end":true} at once.
    Returns (answer texts, the server's WsClose or None, how it ended)."""
    ws = RawWS(addr)
    assert ws.status == 101, f"WebSocket upgrade: HTTP {ws.status}"
    end = (ws_frame(OP_CLOSE, close_payload(1000)) if ending == "close"
           else ws_frame(OP_TEXT, '{"end":true}'))
    ws.sent_close = True  # recv() must not write pongs while the sender thread writes
    t = _sender(ws.sock, b"".join(ws_frame(OP_TEXT, x) for x in texts) + end)
    try:
        got, close, how = ws.read_until_close(timeout)
        t.join(timeout)
        if ending != "close" and close is not None:
            ws.sock.sendall(ws_frame(OP_CLOSE, close_payload(1000)))
    finally:
        ws.close()
    return got, close, how


def _post_head(length):
    return (b"POST " + NDJSON_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: "
            + str(length).encode() + b"\r\nConnection: close\r\n\r\n")


def ndjson_session(addr, lines, timeout=30):
    """An NDJSON POST of `lines`, written from a thread while the answers are read.
    Returns (status, answer body with any chunking removed)."""
    body = "".join(x + "\n" for x in lines).encode()
    s = connect(addr, timeout)
    try:
        t = _sender(s, _post_head(len(body)) + body)
        r = SockReader(s)
        deadline = time.monotonic() + timeout
        status, _, headers, _ = read_http_head(r, deadline)
        data = read_http_body(r, status, headers, deadline)
        t.join(timeout)
    finally:
        s.close()
    return status, data


def ndjson_texts(status, data, what):
    assert status == 200, f"{what}: HTTP {status} {data[:200]!r}"
    text = data.decode()
    assert text == "" or text.endswith("\n"), f"{what}: body does not end with a newline"
    return text.splitlines()


def check_ws(result, items, what, code=1000):
    got, close, how = result
    check_json(got, items, what)
    assert close is not None, f"{what}: no Close frame after the answers (ended by {how})"
    assert close.code == code, f"{what}: Close {close.code} {close.reason!r}, expected {code}"


def open_streams(srv):
    s = metric_samples(get_metrics(srv).body.decode())
    return {f: s.get(f'pfgate_open_streams{{front="{f}"}}') for f in ("grpc", "websocket", "http")}


class OpenStreams:
    """Streams their clients do not end: gRPC calls never half-closed, WebSockets and NDJSON
    POSTs (promising a longer body) whose numbers are written from threads. Reading is the
    test's. close() lets go of them all, politely or (abort) by cancel and TCP reset."""

    def __init__(self, srv):
        self.srv = srv
        self.chans, self.held, self.calls = [], [], []
        self.wss, self.posts, self.senders = [], [], []

    def grpc(self, nums, hold=30):
        ch = grpc.insecure_channel(self.srv.grpc)
        self.chans.append(ch)
        self.held.append(HeldRequests([v2(x) for x in nums], hold=hold))
        self.calls.append(raw_call(ch, self.held[-1], hold))
        return self.calls[-1]

    def ws(self, texts):
        ws = RawWS(self.srv.http)
        assert ws.status == 101, f"WebSocket upgrade: HTTP {ws.status}"
        ws.sent_close = True  # no pongs from recv(): the sender thread writes
        self.wss.append(ws)
        self.senders.append(_sender(ws.sock, b"".join(ws_frame(OP_TEXT, x) for x in texts)))
        return ws

    def ndjson(self, lines):
        body = "".join(x + "\n" for x in lines).encode()
        s = connect(self.srv.http, 15)
        self.posts.append(s)
        self.senders.append(_sender(s, _post_head(2 * len(body)) + body))
        return SockReader(s)

    def wait_sent(self, timeout=10):
        """Every number written (WebSocket, NDJSON) or taken by grpc."""
        for t in self.senders:
            t.join(timeout)
            assert not t.is_alive(), f"a client could not send its numbers in {timeout} s"
        assert all(r.all_sent.wait(timeout) for r in self.held), \
            "a gRPC client could not send its numbers"

    def close(self, abort=False):
        if abort:
            for c in self.calls:
                c.cancel()
        for r in self.held:
            r.release()
        for ws in self.wss:
            (ws.abort if abort else ws.close)()
        for x in self.chans + self.posts:
            x.close()


# ---------------------------------------------------- 1. order per stream ---

def every_front_at_once(srv, pb, g, w, n, ws_endings=("close",)):
    """gRPC streams of g, WebSockets of w (ended in turn by each of ws_endings) and NDJSON
    posts of n, all at once; each stream's answers exact and in order."""
    oracle()
    with ThreadPoolExecutor(len(g) + len(w) + len(n)) as ex:
        fg = [ex.submit(grpc_session, srv.grpc, nums) for nums in g]
        fw = [ex.submit(ws_session, srv.http, json_texts(items), ws_endings[i % len(ws_endings)])
              for i, items in enumerate(w)]
        fn = [ex.submit(ndjson_session, srv.http, json_texts(items)) for items in n]
        for i, (f, nums) in enumerate(zip(fg, g)):
            check_grpc(f.result(), nums, pb, f"gRPC stream {i}")
        for i, (f, items) in enumerate(zip(fw, w)):
            check_ws(f.result(), items, f"WebSocket {i}")
        for i, (f, items) in enumerate(zip(fn, n)):
            check_json(ndjson_texts(*f.result(), f"NDJSON {i}"), items, f"NDJSON {i}")


def test_order_per_stream_many_streams_every_front(pfgate_factory, pb):
    """16 gRPC streams, 16 WebSockets and 8 NDJSON POSTs at once, each 300 mixed requests
    pipelined: every stream's answers exact and in its own order, while their semiprimes
    take turns on the workers. Half the WebSockets end with a Close sent right after their
    numbers, half with {"end":true}: either way every answer comes before the Close 1000."""
    srv = pfgate_factory()
    rng = random.Random(1)
    g = [mix(rng, 300, bad=False) for _ in range(16)]
    w = [mix(rng, 300) for _ in range(16)]
    n = [mix(rng, 300) for _ in range(8)]
    every_front_at_once(srv, pb, g, w, n, ws_endings=("close", "end"))


# ------------------------------------------------- 2. the same bytes, 1 or 4 ---

def _every_front_bytes(srv, g, w, n):
    """Three streams per front at once; their answers as bytes, per front."""
    with ThreadPoolExecutor(9) as ex:
        fg = [ex.submit(grpc_session, srv.grpc, nums) for nums in g]
        fw = [ex.submit(ws_session, srv.http, json_texts(items)) for items in w]
        fn = [ex.submit(ndjson_session, srv.http, json_texts(items)) for items in n]
        return ([f.result() for f in fg], [f.result() for f in fw], [f.result() for f in fn])


def test_workers_1_and_4_answer_byte_identical(pfgate_factory, pb):
    """The same requests give the same bytes on each front with --workers 1 and --workers 4
    (the workers change who factors, never what is answered), and those are exact."""
    rng = random.Random(2)
    g = [mix(rng, 250, semi=0.5, bad=False) for _ in range(3)]
    w = [mix(rng, 250, semi=0.5) for _ in range(3)]
    n = [mix(rng, 250, semi=0.5) for _ in range(3)]
    runs = {}
    for workers in (1, 4):
        srv = pfgate_factory("--workers", str(workers))
        runs[workers] = _every_front_bytes(srv, g, w, n)
        srv.check_clean_exit(f"pfgate --workers {workers}")
    (g1, w1, n1), (g4, w4, n4) = runs[1], runs[4]
    for i, nums in enumerate(g):
        check_grpc(g1[i], nums, pb, f"gRPC stream {i}, --workers 1")
        assert (g4[i].code, g4[i].responses) == (g1[i].code, g1[i].responses), \
            f"gRPC stream {i}: --workers 4 answered other bytes than --workers 1"
    for i, items in enumerate(w):
        check_ws(w1[i], items, f"WebSocket {i}, --workers 1")
        same = [(r[0], r[1] and (r[1].code, r[1].reason)) for r in (w1[i], w4[i])]
        assert same[0] == same[1], f"WebSocket {i}: --workers 4 sent other frames than --workers 1"
    for i, items in enumerate(n):
        check_json(ndjson_texts(*n1[i], f"NDJSON {i}"), items, f"NDJSON {i}, --workers 1")
        assert n4[i] == n1[i], f"NDJSON {i}: --workers 4 answered another body than --workers 1"


# ------------------------------------------- 3. cancel with work queued ---

VICTIM_SEMIPRIMES = 20000  # seconds of factoring: most are still to do when the client goes
ROUNDS = 4
CANCEL_ARGS = ("--max-queued-per-stream", "256")   # many jobs queued per stream, not 16


def _answers_flowing(r, deadline, lines):
    """Reads an HTTP response's head and body bytes until `lines` answers have come."""
    status, _, headers, _ = read_http_head(r, deadline)
    assert status == 200, f"NDJSON POST: HTTP {status}"
    while r.buf.count(b'"last":true') < lines:
        r._fill(deadline)


def _victim(srv, pb, how, rng):
    """One stream that sends many semiprimes, reads a few answers, and then goes as `how`
    says, while most of its numbers wait for the workers."""
    nums = [rng.choice(SEMIPRIMES) for _ in range(VICTIM_SEMIPRIMES)]
    if how in ("grpc_cancel", "grpc_disconnect"):
        ch = grpc.insecure_channel(srv.grpc)
        reqs = HeldRequests([v2(n) for n in nums], hold=20)
        call = raw_call(ch, reqs, 20)
        got = []
        for r in call:
            got.append(tup(pb.Response.FromString(r)))
            if len(got) == 10:
                break
        (call.cancel if how == "grpc_cancel" else ch.close)()
        reqs.release()
        ch.close()
        assert got == expected(nums, oracle())[:10], f"{how}: answers before it went"
    elif how == "ws_abort":
        ws = RawWS(srv.http)
        assert ws.status == 101
        ws.sent_close = True  # no pongs from recv(): the sender thread writes
        t = _sender(ws.sock, b"".join(ws_frame(OP_TEXT, str(n)) for n in nums))
        got = ws.recv_n(10)
        ws.abort()
        t.join(10)
        check_json_prefix(got, nums, how)
    elif how == "ws_close":
        # Not a cancel: the Close right behind the numbers is answered after all of them.
        nums = nums[:3000]
        check_ws(ws_session(srv.http, json_texts(nums)), nums, how)
    elif how == "ndjson_disconnect":
        body = b"".join(b"%d\n" % n for n in nums)
        s = connect(srv.http, 10)
        t = _sender(s, _post_head(2 * len(body)) + body)   # the body is cut off mid-way
        _answers_flowing(SockReader(s), time.monotonic() + 10, 5)
        RawWS.abort(types.SimpleNamespace(sock=s))         # an RST, as for a WebSocket
        t.join(10)
    else:
        raise AssertionError(how)


def _bystander(srv, pb, front, items):
    """A stream on `front` that must be answered exactly however the victims go."""
    if front == "grpc":
        nums = [x for x in items if not isinstance(x, str)]
        check_grpc(grpc_session(srv.grpc, nums), nums, pb, "gRPC bystander")
    elif front == "ws":
        check_ws(ws_session(srv.http, json_texts(items)), items, "WebSocket bystander")
    else:
        check_json(ndjson_texts(*ndjson_session(srv.http, json_texts(items)), "NDJSON bystander"),
                   items, "NDJSON bystander")


@pytest.mark.parametrize("how", ["grpc_cancel", "grpc_disconnect", "ws_abort", "ws_close",
                                 "ndjson_disconnect"])
def test_cancel_with_queued_work(pfgate_factory, pb, how):
    """A stream that goes (gRPC cancel or its connection closed, WebSocket TCP abort or Close,
    NDJSON client gone mid-body) while its semiprimes wait for the workers, 4 times, each
    beside a stream on the same front that takes turns with it: the other stream is answered
    exactly, then every front is; /metrics shows no open stream; RSS stays in its bound."""
    srv, base = start_warm(pfgate_factory, pb, *CANCEL_ARGS)
    rng = random.Random(3)
    front = how.split("_")[0]
    with ThreadPoolExecutor(2) as ex:
        for _ in range(ROUNDS):
            other = ex.submit(_bystander, srv, pb, front, mix(rng, 200, semi=0.5))
            _victim(srv, pb, how, rng)
            other.result(30)
    serving_exactly(srv, pb, f"after {ROUNDS} rounds of {how}")
    # start_warm used every front twice, so the workers' malloc arenas are in the baseline. A
    # gone stream held at most --max-pending numbers and 256 jobs (< 0.5 MiB), all freed;
    # measured growth: < 0.3 MiB in 4 rounds. Keeping a victim's 20,000 numbers with their
    # answers (~200 B each) would cost 4 MiB a round: the bound is passed within 2 rounds.
    base.check(f"after {ROUNDS} rounds of {how}", rss_slack_kib=4 * 1024)
    assert open_streams(srv) == {"grpc": 0, "websocket": 0, "http": 0}


# ------------------------------------------------- 4. drain with queued work ---

def sigterm_and_read_the_rest(srv, calls, wss, posts, heads):
    """SIGTERM, then every stream read to its end at once: (gRPC drains, WebSocket
    read_until_close results, NDJSON (status, body))."""
    srv.signal(signal.SIGTERM)

    def rest_of_post(i):
        status, _, headers, _ = heads[i]
        return status, read_http_body(posts[i], status, headers, time.monotonic() + 15)

    with ThreadPoolExecutor(len(calls) + len(wss) + len(posts)) as ex:
        fg = [ex.submit(drain, c) for c in calls]
        fw = [ex.submit(ws.read_until_close, 15) for ws in wss]
        fn = [ex.submit(rest_of_post, i) for i in range(len(posts))]
        return tuple([f.result() for f in fs] for fs in (fg, fw, fn))


def test_drain_with_queued_work_every_front(pfgate_factory, pb):
    """SIGTERM while 2 gRPC streams, 2 WebSockets and 2 NDJSON POSTs, none ended by its
    client, have semiprimes waiting for the workers: every number sent before the signal is
    answered exactly, gRPC ends OK, the WebSockets close 1001, the POSTs' responses end, and
    pfgate exits 0 (SPEC: Processes and ports)."""
    srv = pfgate_factory()
    rng = random.Random(4)
    g = [mix(rng, 1500, semi=0.6, bad=False) for _ in range(2)]
    w = [mix(rng, 1500, semi=0.6) for _ in range(2)]
    n = [mix(rng, 1500, semi=0.6) for _ in range(2)]
    oracle()
    streams = OpenStreams(srv)
    try:
        calls = [streams.grpc(nums, hold=15) for nums in g]
        wss = [streams.ws(json_texts(items)) for items in w]
        posts = [streams.ndjson(json_texts(items)) for items in n]
        # All sent and under way (a POST not answered yet would get 503 in the drain).
        streams.wait_sent()
        first_g = [pb.Response.FromString(next(c)) for c in calls]
        first_w = [ws.recv_n(1) for ws in wss]
        heads = [read_http_head(r, time.monotonic() + 10) for r in posts]
        rg, rw, rn = sigterm_and_read_the_rest(srv, calls, wss, posts, heads)
        for ws in wss:   # the Close handshake's reply (the sender thread is done)
            ws.sock.sendall(ws_frame(OP_CLOSE, close_payload(1001)))
    finally:
        streams.close()
        rc, _ = srv.wait(6)
        srv.kill()
    for i, nums in enumerate(g):
        rg[i].responses.insert(0, first_g[i].SerializeToString())
        check_grpc(rg[i], nums, pb, f"gRPC stream {i} across SIGTERM")
    for i, items in enumerate(w):
        texts, close, how = rw[i]
        check_ws((first_w[i] + texts, close, how), items, f"WebSocket {i} across SIGTERM", 1001)
    for i, items in enumerate(n):
        check_json(ndjson_texts(*rn[i], f"NDJSON {i}"), items, f"NDJSON {i} across SIGTERM")
    assert rc == 0, f"SIGTERM with queued work: {'no exit in 6 s' if rc is None else f'exit {rc}'}"


def test_drain_deadline_with_queued_work_every_front(pfgate_factory, pb):
    """SIGTERM with far more semiprimes sent than --drain-timeout 1 lets pfgate factor, on 4
    gRPC streams, 4 WebSockets and 4 NDJSON POSTs, jobs queued at the workers when the
    deadline cancels them: what each stream got is exact, gRPC ends OK or UNAVAILABLE, the
    WebSockets close 1001, the POSTs' responses end, and pfgate exits 0 (under ASan: with
    nothing leaked)."""
    srv = pfgate_factory("--drain-timeout", "1", "--max-queued-per-stream", "64")
    rng = random.Random(7)
    # 96,000 semiprimes: about 10 s of both workers' time
    g, w, n = ([[rng.choice(SEMIPRIMES) for _ in range(8000)] for _ in range(4)]
               for _ in range(3))
    oracle()
    streams = OpenStreams(srv)
    try:
        calls = [streams.grpc(nums, hold=15) for nums in g]
        wss = [streams.ws([str(x) for x in nums]) for nums in w]
        posts = [streams.ndjson([str(x) for x in nums]) for nums in n]
        first_g = [next(c) for c in calls]
        first_w = [ws.recv_n(1) for ws in wss]
        heads = [read_http_head(r, time.monotonic() + 10) for r in posts]
        rg, rw, rn = sigterm_and_read_the_rest(srv, calls, wss, posts, heads)
    finally:
        streams.close(abort=True)
        rc, _ = srv.wait(6)
        srv.kill()
    for i, nums in enumerate(g):
        got = [tup(pb.Response.FromString(b)) for b in [first_g[i]] + rg[i].responses]
        assert got == expected(nums, oracle())[:len(got)], f"gRPC stream {i}: wrong answers"
        assert rg[i].code in (grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE), \
            f"gRPC stream {i}: {rg[i].code} {rg[i].details!r} at the drain deadline"
    for i, nums in enumerate(w):
        texts, close, how = rw[i]
        check_json_prefix(first_w[i] + texts, nums, f"WebSocket {i}")
        assert close is not None and close.code == 1001, \
            f"WebSocket {i}: {close or how} at the drain deadline, expected Close 1001"
    for i, nums in enumerate(n):
        check_json_prefix(ndjson_texts(*rn[i], f"NDJSON {i}"), nums, f"NDJSON {i}")
    assert rc == 0, f"drain deadline: {'no exit in 6 s' if rc is None else f'exit {rc}'}"


# -------------------------------------------------------- 5. queue limits ---

@pytest.mark.parametrize("limits", [("--max-queued", "1"), ("--max-queued-per-stream", "1"),
                                    ("--max-queued", "1", "--max-queued-per-stream", "1")],
                         ids=["max-queued", "per-stream", "both"])
def test_queue_limit_1_loses_nothing(pfgate_factory, pb, limits):
    """With one semiprime queued at a time (in all or per stream), 8 gRPC streams, 8
    WebSockets and 4 NDJSON POSTs of mostly semiprimes wait their turn (back-pressure) and
    still get every answer exactly, in order."""
    srv = pfgate_factory(*limits)
    rng = random.Random(5)
    g = [mix(rng, 120, semi=0.7, bad=False) for _ in range(8)]
    w = [mix(rng, 120, semi=0.7) for _ in range(8)]
    n = [mix(rng, 120, semi=0.7) for _ in range(4)]
    every_front_at_once(srv, pb, g, w, n)


@pytest.mark.parametrize("flag", ["--max-queued", "--max-queued-per-stream", "--workers"])
@pytest.mark.parametrize("value", ["0", "-1", "x", "", "1.5", "99999999"])
def test_queue_flag_bad_value_is_a_startup_error(flag, value):
    """A bad value is refused at start-up: exit 2, the flag named, nothing served."""
    p = subprocess.run([pfgate_path(), "--grpc-addr", "127.0.0.1:0", "--http-addr",
                        "127.0.0.1:0", flag, value], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 2, f"{flag} {value!r}: exit {p.returncode}, stderr {p.stderr!r}"
    assert p.stdout == "", f"{flag} {value!r}: printed {p.stdout!r}"
    assert flag in p.stderr, f"{flag} {value!r}: the error does not name the flag: {p.stderr!r}"


# ---------------------------------------- 6. probes beside busy workers ---

LOAD_STREAMS = 32          # per front (gRPC, WebSocket): 64 streams in all
LOAD_SEMIPRIMES = 1500     # 64 x 1500 x 25 us: 1.2 s of both workers (more under ASan), many times the probes
PROBE_TIMEOUT = 5          # generous: a bound on a hang, not a latency figure


class _Load:
    """Streams that keep the workers busy with semiprimes, never half-closed, answers
    counted and kept; stop() cancels and aborts them."""

    def __init__(self, srv, pb):
        self.pb = pb
        rng = random.Random(6)
        self.nums = [[rng.choice(SEMIPRIMES) for _ in range(LOAD_SEMIPRIMES)]
                     for _ in range(2 * LOAD_STREAMS)]
        self.got = [[] for _ in self.nums]
        self.streams, self.threads = OpenStreams(srv), []
        for i in range(LOAD_STREAMS):
            self._read(i, self.streams.grpc(self.nums[i]))
        for i in range(LOAD_STREAMS, 2 * LOAD_STREAMS):
            ws = self.streams.ws([str(x) for x in self.nums[i]])
            self._read(i, iter(lambda ws=ws: ws.recv(30), None))

    def _read(self, i, it):
        def run():
            try:
                for m in it:
                    self.got[i].append(m)
            except Exception:  # noqa: BLE001 - stop() cuts every stream short
                pass
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)

    def answered(self):
        return [len(g) for g in self.got]

    def stop(self):
        self.streams.close(abort=True)
        for t in self.threads:
            t.join(10)

    def check_prefixes(self):
        """What each stream got before it was cut short is exact."""
        for i, nums in enumerate(self.nums):
            if i < LOAD_STREAMS:
                got = [tup(self.pb.Response.FromString(b)) for b in self.got[i]]
                assert got == expected(nums, oracle())[:len(got)], f"load gRPC stream {i}"
            else:
                texts = [m for m in self.got[i] if isinstance(m, str)]
                check_json_prefix(texts, nums, f"load WebSocket {i - LOAD_STREAMS}")


def test_probes_answer_while_64_streams_keep_the_workers_busy(pfgate_factory, pb, refl):
    """/healthz, /metrics, a static file, grpc.health Check and reflection's list answer
    correctly (within a generous 5 s) while 64 streams keep both workers busy with
    semiprimes (SPEC: they never wait behind factoring)."""
    web = REPO / "web"
    srv = pfgate_factory("--workers", "2", "--web-root", str(web))
    oracle()
    load = _Load(srv, pb)
    try:
        deadline = time.monotonic() + 20
        while min(load.answered()) == 0:   # every stream has numbers at the workers
            assert time.monotonic() < deadline, f"load streams not under way: {load.answered()}"
            time.sleep(0.05)
        r = http_raw(srv.http, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     PROBE_TIMEOUT)
        assert (r.status, r.json()) == (200, {"status": "SERVING"}), r
        assert open_streams(srv) == {"grpc": LOAD_STREAMS, "websocket": LOAD_STREAMS, "http": 0}
        r = http_raw(srv.http, b"GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     PROBE_TIMEOUT)
        assert r.status == 200 and r.body == (web / "style.css").read_bytes(), r
        with grpc.insecure_channel(srv.grpc) as ch:
            health = pb.health_grpc.HealthStub(ch)
            for service in ("", "primefactor.Factors"):
                h = health.Check(pb.health.HealthCheckRequest(service=service),
                                 timeout=PROBE_TIMEOUT)
                assert h.status == 1, f"health Check({service!r}): {h.status}, expected SERVING"
            for version in ("v1", "v1alpha"):
                lr = ask(ch, refl, version, list_services="")
                assert {s.name for s in lr.list_services_response.service} == SERVICES, version
        left = sum(len(x) for x in load.nums) * 2 - sum(load.answered())
        assert left > 0, "the load had ended before the probes: they proved nothing"
    finally:
        load.stop()
    load.check_prefixes()


def test_get_factors_of_hard_numbers_pipelined(pfgate_factory, pb):
    """GET /v1/factors/{num} of 62-bit semiprimes while the workers are busy with them too: 40
    pipelined on one keep-alive connection are answered exactly and in order, and clients that
    close while their GET is in work leave pfgate serving exactly. (The service thread
    factors a GET's one number itself: README, "Fairness".)"""
    srv = pfgate_factory("--workers", "1")
    rng = random.Random(8)
    nums = [rng.choice(SEMIPRIMES) for _ in range(40)]
    fac = oracle()
    load = OpenStreams(srv)  # keeps the worker busy meanwhile
    load.ws([str(rng.choice(SEMIPRIMES)) for _ in range(2000)])
    for _ in range(5):
        s = connect(srv.http)
        s.sendall(f"GET /v1/factors/{nums[0]} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        s.close()
    requests = "".join(f"GET /v1/factors/{n} HTTP/1.1\r\nHost: x\r\n\r\n" for n in nums)
    with connect(srv.http, 15) as s:
        s.sendall(requests.encode())
        r = SockReader(s)
        deadline = time.monotonic() + 15
        for n in nums:
            status, _, headers, _ = read_http_head(r, deadline)
            body = read_http_body(r, status, headers, deadline)
            assert status == 200, f"GET {n}: HTTP {status} {body!r}"
            assert parse_json_text(body.decode(), "GET body") == \
                {"num": str(n), "factors": [str(p) for p in fac[n]]}, f"GET {n}: {body!r}"
    load.close(abort=True)
    serving_exactly(srv, pb, "after GETs of hard numbers")
