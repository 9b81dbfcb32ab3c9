"""The access log (--access-log, --log-format) and configuration from the environment
(PFGATE_<FLAG>), on the real binary with real clients.

Each front end's stream or request gives exactly one line, with exact fields, in both formats:
JSON lines parsed with json.loads, logfmt with the small parser below. SIGHUP reopens a file
(logrotate) and never stops pfgate. Every wait has a deadline.
"""
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import time

import grpc
import pytest
import websockets

from conftest import pfgate_path
from pfhttp import WS_PATH
from pfutil import run_stream

FORMATS = ["text", "json"]
PEER_RE = re.compile(r"^127\.0\.0\.1:\d+$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
DURATION_RE = re.compile(r"^\d+\.\d{3}$")
KEYS = ["time", "front", "peer", "path", "status", "numbers", "answers", "errors", "bytes_in",
        "bytes_out", "duration_ms"]

# --------------------------------------------------------------- parsing ---

LOGFMT_PAIR = re.compile(rb'([a-z_]+)=("(?:[^"\\]|\\.)*"|[^ "]*)(?: |$)')
ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b'"': b'"', b"\\": b"\\"}


def unquote_logfmt(v):
    if not v.startswith(b'"'):
        return v
    out, i, v = bytearray(), 0, v[1:-1]
    while i < len(v):
        if v[i:i + 1] == b"\\":
            c = v[i + 1:i + 2]
            if c == b"x":
                out.append(int(v[i + 2:i + 4], 16))
                i += 4
                continue
            out += ESCAPES[c]
            i += 2
        else:
            out.append(v[i])
            i += 1
    return bytes(out)


def parse_logfmt(line):
    """One logfmt line -> {key: str}; the whole line must be pairs, in the documented order."""
    assert line.endswith(b"\n") and line.count(b"\n") == 1, line
    body = line[:-1]
    pairs, pos = [], 0
    for m in LOGFMT_PAIR.finditer(body):
        assert m.start() == pos, f"not logfmt at byte {pos}: {body!r}"
        pairs.append((m.group(1).decode(), unquote_logfmt(m.group(2))))
        pos = m.end()
    assert pos == len(body), f"not logfmt at byte {pos}: {body!r}"
    keys = [k for k, _ in pairs]
    assert keys == [k for k in KEYS if k in keys], keys
    return {k: v.decode("utf-8", "surrogateescape") for k, v in pairs}


def parse_json(line):
    assert line.endswith(b"\n") and line.count(b"\n") == 1, line
    rec = json.loads(line)
    assert list(rec) == [k for k in KEYS if k in rec], list(rec)
    duration = re.search(rb',"duration_ms":(\d+\.\d{3})}\n$', line)
    assert duration, line
    rec["duration_ms"] = duration.group(1).decode()  # as written, not as a float
    return {k: str(v) for k, v in rec.items()}


def parse(line, fmt):
    rec = parse_logfmt(line) if fmt == "text" else parse_json(line)
    assert TIME_RE.match(rec["time"]), rec
    assert DURATION_RE.match(rec["duration_ms"]), rec
    return rec


def read_lines(path, n, timeout=5.0, settle=0.2):
    """Waits for the file to hold n lines (a line comes when its stream has ended), then a
    moment more: a line too many would show."""
    deadline = time.monotonic() + timeout
    while True:
        data = open(path, "rb").read() if os.path.exists(path) else b""
        lines = data.splitlines(keepends=True)
        if len(lines) >= n or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    time.sleep(settle)
    data = open(path, "rb").read() if os.path.exists(path) else b""
    lines = data.splitlines(keepends=True)
    assert len(lines) == n, f"want {n} access log lines, got {len(lines)}: {lines!r}"
    return lines


def check(rec, **want):
    got = {k: rec.get(k) for k in want}
    assert got == {k: str(v) for k, v in want.items()}, rec


