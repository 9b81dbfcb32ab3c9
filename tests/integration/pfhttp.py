"""Helpers for the HTTP / WebSocket / NDJSON integration tests of pfgate (SPEC.md).

Real clients only: python3-websockets (asyncio, v10.4), curl, http.client, and a small raw-socket
WebSocket / HTTP client for the frames and request lines a polite client never sends.
GNU `factor` is the oracle.
"""
import base64
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import tempfile
import threading
import time

from pfutil import gnu_factor  # one oracle for every test file

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
PRIME_NEAR_2_63 = 9223372036854775783          # the largest prime below 2^63
WS_PATH = "/primefactor.Factors/PrimeFactors"
NDJSON_PATH = WS_PATH
PFGATE_DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build",
                              "pfgate")
ERROR_MAX = 200          # "Errors never echo more than a short prefix of the bad input"

# WebSocket opcodes
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def pfgate_path():
    return os.environ.get("PFGATE") or os.path.normpath(PFGATE_DEFAULT)


# ------------------------------------------------------------------ oracle ---


ANY_ERROR = object()    # placeholder: "a non-empty error string" in an expected answer


def expected_answers(nums, oracle=None):
    """The exact JSON answers (as dicts) for a stream of int64 `nums`, per SPEC's JSON mapping:
    int64 as strings, defaults omitted. Negative numbers carry error=ANY_ERROR."""
    oracle = gnu_factor(nums) if oracle is None else oracle
    out = []
    for n in nums:
        if n < 0:
            out.append({"num": str(n), "last": True, "error": ANY_ERROR})
        elif n == 0:
            out.append({"last": True})
        elif n == 1:
            out.append({"num": "1", "last": True})
        else:
            fs = oracle[n]
            for i, f in enumerate(fs):
                d = {"result": str(f), "num": str(n)}
                if i == len(fs) - 1:
                    d["last"] = True
                out.append(d)
    return out


def decode_error_answer():
    """A request that could not be decoded: exactly {"last": true, "error": "..."}."""
    return {"last": True, "error": ANY_ERROR}


def _match_one(got, exp):
    if not isinstance(got, dict) or set(got) != set(exp):
        return False
    for k, v in exp.items():
        if v is ANY_ERROR:
            if not (isinstance(got[k], str) and got[k] and len(got[k]) <= ERROR_MAX):
                return False
        elif type(got[k]) is not type(v) or got[k] != v:
            return False
    return True


def _show(d):
    if isinstance(d, dict):
        return "{" + ", ".join(f"{k!r}: {'<non-empty error>' if v is ANY_ERROR else repr(v)}"
                               for k, v in d.items()) + "}"
    return repr(d)


def compare_answers(got, exp, what="stream"):
    """None if `got` (parsed JSON values) equals `exp` exactly (same keys, same JSON types),
    else a message naming the first difference."""
    for i, (g, e) in enumerate(zip(got, exp)):
        if not _match_one(g, e):
            ctx = got[max(0, i - 2):i + 3]
            return (f"{what}: answer #{i} is {_show(g)}, expected {_show(e)} "
                    f"({len(got)} answers, expected {len(exp)}); around it: {ctx}")
    if len(got) != len(exp):
        extra = got[len(exp):len(exp) + 3] if len(got) > len(exp) else \
            [_show(e) for e in exp[len(got):len(got) + 3]]
        return (f"{what}: {len(got)} answers, expected {len(exp)}; first "
                f"{'extra' if len(got) > len(exp) else 'missing'}: {extra}")
    return None


def parse_json_text(text, what="answer"):
    try:
        return json.loads(text)
    except ValueError as e:
        raise AssertionError(f"{what} is not valid JSON ({e}): {text[:200]!r}")


def factors_of(answers):
    """Group a stream of answers (dicts) into [(num_str, [factor strs], error or None)], one entry
    per number, checking that each number's answers are contiguous and end with last=true."""
    out, cur = [], None
    for a in answers:
        num = a.get("num", "0")
        if cur is None:
            cur = [num, [], None]
        assert cur[0] == num, f"answers to {cur[0]} and {num} are interleaved"
        if "result" in a:
            cur[1].append(a["result"])
        if "error" in a:
            cur[2] = a["error"]
        if a.get("last"):
            out.append(tuple(cur))
            cur = None
    assert cur is None, f"the answers to {cur[0]} have no last=true"
    return out


# ----------------------------------------------------------- number mixes ---

def is_prime(n):
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def next_prime(n):
    while not is_prime(n):
        n += 1
    return n


