#!/usr/bin/python3
"""Soak pfgate: every front end at once for a set time, every answer checked.

usage: /usr/bin/python3 tools/soak.py PATH/TO/pfgate [--seconds 60] [--workers 8] [--rss-growth-mib 32]

Starts pfgate on :0 ports, then runs, concurrently and with bounded concurrency (one thread
per worker slot, --workers in all, spread over the front ends), until --seconds pass:
  gRPC       bidi streams of 50-500 numbers (grpcio, Debian's python3-grpcio)
  WebSocket  sockets pipelining 50-500 numbers, ended by a Close frame
  NDJSON     POST bodies of 50-500 lines
  /v1        GET /v1/factors/{num}, keep-alive
Every answer is compared with an oracle (GNU `factor` over a pre-computed pool of numbers).
Prints answers, errors, requests/s per front end, RSS and open fds at start and end. Exits 1
on any error, on open fds growing by more than 10, or on RSS growing by more than
--rss-growth-mib (default 32 MiB: glibc's per-thread arenas keep some freed memory; a leak of
one answer buffer per request would pass that within a minute).
"""
import argparse
import base64
import json
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PATH = "/primefactor.Factors/PrimeFactors"
# The tests' oracle and expected answers, so that soak and tests judge answers alike.
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from pfutil import expected, gnu_factor  # noqa: E402
from pfhttp import compare_answers, expected_answers  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


# ------------------------------------------------------------------ sockets ---

def connect(addr, timeout=10):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Reader:
    def __init__(self, sock):
        self.sock, self.buf = sock, bytearray()

    def fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def until(self, sep):
        while sep not in self.buf:
            self.fill()
        i = self.buf.index(sep) + len(sep)
        out = bytes(self.buf[:i])
        del self.buf[:i]
        return out

    def to_eof(self):
        try:
            while True:
                self.fill()
        except EOFError:
            pass
        return bytes(self.buf)


