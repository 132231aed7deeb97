"""A Nix-style arm64 binary (/nix/store loader and RPATH), repaired, runs under QEMU like the original."""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

import pytest

from debforge.dists import make_target
from debforge.elf import patch_elf, read_elf
from debforge.errors import CommandError
from debforge.run import run
from tests.conftest import require_tool
from tests.helpers.elfs import compile_c, oracle_sysroot

pytestmark = pytest.mark.e2e

NIX_LD = "/nix/store/8k2m3p6xq1f0yy0c9w4h5l7n2b3d4e5f-glibc-2.37-8/lib/ld-linux-aarch64.so.1"
NIX_RPATH = "/nix/store/8k2m3p6xq1f0yy0c9w4h5l7n2b3d4e5f-glibc-2.37-8/lib:/nix/store/x-zlib-1.3/lib"
SOURCE = (
    "#include <stdio.h>\n#include <zlib.h>\n"
    'int main(void) { printf("zlib %s\\n", zlibVersion()); return 0; }\n'
)


def _run_arm64(binary: Path, sysroot: Path) -> str:
    # binfmt_misc hands arm64 ELF files to qemu-aarch64; QEMU_LD_PREFIX makes the bookworm arm64
    # tree the root the loader and libraries are looked up in.
    env = {**os.environ, "QEMU_LD_PREFIX": str(sysroot)}
    qemu = shutil.which("qemu-aarch64-static") or "qemu-aarch64"
    return run([qemu, binary], env=env, timeout=60).text


def test_nix_binary_repaired_runs_like_the_original(tmp_path: Path) -> None:
    require_tool("aarch64-linux-gnu-gcc")
    require_tool("patchelf")
    require_tool("qemu-aarch64-static")
    sysroot = oracle_sysroot()  # bookworm arm64 with libc6 and zlib1g
    zlib = sysroot / "usr/lib/aarch64-linux-gnu/libz.so.1"
    (tmp_path / "zlib.h").write_text("const char *zlibVersion(void);\n")
    original = compile_c(tmp_path / "hello", source=SOURCE, args=[f"-I{tmp_path}", str(zlib)])
    expected = _run_arm64(original, sysroot)
    assert expected.startswith("zlib 1.2.13")

    nix = tmp_path / "hello-nix"
    shutil.copy(original, nix)
    run(["patchelf", "--set-interpreter", NIX_LD, "--set-rpath", NIX_RPATH, nix])
    with pytest.raises(CommandError):
        _run_arm64(nix, sysroot)  # the /nix/store loader does not exist on Debian

    target = make_target("bookworm", "arm64")
    repaired = tmp_path / "hello-fixed"
    repaired.write_bytes(patch_elf(nix, interpreter=target.ld_so))
    repaired.chmod(0o755)
    info = read_elf(repaired)
    assert (info.interpreter, info.rpath, info.runpath) == (
        PurePosixPath("/lib/ld-linux-aarch64.so.1"),
        (),
        (),
    )
    assert _run_arm64(repaired, sysroot) == expected
    assert patch_elf(repaired, interpreter=target.ld_so) == repaired.read_bytes()
