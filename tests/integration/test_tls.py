"""TLS on both ports (SPEC: Health, reflection, TLS and running many): a throwaway CA and a
certificate for localhost made with openssl at test time; gRPC over TLS, wss and https with
clients that verify the chain; plaintext against the TLS ports fails cleanly; bad files are
clear start-up errors. The gRPC port's TLS is pfgate's own (gateway/grpc/grpc_tls.c): the caps,
timeouts and ALPN rules of that port are checked at the end."""
import asyncio
import json
import re
import ssl
import subprocess
import time

import grpc
import pytest
import websockets

from conftest import Pfgate, base_args, extra_args, pfgate_path, tls_args
from pfhttp import connect
from pftls import client_context, h2_socket
from pfutil import expected, run_stream
from test_faults import (EARLY, HEADER_TIMEOUT, LATE, PREFACE, PREFACE_SETTINGS, H2Conn, fd_count,
                         grpc_exact, h2_request, oracle, rst_close, wait_all_closed)
from test_hostile_process import _open_silent

WS_PATH = "/primefactor.Factors/PrimeFactors"


@pytest.fixture(scope="module")
def tls_server(pki):
    srv = Pfgate(base_args() + extra_args() + tls_args(pki))
    yield srv
    srv.check_clean_exit("TLS pfgate")


def _localhost(addr):
    return "localhost:" + addr.rsplit(":", 1)[1]


def test_grpc_over_tls(tls_server, pki, pb):
    creds = grpc.ssl_channel_credentials((pki / "ca.pem").read_bytes())
    with grpc.secure_channel(_localhost(tls_server.grpc), creds) as ch:
        nums = [360, 0, 1, -5, 2**63 - 1, 9223372036854775783]
        res = run_stream(pb.pb_grpc.FactorsStub(ch), pb, nums, timeout=10)
        assert res.code == grpc.StatusCode.OK, res.details
        assert res.tuples == expected(nums)


def test_plaintext_grpc_against_tls_port_fails_cleanly(tls_server, pki, pb):
    with grpc.insecure_channel(tls_server.grpc) as ch:
        res = run_stream(pb.pb_grpc.FactorsStub(ch), pb, [360], timeout=3)
    assert res.code == grpc.StatusCode.UNAVAILABLE
    test_grpc_over_tls(tls_server, pki, pb)  # and the server still serves


def test_wss(tls_server, pki):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))

    async def go():
        async with websockets.connect("wss://" + _localhost(tls_server.http) + WS_PATH,
                                      ssl=ctx) as ws:
            await ws.send("360")
            await ws.send('{"end":true}')
            return [json.loads(m) async for m in ws], ws.close_code

    answers, code = asyncio.run(asyncio.wait_for(go(), 10))
    assert answers == [{"result": "2", "num": "360"}] * 3 + [{"result": "3", "num": "360"}] * 2 \
        + [{"result": "5", "num": "360", "last": True}]
    assert code == 1000


def _curl(pki, *args, data=None):
    return subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", str(pki / "ca.pem"),
                           *args], input=data, capture_output=True, timeout=20)


def test_https_get_and_ndjson(tls_server, pki):
    base = "https://" + _localhost(tls_server.http)
    r = _curl(pki, base + "/v1/factors/360")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"num": "360", "factors": ["2", "2", "2", "3", "3", "5"]}
    body = "".join(f"{n}\n" for n in range(2, 2002)).encode()
    r = _curl(pki, "-N", "--data-binary", "@-", base + WS_PATH, data=body)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert sum(1 for x in lines if x.get("last")) == 2000
    assert [(int(x.get("result", 0)), int(x.get("num", 0)), bool(x.get("last")), "error" in x)
            for x in lines] == expected(list(range(2, 2002)))


def test_plain_http_against_tls_port_fails_cleanly(tls_server, pki):
    r = subprocess.run(["curl", "-sS", "--max-time", "5", "http://" + tls_server.http + "/healthz"],
                       capture_output=True, timeout=20)
    assert r.returncode != 0 or b"SERVING" not in r.stdout
    r = _curl(pki, "https://" + _localhost(tls_server.http) + "/healthz")
    assert json.loads(r.stdout) == {"status": "SERVING"}


