"""TLS on both ports (SPEC: Health, reflection, TLS and running many): a throwaway CA and a
certificate for localhost made with openssl at test time; gRPC over TLS, wss and https with
clients that verify the chain; plaintext against the TLS ports fails cleanly; bad files are
clear start-up errors."""
import asyncio
import json
import re
import ssl
import subprocess

import grpc
import pytest
import websockets

from conftest import Pfgate, base_args, extra_args, pfgate_path
from pfutil import expected, run_stream

WS_PATH = "/primefactor.Factors/PrimeFactors"


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for localhost/127.0.0.1 signed by it, and a stranger key."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=pfgate test CA", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
             "server.csr", "-subj", "/CN=localhost", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext", cwd=d)
    _openssl("genrsa", "-out", "other.key", "2048", cwd=d)
    return d


@pytest.fixture(scope="module")
def tls_server(pki):
    srv = Pfgate(base_args() + extra_args() + ["--tls-cert", str(pki / "server.pem"),
                                               "--tls-key", str(pki / "server.key")])
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
