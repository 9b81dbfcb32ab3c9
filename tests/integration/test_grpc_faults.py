"""gRPC failure paths that no client can cause, reached with an LD_PRELOAD shim
(fault_shim.c, built here): pfgate's own allocations failing (oom.md: a visible
RESOURCE_EXHAUSTED, never a silently dropped number or a hung call), and grpc core
stuck in a write at shutdown (a bounded wait, an error line, exit status 1).

The shim cannot sit under ASan (its runtime must come first and owns malloc): these
tests skip the ASan build."""
import os
import re
import subprocess
import time

import grpc
import pytest

from conftest import pfgate_path
from pfutil import HeldRequests, drain, expected, run_stream, tup

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    if b"libasan" in subprocess.run(["ldd", pfgate_path()], capture_output=True).stdout:
        pytest.skip("LD_PRELOAD shim under ASan")
    so = str(tmp_path_factory.mktemp("shim") / "fault_shim.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", so, os.path.join(HERE, "fault_shim.c")],
                   check=True, capture_output=True, timeout=60)
    return so


def ranges(*functions):
    """START-END offsets of those functions in the pfgate binary that has them."""
    out = subprocess.run(["nm", "-S", pfgate_path()], capture_output=True, text=True,
                         check=True).stdout
    found = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[3] in functions and f[2] in "tT":
            start, size = int(f[0], 16), int(f[1], 16)
            found.append(f"{start:x}-{start + size:x}")
    assert found, f"none of {functions} in {pfgate_path()}"
    return ",".join(found)


def shim_env(so, **env):
    return ["env", f"LD_PRELOAD={so}"] + [f"PF_SHIM_{k}={v}" for k, v in env.items()]


def stub_for(srv, pb):
    ch = grpc.insecure_channel(srv.grpc)
    grpc.channel_ready_future(ch).result(timeout=5)
    return ch, pb.pb_grpc.FactorsStub(ch)


@pytest.mark.parametrize("functions", [
    ("pf_stream_push", "grow"),  # the stream's queue cannot grow: the first number finds no room
    ("pf_stream_new",),          # the call has no stream at all
], ids=["push", "stream_new"])
def test_out_of_memory_ends_the_stream_resource_exhausted(pfgate_factory, pb, shim, tmp_path,
                                                          functions):
    fail = tmp_path / "fail"
    srv = pfgate_factory("--threads", "1", prefix=shim_env(
        shim, FAIL_FILE=fail, FAIL_RANGES=ranges(*functions)))
    ch, stub = stub_for(srv, pb)
    try:
        fail.touch()
        r = run_stream(stub, pb, [12, 35], timeout=10)
        assert (r.code, r.details, r.tuples) == (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                                 "out of memory", [])
        fail.unlink()
        r = run_stream(stub, pb, [12, 35], timeout=10)
        assert (r.code, r.tuples) == (grpc.StatusCode.OK, expected([12, 35]))
    finally:
        ch.close()


def test_call_struct_out_of_memory_does_not_hang_the_next_call(pfgate_factory, pb, shim,
                                                                tmp_path):
    fail = tmp_path / "fail"
    srv = pfgate_factory("--threads", "1", prefix=shim_env(
        shim, FAIL_FILE=fail, FAIL_RANGES=ranges("request_call", "pf_grpc_call_new")))
    ch, stub = stub_for(srv, pb)
    held = HeldRequests([pb.Request(num=12)], hold=15)
    try:
        fail.touch()  # the request for the call after this one finds no memory
        first = stub.PrimeFactors(iter(held), timeout=20)
        assert [tup(next(first)) for _ in range(3)] == expected([12])
        fail.unlink()
        # The first stream is still open: the next must be served all the same.
        r = run_stream(stub, pb, [35], timeout=3)
        assert (r.code, r.tuples) == (grpc.StatusCode.OK, expected([35]))
        held.release()
        assert (drain(first).code) == grpc.StatusCode.OK
    finally:
        held.release()
        ch.close()


def test_shutdown_bounded_when_grpc_core_hangs(pfgate_factory, pb, shim, tmp_path):
    stall = tmp_path / "stall"
    srv = pfgate_factory("--threads", "1", "--drain-timeout", "0.5",
                         prefix=shim_env(shim, STALL_FILE=stall))
    ch, stub = stub_for(srv, pb)
    held = HeldRequests([pb.Request(num=12), pb.Request(num=35)], hold=30)
    try:
        stall.touch()  # grpc's next write never returns
        call = stub.PrimeFactors(iter(held), timeout=30)
        held.all_sent.wait(5)
        time.sleep(0.3)
        srv.signal()
        rc, took = srv.wait(15)
        assert rc == 1, f"pfgate did not exit 1 within 15 s of SIGTERM (rc {rc})\n{srv.log_tail()}"
        log = open(srv.log_path).read()
        assert re.search(r"grpc: the server did not shut down within \d+ s", log), log
        assert "grpc core did not shut down: exiting with status 1" in log, log
        call.cancel()
    finally:
        held.release()
        srv.kill()
        ch.close()
