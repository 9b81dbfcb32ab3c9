"""`make deb` (tools/build-deb.sh): the package's files, control fields and maintainer
scripts, lintian clean (each remaining tag overridden with its reason in
deploy/debian/lintian-overrides), and its pfgate serving its packaged page. Installing it
on a fresh Debian 12 root: tests/deb/install-test.sh (`make test-deb`)."""
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO
from pfhttp import http_get_raw

VERSION = (REPO / "VERSION").read_text().strip()


def _run(*cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 600), **kw)
    assert r.returncode == 0, f"{' '.join(cmd)}: {r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def deb():
    # Always the release build (build/), whatever this test run's BUILD or SANITIZE.
    env = {k: v for k, v in os.environ.items() if k not in ("BUILD", "SANITIZE", "LINK", "FAULT",
                                                              "MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    _run("make", "-s", "--no-print-directory", "-C", str(REPO), "deb", env=env, timeout=900)
    arch = _run("dpkg", "--print-architecture").strip()
    path = REPO / "build" / f"pfgate_{VERSION}_{arch}.deb"
    assert path.is_file()
    return path


def test_contents(deb):
    listing = _run("dpkg-deb", "--contents", str(deb))
    files = sorted(line.split()[-1][1:] for line in listing.splitlines() if not line.endswith("/"))
    modes = {line.split()[-1][1:]: line.split()[0] for line in listing.splitlines()}
    web = sorted(f"/usr/share/pfgate/web/{p.name}" for p in (REPO / "web").iterdir())
    assert files == sorted([
        "/etc/default/pfgate",
        "/lib/systemd/system/pfgate.service",
        "/usr/bin/pfgate",
        "/usr/share/doc/pfgate/changelog.gz",
        "/usr/share/doc/pfgate/copyright",
        "/usr/share/lintian/overrides/pfgate",
        "/usr/share/man/man1/pfgate.1.gz",
    ] + web)
    assert all(" root/root " in line for line in listing.splitlines())
    assert modes["/usr/bin/pfgate"] == "-rwxr-xr-x"
    assert {modes[f] for f in files if f != "/usr/bin/pfgate"} == {"-rw-r--r--"}


def test_control(deb):
    info = _run("dpkg-deb", "--info", str(deb))
    field = lambda name: re.search(rf"^ {name}: (.*)$", info, re.M).group(1)
    assert field("Package") == "pfgate" and field("Version") == VERSION
    # dpkg-shlibdeps: only what LINK=static leaves shared (Makefile).
    assert re.fullmatch(r"libc6 \(>= [\d.]+\), libssl3 \(>= [\d.]+\)", field("Depends"))
    for src in ("grpc", "abseil", "libwebsockets", "jansson", "protobuf-c", "zlib", "gcc-12"):
        assert re.search(rf"(^|, ){src} \(= [^)]+\)", field("Built-Using")), src
    with tempfile.TemporaryDirectory() as d:
        _run("dpkg-deb", "--control", str(deb), d)
        assert Path(d, "conffiles").read_text() == "/etc/default/pfgate\n"
        for script in ("postinst", "prerm", "postrm"):
            text = Path(d, script).read_text()
            _run("sh", "-n", str(Path(d, script)))
            # systemd is only told when it runs (not in chroots, containers, dpkg --root).
            for line in text.splitlines():
                if re.search(r"\b(systemctl|deb-systemd-invoke)\b", line):
                    assert "/run/systemd/system" in text


def test_lintian_clean(deb):
    r = subprocess.run(["lintian", "--info", "--display-experimental", "--pedantic",
                        "--fail-on", "error,warning,info,pedantic,experimental", str(deb)],
                       capture_output=True, text=True, timeout=600)
    out = [line for line in (r.stdout + r.stderr).splitlines()
           if "running with root privileges" not in line]
    assert r.returncode == 0 and out == [], "\n".join(out)


def test_packaged_pfgate_serves_its_page(deb, pfgate_factory, monkeypatch, tmp_path):
    _run("dpkg-deb", "-x", str(deb), str(tmp_path))
    unit = (tmp_path / "lib/systemd/system/pfgate.service").read_text()
    assert "\nExecStart=/usr/bin/pfgate\n" in unit
    web_root = re.search(r"^Environment=PFGATE_WEB_ROOT=(.*)$", unit, re.M).group(1)
    assert web_root == "/usr/share/pfgate/web"
    monkeypatch.setenv("PFGATE", str(tmp_path / "usr/bin/pfgate"))
    srv = pfgate_factory("--web-root", str(tmp_path) + web_root)
    assert http_get_raw(srv.http, "/").body == (REPO / "web/index.html").read_bytes()
    assert http_get_raw(srv.http, "/v1/factors/360").json() == \
        {"num": "360", "factors": ["2", "2", "2", "3", "3", "5"]}
