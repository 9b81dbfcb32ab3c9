"""HTTP/1.1 and WebSocket as RFC 9112 and RFC 6455 say, against clients that push the edges
(issue 12): pipelining, half-closes, strict request parsing, methods pfgate does not serve,
control characters in numbers, fragmented oversized WebSocket messages.

Each test starts its own pfgate, attacks it with raw sockets, and then checks that pfgate's RSS
stayed within 64 MiB of its start and that a normal client is served right after.
"""
import socket
import time
from pathlib import Path

import pytest

from pfhttp import (NDJSON_PATH, OP_CONT, OP_TEXT, Closed, RawWS, SockReader, compare_answers,
                    connect, decode_error_answer, expected_answers, ndjson_lines, parse_json_text,
                    read_http_body, read_http_head, ws_frame)

REPO = Path(__file__).resolve().parent.parent.parent
WEB = REPO / "web"
RSS_BUDGET_KIB = 64 * 1024
FACTORS_360 = b'{"num":"360","factors":["2","2","2","3","3","5"]}'
NOT_A_NUMBER = "num must be an integer or a string of digits"


# ------------------------------------------------------------------ helpers ---

@pytest.fixture
def srv(pfgate_factory):
    """A pfgate of the test's own, with its RSS at the start."""
    s = pfgate_factory()
    s.rss_start = s.rss_kib()
    return s


def served_normally(s):
    """RSS within budget, and a polite client gets the right answer at once."""
    rss = s.rss_kib()
    assert rss - s.rss_start <= RSS_BUDGET_KIB, \
        f"RSS grew by {(rss - s.rss_start) // 1024} MiB (budget 64 MiB)"
    r = exchange(s, request("/v1/factors/360"))
    assert [(x[0], x[3]) for x in r] == [(200, FACTORS_360)], r


