"""A repository debforge publishes under umask 022 is readable by a web server running as another user.

nginx serves as www-data, not as the user who ran `debforge repo publish`; files left at
mkstemp's 0600 made it answer 403 to apt. Here a .deb packaged by `debforge package` (real
archive for Depends) is published with scripts/ci-publish.sh, every output's mode is checked,
and the tree is served by Python's http.server running as `nobody`, from which the host's real
apt (isolated APT_CONFIG) updates, simulates the install and downloads the package.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from debforge.cache import Cache
from tests.conftest import require_tool
from tests.test_repo import gpg_key
from tests.test_repo_apt import Apt

__all__ = ["gpg_key"]  # a session fixture from test_repo

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
NAME = "hello-served"
DEB = f"{NAME}_1.0-1_amd64.deb"  # `--version 1.0` gets the Debian revision -1
_SERVING = re.compile(r"Serving HTTP on \S+ port (\d+)")


def _require(ok: bool, message: str) -> None:
    """Skip locally, fail in CI (DEBFORGE_REQUIRE_TOOLS=1), like require_tool."""
    if ok:
        return
    if os.environ.get("DEBFORGE_REQUIRE_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _debforge(*args: str, cache: Cache) -> None:
    """The real CLI under umask 022 (a CI job's or a login shell's), in plain progress mode."""
    env = {**os.environ, "DEBFORGE_CACHE": str(cache.root), "SOURCE_DATE_EPOCH": "1700000000",
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "debforge", "--progress", "plain", *args],
        capture_output=True, text=True, check=False, timeout=900, env=env, umask=0o022,
    )  # fmt: skip
    print(done.stderr)  # one line per finished step: the test log shows what ran
    assert done.returncode == 0, done.stderr


def _publish(site: Path, debs: Path, home: Path, fpr: str, cache: Cache) -> None:
    """scripts/ci-publish.sh (init, add, publish, export-key > archive-key.asc) under umask 022."""
    env = {
        **os.environ, "DEBFORGE_REPO": str(site), "DIST": "bookworm", "ARCH": "amd64",
        "DEBFORGE_PREBUILT_DEBS": str(debs), "DEBFORGE_SIGN_KEY": fpr, "GNUPGHOME": str(home),
        "DEBFORGE": f"{sys.executable} -m debforge", "PYTHONPATH": str(ROOT),
        "DEBFORGE_CACHE": str(cache.root),
    }  # fmt: skip
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ci-publish.sh")], env=env, capture_output=True, text=True,
        check=False, timeout=600, umask=0o022,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def _modes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): stat.S_IMODE(p.lstat().st_mode) for p in sorted(root.rglob("*"))}


def _wrong_modes(modes: dict[str, int], root: Path) -> dict[str, str]:
    return {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o755 if (root / name).is_dir() else 0o644)
    }


@contextlib.contextmanager
def _serve_as_nobody(root: Path, log: Path) -> Iterator[str]:
    """http.server as uid/gid nobody (setpriv drops root and every supplementary group)."""
    python = shutil.which("python3", path="/usr/bin:/bin")  # not a venv under a 0700 home
    _require(python is not None, "no system python3 in /usr/bin for the unprivileged server")
    assert python is not None
    drop = [require_tool("setpriv"), "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    argv = [*drop, python, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(root), "0"]
    with (
        log.open("w") as err,
        subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, stderr=err, text=True) as server,
    ):
        try:
            assert server.stdout is not None
            banner = server.stdout.readline()
            match = _SERVING.search(banner)
            assert match, f"{banner!r}; {log.read_text()}"
            yield f"http://127.0.0.1:{match[1]}"
        finally:
            server.terminate()
            server.wait(10)


def test_repo_published_under_umask_022_is_served_by_another_user_to_real_apt(
    e2e_cache: Cache, gpg_key: tuple[Path, str], tmp_path: Path
) -> None:
    _require(os.geteuid() == 0, "starting a server as `nobody` needs root")
    home, fpr = gpg_key
    # The test's own scratch directory is opened to others (pytest's tmp_path is 0700); every
    # file and directory below it is created by debforge.
    top = Path(tempfile.mkdtemp(prefix="debforge-served-"))
    top.chmod(0o755)
    try:
        _run(top, e2e_cache, home, fpr, tmp_path)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _run(top: Path, cache: Cache, home: Path, fpr: str, tmp_path: Path) -> None:
    source = tmp_path / "hello.c"
    source.write_text('#include <stdio.h>\nint main(void) { puts("served"); return 0; }\n')
    binary = tmp_path / NAME
    # Static: no Depends, so apt can simulate the install from this repository alone.
    subprocess.run([require_tool("gcc"), "-static", "-O2", "-o", binary, source], check=True)
    out, site = top / "out", top / "site"
    _debforge("package", "--binary", str(binary), "--name", NAME, "--deb-version", "1.0",
              "--maintainer", "Jane Doe <jane@example.org>", "--dist", "bookworm", "--arch", "amd64",
              "--out", str(out), cache=cache)  # fmt: skip
    _publish(site, out, home, fpr, cache)

    out_modes, site_modes = _modes(out), _modes(site)
    record = "\n".join(f"{oct(m)} {where}/{n}" for where, ms in (("out", out_modes), ("site", site_modes))
                       for n, m in ms.items())  # fmt: skip
    (tmp_path / "modes.txt").write_text(record + "\n")
    print(record)  # the recorded modes, in the test log
    assert DEB in out_modes and f"{DEB}.buildinfo.json" in out_modes
    assert stat.S_IMODE(out.stat().st_mode) == 0o755 and stat.S_IMODE(site.stat().st_mode) == 0o755
    assert _wrong_modes(out_modes, out) == {}
    assert _wrong_modes(site_modes, site) == {}
    for must in ("dists/bookworm/InRelease", "dists/bookworm/Release", "dists/bookworm/Release.gpg",
                 "dists/bookworm/main/binary-amd64/Packages.xz", "archive-key.asc",
                 f"pool/main/h/{NAME}/{DEB}"):  # fmt: skip
        assert must in site_modes, must
    assert any("/by-hash/SHA256/" in name for name in site_modes)

    server_log = tmp_path / "server.log"
    with _serve_as_nobody(site, server_log) as url:
        _read_everything(site, url)
        _apt_installs(site, url, tmp_path)
    requests = server_log.read_text()
    print(requests)
    assert '" 200 ' in requests and '" 403 ' not in requests, requests


def _read_everything(site: Path, url: str) -> None:
    """Every published file comes back whole from the unprivileged server (a 403 raises here)."""
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        rel = path.relative_to(site).as_posix()
        with urllib.request.urlopen(f"{url}/{rel}") as response:  # noqa: S310 - our own 127.0.0.1 server
            assert response.status == 200 and response.read() == path.read_bytes(), rel


def _apt_installs(site: Path, url: str, tmp_path: Path) -> None:
    apt = Apt(tmp_path / "apt", arch="amd64", extra_arch="amd64")
    apt.sources(f"deb [signed-by={site / 'archive-key.asc'}] {url} bookworm main")
    update = apt("update")
    assert update.returncode == 0, update.stdout + update.stderr
    assert "W:" not in update.stderr and "E:" not in update.stderr, update.stderr
    simulate = apt("install", "-s", NAME)
    assert simulate.returncode == 0, simulate.stdout + simulate.stderr
    assert f"Inst {NAME} (1.0-1 debforge:bookworm [amd64])" in simulate.stdout, simulate.stdout
    download = apt("download", NAME, cwd=tmp_path)
    assert download.returncode == 0, download.stderr
    pool = site / f"pool/main/h/{NAME}/{DEB}"
    assert (tmp_path / DEB).read_bytes() == pool.read_bytes()