def prev_prime(n):
    while not is_prime(n):
        n -= 1
    return n


def hard_semiprimes(rng, count, bits=31):
    """Products of two primes of about `bits` bits each (< 2^63): the slow case for rho."""
    out = []
    while len(out) < count:
        p = next_prime(rng.randrange(2**(bits - 1), 2**bits))
        q = next_prime(rng.randrange(2**(bits - 1), 2**bits))
        if p * q <= INT64_MAX:
            out.append(p * q)
    return out


# --------------------------------------------------------- socket reading ---

class Closed(Exception):
    """The peer closed the TCP connection (EOF) or reset it."""


class SockReader:
    """Buffered reads with deadlines on a blocking socket."""

    def __init__(self, sock, buf=b""):
        self.sock = sock
        self.buf = bytearray(buf)
        self.eof = False
        self.reset = False

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("read deadline passed")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            raise TimeoutError("read deadline passed")
        except (ConnectionResetError, BrokenPipeError):
            self.reset = True
            raise Closed("connection reset by peer")
        if not chunk:
            self.eof = True
            raise Closed("EOF")
        self.buf += chunk

    def read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_until(self, sep, deadline, limit=1 << 20):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i + len(sep)])
                del self.buf[:i + len(sep)]
                return out
            if len(self.buf) > limit:
                raise AssertionError(f"no {sep!r} within {limit} bytes")
            self._fill(deadline)

    def read_to_eof(self, deadline):
        try:
            while True:
                self._fill(deadline)
        except Closed:
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out


def connect(addr, timeout=5):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


# ------------------------------------------------------------- raw HTTP/1.1 ---

class HttpResponse:
    def __init__(self, status, reason, headers, body, raw_head=b""):
        self.status = status
        self.reason = reason
        self.headers = headers          # lower-case name -> last value
        self.body = body
        self.raw_head = raw_head

    @property
    def media_type(self):
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self):
        return parse_json_text(self.body.decode("utf-8", "replace"), "response body")

    def __repr__(self):
        return f"<HTTP {self.status} {self.headers.get('content-type')!r} {self.body[:120]!r}>"


def read_http_head(reader, deadline):
    head = reader.read_until(b"\r\n\r\n", deadline)
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})\s*(.*)", lines[0])
    assert m, f"not an HTTP/1.x status line: {lines[0]!r}"
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return int(m.group(1)), m.group(2), headers, head


def read_http_body(reader, status, headers, deadline, head_request=False):
    if head_request or status in (204, 304) or 100 <= status < 200:
        return b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            line = reader.read_until(b"\r\n", deadline)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while reader.read_until(b"\r\n", deadline) != b"\r\n":
                    pass
                return bytes(body)
            body += reader.read_exact(size, deadline)
            reader.read_exact(2, deadline)
    if "content-length" in headers:
        return reader.read_exact(int(headers["content-length"]), deadline)
    return reader.read_to_eof(deadline)


def http_raw(addr, request, timeout=10, head_request=False):
    """Send raw request bytes on a new connection, read one response (skipping 1xx)."""
    deadline = time.monotonic() + timeout
    with connect(addr, timeout) as s:
        s.sendall(request)
        r = SockReader(s)
        while True:
            status, reason, headers, head = read_http_head(r, deadline)
            if status != 100:
                break
        body = read_http_body(r, status, headers, deadline, head_request)
        return HttpResponse(status, reason, headers, body, head)


