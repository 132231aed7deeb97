"""`debforge deps` without --sysroot: the sysroot comes from the archive's Contents index by itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from debforge.cache import Cache
from tests.conftest import require_tool

pytestmark = pytest.mark.e2e


def _debforge(*args: str | Path, cache: Cache) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "debforge", *map(str, args), "--dist", "bookworm", "--arch", "arm64",
            "--cache-dir", str(cache.root)]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)


def test_deps_without_sysroot_equals_the_packaged_depends(
    hello_ssl_deb: Path, e2e_cache: Cache, tmp_path: Path
) -> None:
    dpkg_deb = require_tool("dpkg-deb")
    subprocess.run([dpkg_deb, "-x", hello_ssl_deb, tmp_path / "root"], check=True)
    depends = subprocess.run(
        [dpkg_deb, "-f", hello_ssl_deb, "Depends"], capture_output=True, text=True, check=True
    ).stdout.strip()
    done = _debforge("deps", tmp_path / "root/usr/bin/hello-ssl", cache=e2e_cache)
    assert done.returncode == 0, done.stderr
    # The packaged Depends is checked against dpkg-shlibdeps in test_package_e2e; the recipe adds nothing.
    assert done.stdout == depends + "\n"


def test_deps_names_a_library_no_package_ships(hello_ssl_deb: Path, e2e_cache: Cache, tmp_path: Path) -> None:
    patchelf = require_tool("patchelf")
    subprocess.run([require_tool("dpkg-deb"), "-x", hello_ssl_deb, tmp_path / "root"], check=True)
    binary = tmp_path / "root/usr/bin/hello-ssl"
    subprocess.run([patchelf, "--add-needed", "libdebforge-nowhere.so.7", binary], check=True)
    done = _debforge("deps", binary, cache=e2e_cache)
    assert done.returncode == 1
    assert "libdebforge-nowhere.so.7" in done.stderr and "Traceback" not in done.stderr
