"""The CLI contract: help, version, exit codes, one-sentence errors and no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from debforge import __version__


def _debforge(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "debforge", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "DEBFORGE_CACHE": str(cache), "COLUMNS": "200"},
    )


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
    done = _debforge("show", "hello", "--dist", "sid", "--offline", cache=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "error: unknown dist 'sid'; supported dists: bookworm, trixie" in done.stderr
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
