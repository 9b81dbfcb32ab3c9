"""The benchmark's load clients (bench/grpc_load.c, bench/ws_load.c and their semiprime and
uniform variants) against the real pfgate.

`make bench` reports what they measure, so they must finish with every number answered and
every answer checked, whatever the window: a run of hinted gRPC sends that is never flushed
would hang, and a wrong or lost answer must fail the run, not only slow it down.
"""
import asyncio
import os
import re
import socket
import subprocess
import threading
import time
from concurrent import futures

import grpc
import pytest
import websockets

from conftest import REPO

BUILD = REPO / os.environ.get("BUILD", "build")
LINE_RE = re.compile(r"^numbers=(\d+) .*numbers_per_s=\d+ answers_per_s=(\d+)", re.M)


def run_load(exe, *args):
    path = BUILD / exe
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing (make {path.relative_to(REPO)})", pytrace=False)
    r = subprocess.run([str(path), *map(str, args)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{exe} {args}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    m = LINE_RE.search(r.stdout)
    assert m, f"{exe} printed no result line: {r.stdout!r}"
    return int(m.group(1))


@pytest.mark.parametrize("window", [1, 3, 4, 100])
def test_grpc_load_answers_every_number_whatever_the_window(pfgate, window):
    assert run_load("grpc_load", pfgate.grpc, "--streams", 5, "--conns", 2, "--numbers", 301,
                    "--window", window) == 5 * 301


def test_grpc_load_at_a_fixed_rate(pfgate):
    assert run_load("grpc_load", pfgate.grpc, "--numbers", 200, "--rate", 2000) == 200


def test_grpc_load_from_large_numbers(pfgate):
    assert run_load("grpc_load", pfgate.grpc, "--numbers", 500, "--window", 50,
                    "--start", 2**63 - 500) == 500


@pytest.mark.parametrize("window", [1, 32])
def test_ws_load_answers_every_number(pfgate, window):
    url = f"ws://{pfgate.http}/primefactor.Factors/PrimeFactors"
    assert run_load("ws_load", url, "--conns", 3, "--numbers", 301, "--window", window,
                    "--start", 2**63 - 301) == 3 * 301


@pytest.mark.parametrize("kind", ["semiprime", "uniform"])
def test_number_swapping_clients_answer_every_number(pfgate, kind):
    """bench/{grpc,ws}_{semiprime,uniform}_load send other numbers than X, X+1, ...; each
    checks pfgate's answers against the numbers it sent, so a swap on one side only fails."""
    assert run_load(f"bench/grpc_{kind}_load", pfgate.grpc, "--streams", 3, "--conns", 2,
                    "--numbers", 200, "--window", 16) == 3 * 200
    url = f"ws://{pfgate.http}/primefactor.Factors/PrimeFactors"
    assert run_load(f"bench/ws_{kind}_load", url, "--conns", 3, "--numbers", 200,
                    "--window", 16) == 3 * 200


def test_load_clients_take_error_and_zero_answers(pfgate):
    """Counting from -1: an error answer, then {num: 0, last} and {num: 1, last}."""
    assert run_load("grpc_load", pfgate.grpc, "--numbers", 10, "--start", -1) == 10
    url = f"ws://{pfgate.http}/primefactor.Factors/PrimeFactors"
    assert run_load("ws_load", url, "--numbers", 10, "--start", -1) == 10


# ---- the check can fail: a server that loses one factor of 12 -----------------------------

def factors(n):
    out, d = [], 2
    while d * d <= n:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    if n > 1:
        out.append(n)
    return out


def factors_losing_one_of_12(n):
    return [2, 3] if n == 12 else factors(n)


def run_load_expecting_failure(exe, *args):
    r = subprocess.run([str(BUILD / exe), *map(str, args)], capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stderr


def serve_factors(pb, answers_for, copies=1):
    """A grpcio Factors server that answers each number with answers_for(num), copies times."""
    class Factors(pb.pb_grpc.FactorsServicer):
        def PrimeFactors(self, requests, context):
            for req in requests:
                fs = answers_for(req.num)
                for _ in range(copies):
                    for i, f in enumerate(fs):
                        yield pb.Response(result=f, num=req.num, last=i == len(fs) - 1)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb.pb_grpc.add_FactorsServicer_to_server(Factors(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


def test_grpc_load_fails_on_a_lost_factor(pb):
    server, addr = serve_factors(pb, factors_losing_one_of_12)
    try:
        rc, err = run_load_expecting_failure("grpc_load", addr, "--numbers", 20)
    finally:
        server.stop(None)
    assert rc == 1 and "1 wrong answers" in err, (rc, err)


def test_grpc_load_fails_on_answers_to_numbers_not_sent(pb):
    """Every number answered twice: more final answers than numbers sent must count as wrong,
    not run past the client's per-number arrays (ASan checks that under SANITIZE=1)."""
    server, addr = serve_factors(pb, factors, copies=2)
    try:
        rc, err = run_load_expecting_failure("grpc_load", addr, "--numbers", 20, "--window", 20)
    finally:
        server.stop(None)
    assert rc == 1 and "wrong answers" in err, (rc, err)


def test_ws_load_fails_on_a_lost_factor():
    async def answer(ws, _path=None):
        async for frame in ws:
            n = int(frame)
            fs = factors_losing_one_of_12(n)
            for i, f in enumerate(fs):
                # Compact JSON, as pfgate and node write it (ws_load reads no other).
                last = ',"last":true' if i == len(fs) - 1 else ""
                await ws.send(f'{{"num":"{n}","result":"{f}"{last}}}')

    async def start():
        return await websockets.serve(answer, "127.0.0.1", 0)

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(start())
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        rc, err = run_load_expecting_failure("ws_load", f"ws://127.0.0.1:{port}/", "--numbers",
                                             20, "--timeout", 10)
    finally:
        async def stop():
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
    assert rc == 1 and "wrong answer for 12" in err, (rc, err)


def test_ws_load_keeps_its_timeout_against_a_silent_server():
    """A server that accepts and never answers the handshake: ws_load gives up at --timeout,
    not at libwebsockets' own 30 s handshake timeout."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        t0 = time.monotonic()
        rc, err = run_load_expecting_failure("ws_load", f"ws://127.0.0.1:{port}/", "--numbers",
                                             5, "--timeout", 1)
        took = time.monotonic() - t0
    assert rc == 1 and "timed out" in err, (rc, err)
    assert took < 5, f"ws_load took {took:.1f} s to give up after --timeout 1"
