"""The dpkg-maintscript-helper shim of the image bootstrap (container/bootstrap.py), run by the host's
sh: it answers only the fresh-install calls where the real helper does nothing, and hands every other
call to the real helper with its arguments unchanged. (On a bookworm arm64 minbase, the images built
with and without it were compared file by file: the same files, modes, owners and contents, apt's
caches and logs aside.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from debforge.container.bootstrap import write_bootstrap


@pytest.fixture
def shim(tmp_path: Path) -> Path:
    return write_bootstrap(tmp_path / "root") / "bin/dpkg-maintscript-helper"


def call(shim: Path, tmp_path: Path, script: str, *argv: str) -> tuple[int, str]:
    """Run the shim as `script` (preinst/postinst) would; what the real helper was handed, if anything."""
    record = tmp_path / "real-called"
    record.unlink(missing_ok=True)
    real = tmp_path / "real"
    real.write_text(f'#!/bin/sh\nprintf "%s|" "$@" > {record}\nexit 3\n')
    real.chmod(0o755)
    env = {**os.environ, "DEBFORGE_REAL_HELPER": str(real), "DPKG_MAINTSCRIPT_NAME": script,
           "DPKG_MAINTSCRIPT_PACKAGE": "p"}  # fmt: skip
    done = subprocess.run(["sh", str(shim), *argv], env=env, check=False)
    return done.returncode, record.read_text() if record.exists() else ""


@pytest.mark.parametrize("command", ["rm_conffile", "mv_conffile", "symlink_to_dir", "dir_to_symlink"])
def test_a_first_install_needs_nothing_from_the_real_helper(shim: Path, tmp_path: Path, command: str) -> None:
    args = ("/etc/x", "/etc/y", "1.0~") if command == "mv_conffile" else ("/etc/x", "1.0~")
    assert call(shim, tmp_path, "preinst", command, *args, "--", "install") == (0, "")
    assert call(shim, tmp_path, "postinst", command, *args, "--", "configure", "") == (0, "")
    assert call(shim, tmp_path, "postinst", command, *args, "--", "configure") == (0, "")


def test_everything_else_goes_to_the_real_helper_unchanged(shim: Path, tmp_path: Path) -> None:
    upgrade = ("rm_conffile", "/etc/x", "1.0~", "--", "configure", "0.9")
    assert call(shim, tmp_path, "postinst", *upgrade) == (3, "|".join(upgrade) + "|")
    assert call(shim, tmp_path, "preinst", "rm_conffile", "/etc/x", "--", "upgrade", "0.9")[1]
    assert call(shim, tmp_path, "postrm", "rm_conffile", "/etc/x", "--", "purge")[1]
    assert call(shim, tmp_path, "postinst", "supports", "rm_conffile") == (3, "supports|rm_conffile|")
    assert call(shim, tmp_path, "postinst", "rm_conffile", "/etc/x")[1]  # no `--`: the real one says so
    # A backup an earlier upgrade left is the real helper's to finish.
    backup = tmp_path / "dir.dpkg-backup"
    backup.mkdir()
    assert call(shim, tmp_path, "postinst", "dir_to_symlink", str(tmp_path / "dir"), "t", "--", "configure")[
        1
    ]
