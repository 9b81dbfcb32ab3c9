"""The web page in a real browser: pfgate serves web/, headless Chromium loads it.

Runs tests/browser/page_test.js (playwright-core driving Debian's /usr/bin/chromium)
against a pfgate of this test's own. Self-contained: it does not use conftest's
fixtures, so it can also run alone.

Environment: PFGATE (path of the binary, default <repo>/build/pfgate), BUILD (the
build directory, default "build"; screenshots go there: page.png, page-dark.png,
page-phone.png, and screenshots/ with the page mid-run and done, light, dark and phone).
"""
import os
import select
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
BROWSER_DIR = REPO / "tests" / "browser"
START_TIMEOUT = 10   # seconds to wait for the "listening ..." line
TEST_TIMEOUT = 130   # page_test.js limits itself to 110 s; this is the backstop


def _pfgate_path():
    return os.environ.get("PFGATE") or str(REPO / "build" / "pfgate")


def _start_pfgate():
    """Starts pfgate on free ports; returns (process, http "HOST:PORT")."""
    # stderr (logs) to a file: a pipe nobody reads could fill up and block pfgate.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [_pfgate_path(), "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
         "--web-root", str(REPO / "web")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    proc.log = log
    line = b""
    deadline = time.monotonic() + START_TIMEOUT
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
            break
        chunk = os.read(proc.stdout.fileno(), 1)  # byte by byte: read nothing past the line
        if not chunk:
            break
        line += chunk
    fields = dict(f.split("=", 1) for f in line.decode(errors="replace").split()[1:] if "=" in f)
    if not line.startswith(b"listening ") or "http" not in fields:
        _stop(proc)
        err = _log_tail(proc)
        pytest.fail(f"pfgate did not print 'listening grpc=... http=...' within {START_TIMEOUT} s; "
                    f"stdout {line!r}, {_describe(proc.returncode)}; stderr:\n{err}")
    return proc, fields["http"]


def _stop(proc):
    """SIGTERM, then SIGKILL if it has not exited 6 s later (drain timeout is 5 s)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=6)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _log_tail(proc, n=3000):
    proc.log.seek(0)
    return proc.log.read().decode(errors="replace")[-n:]


def _describe(rc):
    if rc is None:
        return "still running"
    return f"killed by signal {-rc}" if rc < 0 else f"exit code {rc}"


# conftest.py's per-test watchdog (45 s by default) would cut in before our own limits.
@pytest.mark.timeout_s(START_TIMEOUT + TEST_TIMEOUT + 10)
def test_web_page_in_chromium():
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.skip("tests/browser/node_modules is missing (run: cd tests/browser && npm ci)")
    outdir = REPO / os.environ.get("BUILD", "build")
    outdir.mkdir(parents=True, exist_ok=True)

    proc, http = _start_pfgate()
    try:
        try:
            run = subprocess.run(
                ["node", str(BROWSER_DIR / "page_test.js"), f"http://{http}/", str(outdir) + "/"],
                cwd=BROWSER_DIR, stdin=subprocess.DEVNULL, capture_output=True,
                timeout=TEST_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"page_test.js did not finish within {TEST_TIMEOUT} s; output:\n"
                        f"{(e.stdout or b'').decode(errors='replace')}"
                        f"{(e.stderr or b'').decode(errors='replace')}")
        out = run.stdout.decode(errors="replace") + run.stderr.decode(errors="replace")
        alive = proc.poll() is None
    finally:
        _stop(proc)
        pf_err = _log_tail(proc)
        proc.log.close()
        proc.stdout.close()

    assert run.returncode == 0, f"page_test.js failed ({_describe(run.returncode)}):\n{out}\n" \
                                f"--- pfgate stderr (tail) ---\n{pf_err}"
    assert alive, f"pfgate died during the browser test ({_describe(proc.returncode)}):\n{pf_err}"
    assert proc.returncode == 0, f"pfgate did not exit 0 on SIGTERM ({_describe(proc.returncode)})"
