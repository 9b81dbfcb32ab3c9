"""Out-of-memory paths of every front end (issue 13). The contract, when pfgate's own allocation
fails: gRPC ends the call RESOURCE_EXHAUSTED "out of memory"; WebSocket sends the answers for
the numbers taken, then close 1011 "out of memory"; NDJSON sends those, then the last line
{"last":true,"error":"out of memory"} (503 {"error":"out of memory"} before the response);
GET /v1/factors/N answers 503 {"error":"out of memory"}.

build/fault/pfgate (`make fault-build`) is the ASan build whose own allocations go through
tests/fault/alloc_fault.c: with PF_FAULT_ALLOC=N, the Nth allocation after arming (SIGUSR2)
fails, once. jansson's allocations for pfgate count too (json_codec.c's watched_malloc calls
the wrapped malloc). For each front end and N = 1, 2, ... a fresh pfgate is armed, runs the
front's small scenario, and is disarmed; the walk ends at the first N the scenario never
reached. A second NDJSON walk sends a JSON line, so that the decoder's allocations are walked.

The exchange during which the allocation failed must end in every answer exact, or in the
front end's visible "out of memory" failure after a prefix of the exact answers (a connection's
own allocation, or a whole reply's, may close the connection instead); never fewer answers
without a failure, never a hang, never a crash. Where the failed allocation is known, the
answer is exact: pf_stream_new's (the stream) is 503 {"error":"out of memory"}, on gRPC
RESOURCE_EXHAUSTED with no answers; a ring growth (the push) is 503 for GET, and for NDJSON
and gRPC the answers for at least the numbers the full ring held, then the out-of-memory line
or status; the JSON decoder's is the answers for the lines before it, then that line (never
"not valid JSON"). Every other exchange must be exact. Then a normal
client gets exact answers from the same pfgate (after an HTTP walk, NDJSON and GET both), and
SIGTERM exits 0 with no LeakSanitizer, ASan or UBSan report. A failure names the front end, N,
the allocation that failed (from the shim's stack) and what came instead; stdout has one line
per run.

PFGATE_FAULT overrides the binary's path.
"""
import json
import os
import re
import signal
import threading
import time

import grpc
import hpack
import pytest

from conftest import REPO, describe_rc
from pfutil import HeldRequests, drain, expected, run_stream, tup
from pfhttp import (NDJSON_PATH, OP_TEXT, PRIME_NEAR_2_63, Closed, RawWS, SockReader, connect,
                    expected_answers, gnu_factor, read_http_head, ws_frame)
from test_faults import H2_HELLO, HEADERS, RST_STREAM, H2Conn, h2_request

FAULT_BIN = os.environ.get("PFGATE_FAULT") or str(REPO / "build" / "fault" / "pfgate")
OOM = "out of memory"  # pf_strerror(PF_ENOMEM)
WAIT = 10.0            # seconds a client waits for pfgate: longer is a hang
MAX_N = 100            # far above any scenario's allocations: the walk ends long before
BUDGET = 100.0         # seconds per walk: past this (hangs), report what was found so far

# 2^62 has 62 answers. Sent in one burst, the numbers fill a stream's ring past 8.
NUMS = [2**62, 360, 0, 1, 97, 600851475143, PRIME_NEAR_2_63, 1000000007 * 998244353, 1024,
        999999937, 196608, 123456789, 2**31 - 1, 2**40, 12, 30]
# 3 factors: each is one more json_string in the reply, walked like every jansson allocation
# (2^62's 62 factors would make the walk about 150 pfgate runs).
GET_NUM = 12
# Sent on the stream that stays open while the next call comes (the next-call walk).
HELD_NUM = 35
# One JSON line between bare numbers: the decoder walk (bare numbers take the fast path).
DECODER_LINES = ["97", '{"num":360}', "12"]
DECODER_NUMS = [97, 360, 12]
DECODER_JSON_LINE = 1

