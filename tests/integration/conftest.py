"""Fixtures for the pfgate integration tests: real binary, real clients.

Environment:
  PFGATE              path of the pfgate binary (default: <repo>/build/pfgate)
  PFGATE_ARGS         arguments that replace the default listen flags
                      (default: "--grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0")
  PFGATE_EXTRA_ARGS   arguments appended to every start (e.g. "--drain-timeout 5")
  PFGATE_START_TIMEOUT seconds to wait for the "listening ..." line (default 10)
  PFGATE_TEST_TIMEOUT  per-test watchdog in seconds (default 45)

Fixtures:
  pfgate          the module's shared server (checked alive before and after each test)
  pfgate_factory  start(*extra_args) -> a server of the test's own, stopped at teardown
  channel, stub   a grpc channel / Factors stub on the shared server
  pb              the generated primefactor_pb2 / _grpc modules (namespace)
  seed_stubs_dir  directory holding seed_primefactor_pb2*.py (for seed_client.py)
  pki             a throwaway CA and a certificate for localhost signed by it (tls_args(pki))
"""
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import grpc
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROTO_DIR = REPO / "proto"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

DEFAULT_ARGS = ["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"]
LISTEN_RE = re.compile(rb"^listening grpc=(\S+:\d+) http=(\S+:\d+)(?: admin=(\S+:\d+))?\n$")
START_TIMEOUT = float(os.environ.get("PFGATE_START_TIMEOUT", "10"))
TEST_TIMEOUT = float(os.environ.get("PFGATE_TEST_TIMEOUT", "45"))
# SPEC: exit 0 within --drain-timeout (default 5 s). A little slack for the OS.
STOP_TIMEOUT = 5.5


def pfgate_path():
    return os.environ.get("PFGATE") or str(REPO / "build" / "pfgate")


def base_args():
    if "PFGATE_ARGS" in os.environ:
        return shlex.split(os.environ["PFGATE_ARGS"])
    return list(DEFAULT_ARGS)


def extra_args():
    return shlex.split(os.environ.get("PFGATE_EXTRA_ARGS", ""))