def http_head(r):
    head = r.until(b"\r\n\r\n").decode("latin-1")
    status = int(head.split(" ", 2)[1])
    headers = {}
    for line in head.split("\r\n")[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers


def ws_frame(op, payload):
    key = os.urandom(4)
    n = len(payload)
    hdr = bytes([0x80 | op])
    hdr += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return hdr + key + masked


# ------------------------------------------------------------------- runners ---

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = {"grpc": 0, "websocket": 0, "ndjson": 0, "v1": 0}
        self.answers = 0
        self.errors = []

    def ok(self, front, requests, answers):
        with self.lock:
            self.requests[front] += requests
            self.answers += answers

    def error(self, front, msg):
        with self.lock:
            self.errors.append(f"{front}: {msg}")


def run_grpc(addr, pb, pool, orc, rng, stats):
    import grpc
    with grpc.insecure_channel(addr) as ch:
        stub = pb.FactorsStub(ch)
        nums = [rng.choice(pool) for _ in range(rng.randrange(50, 500))]
        exp = expected(nums, orc)
        try:
            got = [(r.result, r.num, r.last, bool(r.error))
                   for r in stub.PrimeFactors(iter([pb.Request(num=n) for n in nums]), timeout=30)]
        except grpc.RpcError as e:
            return stats.error("grpc", f"{e.code()} {e.details()}")
        if got != exp:
            return stats.error("grpc", f"wrong answers ({len(got)} vs {len(exp)})")
        stats.ok("grpc", len(nums), len(got))


def run_ws(addr, pool, orc, rng, stats):
    nums = [rng.choice(pool) for _ in range(rng.randrange(50, 500))]
    exp = expected_answers(nums, orc)
    with connect(addr) as s:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET {PATH} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        r = Reader(s)
        status, _ = http_head(r)
        if status != 101:
            return stats.error("websocket", f"upgrade: HTTP {status}")
        s.sendall(b"".join(ws_frame(1, str(n).encode()) for n in nums)
                  + ws_frame(8, struct.pack("!H", 1000)))
        got, code = [], None
        while True:
            h = r.exact(2)
            n = h[1] & 0x7F
            if n == 126:
                n = struct.unpack("!H", r.exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", r.exact(8))[0]
            data, op = r.exact(n), h[0] & 0xF
            if op == 1:
                got.append(json.loads(data))
            elif op == 8:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                break
            elif op == 9:
                s.sendall(ws_frame(0xA, data))
        if code != 1000:
            return stats.error("websocket", f"close code {code} after {len(got)} answers")
        if compare_answers(got, exp) is not None:
            return stats.error("websocket", f"wrong answers ({len(got)} vs {len(exp)})")
        stats.ok("websocket", len(nums), len(got))


def run_ndjson(addr, pool, orc, rng, stats):
    nums = [rng.choice(pool) for _ in range(rng.randrange(50, 500))]
    exp = expected_answers(nums, orc)
    body = "".join(f"{n}\n" for n in nums).encode()
    with connect(addr) as s:
        s.sendall(f"POST {PATH} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len(body)}\r\n"
                  f"Connection: close\r\n\r\n".encode() + body)
        r = Reader(s)
        status, _ = http_head(r)
        text = r.to_eof().decode()
    if status != 200:
        return stats.error("ndjson", f"HTTP {status}")
    got = [json.loads(line) for line in text.splitlines()]
    if not text.endswith("\n") or compare_answers(got, exp) is not None:
        return stats.error("ndjson", f"wrong answers ({len(got)} vs {len(exp)})")
    stats.ok("ndjson", len(nums), len(got))


def run_v1(addr, pool, orc, rng, stats):
    with connect(addr) as s:
        r = Reader(s)
        count = rng.randrange(20, 100)
        for i in range(count):
            n = rng.choice(pool)
            last = i == count - 1
            s.sendall(f"GET /v1/factors/{n} HTTP/1.1\r\nHost: {addr}\r\n"
                      f"{'Connection: close' + chr(13) + chr(10) if last else ''}\r\n".encode())
            status, headers = http_head(r)
            body = r.exact(int(headers.get("content-length", "0")))
            if n < 0:
                ok = status == 400
            else:
                want = {"num": str(n), "factors": [str(f) for f in orc.get(n, [])]}
                ok = status == 200 and json.loads(body) == want
            if not ok:
                return stats.error("v1", f"/v1/factors/{n}: HTTP {status} {body[:100]!r}")
        stats.ok("v1", count, count)


# ------------------------------------------------------------------- main ---

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pfgate")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=8, help="concurrent clients in all (default 8)")
    ap.add_argument("--rss-growth-mib", type=float, default=32)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="pfsoak-") as d:
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{REPO}/proto",
                        f"--python_out={d}", f"--grpc_python_out={d}",
                        f"{REPO}/proto/primefactor.proto"], check=True, timeout=60)
        sys.path.insert(0, d)
        import primefactor_pb2
        import primefactor_pb2_grpc

        class PB:
            Request = primefactor_pb2.Request
            FactorsStub = primefactor_pb2_grpc.FactorsStub

        rng = random.Random(a.seed)
        pool = sorted({rng.choice([rng.randrange(2, 10**6), rng.randrange(2**32, 2**63),
                                   rng.randrange(0, 100), -rng.randrange(1, 2**63)])
                       for _ in range(20000)} | {0, 1, 2**63 - 1, 9223372036854775783})
        orc = gnu_factor(pool)

        log = open(os.path.join(d, "pfgate.stderr"), "wb")
        proc = subprocess.Popen([a.pfgate, "--grpc-addr", "127.0.0.1:0", "--http-addr",
                                 "127.0.0.1:0", "--log-level", "warn"], stdout=subprocess.PIPE,
                                stderr=log, stdin=subprocess.DEVNULL)
        try:
            ready = select.select([proc.stdout], [], [], 15)[0]
            line = proc.stdout.readline().decode() if ready else ""
            m = re.match(r"listening grpc=(\S+) http=(\S+)", line)
            if not m:
                print(f"soak: pfgate did not start: {line!r}", file=sys.stderr)
                return 1
            g, h = m.groups()
            stats = Stats()
            # warm-up: one of each, so that lazily made threads and fds are in the baseline
            wrng = random.Random(0)
            run_grpc(g, PB, pool, orc, wrng, stats)
            run_ws(h, pool, orc, wrng, stats)
            run_ndjson(h, pool, orc, wrng, stats)
            run_v1(h, pool, orc, wrng, stats)
            time.sleep(0.5)
            rss0, fds0 = rss_kib(proc.pid), fds(proc.pid)
            stats = Stats()
            kinds = ["grpc", "websocket", "ndjson", "v1"]
            t_start = time.monotonic()
            t_end = t_start + a.seconds

            def worker(i):
                wr = random.Random(a.seed * 1000 + i)
                kind = kinds[i % len(kinds)]
                while time.monotonic() < t_end and len(stats.errors) < 20:
                    try:
                        if kind == "grpc":
                            run_grpc(g, PB, pool, orc, wr, stats)
                        elif kind == "websocket":
                            run_ws(h, pool, orc, wr, stats)
                        elif kind == "ndjson":
                            run_ndjson(h, pool, orc, wr, stats)
                        else:
                            run_v1(h, pool, orc, wr, stats)
                    except (OSError, EOFError, ValueError) as e:
                        stats.error(kind, repr(e))

            threads = [threading.Thread(target=worker, args=(i,), daemon=True)
                       for i in range(max(4, a.workers))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(a.seconds + 60)
            took = time.monotonic() - t_start
            time.sleep(1.0)          # let the server see the last closes
            alive = proc.poll() is None
            rss1 = rss_kib(proc.pid) if alive else 0
            fds1 = fds(proc.pid) if alive else 0
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    rc = proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    rc = "killed"
            else:
                rc = proc.returncode
            log.close()

        print(f"soak: {took:.0f} s, {a.workers} concurrent clients, pfgate {a.pfgate}")
        print(f"  answers    {stats.answers}")
        print(f"  errors     {len(stats.errors)}")
        for front, n in stats.requests.items():
            print(f"  {front:<10} {n:>9} numbers  {n / took:>9.0f}/s")
        print(f"  RSS        {rss0} KiB -> {rss1} KiB ({(rss1 - rss0) / 1024:+.1f} MiB, "
              f"bound +{a.rss_growth_mib:g} MiB)")
        print(f"  open fds   {fds0} -> {fds1} (bound +10)")
        print(f"  exit       {rc} after SIGTERM")
        for e in stats.errors[:10]:
            print(f"  error: {e}")
        failed = []
        if not alive:
            failed.append("pfgate died during the soak")
        if stats.errors:
            failed.append(f"{len(stats.errors)} errors")
        if fds1 - fds0 > 10:
            failed.append(f"open fds grew by {fds1 - fds0}")
        if rss1 - rss0 > a.rss_growth_mib * 1024:
            failed.append(f"RSS grew by {(rss1 - rss0) / 1024:.1f} MiB")
        if rc != 0:
            failed.append(f"exit {rc} after SIGTERM")
        if min(stats.requests.values()) == 0:
            failed.append("a front end answered nothing")
        if failed:
            print("soak: FAILED: " + "; ".join(failed))
            with open(os.path.join(d, "pfgate.stderr"), "rb") as f:
                tail = f.read()[-3000:].decode("utf-8", "replace")
            print("pfgate stderr (tail):\n" + tail)
            return 1
        print("soak: OK")
        return 0


if __name__ == "__main__":
    sys.exit(main())
