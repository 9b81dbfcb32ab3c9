"""Helpers shared by the integration tests: the GNU factor oracle and stream runners."""
import subprocess
import threading

import grpc

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
METHOD = "/primefactor.Factors/PrimeFactors"


def gnu_factor(nums):
    """{n: [prime factors]} for every n >= 2, from GNU coreutils `factor` (the oracle)."""
    nums = sorted({n for n in nums if n >= 2})
    if not nums:
        return {}
    r = subprocess.run(["factor"], input="\n".join(map(str, nums)) + "\n", capture_output=True,
                       text=True, timeout=60, check=True)
    out = {}
    for line in r.stdout.splitlines():
        n, fs = line.split(":", 1)
        out[int(n)] = [int(f) for f in fs.split()]
    assert set(out) == set(nums), "GNU factor did not answer every number"
    return out


def expected(nums, oracle=None):
    """The exact answer stream for `nums`, as (result, num, last, has_error) tuples."""
    oracle = gnu_factor(nums) if oracle is None else oracle
    exp = []
    for n in nums:
        if n < 0:
            exp.append((0, n, True, True))
        elif n < 2:
            exp.append((0, n, True, False))
        else:
            fs = oracle[n]
            exp.extend((f, n, i == len(fs) - 1, False) for i, f in enumerate(fs))
    return exp


def tup(r):
    return (r.result, r.num, r.last, bool(r.error))


class StreamResult:
    def __init__(self, responses, code, details):
        self.responses = responses
        self.code = code
        self.details = details

    @property
    def tuples(self):
        return [tup(r) for r in self.responses]

    def __repr__(self):
        return f"<stream {self.code} {self.details!r} {len(self.responses)} responses>"


def drain(call):
    """Read a response-streaming call to its end. Returns StreamResult(responses, code, details)."""
    out = []
    try:
        for r in call:
            out.append(r)
    except grpc.RpcError as e:
        return StreamResult(out, e.code(), e.details())
    return StreamResult(out, call.code(), call.details())


def run_stream(stub, pb, nums, timeout=20):
    """One stream: send every number, half-close, read every answer."""
    call = stub.PrimeFactors(iter([pb.Request(num=n) for n in nums]), timeout=timeout)
    return drain(call)


def raw_stream(channel, payloads, timeout=10, method=METHOD):
    """A stream of arbitrary request bytes (identity serializer), half-closed after them."""
    mc = channel.stream_stream(method, request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)
    return drain(mc(iter(payloads), timeout=timeout))


class HeldRequests:
    """A request iterator that yields the given requests and then keeps the stream open
    (no half-close) until release() is called or `hold` seconds pass."""

    def __init__(self, requests, hold=20.0):
        self._requests = list(requests)
        self._release = threading.Event()
        self.all_sent = threading.Event()
        self.sent = 0
        self.hold = hold

    def __iter__(self):
        for r in self._requests:
            yield r
            self.sent += 1
        self.all_sent.set()
        self._release.wait(self.hold)

    def release(self):
        self._release.set()


def varint(u):
    """The protobuf varint bytes of an unsigned integer."""
    out = bytearray()
    while True:
        b = u & 0x7F
        u >>= 7
        if u:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def v2(n):
    """Format an int64 as the two's-complement varint bytes of a proto int64 field 1."""
    return b"\x08" + varint(n & 0xFFFFFFFFFFFFFFFF)