def describe_rc(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit code {rc}"


# ---------------------------------------------------------------- the server ---

_CURRENT_ITEM = None
_LOG_DIR = None


def _log_dir():
    global _LOG_DIR
    if _LOG_DIR is None:
        _LOG_DIR = tempfile.mkdtemp(prefix="pfgate-logs-")
    return _LOG_DIR


class Pfgate:
    """One running pfgate process started with ':0' ports."""

    _seq = 0

    def __init__(self, args, prefix=()):
        exe = pfgate_path()
        if not os.access(exe, os.X_OK):
            pytest.fail(f"pfgate binary not found or not executable: {exe} "
                        f"(build it with `make build/pfgate`, or set PFGATE)", pytrace=False)
        Pfgate._seq += 1
        self.argv = list(prefix) + [exe] + list(args)  # prefix: e.g. prlimit, which execs pfgate
        self.log_path = os.path.join(_log_dir(), f"pfgate-{Pfgate._seq}.stderr")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._log, bufsize=0)
        self.pid = self.proc.pid
        self.stopped = False
        self.killed = False
        self.extra_stdout = b""
        self.grpc = self.http = None
        if _CURRENT_ITEM is not None:
            _CURRENT_ITEM.__dict__.setdefault("_pf_servers", []).append(self)
        line = self._read_listen_line()
        m = LISTEN_RE.match(line)
        if not m:
            self.kill()
            pytest.fail(f"pfgate did not print `listening grpc=HOST:PORT http=HOST:PORT` "
                        f"within {START_TIMEOUT}s; got {line!r}; {describe_rc(self.proc.returncode)}\n"
                        f"argv: {self.argv}\nstderr:\n{self.log_tail()}", pytrace=False)
        self.grpc, self.http = m.group(1).decode(), m.group(2).decode()
        self.admin = m.group(3).decode() if m.group(3) else None  # --admin-addr
        self.grpc_port = int(self.grpc.rsplit(":", 1)[1])
        self.http_port = int(self.http.rsplit(":", 1)[1])
        self.listen_line = line
        # The real-port check is test_listening_line (so that one missing front end does
        # not fail every gRPC test); gRPC itself must be usable here.
        if self.grpc_port == 0:
            self.kill()
            pytest.fail(f"pfgate printed gRPC port 0: {line!r}", pytrace=False)

    def _read_listen_line(self):
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + START_TIMEOUT
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([fd], [], [], min(left, 0.2))
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break  # EOF: the process closed stdout or died
                buf += chunk
            elif self.proc.poll() is not None:
                break
        if b"\n" in buf:
            line, rest = buf.split(b"\n", 1)
            self.extra_stdout += rest
            return line + b"\n"
        return buf

    # -- state

    def alive(self):
        return self.proc.poll() is None

    def log_text(self):
        try:
            if not self._log.closed:
                self._log.flush()
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=5.0):
        """Whether text shows in pfgate's stderr within timeout seconds: stderr is written by
        pfgate's own threads, with no order against what a client sees."""
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def log_tail(self, lines=80):
        text = self.log_text().splitlines()
        return "\n".join(text[-lines:]) if text else "(stderr empty)"

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None

    # -- stopping

    def signal(self, sig=signal.SIGTERM):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        """Wait for exit; returns (rc, seconds) or (None, timeout) if still running."""
        t0 = time.monotonic()
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, timeout
        took = time.monotonic() - t0
        self._finish()  # the test saw the exit: the fixture will not check it again
        return rc, took

    def kill(self):
        if self.alive():
            self.killed = True
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._finish()

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns (rc, seconds, killed)."""
        if self.stopped:
            return self.proc.returncode, 0.0, self.killed
        t0 = time.monotonic()
        already_dead = not self.alive()
        self.signal(signal.SIGTERM)
        rc, _ = self.wait(timeout)
        if rc is None:
            self.kill()
            rc = self.proc.returncode
        took = time.monotonic() - t0
        self._finish()
        return rc, took, self.killed or already_dead

    def _finish(self):
        if self.stopped:
            return
        self.stopped = True
        try:
            rest = self.proc.stdout.read() or b""
        except (OSError, ValueError):
            rest = b""
        self.extra_stdout += rest
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        self._log.close()

    def check_clean_exit(self, what="pfgate"):
        """The teardown contract of a server nobody tampered with."""
        was_dead = not self.alive()
        rc_before = self.proc.returncode
        rc, took, killed = self.stop()
        assert not was_dead, (f"{what} had already died ({describe_rc(rc_before)}) before teardown\n"
                              f"stderr:\n{self.log_tail()}")
        assert not killed, (f"{what} did not exit within {STOP_TIMEOUT}s of SIGTERM (SIGKILLed)\n"
                            f"stderr:\n{self.log_tail()}")
        assert rc == 0, f"{what}: SIGTERM must exit 0, got {describe_rc(rc)}\nstderr:\n{self.log_tail()}"
        assert self.extra_stdout == b"", (f"{what} must print exactly one line on stdout; "
                                          f"also printed {self.extra_stdout[:300]!r}")

    def __repr__(self):
        return f"<pfgate pid={self.pid} grpc={self.grpc} http={self.http}>"


def start_pfgate(*args, listen_args=None, prefix=()):
    a = base_args() if listen_args is None else list(listen_args)
    return Pfgate(a + extra_args() + list(args), prefix=prefix)


# ---------------------------------------------------------------- fixtures ---

@pytest.fixture(scope="module")
def _module_pfgate():
    srv = start_pfgate()
    yield srv
    srv.check_clean_exit("shared pfgate (module scope)")


@pytest.fixture
def pfgate(request, _module_pfgate):
    srv = _module_pfgate
    request.node.__dict__.setdefault("_pf_servers", [])
    if srv not in request.node._pf_servers:
        request.node._pf_servers.append(srv)
    assert srv.alive(), f"shared pfgate died earlier ({describe_rc(srv.proc.returncode)})"
    yield srv
    # If the server died during this test, this test is the one to blame.
    assert srv.alive(), (f"pfgate died during this test: {describe_rc(srv.proc.returncode)}\n"
                         f"stderr:\n{srv.log_tail()}")


@pytest.fixture
def pfgate_factory(request):
    started = []

    def start(*args, listen_args=None, prefix=()):
        srv = start_pfgate(*args, listen_args=listen_args, prefix=prefix)
        started.append(srv)
        request.node.__dict__.setdefault("_pf_servers", [])
        if srv not in request.node._pf_servers:
            request.node._pf_servers.append(srv)
        return srv

    yield start
    errors = []
    for srv in started:
        if srv.stopped:
            continue  # the test stopped it and checked what it wanted
        try:
            srv.check_clean_exit("pfgate (function scope)")
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n\n".join(errors)


@pytest.fixture
def channel(pfgate):
    ch = grpc.insecure_channel(pfgate.grpc)
    try:
        grpc.channel_ready_future(ch).result(timeout=5)
        yield ch
    finally:
        ch.close()


@pytest.fixture
def stub(channel, pb):
    return pb.pb_grpc.FactorsStub(channel)


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
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


def tls_args(pki):
    return ["--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key")]


def _protoc(out_dir, include_dir, proto_file):
    cmd = [PYTHON, "-m", "grpc_tools.protoc", f"-I{include_dir}", f"--python_out={out_dir}",
           f"--grpc_python_out={out_dir}", str(proto_file)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.fail(f"protoc failed: {' '.join(cmd)}\n{r.stderr}", pytrace=False)


@pytest.fixture(scope="session")
def _stub_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("stubs")
    cur, seed, extra = root / "current", root / "seed", root / "extra"
    for d in (cur, seed, extra):
        d.mkdir()
    _protoc(cur, PROTO_DIR, PROTO_DIR / "primefactor.proto")
    _protoc(seed, HERE / "data", HERE / "data" / "seed_primefactor.proto")
    _protoc(extra, PROTO_DIR, PROTO_DIR / "health.proto")
    return types.SimpleNamespace(current=cur, seed=seed, extra=extra)


@pytest.fixture(scope="session")
def pb(_stub_dirs):
    """primefactor_pb2 / primefactor_pb2_grpc generated from the repo's proto."""
    sys.path.insert(0, str(_stub_dirs.current))
    sys.path.insert(0, str(_stub_dirs.extra))
    import primefactor_pb2
    import primefactor_pb2_grpc
    import health_pb2
    import health_pb2_grpc
    return types.SimpleNamespace(pb2=primefactor_pb2, pb_grpc=primefactor_pb2_grpc,
                                 Request=primefactor_pb2.Request, Response=primefactor_pb2.Response,
                                 health=health_pb2, health_grpc=health_pb2_grpc)


@pytest.fixture(scope="session")
def seed_stubs_dir(_stub_dirs):
    """The seed proto's stubs live in their own directory and are used from a separate
    process: their messages share full names with the current proto's."""
    return _stub_dirs.seed


# ---------------------------------------------------------------- hooks ---

class TestTimeout(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    global _CURRENT_ITEM
    _CURRENT_ITEM = item
    yield
    _CURRENT_ITEM = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A watchdog: no test may run longer than PFGATE_TEST_TIMEOUT (pytest-timeout is
    not installed). Raises in the main thread; blocking grpc waits are interruptible."""
    marker = item.get_closest_marker("timeout_s")
    limit = float(marker.args[0]) if marker else TEST_TIMEOUT

    def on_alarm(signum, frame):
        raise TestTimeout(f"test exceeded its {limit:.0f}s watchdog")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for srv in item.__dict__.get("_pf_servers", []):
            rep.sections.append((f"pfgate stderr ({srv.log_path}, {describe_rc(srv.proc.poll())})",
                                 srv.log_tail(120)))


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout_s(n): per-test watchdog in seconds")