def http_get_raw(addr, target, timeout=10, headers=()):
    """GET with the request-target sent byte for byte (no client-side path normalisation)."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    req = b"GET " + target + b" HTTP/1.1\r\nHost: " + addr.encode() + b"\r\n"
    for h in headers:
        req += h.encode("latin-1") + b"\r\n"
    req += b"Connection: close\r\n\r\n"
    return http_raw(addr, req, timeout)


def curl(args, input=None, timeout=30):
    """Run curl; returns (HttpResponse of the final response, CompletedProcess)."""
    with tempfile.TemporaryDirectory(prefix="pfcurl-") as d:
        hdr, body = os.path.join(d, "h"), os.path.join(d, "b")
        cmd = ["curl", "-sS", "--max-time", str(timeout), "-D", hdr, "-o", body] + list(args)
        p = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout + 10)
        status, headers, reason = 0, {}, ""
        if os.path.exists(hdr):
            with open(hdr, "rb") as f:
                blocks = [b for b in f.read().split(b"\r\n\r\n") if b.strip()]
            if blocks:
                lines = blocks[-1].decode("latin-1").split("\r\n")
                m = re.match(r"HTTP/\S+ (\d{3})\s*(.*)", lines[0])
                if m:
                    status, reason = int(m.group(1)), m.group(2)
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
        data = b""
        if os.path.exists(body):
            with open(body, "rb") as f:
                data = f.read()
        return HttpResponse(status, reason, headers, data), p


def ndjson_lines(body, what="NDJSON body"):
    text = body.decode("utf-8")
    assert text == "" or text.endswith("\n"), f"{what} does not end with a newline: {text[-80:]!r}"
    return [parse_json_text(line, f"{what} line {i}") for i, line in enumerate(text.splitlines())]


# ------------------------------------------------------------ raw WebSocket ---

def _mask(payload, key):
    n = len(payload)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def ws_frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """One WebSocket frame as a client sends it (masked unless mask=False). `length` overrides
    the length field (for lying headers)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = bytes([b0, mbit | n])
    elif n < 65536:
        hdr = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        hdr = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + _mask(payload, key)


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class WsClose:
    def __init__(self, code, reason):
        self.code = code
        self.reason = reason

    def __repr__(self):
        return f"<Close {self.code} {self.reason!r}>"