# A connection's own allocations (accept, TLS, the HTTP/2 relay and guard, its record): when
# one fails, closing the connection is a visible failure too (gRPC clients see UNAVAILABLE).
CONNECTION_FILES = ("gateway/grpc/grpc_listener.c", "gateway/grpc/grpc_relay.c",
                    "gateway/grpc/h2_guard.c", "gateway/grpc/grpc_tls.c",
                    "gateway/http/http_conns.c")
CONNECTION_FUNCS = ("pf_grpc_conns_open",)
# "Any reply that cannot even be allocated: the connection is closed." The codec's encoders
# build a whole reply body.
REPLY_FUNCS = ("write_reply", "pf_json_encode_factors", "pf_json_encode_error")
# jansson reaches the shim through this json_codec.c function: the site is its caller's.
JANSSON_HOOK = "watched_malloc"
# sizeof(struct slot) (a request as core/stream.c holds it, 24 bytes: its _Static_assert) and
# the ring's first size (core/stream.c RING_MIN): a ring of B bytes replaces a full one of
# B / 2 / SLOT_BYTES requests.
SLOT_BYTES = 24
RING_MIN = 8

pytestmark = pytest.mark.timeout_s(BUDGET + 60)


# ------------------------------------------------------------- the fault pfgate ---

@pytest.fixture
def fault_pfgate(pfgate_factory, monkeypatch):
    """start(n, *args) -> a fault pfgate that fails allocation n after arming."""
    if not os.access(FAULT_BIN, os.X_OK):
        pytest.fail(f"{FAULT_BIN} missing: build it with `make fault-build`", pytrace=False)
    monkeypatch.setenv("PFGATE", FAULT_BIN)
    # Later options win: leaks are checked whatever the caller's ASAN_OPTIONS say.
    monkeypatch.setenv("ASAN_OPTIONS", os.environ.get("ASAN_OPTIONS", "quarantine_size_mb=8") +
                       ":detect_leaks=1:halt_on_error=1")
    monkeypatch.setenv("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

    def start(n, *args):
        monkeypatch.setenv("PF_FAULT_ALLOC", str(n))
        return pfgate_factory(*args)
    return start


TOGGLE_RE = re.compile(r"^fault: (armed, .*|disarmed after (\d+) allocations, failed (\d+))$",
                       re.M)


def toggle(srv, want):
    """SIGUSR2, then wait for the shim's line saying it is armed / disarmed.
    Returns the allocation that failed (0: none) on disarming."""
    before = len(TOGGLE_RE.findall(srv.log_text()))
    srv.signal(signal.SIGUSR2)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and srv.alive():
        lines = TOGGLE_RE.findall(srv.log_text())
        if len(lines) > before:
            what, _, failed = lines[-1]
            assert what.startswith(want), f"the shim says {what!r}, expected {want}"
            return int(failed or 0)
        time.sleep(0.01)
    raise AssertionError(f"no 'fault: {want}' line after SIGUSR2 "
                         f"({describe_rc(srv.proc.poll())})\n{srv.log_tail(40)}")


FAULT_LINE = "fault: failed allocation"
FRAME_RE = re.compile(r"^\s+#\d+ 0x[0-9a-f]+ in (\S+) ((?:gateway|core|proto)/\S+):(\d+)")


def fault_site(srv):
    """Where the injected failure happened: (text, [(func, file, line)]) from its stack."""
    deadline = time.monotonic() + 5
    while True:
        log = srv.log_text()
        i = log.rfind(FAULT_LINE)
        if i < 0:
            return "no allocation failed", []
        if "fault: end of stack" in log[i:] or not srv.alive() or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    lines = log[i:].split("fault: end of stack")[0].splitlines()
    head = lines[0].split("(", 1)[-1].rstrip(")")
    frames = [m.groups() for m in map(FRAME_RE.match, lines[1:]) if m]
    where = " <- ".join(f"{f} ({p}:{n})" for f, p, n in frames[:3])
    return f"{head} in {where or '?'}", frames


class Site:
    """The allocation that failed during an exchange. kind: a connection's own allocation, a
    whole reply's, or a stream's; funcs: pfgate's functions on its stack, innermost first;
    size: its bytes."""

    def __init__(self, head, frames):
        self.funcs = [f for f, _, _ in frames]
        m = re.search(r"(\d+) bytes", head)
        self.size = int(m.group(1)) if m else 0
        caller = self.funcs[1:2] if self.funcs[:1] == [JANSSON_HOOK] else self.funcs[:1]
        if frames and (frames[0][1] in CONNECTION_FILES or
                       any(f in CONNECTION_FUNCS for f in self.funcs[:2])):
            self.kind = "connection"
        else:
            self.kind = "reply" if caller and caller[0] in REPLY_FUNCS else "stream"

    def is_(self, *funcs):
        """The failed allocation was made by funcs (innermost first)."""
        return self.funcs[:len(funcs)] == list(funcs)

    def ring_held(self):
        """Requests the full ring held when its growth failed (pf_stream_push)."""
        return self.size // (2 * SLOT_BYTES) if self.size > RING_MIN * SLOT_BYTES else 0


# ------------------------------------------------------------------ exchanges ---
# Each returns (answers, end): the answers in order and how the exchange ended.

def grpc_exchange(srv, pb):
    """python grpcio: one PrimeFactors stream on a new channel."""
    with grpc.insecure_channel(srv.grpc) as ch:
        r = run_stream(pb.pb_grpc.FactorsStub(ch), pb, NUMS, timeout=WAIT)
    return r.tuples, grpc_end(r)


def grpc_end(r):
    """How a grpcio call (a pfutil.StreamResult) ended."""
    if r.code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ("hang", "no grpc-status by the deadline")
    return ("status", r.code.name, r.details)


class HeldStream:
    """A PrimeFactors stream that sends HELD_NUM and stays open (no half-close) from open()
    to close(): a worker busy with a call while the next one comes."""

    def __init__(self, pb):
        self.pb = pb

    def open(self, srv):
        """HELD_NUM's answers, then ("open",); or how the stream ended before them."""
        self.requests = HeldRequests([self.pb.Request(num=HELD_NUM)], hold=3 * WAIT)
        self.channel = grpc.insecure_channel(srv.grpc)
        self.call = self.pb.pb_grpc.FactorsStub(self.channel).PrimeFactors(
            iter(self.requests), timeout=3 * WAIT)
        hung = threading.Event()
        timer = threading.Timer(WAIT, lambda: (hung.set(), self.call.cancel()))
        timer.start()
        self.answers, self.ended = [], None
        try:
            for r in self.call:
                self.answers.append(tup(r))
                if len(self.answers) == len(expected([HELD_NUM])):
                    break
            else:
                self.ended = ("status", self.call.code().name, self.call.details())
        except grpc.RpcError as e:
            self.ended = ("hang", f"no answers for {HELD_NUM}") if hung.is_set() else \
                ("status", e.code().name, e.details())
        finally:
            timer.cancel()
        if self.ended:
            self.channel.close()
            return self.answers, self.ended
        return self.answers, ("open",)

    def close(self, srv):
        """Half-closes the stream: all its answers and how it ended (("ended",) when open()
        saw it end already)."""
        if self.ended:
            return [], ("ended",)
        self.requests.release()
        r = drain(self.call)
        self.channel.close()
        return self.answers + r.tuples, grpc_end(r)


def check_held(answers, end, site):
    if end == ("ended",):  # checked when it ended
        return None
    if end == ("open",) and answers == expected([HELD_NUM]):
        return None
    return check_grpc(answers, end, site, [HELD_NUM])


def grpc_burst_exchange(srv, pb):
    """Raw HTTP/2: every request in one DATA frame, so that pfgate holds more than 8 at once
    (grpcio sends one at a time, and the stream's ring never grows)."""
    c = H2Conn(srv.grpc, timeout=WAIT)
    try:
        c.send(H2_HELLO + h2_request(1, [pb.Request(num=n).SerializeToString() for n in NUMS]))
        how = c.wait(1, WAIT)
    except OSError as e:
        how = f"closed ({e})"
    finally:
        c.close()
    answers = c.responses(pb, 1)
    decoder, trailers = hpack.Decoder(), {}
    for ftype, _, sid, payload in c.frames:
        if ftype == HEADERS:  # decoded in order: HPACK's table is the connection's
            block = dict(decoder.decode(payload))
            if sid == 1:
                trailers.update(block)
        elif ftype == RST_STREAM and sid == 1 and "grpc-status" not in trailers:
            return answers, ("reset", int.from_bytes(payload, "big"))
    if "grpc-status" in trailers:
        code = grpc.StatusCode  # the names grpcio reports
        name = next((s.name for s in code if s.value[0] == int(trailers["grpc-status"])), "?")
        return answers, ("status", name, trailers.get("grpc-message", ""))
    return answers, ("hang" if how == "hang" else "closed", f"no grpc-status ({how})")


def ws_exchange(srv):
    try:
        ws = RawWS(srv.http, timeout=WAIT)
    except (Closed, OSError) as e:
        return [], ("closed", f"before the handshake's answer ({e})")
    except TimeoutError:
        return [], ("hang", "no handshake answer")
    with ws:
        if ws.status != 101:
            return [], ("http", ws.status, ws.response.body.decode("utf-8", "replace"))
        try:
            ws.send_raw(b"".join(ws_frame(OP_TEXT, str(n)) for n in NUMS) +
                        ws_frame(OP_TEXT, '{"end":true}'))
        except OSError as e:
            return [], ("closed", f"sending ({e})")
        texts, close, how = ws.read_until_close(timeout=WAIT)
    answers = [json.loads(t) for t in texts]
    if close is None:
        return answers, ("hang" if how == "timeout" else "closed", f"no Close frame ({how})")
    return answers, ("close", close.code, close.reason.decode("utf-8", "replace"))


def http_exchange(srv, request):
    """One request on its own connection: ("http", status, body), or ("closed"/"hang", why)."""
    deadline = time.monotonic() + WAIT
    try:
        with connect(srv.http, WAIT) as s:
            s.sendall(request)
            r = SockReader(s)
            try:
                status, _, headers, _ = read_http_head(r, deadline)
            except Closed as e:
                return "closed", f"no response ({e})"
            if "content-length" not in headers:  # the NDJSON answers: close-delimited
                return "http", status, r.read_to_eof(deadline).decode("utf-8", "replace")
            try:
                body = r.read_exact(int(headers["content-length"]), deadline)
            except Closed as e:
                return "closed", f"{status} cut short ({e}): {bytes(r.buf)[-200:]!r}"
            return "http", status, body.decode("utf-8", "replace")
    except TimeoutError:
        return "hang", "no complete response"
    except OSError as e:
        return "closed", f"{e}"


def ndjson_exchange(srv, lines=None):
    body = "".join(f"{n}\n" for n in lines or NUMS).encode()
    end = http_exchange(srv, (f"POST {NDJSON_PATH} HTTP/1.1\r\nHost: {srv.http}\r\n"
                              f"Content-Type: application/x-ndjson\r\n"
                              f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    if end[:2] != ("http", 200):
        return [], end
    try:
        return [json.loads(line) for line in end[2].splitlines()], ("eof",)
    except ValueError:
        return [], ("garbled", end[2][-300:])


def decoder_exchange(srv):
    return ndjson_exchange(srv, DECODER_LINES)


def get_exchange(srv):
    return [], http_exchange(srv, f"GET /v1/factors/{GET_NUM} HTTP/1.1\r\n"
                                  f"Host: {srv.http}\r\n\r\n".encode())


# ------------------------------------------------------------ the contract ---
# check(answers, end, site) -> None when the exchange kept the contract, else why not.
# site: None when no allocation failed during the exchange (then only exact will do).

def prefix_of(got, exp, ends=None):
    """got is exp's start (cut where a number's answers end, when ends are given)."""
    return got == exp[:len(got)] and (ends is None or len(got) in ends)


def number_ends(nums):
    """Answer counts at which a whole number has been answered."""
    oracle, out, k = gnu_factor(nums), {0}, 0
    for n in nums:
        k += len(oracle[n]) if n >= 2 else 1
        out.add(k)
    return out


def check_grpc(answers, end, site, nums=NUMS):
    kind = site and site.kind
    exp = expected(nums)
    code, details = end[1:] if end[0] == "status" else (None, None)
    oom = (code, details) == ("RESOURCE_EXHAUSTED", OOM)
    shown = f"{show(end)} after {len(answers)} of {len(exp)} answers"
    if site and site.is_("pf_stream_new"):
        return None if oom and answers == [] else \
            f"{shown}; expected status RESOURCE_EXHAUSTED {OOM!r} and no answers (no stream)"
    if site and site.is_("grow", "pf_stream_push"):
        ends = sorted(number_ends(nums))
        if not (oom and prefix_of(answers, exp, ends)):
            return f"{shown}; expected the answers for the numbers taken, then status " \
                   f"RESOURCE_EXHAUSTED {OOM!r}"
        answered, taken = ends.index(len(answers)), site.ring_held()
        return None if answered >= taken else \
            f"{shown}: {answered} numbers answered, the stream had taken {taken}"
    if code == "OK" and answers == exp:
        return None
    if kind is None:
        return f"{shown}, with no allocation failed"
    if code == "OK":
        return f"{shown} (silent loss)"
    if not prefix_of(answers, exp):
        return f"{shown} that are not the exact ones"
    if oom:
        return None
    if kind == "connection" and (code == "UNAVAILABLE" or end[0] == "closed"):
        return None
    return f"{shown}; expected status RESOURCE_EXHAUSTED {OOM!r}"


def check_ws(answers, end, site):
    kind = site and site.kind
    exp = expected_answers(NUMS)
    shown = f"{show(end)} after {len(answers)} of {len(exp)} answers"
    if site and site.is_("pf_stream_new"):  # made at the first number, which it fails
        return None if end == ("close", 1011, OOM) and answers == [] else \
            f"{shown}; expected close 1011 {OOM!r} and no answers (no stream)"
    if end[:2] == ("close", 1000) and answers == exp:
        return None
    if kind is None:
        return f"{shown}, with no allocation failed"
    if end[:2] == ("close", 1000):
        return f"{shown} (silent loss)"
    if not prefix_of(answers, exp, number_ends(NUMS)):
        return f"{shown}: not the answers owed (every number taken, answered whole)"
    if end == ("close", 1011, OOM) or end[:2] == ("http", 503) and is_oom_body(end[2]):
        return None
    if kind == "connection" and end[0] == "closed":
        return None
    return f"{shown}; expected close 1011 {OOM!r} after the answers owed"


def check_ndjson(answers, end, site, nums=NUMS, json_line=None):
    """json_line: the index in nums of the one sent as JSON (the others go bare)."""
    exp = expected_answers(nums)
    if end == ("eof",) and answers == exp:
        return None
    shown = f"{show(end)} with {len(answers)} of {len(exp)} lines"
    if site is None:
        return f"{shown}, with no allocation failed"
    kind = site.kind
    oom_line = end == ("eof",) and answers[-1:] == [{"last": True, "error": OOM}]
    if site.is_("pf_stream_new"):
        return None if end[:2] == ("http", 503) and is_oom_body(end[2]) else \
            f'{shown}; expected 503 {{"error":"{OOM}"}} (no stream yet: before the response)'
    if site.is_(JANSSON_HOOK) and "pf_json_decode_request" in site.funcs and json_line is not None:
        return None if oom_line and answers[:-1] == expected_answers(nums[:json_line]) else \
            (f"{shown}; expected the answers for the {json_line} lines before the JSON line, "
             f'then {{"last":true,"error":"{OOM}"}}')
    if oom_line:
        ends = sorted(number_ends(nums))
        if not prefix_of(answers[:-1], exp, ends):
            return f"{shown}: the out-of-memory line after answers that are not those owed"
        taken = site.ring_held() if site.is_("grow", "pf_stream_push") else 0
        answered = ends.index(len(answers) - 1)
        return None if answered >= taken else \
            f"{shown}: {answered} numbers answered, the stream had taken {taken}"
    if site.is_("grow", "pf_stream_push"):
        return f'{shown}; expected the answers for the numbers taken, then the out-of-memory line'
    if end == ("eof",):
        return f'{shown}, the last not {{"last":true,"error":"{OOM}"}} (silent loss)'
    if end[:2] == ("http", 503) and is_oom_body(end[2]):
        return None
    if kind in ("connection", "reply") and end[0] == "closed":
        return None
    return (f'{shown}; expected the last line {{"last":true,"error":"{OOM}"}}, or 503 '
            f'{{"error":"{OOM}"}} before the response')


def check_get(answers, end, site):
    want = {"num": str(GET_NUM), "factors": [str(f) for f in gnu_factor([GET_NUM])[GET_NUM]]}
    oom = end[:2] == ("http", 503) and is_oom_body(end[2])
    if site and (site.is_("pf_stream_new") or site.is_("grow", "pf_stream_push")):
        return None if oom else f'{show(end)}; expected 503 {{"error":"{OOM}"}} (no stream)'
    if end[:2] == ("http", 200) and json_or_none(end[2]) == want:
        return None
    if site is None:
        return f"{show(end)}, with no allocation failed"
    kind = site.kind
    if oom:
        return None
    if kind in ("connection", "reply") and end[0] == "closed":
        return None
    return f'{show(end)}; expected 503 {{"error":"{OOM}"}}'


def json_or_none(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def is_oom_body(text):
    return json_or_none(text) == {"error": OOM}


def show(end):
    if end[0] == "status":
        return f"status {end[1]} {end[2]!r}"
    if end[0] == "close":
        return f"close {end[1]} {end[2]!r}"
    if end[0] == "http":
        return f"HTTP {end[1]} {end[2][:200]!r}"
    if end[0] == "eof":
        return "HTTP 200"
    if end[0] == "open":
        return "the stream still open"
    if end[0] == "hang":
        return f"a hang ({end[1]}; waited {WAIT:.0f} s)"
    return f"{end[0]}: {' '.join(map(str, end[1:]))}"


# ------------------------------------------------------------------ the walk ---

SANITIZER_RE = re.compile(r"^.*(ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:).*$",
                          re.M)


def sanitizer_report(log):
    """The first sanitizer report in log, cut to its pfgate frames; None if there is none."""
    m = SANITIZER_RE.search(log)
    if not m:
        return None
    lines = log[m.start():].splitlines()
    ours = [ln.strip() for ln in lines[1:80]
            if re.search(r" in \S+ (gateway|core|proto)/|leak of", ln)]
    return "\n    ".join([lines[0]] + ours[:8])


def run_once(srv, exchanges, problems):
    """Each (exchange, check) in turn; the one during which the allocation failed may fail
    visibly. Returns what that one got."""
    got = "every exchange exact"
    for exchange, check in exchanges:
        mark = len(srv.log_text())
        answers, end = exchange(srv)
        time.sleep(0.05)  # what pfgate allocates as the exchange winds down counts too
        faulted = FAULT_LINE in srv.log_text()[mark:]
        site = Site(*fault_site(srv)) if faulted else None
        if faulted:
            got = f"got {show(end)} after {len(answers)} answers"
        why = check(answers, end, site)
        if why:
            problems.append(why)
        if not srv.alive():
            break
    return got


def walk(front, exchanges, fault_pfgate, request, also=(), reach=None, args=()):
    """Runs the (exchange, check)s against N = 1, 2, ... failing allocations; returns the
    failures. also: more that a normal client runs afterwards, besides the same ones;
    reach: a function some failed allocation must have been made under; args: pfgate's."""
    failures = []
    reached = False
    t0 = time.monotonic()
    for n in range(1, MAX_N + 1):
        if time.monotonic() - t0 > BUDGET:
            failures.append(f"{front}: walk stopped before N={n}: over {BUDGET:.0f} s (hangs)")
            return failures
        srv = fault_pfgate(n, *args)
        # Each message below carries what matters of its log: no report section per server.
        request.node._pf_servers.remove(srv)
        problems = []
        toggle(srv, "armed")
        got = run_once(srv, exchanges, problems)
        failed = toggle(srv, "disarmed") if srv.alive() else n
        site, frames = fault_site(srv)
        reached = reached or any(f == reach for f, _, _ in frames)
        if srv.alive():
            after = []
            run_once(srv, list(exchanges) + list(also), after)
            problems += [f"then a normal client: {why}" for why in after]
        died = not srv.alive()
        rc, _, killed = srv.stop()
        if died:
            problems.append(f"pfgate died ({describe_rc(rc)})")
        elif rc != 0:
            problems.append(f"after SIGTERM {describe_rc(rc)}{' (SIGKILLed)' if killed else ''}")
        san = sanitizer_report(srv.log_text())
        if san:
            problems.append(san)
        print(f"{front} N={n}: {site}: {got}: {'; '.join(problems) or 'ok'}")
        if problems:
            failures.append(f"{front} N={n} ({site}): " + "; ".join(problems))
        if failed == 0:  # allocation n was never reached: the whole path is walked
            assert n > 1, f"{front}: the scenario made no allocation that counted"
            if reach and not reached:
                failures.append(f"{front}: no allocation under {reach} was failed")
            return failures
    failures.append(f"{front}: still failing allocations at N={MAX_N}: the walk did not end")
    return failures


def report(failures):
    assert not failures, f"{len(failures)} out-of-memory run(s) broke the contract:\n" + \
        "\n".join(failures)


NDJSON = (ndjson_exchange, check_ndjson)
GET = (get_exchange, check_get)


def test_grpc_out_of_memory(fault_pfgate, pb, request):
    exchanges = [(lambda srv: grpc_exchange(srv, pb), check_grpc),
                 (lambda srv: grpc_burst_exchange(srv, pb), check_grpc)]
    report(walk("grpc", exchanges, fault_pfgate, request))


def test_grpc_next_call_out_of_memory(fault_pfgate, pb, request):
    """A worker asks grpc for its next call as a call starts. With one worker, a request that
    failed for want of memory (the call struct's, pf_grpc_call_new) must be made again while
    that call is still open: else the next call hangs. The gRPC walk above cannot see it: with
    more workers another one serves the next call, and one that ends asks again."""
    held = HeldStream(pb)
    exchanges = [(held.open, check_held),
                 (lambda srv: grpc_exchange(srv, pb), check_grpc),
                 (held.close, check_held)]
    report(walk("grpc-next-call", exchanges, fault_pfgate, request, reach="pf_grpc_call_new",
                args=("--threads", "1")))


def test_websocket_out_of_memory(fault_pfgate, request):
    report(walk("ws", [(ws_exchange, check_ws)], fault_pfgate, request, reach="pf_stream_new"))


def test_ndjson_out_of_memory(fault_pfgate, request):
    report(walk("ndjson", [NDJSON], fault_pfgate, request, also=[GET]))


def test_ndjson_json_decoder_out_of_memory(fault_pfgate, request):
    """Memory running out in jansson while a JSON line is decoded fails the stream: the bare
    number before it is answered, then the out-of-memory line (never "not valid JSON")."""
    def check(answers, end, site):
        return check_ndjson(answers, end, site, DECODER_NUMS, DECODER_JSON_LINE)
    report(walk("ndjson-json", [(decoder_exchange, check)], fault_pfgate, request,
                also=[NDJSON, GET], reach="pf_json_decode_request"))


def test_get_factors_out_of_memory(fault_pfgate, request):
    report(walk("get", [GET], fault_pfgate, request, also=[NDJSON],
                reach="pf_json_encode_factors"))
