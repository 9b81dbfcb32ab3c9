"""A second pfgate on a busy port fails loudly (SPEC: Running many): --reuse-port is off by
default. (Sharing the ports with --reuse-port is tested once the HTTP port supports it.)"""
import subprocess

from conftest import Pfgate, extra_args, pfgate_path


def test_busy_port_without_reuse_port_fails_loudly():
    a = Pfgate(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"] + extra_args())
    try:
        for flags in (["--grpc-addr", a.grpc, "--http-addr", "127.0.0.1:0"],
                      ["--grpc-addr", "127.0.0.1:0", "--http-addr", a.http],
                      ["--grpc-addr", a.grpc, "--http-addr", a.http, "--reuse-port"]):
            r = subprocess.run([pfgate_path(), *flags], capture_output=True, text=True, timeout=20)
            assert r.returncode == 1, (flags, r.returncode, r.stderr)
            assert "Address already in use" in r.stderr or "cannot listen" in r.stderr, r.stderr
            assert r.stdout == ""
    finally:
        a.stop()
