"""A second, independent gRPC implementation as the client: Node's @grpc/grpc-js with
@grpc/proto-loader (tests/node/grpc_client.js). Its answers must be exact and equal, field for
field, to what the Python (grpc core) client gets for the same numbers."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest

from pfutil import INT64_MAX, INT64_MIN, expected, run_stream

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
CLIENT = NODE_DIR / "grpc_client.js"

pytestmark = pytest.mark.skipif(
    not (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir(),
    reason="tests/node/node_modules is missing: run `make deps` (npm ci in tests/node)")


def node_stream(addr, nums, timeout=25):
    node = shutil.which("node")
    assert node, "node is not on PATH"
    env = dict(os.environ, PFGATE_NODE_DEADLINE_MS="15000")
    try:
        r = subprocess.run([node, str(CLIENT), addr, *[str(n) for n in nums]], capture_output=True,
                           text=True, timeout=timeout, env=env, cwd=NODE_DIR)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"node client did not finish in {timeout}s: {e.stderr!r}", pytrace=False)
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    status = lines.pop() if lines and "status" in lines[-1] else None
    return r.returncode, lines, status, r.stderr


def as_tuples(lines):
    return [(int(m["result"]), int(m["num"]), m["last"], bool(m["error"])) for m in lines]


NUMS = [360, 97, 0, 1, -5, INT64_MAX, INT64_MIN, 9223372036854775783, 2**62, 1001, -1, 65536]


def test_node_client_exact(pfgate):
    rc, lines, status, err = node_stream(pfgate.grpc, NUMS)
    assert rc == 0, f"node client: exit {rc}, {err.strip()}"
    assert status is not None and status["status"] == 0, status
    assert as_tuples(lines) == expected(NUMS)
    by = {}
    for m in lines:
        by.setdefault(m["num"], []).append(m)
    # int64 stays exact as strings through a JavaScript client
    assert [m["result"] for m in by["9223372036854775807"]] == \
        ["7", "7", "73", "127", "337", "92737", "649657"]
    assert [m["last"] for m in by["9223372036854775807"]] == [False] * 6 + [True]
    assert by["-9223372036854775808"][0]["error"] != ""
    assert by["-5"] == [{"result": "0", "num": "-5", "last": True, "error": by["-5"][0]["error"]}]
    assert by["-5"][0]["error"]


def test_node_and_python_clients_agree(pfgate, stub, pb):
    nums = NUMS + list(range(2, 300))
    rc, lines, status, err = node_stream(pfgate.grpc, nums)
    assert rc == 0, f"node client: exit {rc}, {err.strip()}"
    res = run_stream(stub, pb, nums, timeout=15)
    assert res.code == grpc.StatusCode.OK, (res.code, res.details)
    py = [(str(r.result), str(r.num), r.last, r.error) for r in res.responses]
    js = [(m["result"], m["num"], m["last"], m["error"]) for m in lines]
    assert js == py


@pytest.mark.parametrize("n", [360, 12, 2, 1, -5, INT64_MAX])
def test_node_single_number_stream(pfgate, n):
    """One number, then the half-close right behind it (grpc-js sends both at once)."""
    rc, lines, status, err = node_stream(pfgate.grpc, [n])
    assert rc == 0, f"node client, single number {n}: exit {rc}, {err.strip()}"
    assert as_tuples(lines) == expected([n])


def test_node_empty_stream(pfgate):
    rc, lines, status, err = node_stream(pfgate.grpc, [])
    assert rc == 0, f"node client, empty stream: exit {rc}, {err.strip()}"
    assert lines == []


def test_node_many_numbers(pfgate):
    nums = list(range(2, 3002))
    rc, lines, status, err = node_stream(pfgate.grpc, nums)
    assert rc == 0, f"node client: exit {rc}, {err.strip()}"
    assert as_tuples(lines) == expected(nums)