def start_logged(pfgate_factory, tmp_path, fmt, *args):
    log = str(tmp_path / "access.log")
    srv = pfgate_factory("--access-log", log, "--log-format", fmt, *args)
    return srv, log


# ---------------------------------------------------------------- clients ---

def exchange(addr, request, timeout=10):
    """Sends raw bytes on a new connection and reads to EOF. Returns (local ADDR:PORT, bytes)."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        local = "%s:%d" % s.getsockname()[:2]
        s.sendall(request)
        out = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return local, bytes(out)


def get(addr, target):
    if isinstance(target, str):
        target = target.encode()
    return exchange(addr, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")


def text_frame_bytes(payloads):
    """Bytes of unmasked server text frames (payloads under 126 bytes)."""
    assert all(len(p) < 126 for p in payloads)
    return sum(2 + len(p) for p in payloads)


async def ws_session(url, messages, n_answers, close_first=False):
    """Sends the messages, reads n answers, then closes (after {"end":true} when not
    close_first). Returns (local ADDR:PORT, answers, close code seen)."""
    async with websockets.connect(url, ping_interval=None, open_timeout=5, close_timeout=5,
                                  max_size=None) as ws:
        local = "%s:%d" % ws.local_address[:2]
        for m in messages:
            await ws.send(m)
        got = [await asyncio.wait_for(ws.recv(), 10) for _ in range(n_answers)]
        if close_first:
            await ws.close(code=4000, reason="bye")
        else:
            await ws.send('{"end":true}')
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except websockets.exceptions.ConnectionClosed:
                pass
        return local, got, ws.close_code


# ------------------------------------------------------------------ tests ---

@pytest.mark.parametrize("fmt", FORMATS)
def test_grpc_stream_one_line(pfgate_factory, tmp_path, pb, fmt):
    srv, log = start_logged(pfgate_factory, tmp_path, fmt)
    with grpc.insecure_channel(srv.grpc) as ch:
        res = run_stream(pb.pb_grpc.FactorsStub(ch), pb, [12, -5, 7])
    assert res.code == grpc.StatusCode.OK
    assert len(res.responses) == 5
    rec = parse(read_lines(log, 1)[0], fmt)
    check(rec, front="grpc", path="/primefactor.Factors/PrimeFactors", status=0, numbers=3,
          answers=5, errors=1)
    assert PEER_RE.match(rec["peer"]), rec
    assert "bytes_in" not in rec and "bytes_out" not in rec  # not known per gRPC stream


@pytest.mark.parametrize("fmt", FORMATS)
def test_grpc_health_reflection_unknown_one_line_each(pfgate_factory, tmp_path, pb, fmt):
    srv, log = start_logged(pfgate_factory, tmp_path, fmt)
    with grpc.insecure_channel(srv.grpc) as ch:
        r = pb.health_grpc.HealthStub(ch).Check(pb.health.HealthCheckRequest(service=""),
                                                 timeout=5)
        assert r.status == pb.health.HealthCheckResponse.SERVING
        unknown = ch.unary_unary("/no.Such/Method", request_serializer=lambda b: b,
                                 response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as e:
            unknown(b"", timeout=5)
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
        refl = ch.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
        # list_services = field 7, an empty string
        got = list(refl(iter([b"\x3a\x00"]), timeout=5))
        assert len(got) == 1
    lines = [parse(line, fmt) for line in read_lines(log, 3)]
    check(lines[0], front="grpc", path="/grpc.health.v1.Health/Check", status=0, numbers=0,
          answers=1, errors=0)
    check(lines[1], front="grpc", path="/no.Such/Method", status=12, numbers=0, answers=0,
          errors=0)
    check(lines[2], front="grpc",
          path="/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", status=0,
          numbers=0, answers=1, errors=0)
    for rec in lines:
        assert PEER_RE.match(rec["peer"]), rec


@pytest.mark.parametrize("fmt", FORMATS)
def test_websocket_one_line(pfgate_factory, tmp_path, fmt):
    srv, log = start_logged(pfgate_factory, tmp_path, fmt)
    url = f"ws://{srv.http}{WS_PATH}"
    msgs = ['{"num":12}', '{"num":-5}', '{"num":"7"}']
    local, got, code = asyncio.run(ws_session(url, msgs, 5))
    assert code == 1000
    rec = parse(read_lines(log, 1)[0], fmt)
    check(rec, front="ws", peer=local, path=WS_PATH, status=1000, numbers=3, answers=5,
          errors=1, bytes_in=sum(map(len, msgs)) + len('{"end":true}'),
          bytes_out=text_frame_bytes([a.encode() for a in got]))

    # The client's own Close: its code.
    local, got, _ = asyncio.run(ws_session(url, ['{"num":6}'], 2, close_first=True))
    rec = parse(read_lines(log, 2)[1], fmt)
    check(rec, front="ws", peer=local, status=4000, numbers=1, answers=2, errors=0)


def test_websocket_closed_by_pfgate_logs_its_code(pfgate_factory, tmp_path):
    srv, log = start_logged(pfgate_factory, tmp_path, "json", "--max-frame", "64")

    async def session():
        async with websockets.connect(f"ws://{srv.http}{WS_PATH}", ping_interval=None,
                                      open_timeout=5, close_timeout=5) as ws:
            await ws.send('{"num":4}')
            await asyncio.wait_for(ws.recv(), 10)
            await asyncio.wait_for(ws.recv(), 10)
            await ws.send("x" * 100)
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return ws.close_code

    assert asyncio.run(session()) == 1009
    check(parse(read_lines(log, 1)[0], "json"), front="ws", status=1009, numbers=1, answers=2,
          errors=0, bytes_in=9 + 100)


@pytest.mark.parametrize("fmt", FORMATS)
def test_ndjson_one_line(pfgate_factory, tmp_path, fmt):
    srv, log = start_logged(pfgate_factory, tmp_path, fmt)
    body = b'{"num":12}\n{"num":"x"}\n{"num":7}\n'
    req = (b"POST " + WS_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Content-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    local, resp = exchange(srv.http, req)
    head, _, answers = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert len(answers.splitlines()) == 5, answers
    rec = parse(read_lines(log, 1)[0], fmt)
    check(rec, front="ndjson", peer=local, path=WS_PATH, status=200, numbers=3, answers=5,
          errors=1, bytes_in=len(body), bytes_out=len(answers))


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_requests_one_line_each(pfgate_factory, tmp_path, fmt):
    srv, log = start_logged(pfgate_factory, tmp_path, fmt)
    cases = [  # target, status, numbers, answers, errors
        ("/v1/factors/360", 200, 1, 6, 0),
        ("/v1/factors/-4", 400, 1, 1, 1),
        ("/healthz", 200, 0, 0, 0),
        ("/metrics", 200, 0, 0, 0),
        ("/", 200, 0, 0, 0),
        ("/no/such/file", 404, 0, 0, 0),
    ]
    sent = []
    for target, status, *_ in cases:
        local, resp = get(srv.http, target)
        assert resp.startswith(b"HTTP/1.1 %d" % status), resp[:100]
        sent.append((local, len(resp)))
    lines = read_lines(log, len(cases))
    for (target, status, numbers, answers, errors), (local, size), line in zip(cases, sent, lines):
        check(parse(line, fmt), front="http", peer=local, path=target, status=status,
              numbers=numbers, answers=answers, errors=errors, bytes_out=size)


def test_refused_upgrade_is_an_http_line(pfgate_factory, tmp_path):
    srv, log = start_logged(pfgate_factory, tmp_path, "text")
    local, resp = exchange(srv.http, b"GET " + WS_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                           b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           b"Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 403"), resp[:100]
    check(parse(read_lines(log, 1)[0], "text"), front="http", peer=local, path=WS_PATH,
          status=403, numbers=0, bytes_out=len(resp))


def test_to_stderr(pfgate_factory):
    srv = pfgate_factory("--access-log", "-")
    get(srv.http, "/healthz")
    srv.wait_log("front=http")
    lines = [l for l in srv.log_text().splitlines() if l.startswith("time=")]
    assert len(lines) == 1, srv.log_text()
    check(parse_logfmt(lines[0].encode() + b"\n"), front="http", path="/healthz", status=200)


def test_no_line_when_off(pfgate_factory, tmp_path, pb):
    srv = pfgate_factory()
    with grpc.insecure_channel(srv.grpc) as ch:
        assert run_stream(pb.pb_grpc.FactorsStub(ch), pb, [12]).code == grpc.StatusCode.OK
    asyncio.run(ws_session(f"ws://{srv.http}{WS_PATH}", ['{"num":6}'], 2))
    get(srv.http, "/v1/factors/12")
    get(srv.http, "/nope")
    time.sleep(0.3)
    text = srv.log_text()
    assert "front=" not in text and '"front"' not in text, text


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_paths_stay_one_bounded_line(pfgate_factory, tmp_path, fmt):
    """lws decodes %XX in the path: whatever bytes come out, each request is one line that
    parses, its path escaped and cut at PF_ACCESS_PATH_MAX bytes."""
    srv, log = start_logged(pfgate_factory, tmp_path, fmt)
    targets = [
        b'/a"b\\c=d%20e',         # quotes, backslash, '=', a blank
        b"/x%0ay%0d%09z",          # an encoded newline, CR and tab (refused 400)
        b"/bytes%ff%fe%c3%a9",     # bytes that are not UTF-8, and one that is
        b"/long/" + b"p" * 3000,   # past PF_ACCESS_PATH_MAX
        b"/v1/factors/%22%0a1",
        b"/%00x",                  # a NUL: lws serves / itself
    ]
    statuses = []
    for t in targets:
        _, resp = get(srv.http, t)
        statuses.append(int(resp[9:12]))
    assert statuses == [404, 400, 404, 404, 400, 200]
    lines = read_lines(log, len(targets))
    recs = []
    for status, line in zip(statuses, lines):
        assert len(line) < 4096, len(line)
        recs.append(parse(line, fmt))  # one line, every byte of it pairs or JSON
        check(recs[-1], front="http", status=status)
    assert recs[0]["path"] == '/a"b\\c=d e'
    assert recs[1]["path"].startswith("/x") and "\n" not in lines[1][:-1].decode("latin-1")
    # Not UTF-8: logfmt \xff (back to the byte), JSON \u00ff; valid UTF-8 as it is.
    assert recs[2]["path"] == ("/bytes\udcff\udcfe\u00e9" if fmt == "text"
                               else "/bytes\u00ff\u00fe\u00e9")
    assert recs[3]["path"] == "/long/" + "p" * (512 - 6) + "..."
    assert recs[4]["path"] == '/v1/factors/"'
    assert recs[5]["path"].startswith("/\x00")


def test_sighup_reopens_the_file(pfgate_factory, tmp_path):
    srv, log = start_logged(pfgate_factory, tmp_path, "text")
    get(srv.http, "/v1/factors/6")
    read_lines(log, 1)
    rotated = log + ".1"
    os.rename(log, rotated)
    get(srv.http, "/v1/factors/10")  # still to the renamed file
    srv.signal(signal.SIGHUP)
    srv.wait_log("access log reopened")
    assert srv.alive(), "SIGHUP must not stop pfgate"
    get(srv.http, "/v1/factors/15")
    new = [parse(l, "text") for l in read_lines(log, 1)]
    old = [parse(l, "text") for l in read_lines(rotated, 2)]
    assert [r["path"] for r in old] == ["/v1/factors/6", "/v1/factors/10"]
    assert [r["path"] for r in new] == ["/v1/factors/15"]
    # Several SIGHUPs in a row change nothing but the file.
    for _ in range(3):
        srv.signal(signal.SIGHUP)
    time.sleep(0.2)
    assert srv.alive()
    get(srv.http, "/healthz")
    assert parse(read_lines(log, 2)[1], "text")["path"] == "/healthz"


def test_sighup_without_access_log_keeps_running(pfgate_factory):
    srv = pfgate_factory()
    srv.signal(signal.SIGHUP)
    assert srv.wait_log("SIGHUP: no log file to reopen"), srv.log_tail()
    assert srv.alive()
    assert get(srv.http, "/healthz")[1].startswith(b"HTTP/1.1 200")


# ------------------------------------------------------ the environment ---

def test_configured_by_environment_only(pfgate_factory, tmp_path, monkeypatch, pb):
    log = str(tmp_path / "env.log")
    monkeypatch.setenv("PFGATE_GRPC_ADDR", "127.0.0.1:0")
    monkeypatch.setenv("PFGATE_HTTP_ADDR", "127.0.0.1:0")
    monkeypatch.setenv("PFGATE_ACCESS_LOG", log)
    monkeypatch.setenv("PFGATE_LOG_FORMAT", "json")
    monkeypatch.setenv("PFGATE_MAX_LINE", "64")
    srv = pfgate_factory(listen_args=[])
    assert "PFGATE" not in " ".join(srv.argv[1:])
    with grpc.insecure_channel(srv.grpc) as ch:
        assert len(run_stream(pb.pb_grpc.FactorsStub(ch), pb, [30]).responses) == 3
    body = b'{"num":"' + b"1" * 80 + b'"}\n'  # over PFGATE_MAX_LINE: an error answer
    req = (b"POST " + WS_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body) + body)
    _, resp = exchange(srv.http, req)
    assert resp.endswith(b"\r\n\r\n{\"last\":true,\"error\":\"request is longer than the limit\"}\n"), resp
    lines = [parse(l, "json") for l in read_lines(log, 2)]
    check(lines[0], front="grpc", numbers=1, answers=3, errors=0)
    check(lines[1], front="ndjson", numbers=1, answers=1, errors=1)


def run_binary(env, *args):
    full = {k: v for k, v in os.environ.items() if not k.startswith("PFGATE_")}
    full.update(env)
    return subprocess.run([pfgate_path(), *args], env=full, capture_output=True, timeout=10,
                          stdin=subprocess.DEVNULL)


def test_bad_environment_value_stops_the_start_naming_the_variable():
    r = run_binary({"PFGATE_MAX_FRAME": "lots"})
    assert r.returncode == 2
    assert r.stderr == (b"pfgate: PFGATE_MAX_FRAME: --max-frame wants a whole number from 64 "
                        b"to 16777216, got 'lots'\n")
    assert r.stdout == b""
    # Exactly as a bad flag does.
    assert run_binary({}, "--max-frame", "lots").returncode == 2


def test_flag_wins_over_its_variable(pfgate_factory, monkeypatch):
    """Not even looked at: a bad value in the variable does not matter."""
    monkeypatch.setenv("PFGATE_MAX_FRAME", "lots")
    monkeypatch.setenv("PFGATE_HTTP_ADDR", "127.0.0.1:1")  # a port it cannot have
    srv = pfgate_factory("--max-frame", "100")
    assert srv.http_port != 1


def test_unknown_pfgate_variable_is_warned_about(pfgate_factory, monkeypatch):
    monkeypatch.setenv("PFGATE_MAX_FRAMES", "100")
    srv = pfgate_factory()
    assert ("pfgate: warning: PFGATE_MAX_FRAMES names no flag (ignored); see pfgate --help"
            in srv.log_text())


def test_help_names_every_variable():
    out = subprocess.run([pfgate_path(), "--help"], capture_output=True, timeout=10).stdout
    for name in (b"PFGATE_GRPC_ADDR", b"PFGATE_ACCESS_LOG", b"PFGATE_LOG_FORMAT",
                 b"PFGATE_ALLOW_ORIGIN", b"PFGATE_REUSE_PORT"):
        assert b"(env " + name + b")" in out
