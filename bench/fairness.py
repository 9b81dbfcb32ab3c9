#!/usr/bin/python3
"""Fairness benchmark (issue 14): a light client's round trip beside heavy load.

    bench/fairness.py [--pfgate PATH ...] [--seconds S] [--heavy N] [--rounds R]
                      [--light grpc,ws,ndjson,healthz] [--heavy-window W]
                      [--heavy-mix both|grpc|ws] [--pfgate-args "FLAGS"]

For each light client in turn (a gRPC stream, a WebSocket, one NDJSON POST, and
`GET /healthz` on a new connection each time, as curl or a probe does) it sends
`360` every --interval (10 ms), waits for the whole answer and checks it, for S
seconds: first with no other load, then beside N heavy clients (half gRPC
streams on 8 connections, half WebSockets; or all of one kind) streaming balanced 62-bit semiprimes
(p*q, p and q primes near 2^31) closed loop, W numbers in flight per stream,
every answer read and checked (factors == [p, q], in order).

Every measurement starts a fresh pfgate on 127.0.0.1:0 ports. With several
--pfgate binaries, each cell runs on each binary in turn, the order alternating
from cell to cell and round to round, so that before/after figures come from
the same run. Prints a markdown table: light round trip p50/p99 (samples),
heavy numbers answered per second, and pfgate's CPU (% of one core) meanwhile.

The heavy gRPC clients are bench/grpc_semiprime_load.c (grpc_load sending
semiprimes; built here into BUILD/bench, its answers checked once before the
cells since it is killed at each cell's end) unless --heavy-grpc python; the
heavy WebSockets are Python (websockets), in their own processes (--heavy-procs
per kind): ws_load can only send consecutive numbers and Python's gRPC client
cannot keep pfgate busy. "heavy num/s" (the Python clients' answered numbers)
and "pfgate CPU" tell whether the load kept pfgate busy. Every wait is bounded (--timeout per round trip; heavy processes
are stopped after each cell and killed if they do not stop); every process
started here is killed on exit. Exits 1 when any answer was wrong or missing.
"""
import argparse
import asyncio
import collections
import json
import os
import random
import signal
import subprocess
import sys
import time

# The numbers and protobuf helpers the integration tests use (one copy of each).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "tests", "integration"))
from pfhttp import is_prime  # noqa: E402
from pfutil import v2  # noqa: E402

RPC = "/primefactor.Factors/PrimeFactors"
FACTORS_360 = [2, 2, 2, 3, 3, 5]
SEED = 14
LIGHTS = ("grpc", "ws", "ndjson", "healthz")
# Issue 14: light p99 under the heavy load at most 20 ms, `/healthz` at most 10 ms.
P99_TARGET = {"grpc": 0.020, "ws": 0.020, "ndjson": 0.020, "healthz": 0.010}
LIGHT_NAMES = {"grpc": "gRPC stream", "ws": "WebSocket", "ndjson": "NDJSON POST",
               "healthz": "`GET /healthz`"}


class AnswerError(Exception):
    pass


# ---- numbers -------------------------------------------------------------

def semiprimes(count=4096, seed=SEED):
    """(p*q, p, q) with p < q primes in [2^30.5, 2^31): p*q in [2^61, 2^62)."""
    rng = random.Random(seed)
    lo, hi = int(2 ** 30.5) + 1, 2 ** 31
    primes = set()
    while len(primes) < 128:
        c = rng.randrange(lo, hi) | 1
        if is_prime(c):
            primes.add(c)
    primes = sorted(primes)
    out = []
    while len(out) < count:
        p, q = sorted(rng.sample(primes, 2))
        out.append((p * q, p, q))
    return out


def verify_with_gnu_factor(nums):
    r = subprocess.run(["factor"] + [str(n) for n, _, _ in nums], capture_output=True,
                       text=True, timeout=30, check=True)
    for (n, p, q), line in zip(nums, r.stdout.splitlines()):
        if line.split() != [f"{n}:", str(p), str(q)]:
            sys.exit(f"fairness: GNU factor disagrees: {line!r} for {n} = {p} * {q}")


# ---- protobuf by hand (Request{num=1}, Response{result=1,num=2,last=3,error=4}) ----

pb_request = v2  # Request{num}


