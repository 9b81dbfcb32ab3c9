"""One core, four front ends (SPEC: "the same input gives the same answer on every front end").

The same deterministic mix of int64 numbers (hard semiprimes, prime squares, primes near 2^63,
powers of two, 0, 1, negatives, INT64_MIN/MAX) goes through gRPC, WebSocket, NDJSON and
/v1/factors. gRPC answers, written in the proto3 JSON mapping, must equal the WebSocket and
NDJSON answers message for message; /v1 must give the same factor lists and error texts.
All are checked against GNU factor.
"""
import http.client
import json
import math
import random

import pytest

from pfhttp import (INT64_MAX, INT64_MIN, NDJSON_PATH, PRIME_NEAR_2_63, RawWS, compare_answers,
                    curl, expected_answers, factors_of, gnu_factor, hard_semiprimes,
                    ndjson_lines, parse_json_text, prev_prime, next_prime)


def number_mix():
    rng = random.Random(20240601)
    p_sqrt = prev_prime(math.isqrt(INT64_MAX))          # p*p is the largest prime square
    nums = [0, 1, 2, 3, 4, 360, 1001, 65536, -1, -2, -5, -360, INT64_MIN, INT64_MIN + 1,
            -INT64_MAX, INT64_MAX, INT64_MAX - 1, PRIME_NEAR_2_63, 2**62, 2**61 - 1, 2**32 - 5,
            p_sqrt * p_sqrt, p_sqrt, next_prime(2**31) ** 2, 3**39, 2**31 * 3**19,
            4294967291 * 2147483647, 1000000007 * 1000000009 * 9]
    nums += hard_semiprimes(rng, 40)
    nums += hard_semiprimes(rng, 10, bits=21)                  # three-ish factors territory
    nums += [rng.randrange(INT64_MIN, INT64_MAX + 1) for _ in range(80)]  # half negative
    nums += [rng.randrange(2**62, 2**63) for _ in range(40)]
    nums += [rng.randrange(2, 10**6) for _ in range(40)]
    return nums


NUMS = number_mix()


@pytest.fixture(scope="module")
def oracle():
    return gnu_factor(NUMS)


def grpc_as_json(r):
    """A Response in the proto3 JSON mapping (int64 as strings, defaults omitted)."""
    d = {}
    if r.result:
        d["result"] = str(r.result)
    if r.num:
        d["num"] = str(r.num)
    if r.last:
        d["last"] = True
    if r.error:
        d["error"] = r.error
    return d


def via_grpc(stub, pb, nums):
    return [grpc_as_json(r) for r in
            stub.PrimeFactors(iter([pb.Request(num=n) for n in nums]), timeout=30)]


def via_ws(srv, frames, n_answers):
    with RawWS(srv.http) as ws:
        assert ws.status == 101, f"WebSocket upgrade: HTTP {ws.status}"
        ws.send_texts(frames)
        texts = ws.recv_n(n_answers, timeout=20)
        ws.send_close(1000)
        extra, close, how = ws.read_until_close(10)
        assert extra == [] and close is not None and close.code == 1000, (extra[:3], close, how)
    return [parse_json_text(t, "WebSocket answer") for t in texts]


def via_ndjson(srv, lines):
    resp, p = curl(["-N", "--data-binary", "@-", f"http://{srv.http}{NDJSON_PATH}"],
                   input=("\n".join(lines) + "\n").encode(), timeout=30)
    assert p.returncode == 0 and resp.status == 200, (p.returncode, p.stderr[:200], resp)
    return ndjson_lines(resp.body)


def via_v1(srv, segments):
    host, port = srv.http.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    out = []
    try:
        for s in segments:
            c.request("GET", f"/v1/factors/{s}")
            r = c.getresponse()
            out.append((r.status, json.loads(r.read())))
    finally:
        c.close()
    return out