class RawWS:
    """A minimal RFC 6455 client over a plain socket: full control over every byte sent.

    The constructor performs the opening handshake; `status` is the HTTP status the server
    answered (101 on success), `response` the HttpResponse when it was not 101."""

    def __init__(self, addr, path=WS_PATH, origin=None, host=None, extra_headers=(),
                 timeout=10, key=None, upgrade="websocket"):
        self.addr = addr
        self.sock = connect(addr, timeout)
        self.key = key or base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host or addr}", f"Upgrade: {upgrade}",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {self.key}",
                 "Sec-WebSocket-Version: 13"]
        if origin is not None:
            lines.append(f"Origin: {origin}")
        lines += list(extra_headers)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.reader = SockReader(self.sock)
        deadline = time.monotonic() + timeout
        self.status, reason, self.headers, head = read_http_head(self.reader, deadline)
        self.response = None
        self.sent_close = False
        self.pongs = []
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1(
                (self.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            got = self.headers.get("sec-websocket-accept")
            assert got == want, f"bad Sec-WebSocket-Accept {got!r}, expected {want!r}"
            assert self.headers.get("upgrade", "").lower() == "websocket", self.headers
        else:
            try:
                body = read_http_body(self.reader, self.status, self.headers,
                                      time.monotonic() + 3)
            except (Closed, TimeoutError):
                body = bytes(self.reader.buf)
            self.response = HttpResponse(self.status, reason, self.headers, body, head)

    # -- sending

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_text(self, text, **kw):
        self.sock.sendall(ws_frame(OP_TEXT, text, **kw))

    def send_texts(self, texts):
        """Pipeline many text frames in one write (without waiting for answers)."""
        self.sock.sendall(b"".join(ws_frame(OP_TEXT, t) for t in texts))

    def send_binary(self, data):
        self.sock.sendall(ws_frame(OP_BINARY, data))

    def send_ping(self, data=b""):
        self.sock.sendall(ws_frame(OP_PING, data))

    def send_close(self, code=1000, reason=b""):
        self.sent_close = True
        self.sock.sendall(ws_frame(OP_CLOSE, close_payload(code, reason) if code else b""))

    # -- receiving

    def recv_frame(self, deadline):
        h = self.reader.read_exact(2, deadline)
        fin, rsv, op = h[0] >> 7, (h[0] >> 4) & 7, h[0] & 0xF
        masked, n = h[1] >> 7, h[1] & 0x7F
        assert not masked, "a server frame must not be masked (RFC 6455 5.1)"
        assert rsv == 0 or self.headers.get("sec-websocket-extensions"), \
            f"RSV bits {rsv} set without a negotiated extension"
        if n == 126:
            n = struct.unpack("!H", self.reader.read_exact(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.reader.read_exact(8, deadline))[0]
        return bool(fin), op, self.reader.read_exact(n, deadline)

    def recv(self, timeout=10):
        """The next message: a str (text), bytes (binary) or WsClose. Pings are answered."""
        deadline = time.monotonic() + timeout
        parts, first_op = [], None
        while True:
            fin, op, data = self.recv_frame(deadline)
            if op == OP_PING:
                if not self.sent_close:
                    self.sock.sendall(ws_frame(OP_PONG, data))
                continue
            if op == OP_PONG:
                self.pongs.append(data)
                continue
            if op == OP_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                return WsClose(code, data[2:])
            if op in (OP_TEXT, OP_BINARY):
                assert first_op is None, "a new data frame inside a fragmented message"
                first_op = op
            else:
                assert op == OP_CONT and first_op is not None, f"unexpected opcode {op:#x}"
            parts.append(data)
            if fin:
                payload = b"".join(parts)
                if first_op == OP_TEXT:
                    return payload.decode("utf-8")    # raises on invalid UTF-8 from pfgate
                return payload

    def read_until_close(self, timeout=15, max_messages=None):
        """Read messages until the server's Close frame. Returns (texts, WsClose or None, how):
        `how` says how the connection ended when there was no Close frame ("EOF", "reset",
        "timeout"). After the server's Close, replies with a Close (if not sent yet) and waits
        for the TCP close."""
        deadline = time.monotonic() + timeout
        texts = []
        while True:
            try:
                m = self.recv(max(0.01, deadline - time.monotonic()))
            except Closed as e:
                return texts, None, "reset" if self.reader.reset else f"{e}"
            except TimeoutError:
                return texts, None, "timeout"
            if isinstance(m, WsClose):
                if not self.sent_close:
                    try:
                        self.send_close(m.code if m.code and m.code not in (1005, 1006) else 1000)
                    except OSError:
                        pass
                return texts, m, "close"
            texts.append(m)
            if max_messages is not None and len(texts) >= max_messages:
                return texts, None, "max_messages"

    def recv_n(self, n, timeout=10):
        """Exactly n text messages (AssertionError on close/timeout first)."""
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            try:
                m = self.recv(max(0.01, deadline - time.monotonic()))
            except (Closed, TimeoutError) as e:
                raise AssertionError(f"got {len(out)} of {n} messages, then {e!r}: {out[-3:]}")
            assert not isinstance(m, WsClose), f"Close {m} after {len(out)} of {n} messages"
            assert isinstance(m, str), f"a binary message from pfgate: {m[:80]!r}"
            out.append(m)
        return out

    def wait_eof(self, timeout=3):
        """True if the server closes the TCP connection within timeout (after Close)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.reader._fill(deadline)
        except Closed:
            return True
        except TimeoutError:
            return False

    def abort(self):
        """Close the TCP connection abruptly (RST)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)   # wakes a sendall() blocked in another thread
        except OSError:
            pass
        self.sock.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ----------------------------------------------------------------- flags ---

_HELP = None


def help_text():
    global _HELP
    if _HELP is None:
        p = subprocess.run([pfgate_path(), "--help"], capture_output=True, text=True, timeout=10)
        _HELP = p.stdout + p.stderr
    return _HELP


_UNITS = {"": 1, "b": 1, "bytes": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1 << 20,
          "mb": 1 << 20, "mib": 1 << 20}


def flag_default(flag):
    """The default that `pfgate --help` gives for a flag, as an int (bytes), or None."""
    text = help_text()
    m = re.search(r"^\s*" + re.escape(flag) + r"\b(.*?)(?=^\s*--|\Z)", text, re.S | re.M)
    if not m:
        return None
    d = re.search(r"default[:\s]+([0-9][0-9_,]*)\s*([a-zA-Z]*)", m.group(1))
    if not d:
        return None
    n = int(re.sub(r"[_,]", "", d.group(1)))
    return n * _UNITS.get(d.group(2).lower(), 1)


def has_flag(flag):
    return re.search(r"(^|\s)" + re.escape(flag) + r"\b", help_text()) is not None


# --------------------------------------------------------------- metrics ---

_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)")


def metric_samples(text):
    """{series text ('name{labels}'): float value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        if m:
            try:
                out[m.group(1)] = float(m.group(2))
            except ValueError:
                pass
    return out


def series_tokens(series):
    return set(t for t in re.split(r"[^a-z0-9]+", series.lower()) if t)


def stalled_websocket(addr):
    """A WebSocket that floods pfgate with numbers and never reads an answer: it holds a
    drain open (its answers cannot go out). Returns it once pfgate has been busy with it
    for a second; abort() it at the end."""
    stalled = RawWS(addr)
    assert stalled.status == 101
    frames = ws_frame(OP_TEXT, "4611686018427387904") * 20000

    def flood():
        try:
            stalled.sock.settimeout(15)
            stalled.send_raw(frames)
        except OSError:
            pass

    threading.Thread(target=flood, daemon=True).start()
    time.sleep(1.0)
    return stalled