def request(target, method="GET", host="x", headers=(), body=b""):
    if isinstance(target, str):
        target = target.encode("latin-1")
    lines = [method.encode() + b" " + target + b" HTTP/1.1"]
    if host is not None:
        lines.append(b"Host: " + host.encode())
    lines += [h.encode("latin-1") if isinstance(h, str) else h for h in headers]
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def exchange(s, data, half_close=False, timeout=10, head=()):
    """Send data in one write (half-closing after it if asked), then read responses until the
    connection closes or goes quiet; head lists the indexes of responses to HEAD requests.
    Returns [(status, reason, headers, body, head_bytes)]."""
    out = []
    with connect(s.http, timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        reader = SockReader(sock)
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, reason, headers, raw = read_http_head(
                    reader, min(deadline, time.monotonic() + 1.5))
            except (Closed, TimeoutError):
                break
            body = read_http_body(reader, status, headers, deadline,
                                  head_request=len(out) in head)
            out.append((status, reason, headers, body, raw))
    return out


def status_line(r):
    return r[4].split(b"\r\n", 1)[0].decode("latin-1")


def json_error(r):
    assert r[2].get("content-type") == "application/json", r[2]
    body = parse_json_text(r[3].decode(), "error body")
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
    return body["error"]


# --------------------------------------------------------- pipelining (1) ---

def pipelined_targets():
    """(target, expected status, expected body or None for 'check separately')."""
    out = [(f"/v1/factors/{n}", 200, None) for n in range(2, 12)]
    out += [("/healthz", 200, b'{"status":"SERVING"}'), ("/metrics", 200, None),
            ("/v1/factors/abc", 400, None), ("/nope.html", 404, b'{"error":"not found"}'),
            ("/v1/factors/-5", 400, None), ("/v1/factors/360", 200, FACTORS_360)]
    return out


def test_pipelined_requests_answered_in_order_each_with_its_body(srv):
    targets = pipelined_targets()
    got = exchange(srv, b"".join(request(t) for t, _, _ in targets))
    assert len(got) == len(targets), \
        f"{len(got)} responses to {len(targets)} pipelined requests: {[g[0] for g in got]}"
    for (target, status, body), r in zip(targets, got):
        assert r[0] == status, f"{target}: HTTP {r[0]}, expected {status}"
        assert int(r[2]["content-length"]) == len(r[3])
        if body is not None:
            assert r[3] == body, f"{target}: body {r[3][:100]!r}"
        if target.startswith("/v1/factors/") and status == 200:
            n = int(target.rsplit("/", 1)[1])
            assert parse_json_text(r[3].decode())["num"] == str(n), f"{target}: out of order"
        if target == "/metrics":
            assert r[2]["content-type"].startswith("text/plain") and b"# TYPE" in r[3]
    served_normally(srv)


def test_pipelined_static_file_answered_whole_then_connection_closes(srv):
    """lws 4.1.6 cannot keep a connection past a file it sends itself (README), so pfgate sends
    the file whole with Connection: close; requests pipelined before it are all answered."""
    app = (WEB / "app.js").read_bytes()
    got = exchange(srv, request("/healthz") + request("/v1/factors/360") + request("/app.js")
                   + request("/healthz"))
    assert [r[0] for r in got[:3]] == [200, 200, 200], [r[0] for r in got]
    assert got[1][3] == FACTORS_360
    assert got[2][3] == app and got[2][2].get("connection") == "close"
    assert len(got) == 3, "a response after Connection: close"
    served_normally(srv)


# ---------------------------------------------------------- half-close (1) ---

@pytest.mark.parametrize("target,status,body", [
    ("/v1/factors/360", 200, FACTORS_360),
    ("/healthz", 200, b'{"status":"SERVING"}'),
    ("/metrics", 200, None),
    ("/", 200, (WEB / "index.html").read_bytes()),
    ("/app.js", 200, (WEB / "app.js").read_bytes()),
    ("/style.css", 200, (WEB / "style.css").read_bytes()),
    ("/missing.html", 404, b'{"error":"not found"}'),
    ("/v1/factors/abc", 400, ('{"error":"%s"}' % NOT_A_NUMBER).encode()),
], ids=["factors", "healthz", "metrics", "index", "app.js", "style.css", "404", "400"])
def test_request_then_half_close_gets_the_whole_response(srv, target, status, body):
    got = exchange(srv, request(target), half_close=True)
    assert len(got) == 1, f"GET {target} + half-close: {len(got)} responses"
    r = got[0]
    assert r[0] == status, f"GET {target}: HTTP {r[0]}"
    assert len(r[3]) == int(r[2]["content-length"]) > 0, f"GET {target}: body cut short"
    if body is not None:
        assert r[3] == body
    served_normally(srv)


@pytest.mark.parametrize("count", [1, 100, 10000])
def test_ndjson_body_then_half_close_answers_every_number(srv, count):
    nums = list(range(2, 2 + count))
    body = b"".join(b"%d\n" % n for n in nums)
    got = exchange(srv, request(NDJSON_PATH, "POST", body=body), half_close=True, timeout=30)
    assert len(got) == 1 and got[0][0] == 200, [g[:3] for g in got]
    msg = compare_answers(ndjson_lines(got[0][3]), expected_answers(nums), f"{count} numbers")
    assert msg is None, msg
    served_normally(srv)


def test_pipelined_flood_from_a_client_that_reads_nothing_stays_bounded(srv):
    """Responses are written as requests are parsed; lws parses the next one only once the
    socket has taken the last response, so a client that never reads stalls itself."""
    flood = request("/metrics") * 2000
    with connect(srv.http) as sock:
        sock.setblocking(False)
        sent, deadline = 0, time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                sent += sock.send(flood)
            except BlockingIOError:
                time.sleep(0.05)
        assert sent < 64 << 20, "pfgate read 64 MiB of requests whose answers nobody reads"
        served_normally(srv)


def test_http10_keep_alive_is_answered_with_keep_alive(srv):
    data = b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" * 2
    got = exchange(srv, data)
    assert [(r[0], r[2].get("connection")) for r in got] == [(200, "keep-alive")] * 2
    got = exchange(srv, b"GET /healthz HTTP/1.0\r\n\r\n" * 2)
    assert [(r[0], r[2].get("connection")) for r in got] == [(200, "close")]


def cpu_seconds(s):
    with open(f"/proc/{s.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100     # utime + stime, in clock ticks


def test_requests_pipelined_after_an_ndjson_post(srv):
    """The NDJSON answer stream is close-delimited (README): it is answered whole, and what was
    pipelined after it is not, without leaving pfgate busy."""
    data = request(NDJSON_PATH, "POST", body=b"360\n7\n") + request("/healthz") \
        + request(NDJSON_PATH, "POST", body=b"12\n") + request("/v1/factors/9")
    for half_close in (False, True):
        got = exchange(srv, data, half_close=half_close)
        assert len(got) == 1 and got[0][0] == 200, [g[:2] for g in got]
        assert got[0][2].get("connection") == "close"
        msg = compare_answers(ndjson_lines(got[0][3]), expected_answers([360, 7]), "POST")
        assert msg is None, msg
    cpu = cpu_seconds(srv)
    time.sleep(1)
    assert cpu_seconds(srv) - cpu < 0.3, "pfgate kept a core busy after the exchange"
    served_normally(srv)


def test_head_gets_headers_only_and_the_connection_goes_on(srv):
    # Had the HEAD's response carried a body, the GET's status line would not follow it.
    got = exchange(srv, request("/healthz", "HEAD") + request("/v1/factors/360", "HEAD")
                   + request("/healthz"), head=(0, 1))
    assert [(r[0], r[3]) for r in got] == [(200, b""), (200, b""),
                                           (200, b'{"status":"SERVING"}')]
    assert got[0][2]["content-length"] == "20"
    assert got[1][2]["content-length"] == str(len(FACTORS_360))
    served_normally(srv)


# ------------------------------------------------------------ strictness (3) ---

@pytest.mark.parametrize("data,error", [
    (request("/healthz", host=None), "an HTTP/1.1 request needs one Host header"),
    (request("/healthz", host=None, headers=["Host: a", "Host: b"]), "more than one Host header"),
    (request("/healthz", host="a", headers=["Host: a"]), "more than one Host header"),
    (request("/healthz", host=""), "an HTTP/1.1 request needs one Host header"),
    (request("/healthz", host="a b"), "malformed Host header"),
    (request(NDJSON_PATH, "POST", headers=["Content-Length : 4"]) + b"360\n",
     "whitespace before the colon of a header field"),
    (request("/healthz", headers=["Transfer-Encoding : chunked"]),
     "whitespace before the colon of a header field"),
    (request("/healthz", host=None, headers=["Host : x"]),
     "whitespace before the colon of a header field"),
], ids=["no-host", "two-hosts", "two-hosts-same", "empty-host", "bad-host",
        "content-length-space-colon", "transfer-encoding-space-colon", "host-space-colon"])
def test_malformed_framing_is_400(srv, data, error):
    got = exchange(srv, data)
    assert len(got) == 1, [g[:2] for g in got]
    assert status_line(got[0]) == "HTTP/1.1 400 Bad Request"
    assert json_error(got[0]) == error
    assert got[0][2].get("connection") == "close"
    served_normally(srv)


def test_http10_without_host_is_served(srv):
    got = exchange(srv, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert [(r[0], r[3]) for r in got] == [(200, b'{"status":"SERVING"}')]


def test_100kb_url_is_414(srv):
    got = exchange(srv, request("/v1/factors/" + "1" * 100_000))
    assert len(got) == 1
    assert status_line(got[0]) == "HTTP/1.1 414 URI Too Long"
    assert json_error(got[0]) == "the request-target is longer than 8191 bytes"
    got = exchange(srv, request("/healthz?" + "a" * 100_000))
    assert status_line(got[0]) == "HTTP/1.1 414 URI Too Long"
    served_normally(srv)


@pytest.mark.parametrize("header", ["Cookie", "User-Agent", "Authorization", "Accept"])
def test_100kb_header_is_431(srv, header):
    got = exchange(srv, request("/healthz", headers=[f"{header}: " + "b" * 100_000]))
    assert len(got) == 1
    assert status_line(got[0]) == "HTTP/1.1 431 Request Header Fields Too Large"
    assert json_error(got[0]) == "a header field is longer than 8191 bytes"
    served_normally(srv)


@pytest.mark.xfail(strict=True, reason=(
    "libwebsockets 4.1.6 keeps unknown header lines in its header buffer with no limit of their "
    "own and closes, without calling pfgate, when the buffer is full (parsers.c:666 "
    "lws_pos_in_bounds -> LPR_FAIL -> server.c lws_handshake_server bail_nuke_ah); README"))
def test_1000_headers_is_431(srv):
    got = exchange(srv, request("/healthz", headers=[f"X-Filler-{i}: {i}" for i in range(1000)]))
    served_normally(srv)
    assert [status_line(r) for r in got] == ["HTTP/1.1 431 Request Header Fields Too Large"]


def test_1000_headers_leave_pfgate_serving(srv):
    exchange(srv, request("/healthz", headers=[f"X-Filler-{i}: {i}" for i in range(1000)]))
    exchange(srv, request("/healthz", headers=["Accept: x"] * 1000))
    served_normally(srv)


@pytest.mark.parametrize("data,allow", [
    (request("/", "TRACE"), "GET, HEAD, POST"),
    (request("/healthz", "PROPFIND"), "GET, HEAD, POST"),
    (b"CONNECT x:80 HTTP/1.1\r\nHost: x:80\r\n\r\n", "GET, HEAD, POST"),
    (request("/healthz", "OPTIONS"), "GET, HEAD"),
    (request("/healthz", "PUT", body=b"x"), "GET, HEAD"),
    (request("/healthz", "DELETE"), "GET, HEAD"),
    (request("/v1/factors/360", "PATCH", body=b"x"), "GET, HEAD"),
    (request("/metrics", "POST", body=b"x"), "GET, HEAD"),
    (request("/index.html", "POST", body=b"x"), "GET, HEAD"),
    (request("/index.html", "DELETE"), "GET, HEAD"),
    (request(NDJSON_PATH, "PUT", body=b"360\n"), "POST"),
    (request(NDJSON_PATH, "GET"), "POST"),
], ids=["trace", "propfind", "connect", "options", "put", "delete", "patch", "post-metrics",
        "post-file", "delete-file", "put-stream", "get-stream-without-upgrade"])
def test_unserved_method_is_pfgates_json_405_with_allow(srv, data, allow):
    got = exchange(srv, data)
    assert len(got) == 1, [g[:2] for g in got]
    assert status_line(got[0]) == "HTTP/1.1 405 Method Not Allowed"
    assert got[0][2].get("allow") == allow
    json_error(got[0])
    served_normally(srv)


@pytest.mark.xfail(strict=True, reason=(
    "libwebsockets 4.1.6 answers a request-target that does not start with '/' with its own "
    "HTML 403 before the first callback (server.c:1415, lws_http_action; "
    "FILTER_HTTP_CONNECTION comes at :1499); README"))
def test_options_star_is_json_405(srv):
    got = exchange(srv, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    served_normally(srv)
    assert status_line(got[0]) == "HTTP/1.1 405 Method Not Allowed"


# ------------------------------------------- control characters in a number (3) ---

@pytest.mark.parametrize("escape", ["%01", "%09", "%1b", "%7f", "%0dabc", "%0aabc", "%0d"])
def test_control_character_in_url_number_is_400(srv, escape):
    got = exchange(srv, request("/v1/factors/360" + escape))
    assert len(got) == 1 and got[0][0] == 400, [g[:2] for g in got]
    error = json_error(got[0])
    if "%0d" in escape or "%0a" in escape:
        # lws ends the request line at the decoded CR or LF: the line has no HTTP version
        assert error == "malformed request line"
    else:
        assert error == NOT_A_NUMBER, "not the error of any other bad character (360abc)"
    assert exchange(srv, request("/v1/factors/360abc"))[0][3] == got[0][3] or "%0" in escape
    served_normally(srv)


@pytest.mark.parametrize("line", [b"360\x00", b"360\x00abc", b"\x00360", b"360\x01",
                                  b'{"num":360}\x00', b'"360\x00"'])
def test_control_character_in_ndjson_number_is_an_error_answer(srv, line):
    body = b"12\n" + line + b"\n360abc\n7\n"
    got = exchange(srv, request(NDJSON_PATH, "POST", body=body), half_close=True)
    answers = ndjson_lines(got[0][3])
    exp = expected_answers([12]) + [decode_error_answer(), decode_error_answer()] \
        + expected_answers([7])
    assert compare_answers(answers, exp, repr(line)) is None, answers
    assert answers[3] == answers[4], "not the error of any other bad character (360abc)"
    served_normally(srv)


@pytest.mark.parametrize("text", ["360\x00", "360\x00abc", "\x00360", "360\x01",
                                  '{"num":360}\x00'])
def test_control_character_in_websocket_number_is_an_error_answer(srv, text):
    with RawWS(srv.http) as ws:
        assert ws.status == 101
        ws.send_texts(["12", text, "360abc", "7"])
        got = [parse_json_text(t) for t in ws.recv_n(6)]
    exp = expected_answers([12]) + [decode_error_answer(), decode_error_answer()] \
        + expected_answers([7])
    assert compare_answers(got, exp, repr(text)) is None, got
    assert got[3] == got[4], "not the error of any other bad character (360abc)"
    served_normally(srv)


# ----------------------------------------------------------------- WebSocket (4) ---

@pytest.mark.parametrize("fragment", [1, 2, 50, 200, 1000, 5000])
def test_message_over_max_frame_in_small_fragments_closes_1009(srv, fragment):
    count = 16384 // fragment + 20                  # the default --max-frame is 16384
    with RawWS(srv.http) as ws:
        assert ws.status == 101
        data = ws_frame(OP_TEXT, b" " * fragment, fin=False) + b"".join(
            ws_frame(OP_CONT, b" " * fragment, fin=False) for _ in range(count)) \
            + ws_frame(OP_CONT, b"360", fin=True)
        ws.send_raw(data)
        texts, close, how = ws.read_until_close(timeout=10)
    assert close is not None, f"no Close frame: the connection ended by {how}"
    assert (close.code, close.reason) == (1009, b"message too large")
    assert texts == []
    served_normally(srv)
