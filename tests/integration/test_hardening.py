"""pfgate runs under the sandbox of deploy/pfgate.service where it can be reproduced without
systemd: MemoryDenyWriteExecute= is the kernel's PR_SET_MDWE (Linux 6.3+, kept across exec),
which refuses writable-and-executable mappings and making a mapping executable later."""
import subprocess

import grpc
import pytest

from conftest import PYTHON, pfgate_path
from pfhttp import http_get_raw

PR_SET_MDWE, PR_GET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 66, 1
# Sets MDWE on itself, then execs pfgate with it.
MDWE_EXEC = ("import ctypes, os, sys\n"
             "libc = ctypes.CDLL(None, use_errno=True)\n"
             f"if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:\n"
             "    sys.exit('PR_SET_MDWE: ' + os.strerror(ctypes.get_errno()))\n"
             "os.execv(sys.argv[1], sys.argv[1:])\n")


def _kernel_has_mdwe():
    r = subprocess.run([PYTHON, "-c", MDWE_EXEC, PYTHON, "-c",
                        f"import ctypes; print(ctypes.CDLL(None).prctl({PR_GET_MDWE}, 0, 0, 0, 0))"],
                       capture_output=True, text=True, timeout=30)
    return r.returncode == 0 and r.stdout.strip() == str(PR_MDWE_REFUSE_EXEC_GAIN)


def test_stack_is_not_executable():
    # An executable stack would need mprotect(PROT_EXEC), which MemoryDenyWriteExecute= refuses.
    r = subprocess.run(["readelf", "-lW", pfgate_path()], capture_output=True, text=True)
    stack = [line.split() for line in r.stdout.splitlines() if "GNU_STACK" in line]
    assert len(stack) == 1 and stack[0][-2] == "RW", r.stdout


@pytest.mark.skipif(not _kernel_has_mdwe(), reason="kernel without PR_SET_MDWE (Linux < 6.3)")
def test_serves_every_front_end_under_memory_deny_write_execute(pfgate_factory, pb):
    srv = pfgate_factory(prefix=[PYTHON, "-c", MDWE_EXEC])
    assert http_get_raw(srv.http, "/v1/factors/360").json() == \
        {"num": "360", "factors": ["2", "2", "2", "3", "3", "5"]}
    assert http_get_raw(srv.http, "/").status == 200
    with grpc.insecure_channel(srv.grpc) as ch:
        answers = pb.pb_grpc.FactorsStub(ch).PrimeFactors(iter([pb.Request(num=360)]), timeout=10)
        assert [(a.num, a.result, a.last) for a in answers] == \
            [(360, 2, False), (360, 2, False), (360, 2, False), (360, 3, False), (360, 3, False),
             (360, 5, True)]
    log = srv.log_text()
    assert "pfgate error" not in log and "pfgate warn" not in log, log
