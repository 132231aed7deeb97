"""doctor: each check finds what is wrong and names the exact fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from debforge import doctor
from debforge.dists import make_target

BOOKWORM = make_target("bookworm", "arm64")


def _binfmt(tmp_path: Path, body: str | None) -> Path:
    (tmp_path / "status").write_text("enabled\n")
    if body is not None:
        (tmp_path / "qemu-aarch64").write_text(body)
    return tmp_path


@pytest.mark.parametrize(
    ("body", "ok", "fix"),
    [
        ("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n", True, ""),
        ("disabled\ninterpreter /x\nflags: PF\n", False, "update-binfmts --enable qemu-aarch64"),
        ("enabled\ninterpreter /x\nflags: P\n", False, "--reinstall qemu-user-static"),
        (None, False, "update-binfmts --import qemu-aarch64"),
    ],
)
def test_binfmt_check(tmp_path: Path, body: str | None, ok: bool, fix: str) -> None:
    check = doctor.check_binfmt(BOOKWORM, binfmt=_binfmt(tmp_path, body))
    assert check.ok is ok and check.detail
    assert fix in check.fix


def test_binfmt_not_mounted(tmp_path: Path) -> None:
    check = doctor.check_binfmt(BOOKWORM, binfmt=tmp_path / "none")
    assert not check.ok and check.fix.startswith("sudo mount -t binfmt_misc")


def test_cache_disk_check(tmp_path: Path) -> None:
    assert doctor.check_cache(tmp_path / "not" / "yet", need_gib=0.001).ok
    check = doctor.check_cache(tmp_path, need_gib=1e9)
    assert not check.ok and "GiB free" in check.detail and "--cache-dir" in check.fix


def test_missing_tool_names_its_fix() -> None:
    check = doctor.check_tool("no-such-tool-here", "does nothing", "sudo apt install nothing")
    assert not check.ok and check.fix == "sudo apt install nothing"


def test_keyring_check(tmp_path: Path) -> None:
    assert not doctor.check_keyring(make_target("bookworm", "arm64", keyring=tmp_path / "none.gpg")).ok
