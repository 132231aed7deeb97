"""compute_depends against the real dpkg-shlibdeps on real bookworm arm64 files: identical strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from debforge.dists import make_target
from debforge.shlibdeps import compute_depends
from tests.conftest import require_tool
from tests.helpers.elfs import ORACLE_GROUPS, ORACLE_SAMPLE, dpkg_shlibdeps, oracle_sysroot, sample_file

pytestmark = pytest.mark.e2e

TARGET = make_target("bookworm", "arm64")


@pytest.fixture(scope="session")
def sysroot() -> Path:
    require_tool("dpkg-shlibdeps")
    require_tool("unshare")
    require_tool("aarch64-linux-gnu-objdump")  # dpkg-shlibdeps' objdump for a cross host
    return oracle_sysroot()


def _compare(paths: tuple[str, ...], sysroot: Path, tmp_path: Path) -> None:
    files = [(sample_file(sysroot, p), p) for p in paths]
    expected = dpkg_shlibdeps(files, sysroot, tmp_path)
    assert compute_depends([src for src, _ in files], sysroot, target=TARGET) == expected


@pytest.mark.parametrize("path", [p for _, p in ORACLE_SAMPLE], ids=[p for _, p in ORACLE_SAMPLE])
def test_single_file_matches_dpkg_shlibdeps(path: str, sysroot: Path, tmp_path: Path) -> None:
    _compare((path,), sysroot, tmp_path)


@pytest.mark.parametrize("paths", ORACLE_GROUPS, ids=[str(i) for i in range(len(ORACLE_GROUPS))])
def test_several_files_merge_like_dpkg_shlibdeps(
    paths: tuple[str, ...], sysroot: Path, tmp_path: Path
) -> None:
    _compare(paths, sysroot, tmp_path)


def test_private_ld_so_symbols_keep_their_extra_clauses(sysroot: Path) -> None:
    # libc.so.6 uses GLIBC_PRIVATE symbols of ld.so: libc6's `| libc6 (>> 2.36), libc6 (<< 2.37)` template.
    depends = compute_depends(
        [sample_file(sysroot, "/lib/aarch64-linux-gnu/libc.so.6")], sysroot, target=TARGET
    )
    assert depends.endswith("libc6 (>> 2.36), libc6 (<< 2.37)")
