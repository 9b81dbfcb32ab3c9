"""systemd's Type=notify (deploy/pfgate.service): READY=1 to $NOTIFY_SOCKET once both
listeners are bound, STOPPING=1 when the drain starts (gateway/sd_notify.c)."""
import os
import select
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import LISTEN_RE, STOP_TIMEOUT, base_args, pfgate_path
from pfhttp import http_get_raw


def _notify_socket(kind, tmpdir):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if kind == "path":
        name = os.path.join(tmpdir, "notify")
        s.bind(name)
    else:  # abstract: "@name" in NOTIFY_SOCKET, a leading NUL in the address
        name = f"@pfgate-test-notify-{os.getpid()}-{time.monotonic_ns()}"
        s.bind("\0" + name[1:])
    return s, name


def _recv(sock, timeout):
    r, _, _ = select.select([sock], [], [], timeout)
    return sock.recv(4096) if r else None


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_ready_after_listening_and_stopping_at_sigterm(kind):
    with tempfile.TemporaryDirectory(prefix="pfnotify-") as tmpdir:
        sock, name = _notify_socket(kind, tmpdir)
        env = dict(os.environ, NOTIFY_SOCKET=name)
        proc = subprocess.Popen([pfgate_path()] + base_args(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        try:
            assert _recv(sock, 10) == b"READY=1"
            # READY=1 came after the listening line: it is in the pipe already.
            r, _, _ = select.select([proc.stdout], [], [], 0)
            assert r, "READY=1 arrived before pfgate printed its listening line"
            m = LISTEN_RE.match(proc.stdout.readline())
            assert m, "no listening line"
            http = m.group(2).decode()
            assert http_get_raw(http, "/v1/factors/360").json() == \
                {"num": "360", "factors": ["2", "2", "2", "3", "3", "5"]}
            assert _recv(sock, 0.3) is None, "only READY=1 before the signal"

            proc.send_signal(signal.SIGTERM)
            assert _recv(sock, STOP_TIMEOUT) == b"STOPPING=1"
            assert proc.wait(STOP_TIMEOUT) == 0
            assert _recv(sock, 0) is None, "nothing after STOPPING=1"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            sock.close()


@pytest.mark.parametrize("value, warning", [
    ("/nonexistent/pfgate-notify", "NOTIFY_SOCKET /nonexistent/pfgate-notify: READY=1 not sent"),
    ("relative/notify", "NOTIFY_SOCKET relative/notify: not a socket path or @name"),
    ("/" + "x" * 200, "NOTIFY_SOCKET /" + "x" * 200 + ": not a socket path or @name"),
])
def test_a_notify_socket_that_cannot_be_used_costs_a_warning_only(pfgate_factory, monkeypatch,
                                                                   value, warning):
    """A stale or bad NOTIFY_SOCKET (systemd gone, a copied environment) does not stop pfgate."""
    monkeypatch.setenv("NOTIFY_SOCKET", value)
    srv = pfgate_factory()
    assert http_get_raw(srv.http, "/v1/factors/12").json() == \
        {"num": "12", "factors": ["2", "2", "3"]}
    assert srv.wait_log(warning), srv.log_tail()