def pb_response(buf):
    """The Response as a dict with JSON-like keys (result, num, last, error)."""
    out, i = {}, 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _read_varint(buf, i)
            if v >= 1 << 63:
                v -= 1 << 64
            out[{1: "result", 2: "num", 3: "last"}.get(field, field)] = v
        elif wire == 2:
            ln, i = _read_varint(buf, i)
            out["error" if field == 4 else field] = buf[i:i + ln].decode()
            i += ln
        else:
            raise AnswerError(f"unexpected wire type {wire} in {buf!r}")
    out["last"] = bool(out.get("last"))
    return out


def _read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def json_response(text):
    d = json.loads(text)
    return {"result": int(d.get("result", 0)), "num": int(d.get("num", 0)),
            "last": bool(d.get("last")), "error": d.get("error")}


class Checker:
    """Checks one stream's answers: in the order sent, factors exactly as expected."""

    def __init__(self):
        self.expect = collections.deque()  # (num, [factors])
        self.got = []

    def sent(self, num, factors):
        self.expect.append((num, factors))

    def answer(self, r):
        """Takes one Response; True when it ends the oldest number, which then checks out."""
        if not self.expect:
            raise AnswerError(f"answer with no number in flight: {r}")
        num, factors = self.expect[0]
        if r.get("error") or r["num"] != num:
            raise AnswerError(f"for {num} got {r}")
        self.got.append(r["result"])
        if not r["last"]:
            return False
        if self.got != factors:
            raise AnswerError(f"{num}: factors {self.got}, want {factors}")
        self.expect.popleft()
        self.got = []
        return True


# ---- heavy clients (run in --heavy-worker processes) ------------------------

def grpc_channel(addr, i):
    import grpc.aio
    # A local subchannel pool per channel: one TCP connection each, not one shared.
    return grpc.aio.insecure_channel(addr, options=[("grpc.use_local_subchannel_pool", 1),
                                                    ("pfbench.conn", i)])


async def heavy_stream(kind, conn, nums, window, stop, stats):
    chk, sem = Checker(), asyncio.Semaphore(window)
    if kind == "grpc":
        call = conn.stream_stream(RPC)()
        send, recv = (lambda n: call.write(pb_request(n))), call.read
    else:
        send, recv = (lambda n: conn.send(str(n))), conn.recv

    async def sender():
        i = 0
        while not stop.is_set():
            await sem.acquire()
            n, p, q = nums[i % len(nums)]
            i += 1
            chk.sent(n, [p, q])
            await send(n)

    task = asyncio.ensure_future(sender())
    try:
        while not stop.is_set():
            m = await recv()
            if kind == "grpc":
                import grpc.aio
                if m is grpc.aio.EOF:
                    raise AnswerError(f"stream ended: {await call.code()} {await call.details()}")
                r = pb_response(m)
            else:
                r = json_response(m)
            if chk.answer(r):
                stats["answered"] += 1
                sem.release()
    finally:
        task.cancel()
        if kind == "grpc":
            call.cancel()


async def heavy_worker(a):
    nums = semiprimes()
    stats = {"answered": 0, "errors": []}
    stop = asyncio.Event()
    conns = []
    if a.heavy_worker == "grpc":
        conns = [grpc_channel(a.addr, i) for i in range(a.conns)]
        for ch in conns:
            await asyncio.wait_for(ch.channel_ready(), 10)
        streams = [conns[i % len(conns)] for i in range(a.streams)]
    else:
        import websockets
        for _ in range(a.streams):
            conns.append(await asyncio.wait_for(websockets.connect(
                f"ws://{a.addr}{RPC}", compression=None, ping_interval=None,
                max_queue=None, close_timeout=1), 10))
        streams = conns
    rng = random.Random(a.seed)
    tasks = []
    for conn in streams:
        off = rng.randrange(len(nums))
        tasks.append(asyncio.ensure_future(heavy_stream(
            a.heavy_worker, conn, nums[off:] + nums[:off], a.heavy_window, stop, stats)))
    print("ready", flush=True)
    t0 = time.monotonic()
    loop = asyncio.get_running_loop()
    stdin_eof = loop.run_in_executor(None, sys.stdin.read)  # the parent's "stop"
    done, _ = await asyncio.wait([stdin_eof, *tasks], timeout=a.duration,
                                 return_when=asyncio.FIRST_COMPLETED)
    elapsed = time.monotonic() - t0
    answered = stats["answered"]
    stop.set()
    for t in tasks:
        if t in done and t.exception():
            stats["errors"].append(repr(t.exception()))
        t.cancel()
    for c in conns:
        try:
            await asyncio.wait_for(c.close(), 2)
        except Exception:
            pass
    print(json.dumps({"answered": answered, "seconds": elapsed, "errors": stats["errors"]}),
          flush=True)
    os._exit(0)  # stdin reader thread would block a normal exit


