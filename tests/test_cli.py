"""The CLI contract: help, version, exit codes, one-sentence errors and no tracebacks."""

from __future__ import annotations

import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

from debforge import __version__
from tests.helpers.cli import run_debforge
from tests.test_repo import gpg_key, make_deb

__all__ = ["gpg_key"]  # a session fixture from test_repo


def _debforge(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return run_debforge(*args, cache=cache)


def test_help_lists_commands(tmp_path: Path) -> None:
    done = _debforge("--help", cache=tmp_path)
    assert done.returncode == 0
    for command in ("update", "show", "resolve", "doctor"):
        assert command in done.stdout


def test_version(tmp_path: Path) -> None:
    done = _debforge("--version", cache=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"debforge {__version__}"


def test_unknown_dist_is_one_sentence_exit_1(tmp_path: Path) -> None:
    done = _debforge("show", "hello", "--dist", "buster", "--offline", cache=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    supported = "bullseye, bookworm, trixie, forky, sid"
    assert f"error: unknown dist 'buster'; supported dists: {supported}" in done.stderr
    assert "Traceback" not in done.stderr


def test_usage_error_exit_2(tmp_path: Path) -> None:
    done = _debforge("show", "--no-such-option", cache=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_unwritable_cache_is_a_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = _debforge("show", "hello", "--offline", "--cache-dir", str(blocker / "c"), cache=tmp_path)
    assert done.returncode == 1
    assert "cannot use cache directory" in done.stderr
    assert "hint:" in done.stderr
    assert "Traceback" not in done.stderr


def test_published_repository_is_world_readable(tmp_path: Path, gpg_key: tuple[Path, str]) -> None:
    """Under umask 022 every file `repo publish` writes is 0644 and every directory 0755, so nginx
    running as www-data can serve it (mkstemp's 0600 made apt get 403 for Packages and Release)."""
    home, fpr = gpg_key
    repo = tmp_path / "site"
    deb = make_deb(tmp_path, "hello", "1.0", "arm64")
    steps = (
        ("repo", "init", "--repo", str(repo), "--dist", "bookworm", "--arch", "arm64", "--sign-key", fpr),
        ("repo", "add", "--repo", str(repo), str(deb)),
        ("repo", "publish", "--repo", str(repo), "--gpg-home", str(home)),
    )
    for argv in steps:
        done = _debforge(*argv, cache=tmp_path / "cache")
        assert done.returncode == 0, done.stderr
    modes = {p.relative_to(repo).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in repo.rglob("*")}
    published = ("InRelease", "Release.gpg", "Release", "main/binary-arm64/Packages.xz")
    for name in (*(f"dists/bookworm/{n}" for n in published), "pool/main/h/hello/hello_1.0_arm64.deb"):
        assert modes[name] == 0o644, name
    assert any("/by-hash/SHA256/" in name for name in modes)
    expected = {name: 0o755 if (repo / name).is_dir() else 0o644 for name in modes}
    assert {n: oct(m) for n, m in modes.items()} == {n: oct(m) for n, m in expected.items()}


def test_sigterm_unwinds_like_ctrl_c_with_exit_143(tmp_path: Path) -> None:
    """A cancelled CI job sends SIGTERM: debforge unwinds (containers and temp files removed on the way
    out, as for ^C; tests/e2e/test_testinstall.py checks the containers) and says so."""
    with socket.socket() as silent:  # accepts the connection, never answers: `update` waits on it
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        proc = subprocess.Popen(
            [sys.executable, "-m", "debforge", "update", "--mirror", f"http://127.0.0.1:{silent.getsockname()[1]}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={"PATH": "/usr/bin:/bin", "DEBFORGE_CACHE": str(tmp_path / "cache")},
        )  # fmt: skip
        time.sleep(2)  # past start-up, inside the request
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "error: terminated (SIGTERM)" in err
    assert not list((tmp_path / "cache").rglob("tmp/*")), "a temporary download was left behind"
