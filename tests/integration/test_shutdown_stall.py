"""Shutdown when grpc core cannot finish: grpc stuck in a write (sendmsg never returns,
through the LD_PRELOAD shim stall_sendmsg.c, built here) must not hang pfgate's exit: a bounded
wait, an error line, exit status 1.

ASan's runtime must come first in the library list, before any preloaded one: these tests
skip the ASan build."""
import os
import re
import subprocess
import time

import grpc
import pytest

from conftest import pfgate_path
from pfutil import HeldRequests

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def stall_so(tmp_path_factory):
    if b"libasan" in subprocess.run(["ldd", pfgate_path()], capture_output=True).stdout:
        pytest.skip("LD_PRELOAD shim under ASan")
    so = str(tmp_path_factory.mktemp("shim") / "stall_sendmsg.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", so,
                    os.path.join(HERE, "stall_sendmsg.c")],
                   check=True, capture_output=True, timeout=60)
    return so


def test_shutdown_bounded_when_grpc_core_hangs(pfgate_factory, pb, stall_so, tmp_path):
    stall = tmp_path / "stall"
    srv = pfgate_factory("--threads", "1", "--drain-timeout", "0.5",
                         prefix=["env", f"LD_PRELOAD={stall_so}", f"PF_STALL_FILE={stall}"])
    ch = grpc.insecure_channel(srv.grpc)
    grpc.channel_ready_future(ch).result(timeout=5)
    stub = pb.pb_grpc.FactorsStub(ch)
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
