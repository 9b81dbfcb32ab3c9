"""Out of memory on the HTTP paths, NDJSON POST and GET /v1/factors/N: the out-of-memory
contract of every front end (every answer or a visible failure, never a silent loss).

Allocations are failed by an LD_PRELOAD shim (fail_alloc.c) that fails every malloc/calloc of
one size while a file exists; each size below is one of pf_stream's (core/stream.c). Not under
ASan or valgrind, which bring their own allocator."""
import os
import subprocess
from pathlib import Path

import pytest

from pfhttp import (NDJSON_PATH, Closed, compare_answers, connect, expected_answers, http_get_raw,
                    http_raw, ndjson_lines, read_http_head, SockReader)

HERE = Path(__file__).resolve().parent
# sizeof(struct pf_stream): 5 words, a bool (padded to 8), 2 words, 64 factors.
STREAM_STRUCT = 576
# sizeof(pf_request) is 24; the ring doubles from 8 slots.
RING_OF_1 = 8 * 24          # the first push into any stream (GET's only one)
RING_OF_256 = 256 * 24      # the 129th request held at once
# jansson's lexer buffer (STRBUFFER_MIN_SIZE), taken for every JSON text it parses.
JANSSON_STRBUFFER = 16
OOM = {"last": True, "error": "out of memory"}


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    if "ASAN_OPTIONS" in os.environ or "PFGATE_VALGRIND" in os.environ:
        pytest.skip("the shim replaces malloc, which ASan and valgrind own")
    so = tmp_path_factory.mktemp("fail_alloc") / "fail_alloc.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(so), str(HERE / "fail_alloc.c")],
                   check=True)
    return so


class Failing:
    def __init__(self, pfgate_factory, shim, tmp_path, size):
        self.armed = tmp_path / "armed"
        self.srv = pfgate_factory(prefix=("env", f"LD_PRELOAD={shim}", f"PF_FAIL_SIZE={size}",
                                          f"PF_FAIL_ARMED={self.armed}"))

    def __enter__(self):
        self.armed.touch()
        return self.srv

    def __exit__(self, *exc):
        self.armed.unlink()


def post(srv, nums, timeout=10):
    body = b"".join(str(n).encode() + b"\n" for n in nums)
    return http_raw(srv.http, b"POST " + NDJSON_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body, timeout)


def still_serves(srv):
    r = post(srv, [360, 97])
    assert r.status == 200
    assert compare_answers(ndjson_lines(r.body), expected_answers([360, 97])) is None
    r = http_get_raw(srv.http, "/v1/factors/360", timeout=5)
    assert (r.status, r.json()) == (200, {"num": "360", "factors": ["2", "2", "2", "3", "3", "5"]})
    assert srv.alive()


def test_ndjson_out_of_memory_mid_stream_answers_then_says_so(pfgate_factory, shim, tmp_path):
    """The stream cannot grow past 128 held requests: the 128 taken are answered, then one line
    {"last":true,"error":"out of memory"}, then the response ends."""
    nums = [1000003 + 2 * k for k in range(300)]
    f = Failing(pfgate_factory, shim, tmp_path, RING_OF_256)
    with f as srv:
        r = post(srv, nums)
    assert r.status == 200
    got = ndjson_lines(r.body)
    assert got and got[-1] == OOM, f"the last line is {got[-1:]!r}, expected {OOM}"
    answered = sum(1 for a in got[:-1] if a.get("last"))
    assert 0 < answered < len(nums), f"{answered} numbers answered"
    msg = compare_answers(got[:-1], expected_answers(nums[:answered]), "answers before the error")
    assert msg is None, msg
    still_serves(srv)


def test_ndjson_out_of_memory_in_the_json_decoder_fails_the_stream(pfgate_factory, shim, tmp_path):
    """A JSON line that cannot be decoded for want of memory is not "not valid JSON": the bare
    number before it is answered, then the out-of-memory line ends the stream."""
    f = Failing(pfgate_factory, shim, tmp_path, JANSSON_STRBUFFER)
    with f as srv:
        r = post(srv, [97, '{"num":360}', 12])
    assert r.status == 200
    got = ndjson_lines(r.body)
    assert got == [{"result": "97", "num": "97", "last": True}, OOM]
    still_serves(srv)


def test_ndjson_out_of_memory_before_the_response_is_503(pfgate_factory, shim, tmp_path):
    with Failing(pfgate_factory, shim, tmp_path, STREAM_STRUCT) as srv:
        r = post(srv, [360])
    assert (r.status, r.json()) == (503, {"error": "out of memory"})
    still_serves(srv)


@pytest.mark.parametrize("size", [STREAM_STRUCT, RING_OF_1], ids=["stream", "push"])
def test_get_factors_out_of_memory_is_503(pfgate_factory, shim, tmp_path, size):
    with Failing(pfgate_factory, shim, tmp_path, size) as srv:
        r = http_get_raw(srv.http, "/v1/factors/360", timeout=5)
    assert (r.status, r.json()) == (503, {"error": "out of memory"})
    still_serves(srv)