@pytest.mark.parametrize("cert,key,says", [
    ("missing.pem", "server.key", "cannot read"),
    ("server.pem", "other.key", "does not match"),
    ("server.key", "server.key", "not a PEM certificate"),
    ("server.pem", "server.pem", "not a PEM private key"),
])
def test_bad_tls_files_are_clear_startup_errors(pki, cert, key, says):
    r = subprocess.run([pfgate_path(), *base_args(), "--tls-cert", str(pki / cert),
                        "--tls-key", str(pki / key)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert r.stdout == ""
    assert says in r.stderr, r.stderr


def test_tls_flags_go_together(pki):
    r = subprocess.run([pfgate_path(), *base_args(), "--tls-cert", str(pki / "server.pem")],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "--tls-key" in r.stderr


def _handshake(addr, *args):
    """True when `openssl s_client` completes a handshake with these options."""
    host, port = addr.rsplit(":", 1)
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                        "-servername", "localhost", *args], input=b"", capture_output=True,
                       timeout=20)
    m = re.search(r"^New, TLSv1\.[0-3], Cipher is (\S+)$", r.stdout.decode(errors="replace"),
                  re.M)
    return r.returncode == 0 and m is not None and m.group(1) != "(NONE)"


@pytest.mark.parametrize("port", ["grpc", "http"])
def test_tls_offers_forward_secret_aead_only(tls_server, port):
    """TLS 1.2+ with ECDHE and AEAD suites: RSA key exchange, CBC and TLS 1.0/1.1 are refused on
    both ports (issue 12: the HTTPS port offered CBC suites without forward secrecy)."""
    addr = getattr(tls_server, port)
    alpn = ["-alpn", "h2"] if port == "grpc" else []
    assert _handshake(addr, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", *alpn)
    assert _handshake(addr, "-tls1_3", *alpn)
    for weak in ["AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA",
                 "ECDHE-RSA-AES256-SHA384", "DHE-RSA-AES128-SHA"]:
        assert not _handshake(addr, "-tls1_2", "-cipher", weak, *alpn), weak
    for old in ["-tls1", "-tls1_1"]:
        assert not _handshake(addr, old, "-cipher", "ALL:@SECLEVEL=0", *alpn), old


# ----------------------------- the gRPC port over TLS: caps, timeouts, ALPN ---
# pfgate ends TLS for the gRPC port itself (gateway/grpc/grpc_tls.c), so that the accept loop's
# --max-connections, eviction of silent connections and --header-timeout apply there as on
# the plaintext port (the HTTP/2 guard's attacks over TLS: test_hostile_grpc.py [tls]).

def _tls_server(pfgate_factory, pki, *args):
    srv = pfgate_factory(*tls_args(pki), *args)
    srv.tls_ca = pki / "ca.pem"
    return srv


def _tls_client(pki):
    """An ssl.SSLObject over memory BIOs and its ClientHello, for handshakes cut short."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context(pki / "ca.pem").wrap_bio(inc, out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return obj, inc, out, out.read()


def _handshake_by_hand(addr, pki):
    """A TCP socket whose TLS handshake is done, and its SSLObject (to make records)."""
    obj, inc, out, hello = _tls_client(pki)
    s = connect(addr)
    s.sendall(hello)
    while True:
        inc.write(s.recv(1 << 16))
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            s.sendall(out.read())
    s.sendall(out.read())
    return s, obj, out


@pytest.mark.timeout_s(30)
def test_tls_grpc_port_cuts_silent_and_slow_handshakes_at_header_timeout(pfgate_factory, pki, pb):
    """--header-timeout 2 covers the TLS handshake and the preface together: a connection that
    never starts its handshake, one that sends half a ClientHello, one whose handshake is done
    but sends no preface, and one that sends half the preface are all closed at about 2 s."""
    srv = _tls_server(pfgate_factory, pki, "--header-timeout", str(HEADER_TIMEOUT),
                      "--idle-timeout", "20")
    socks = {}
    socks[connect(srv.grpc)] = "no handshake"
    s = connect(srv.grpc)
    s.sendall(_tls_client(pki)[3][:40])
    socks[s] = "half a ClientHello"
    socks[h2_socket(srv)] = "handshake, no preface"
    p = h2_socket(srv)
    p.sendall(PREFACE[:10])
    socks[p] = "half the preface"
    took, _ = wait_all_closed(list(socks), 6.0)
    for s in socks:
        s.close()
    bad = [f"{socks[s]}: {'still open after 6 s' if t is None else f'closed after {t:.1f}s'}"
           for s, t in took.items() if t is None or not EARLY <= t <= LATE]
    assert not bad, f"--header-timeout {HEADER_TIMEOUT}: " + "; ".join(bad)
    grpc_exact(srv, pb)


@pytest.mark.timeout_s(30)
def test_max_connections_applies_to_the_tls_grpc_port(pfgate_factory, pki, pb):
    """--max-connections 4 on the TLS gRPC port (before: grpc listened there itself, with no
    cap): with 4 TLS connections held (preface sent), a 5th is closed at once; the held ones
    still serve; once they go, a real client is served. Two rounds, so that a count that
    drifts shows."""
    srv = _tls_server(pfgate_factory, pki, "--max-connections", "4")
    for round_ in range(2):
        held = []
        for _ in range(4):
            c = H2Conn(srv.grpc, sock=h2_socket(srv))
            c.send(PREFACE_SETTINGS)
            held.append(c)
        time.sleep(0.3)
        try:
            t0 = time.monotonic()
            try:
                c5 = H2Conn(srv.grpc, sock=h2_socket(srv))
                c5.send(PREFACE_SETTINGS + h2_request(1, [pb.Request(num=12).SerializeToString()]))
                outcome = c5.wait(1, 3.0)
                c5.abort()
            except (OSError, ssl.SSLError):
                outcome = "closed"  # during its handshake
            assert outcome == "closed" and time.monotonic() - t0 < 1.5, \
                f"round {round_}: a 5th TLS gRPC connection was {outcome}, expected closed at once"
            held[0].send(h2_request(1, [pb.Request(num=360).SerializeToString()]))
            assert held[0].wait(1, 5) == "answered"
            assert held[0].responses(pb, 1) == expected([360], oracle())
        finally:
            for c in held:
                c.abort()
        time.sleep(0.5)
        grpc_exact(srv, pb)


@pytest.mark.timeout_s(40)
def test_tls_grpc_port_evicts_silent_connections_at_the_cap(pfgate_factory, pki, pb):
    """--max-connections 16, 8 connections whose handshake is done but that send no preface,
    then 300 that never start their handshake: each new connection takes the place of the
    oldest that has not finished its handshake and preface, so a real TLS client is served at
    once (before: no cap on this port at all), and pfgate holds no more descriptors than the
    cap allows."""
    srv = _tls_server(pfgate_factory, pki, "--max-connections", "16")
    grpc_exact(srv, pb)
    time.sleep(0.3)
    fds = fd_count(srv)
    quiet = [h2_socket(srv) for _ in range(8)]
    socks = _open_silent(srv.grpc, 300)
    try:
        time.sleep(0.5)
        assert fd_count(srv) <= fds + 2 * 16 + 4, f"pfgate holds {fd_count(srv)} fds"
        for _ in range(3):
            grpc_exact(srv, pb, nums=[360, 97], timeout=5)
    finally:
        for s in socks + quiet:
            s.close()


@pytest.mark.timeout_s(30)
def test_tls_grpc_client_reset_mid_record(pfgate_factory, pki, pb):
    """A client that resets its connection in the middle of a TLS record, while pfgate waits
    for its preface and while the relay carries it, costs nothing lasting: its descriptors are
    freed and everyone else is served."""
    srv = _tls_server(pfgate_factory, pki)
    grpc_exact(srv, pb)
    time.sleep(0.3)
    fds = fd_count(srv)
    for with_preface in (False, True):
        for _ in range(20):
            s, obj, out = _handshake_by_hand(srv.grpc, pki)
            if with_preface:
                obj.write(PREFACE_SETTINGS)
                s.sendall(out.read())
            obj.write(h2_request(1, [pb.Request(num=360).SerializeToString()]))
            record = out.read()
            s.sendall(record[:len(record) // 2])
            time.sleep(0.01)
            rst_close(s)
    deadline = time.monotonic() + 5
    while fd_count(srv) > fds and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fd_count(srv) <= fds, f"pfgate holds {fd_count(srv)} fds, {fds} before"
    grpc_exact(srv, pb)


def test_tls_grpc_port_wants_h2_by_alpn(tls_server):
    """ALPN selects h2; a client that offers ALPN without h2 is refused at the handshake, one
    that offers none is served (HTTP/2 by prior knowledge; grpc 1.51's own TLS refused it)."""
    assert _handshake(tls_server.grpc, "-alpn", "h2")
    assert _handshake(tls_server.grpc)
    assert not _handshake(tls_server.grpc, "-alpn", "http/1.1")