def test_same_answers_on_every_front(pfgate, stub, pb, oracle):
    exp = expected_answers(NUMS, oracle)
    fronts = {
        "gRPC": via_grpc(stub, pb, NUMS),
        "WebSocket": via_ws(pfgate, [str(n) for n in NUMS], len(exp)),
        "WebSocket {num:string}": via_ws(pfgate, [json.dumps({"num": str(n)}) for n in NUMS],
                                         len(exp)),
        "NDJSON": via_ndjson(pfgate, [json.dumps({"num": n}) for n in NUMS]),
    }
    for name, got in fronts.items():
        msg = compare_answers(got, exp, name)
        assert msg is None, msg
    ref = fronts["gRPC"]
    for name, got in fronts.items():
        assert got == ref, (f"{name} differs from gRPC: first difference "
                            f"{next((g, r) for g, r in zip(got, ref) if g != r)}")
    # /v1/factors: the same factor lists and the same error texts.
    per_num = factors_of(ref)
    assert len(per_num) == len(NUMS)
    neg_errors = {e for _, _, e in per_num if e}
    assert len(neg_errors) == 1, f"one core, one text for a negative number: {neg_errors}"
    for n, (status, body), (num, fs, err) in zip(NUMS, via_v1(pfgate, NUMS), per_num):
        if n < 0:
            assert status == 400 and body == {"error": err}, \
                f"/v1/factors/{n}: HTTP {status} {body}, expected 400 {{'error': {err!r}}}"
        else:
            assert status == 200, f"/v1/factors/{n}: HTTP {status} {body}"
            assert body.get("factors") == fs == [str(f) for f in oracle.get(n, [])], (n, body, fs)
            assert body.get("num", "0") == str(n), (n, body)


BAD = ['"abc"', "abc", "3.5", "1e3", '{"num":1.0}', "9223372036854775808", '"9223372036854775808"',
       "-9223372036854775809", '{"num":1,"x":2}', "{}", "[]", "null", "true", '{"num":null}',
       '{"num":"12abc"}', "x" * 3000]


def test_bad_requests_same_error_texts_ws_and_ndjson(pfgate):
    """The JSON fronts (WebSocket frames and NDJSON lines) give byte-identical error answers."""
    reqs = []
    for b in BAD:
        reqs += [b, "12"]
    n_answers = len(BAD) * 4
    ws = via_ws(pfgate, reqs, n_answers)
    nd = via_ndjson(pfgate, reqs)
    assert ws == nd, f"WebSocket and NDJSON differ: {next((a, b) for a, b in zip(ws, nd) if a != b)}"
    errors = [a for a in ws if "error" in a]
    assert len(errors) == len(BAD) and all(set(a) == {"last", "error"} for a in errors), errors


@pytest.mark.parametrize("seg,forms", [
    ("9223372036854775808", ['"9223372036854775808"', "9223372036854775808"]),
    ("-9223372036854775809", ['"-9223372036854775809"', "-9223372036854775809"]),
    ("abc", ['"abc"', '{"num":"abc"}']),
    ("1.5", ["1.5", '"1.5"']),
])
def test_v1_error_text_matches_a_stream_error(pfgate, seg, forms):
    """/v1/factors/{num} errors come from the same core texts as the stream's."""
    (status, body), = via_v1(pfgate, [seg])
    assert status == 400 and set(body) == {"error"}, (status, body)
    stream = {a["error"] for a in via_ws(pfgate, forms, len(forms))}
    assert body["error"] in stream, (f"/v1/factors/{seg} error {body['error']!r} is none of the "
                                     f"stream's texts for the same input: {stream}")


def test_negative_error_text_identical_everywhere(pfgate, stub, pb):
    g = via_grpc(stub, pb, [-7])
    w = via_ws(pfgate, ["-7"], 1)
    n = via_ndjson(pfgate, ["-7"])
    (status, body), = via_v1(pfgate, ["-7"])
    assert g == w == n, (g, w, n)
    assert g[0]["error"] and set(g[0]) == {"num", "last", "error"}, g
    assert status == 400 and body == {"error": g[0]["error"]}, (status, body, g)