# ---- light clients -----------------------------------------------------------

class LightGrpc:
    async def open(self, grpc_addr, http_addr, rounds):
        self.ch = grpc_channel(grpc_addr, -1)
        await asyncio.wait_for(self.ch.channel_ready(), 10)
        self.call = self.ch.stream_stream(RPC)()
        self.chk = Checker()

    async def rtt(self):
        self.chk.sent(360, FACTORS_360)
        await self.call.write(pb_request(360))
        while True:
            m = await self.call.read()
            if not isinstance(m, bytes):
                raise AnswerError(f"stream ended: {await self.call.code()}")
            if self.chk.answer(pb_response(m)):
                return

    async def close(self):
        self.call.cancel()
        await self.ch.close()


class LightWs:
    async def open(self, grpc_addr, http_addr, rounds):
        import websockets
        self.ws = await asyncio.wait_for(websockets.connect(
            f"ws://{http_addr}{RPC}", compression=None, ping_interval=None, close_timeout=1), 10)
        self.chk = Checker()

    async def rtt(self):
        self.chk.sent(360, FACTORS_360)
        await self.ws.send("360")
        while not self.chk.answer(json_response(await self.ws.recv())):
            pass

    async def close(self):
        await self.ws.close()


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers


class LightNdjson:
    """One POST whose body is sent one line per round trip (pfgate refuses chunked
    uploads with 411, so the Content-Length covers every round that may come)."""

    async def open(self, grpc_addr, http_addr, rounds):
        host, port = http_addr.rsplit(":", 1)
        self.r, self.w = await asyncio.open_connection(host, int(port))
        self.w.write(f"POST {RPC} HTTP/1.1\r\nHost: {http_addr}\r\n"
                     f"Content-Type: application/x-ndjson\r\n"
                     f"Content-Length: {4 * rounds}\r\n\r\n".encode())
        self.chk, self.lines, self.head = Checker(), collections.deque(), None
        self.buf = b""

    async def _line(self):
        while not self.lines:
            if self.head is None:
                status, headers = await read_head(self.r)
                if status != 200:
                    raise AnswerError(f"NDJSON POST: status {status}")
                self.head, self.chunked = headers, "chunked" in headers.get(
                    "transfer-encoding", "").lower()
                continue
            if self.chunked:
                size = int((await self.r.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    raise AnswerError("NDJSON response ended")
                data = (await self.r.readexactly(size + 2))[:-2]
            else:
                data = await self.r.read(65536)
                if not data:
                    raise AnswerError("NDJSON response ended")
            *full, self.buf = (self.buf + data).split(b"\n")
            self.lines.extend(x for x in full if x.strip())
        return self.lines.popleft()

    async def rtt(self):
        self.chk.sent(360, FACTORS_360)
        self.w.write(b"360\n")
        while not self.chk.answer(json_response(await self._line())):
            pass

    async def close(self):
        self.w.close()


class LightHealthz:
    """A new connection per probe, `Connection: close`, as curl or a kubelet does."""

    async def open(self, grpc_addr, http_addr, rounds):
        self.addr = http_addr

    async def rtt(self):
        host, port = self.addr.rsplit(":", 1)
        r, w = await asyncio.open_connection(host, int(port))
        try:
            w.write(f"GET /healthz HTTP/1.1\r\nHost: {self.addr}\r\n"
                    f"Connection: close\r\n\r\n".encode())
            status, headers = await read_head(r)
            body = await r.readexactly(int(headers["content-length"]))
            if status != 200 or json.loads(body) != {"status": "SERVING"}:
                raise AnswerError(f"/healthz: {status} {body!r}")
        finally:
            w.close()

    async def close(self):
        pass


LIGHT_CLASSES = {"grpc": LightGrpc, "ws": LightWs, "ndjson": LightNdjson,
                 "healthz": LightHealthz}


async def light_run(kind, grpc_addr, http_addr, a):
    """Round trip times (s) of one light client, one every a.interval for a.seconds."""
    rounds = int(a.seconds / a.interval) + 2
    c = LIGHT_CLASSES[kind]()
    await asyncio.wait_for(c.open(grpc_addr, http_addr, rounds), 10)
    samples, timeouts = [], 0
    t0 = time.perf_counter()
    try:
        for k in range(rounds):
            t = time.perf_counter()
            if t - t0 >= a.seconds:
                break
            try:
                await asyncio.wait_for(c.rtt(), a.timeout)
            except asyncio.TimeoutError:
                timeouts += 1
                break  # the stream's state is unknown now: stop this client
            samples.append(time.perf_counter() - t)
            # Next send on the 10 ms grid; ticks missed while waiting are skipped.
            now = time.perf_counter()
            nxt = t0 + a.interval * (int((now - t0) / a.interval) + 1)
            await asyncio.sleep(max(0.0, nxt - now))
    finally:
        try:
            await asyncio.wait_for(c.close(), 2)
        except Exception:
            pass
    return samples, timeouts


# ---- processes ---------------------------------------------------------------

PROCS = []


async def spawn(*argv, **kw):
    p = await asyncio.create_subprocess_exec(*argv, **kw)
    PROCS.append(p)
    return p


def kill_all():
    for p in PROCS:
        if p.returncode is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


async def stop_proc(p, grace=5):
    if p.returncode is None:
        try:
            p.terminate()
            await asyncio.wait_for(p.wait(), grace)
        except (asyncio.TimeoutError, ProcessLookupError):
            p.kill()
            await p.wait()
    PROCS.remove(p)


async def start_pfgate(binary, a, log):
    p = await spawn(binary, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
                    *a.pfgate_args.split(), stdout=asyncio.subprocess.PIPE, stderr=log)
    line = (await asyncio.wait_for(p.stdout.readline(), 10)).decode()
    f = dict(x.split("=", 1) for x in line.split()[1:])
    if not line.startswith("listening ") or "grpc" not in f:
        raise RuntimeError(f"{binary}: no listening line, got {line!r}")
    return p, f["grpc"], f["http"]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def heavy_split(a):
    """Heavy clients per kind: half and half, or all of one kind (--heavy-mix)."""
    if a.heavy_mix == "both":
        return {"grpc": a.heavy // 2, "ws": a.heavy - a.heavy // 2}
    return {a.heavy_mix: a.heavy}


async def start_heavy(a, grpc_addr, http_addr):
    """Heavy worker processes, started and 'ready' (all streams open)."""
    per_kind = heavy_split(a)
    conns = min(8, per_kind.get("grpc", 0))
    procs = []
    for kind, total in per_kind.items():
        nproc = max(1, min(a.heavy_procs, total))
        for j in range(nproc):
            streams = total // nproc + (j < total % nproc)
            c = conns // nproc + (j < conns % nproc) if kind == "grpc" else 0
            if streams == 0:
                continue
            addr = grpc_addr if kind == "grpc" else http_addr
            if kind == "grpc" and a.c_client:
                # Runs until stopped; its own check is seen in c_client_selfcheck.
                p = await spawn(a.c_client, addr, "--streams", str(streams), "--conns",
                                str(max(1, c)), "--numbers", "1000000000", "--window",
                                str(a.heavy_window), stdout=asyncio.subprocess.DEVNULL,
                                stderr=asyncio.subprocess.PIPE)
                p.c_client = True
                procs.append(p)
                continue
            p = await spawn(sys.executable, os.path.abspath(__file__), "--heavy-worker", kind,
                            "--addr", addr, "--streams", str(streams), "--conns", str(max(1, c)),
                            "--heavy-window", str(a.heavy_window), "--seed", str(j),
                            "--duration", str(a.seconds + a.timeout + a.warmup + 30),
                            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            procs.append(p)
    for p in procs:
        if getattr(p, "c_client", False):
            continue
        line = await asyncio.wait_for(p.stdout.readline(), 30)
        if line.strip() != b"ready":
            raise RuntimeError(f"heavy worker did not start: {line!r}")
    return procs


async def stop_heavy(procs):
    answered, seconds, errors = 0, 0.0, []
    for p in procs:
        if getattr(p, "c_client", False):
            if p.returncode is not None:
                errors.append(f"C gRPC client ended early: {p.returncode} "
                              f"{(await p.stderr.read())[-300:]!r}")
            await stop_proc(p)
        else:
            p.stdin.close()
    for p in procs:
        if getattr(p, "c_client", False):
            continue
        try:
            line = await asyncio.wait_for(p.stdout.readline(), 10)
            r = json.loads(line)
            answered += r["answered"]
            seconds = max(seconds, r["seconds"])
            errors += r["errors"]
        except (asyncio.TimeoutError, ValueError) as e:
            errors.append(f"heavy worker gave no result: {e!r}")
        await stop_proc(p)
    return answered, seconds, errors


def build_c_client(a):
    """BUILD/bench/grpc_semiprime_load (grpc_load with semiprimes, the Makefile's), or None."""
    out = os.path.join(a.build, "bench", "grpc_semiprime_load")
    try:
        subprocess.run(["make", "-s", f"BUILD={a.build}", out], check=True, timeout=180)
    except (subprocess.SubprocessError, OSError) as e:
        print(f"# no C gRPC load client ({e}); heavy gRPC clients are Python", file=sys.stderr)
        return None
    return out


async def c_client_selfcheck(a, binary, log):
    """The C client's answers, checked once: killed at a cell's end, it reports nothing."""
    pf, grpc_addr, _ = await start_pfgate(binary, a, log)
    try:
        p = await spawn(a.c_client, grpc_addr, "--streams", "8", "--conns", "2", "--numbers",
                        "500", "--window", "50", stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.STDOUT)
        out = await asyncio.wait_for(p.stdout.read(), 60)
        await p.wait()
        PROCS.remove(p)
        if p.returncode != 0:
            raise SystemExit(f"fairness: C gRPC client self-check failed: {out[-300:]!r}")
    finally:
        await stop_proc(pf)


async def measure(binary, kind, heavy, a, log):
    """One cell on one binary: (samples, timeouts, heavy num/s, pfgate CPU %, errors)."""
    pf, grpc_addr, http_addr = await start_pfgate(binary, a, log)
    hprocs, errors, rate = [], [], None
    try:
        if heavy:
            hprocs = await start_heavy(a, grpc_addr, http_addr)
            await asyncio.sleep(a.warmup)
        cpu0, t0 = cpu_seconds(pf.pid), time.monotonic()
        try:
            samples, timeouts = await light_run(kind, grpc_addr, http_addr, a)
        except Exception as e:  # a wrong answer, a closed stream, a refused connection
            samples, timeouts = [], 0
            errors.append(f"light {kind}: {e!r}")
        cpu = 100 * (cpu_seconds(pf.pid) - cpu0) / (time.monotonic() - t0)
        if hprocs:
            answered, secs, herr = await stop_heavy(hprocs)
            errors += herr
            rate = answered / secs if secs else 0
    finally:
        for p in hprocs:
            if p in PROCS:
                await stop_proc(p)
        await stop_proc(pf)
    return samples, timeouts, rate, cpu, errors


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else None


def target(kind, samples, timeouts):
    """Issue 14's bound on the light p99 under load, and whether it was met."""
    bound = P99_TARGET[kind]
    p99 = pct(samples, .99)
    met = p99 is not None and not timeouts and p99 <= bound
    return f"<= {bound * 1000:.0f} ms: {'met' if met else 'NOT met'}"


def ms(x):
    if x is None:
        return "—"
    x *= 1000
    return f"{x:,.0f} ms" if x >= 100 else f"{x:.1f} ms" if x >= 10 else f"{x:.2f} ms"


async def bench(a):
    nums = semiprimes()
    verify_with_gnu_factor(nums[:8])
    os.makedirs(a.out, exist_ok=True)
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: fairness.py "
          + " ".join(sys.argv[1:]), file=sys.stderr, flush=True)
    log = open(os.path.join(a.out, "fairness-pfgate.err"), "wb")
    split = heavy_split(a)
    heavy_label = " + ".join(
        f"{n} gRPC streams on {min(8, n)} conns" if k == "grpc" else f"{n} WebSockets"
        for k, n in split.items() if n)
    a.c_client = build_c_client(a) if a.heavy_grpc == "c" else None
    if a.c_client:
        await c_client_selfcheck(a, a.pfgate[0][1], log)
    cells = [(k, h) for k in a.light.split(",") for h in (False, True)]
    res = {(k, h, b): [[], 0, [], []] for k, h in cells for b in a.pfgate}
    failed = []
    order = list(a.pfgate)
    for rnd in range(a.rounds):
        for kind, heavy in cells:
            for b in order:
                s, to, rate, cpu, errs = await measure(b[1], kind, heavy, a, log)
                r = res[(kind, heavy, b)]
                r[0] += s
                r[1] += to
                r[2].append(rate)
                r[3].append(cpu)
                failed += [f"{b[0]} {kind} heavy={heavy}: {e}" for e in errs]
                print(f"# round {rnd + 1} {LIGHT_NAMES[kind]} heavy={heavy} {b[0]}: "
                      f"p50 {ms(pct(s, .5))} p99 {ms(pct(s, .99))} n={len(s)} "
                      f"timeouts={to} heavy num/s={rate and round(rate)} cpu={cpu:.0f}%",
                      file=sys.stderr, flush=True)
            order.reverse()
    hcol = "heavy num/s" + (" (WebSockets)" if a.c_client and split.get("ws") else "")
    lines = ["| light client on | heavy load | pfgate | light round trip p50 / p99 (samples)"
             f" | {hcol} | pfgate CPU | p99 target |", "|---|---|---|---|---:|---:|---|"]
    for kind, heavy in cells:
        for b in a.pfgate:
            s, to, rates, cpus = res[(kind, heavy, b)]
            rt = f"{ms(pct(s, .5))} / {ms(pct(s, .99))} ({len(s)})"
            if to:
                rt += f", {to} timed out (>{a.timeout:g} s)"
            rate = "—" if not heavy or a.c_client and not split.get("ws") else \
                f"{sum(rates) / len(rates):,.0f}"
            lines.append(f"| {LIGHT_NAMES[kind]} | {heavy_label if heavy else 'none'} | {b[0]} "
                         f"| {rt} | {rate} | {sum(cpus) / len(cpus):.0f}% "
                         f"| {target(kind, s, to) if heavy else ''} |")
    print("\n".join(lines))
    for f in failed:
        print("FAILED:", f, file=sys.stderr)
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pfgate", action="append", metavar="[NAME=]PATH",
                    help="pfgate binary (repeat to compare; default build/pfgate)")
    ap.add_argument("--pfgate-args", default="", help="extra pfgate flags, space-separated")
    ap.add_argument("--seconds", type=float, default=5, help="light client time per cell")
    ap.add_argument("--heavy", type=int, default=64, help="heavy clients (half gRPC, half WS)")
    ap.add_argument("--heavy-window", type=int, default=100, help="numbers in flight per heavy "
                    "stream")
    ap.add_argument("--heavy-mix", choices=("both", "grpc", "ws"), default="both",
                    help="heavy clients: half gRPC half WebSocket, or one kind")
    ap.add_argument("--heavy-grpc", choices=("c", "python"), default="c",
                    help="heavy gRPC client: bench/grpc_semiprime_load.c (built into "
                    "BUILD/bench) or Python grpc.aio")
    ap.add_argument("--build", default="build", help="build directory (for the C client)")
    ap.add_argument("--heavy-procs", type=int, default=1, help="processes per heavy kind")
    ap.add_argument("--light", default=",".join(LIGHTS), help="light clients to measure")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--interval", type=float, default=0.010, help="light send period (s)")
    ap.add_argument("--timeout", type=float, default=5, help="bound on one light round trip")
    ap.add_argument("--warmup", type=float, default=1, help="heavy load before measuring (s)")
    ap.add_argument("--out", default="build/bench", help="directory for pfgate's stderr")
    # internal: one heavy-client process
    ap.add_argument("--heavy-worker", choices=("grpc", "ws"), help=argparse.SUPPRESS)
    ap.add_argument("--addr", help=argparse.SUPPRESS)
    ap.add_argument("--streams", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--conns", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.heavy_worker:
        asyncio.run(heavy_worker(a))
        return 0
    # (label, path); a path given twice gets #2, so that A/A runs show the noise.
    named = [x.split("=", 1) if "=" in x else [x, x] for x in a.pfgate or ["build/pfgate"]]
    a.pfgate = [(f"{n}#{i + 1}" if [m for m, _ in named].count(n) > 1 else n, p)
                for i, (n, p) in enumerate(named)]
    for k in a.light.split(","):
        if k not in LIGHTS:
            ap.error(f"--light: {k} is not one of {','.join(LIGHTS)}")
    for _, b in a.pfgate:
        if not os.access(b, os.X_OK):
            ap.error(f"{b} is not an executable")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    try:
        return asyncio.run(bench(a))
    finally:
        kill_all()


if __name__ == "__main__":
    sys.exit(main())
