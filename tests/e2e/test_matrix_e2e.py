"""Issue 17's representative CI subset as one real matrix command: hello-ssl for six (dist, arch)
pairs, built side by side (--jobs 2), each .deb test-installed and run under QEMU (`package --test`:
a pair whose program does not print "OpenSSL " fails the command),
outputs in <out>/<dist>-<arch>/.

- bullseye arm64: bookworm's rustc against bullseye's sysroot (glibc 2.31, OpenSSL 1.1);
- trixie armhf and riscv64; bookworm i386 (the cross gcc is gcc-i686-linux-gnu);
- bookworm s390x: big-endian;
- sid arm64.

Two flags are there for this machine's frozen mirror, not for debforge: `--no-check-valid-until`
(the mirror's sid InRelease expired on 2026-11-06, and apt refuses it too without
Acquire::Check-Valid-Until=false) and `--security-mirror none` (its bullseye-security lists arm64
packages whose .deb files answer 404, and its bookworm-security has no s390x). `make matrix` runs
every pair with the security suites; the README table has their times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from debforge.cache import Cache
from debforge.deb.read import read_deb
from debforge.elf import read_elf
from tests.conftest import require_docker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]
RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "hello-ssl"
PAIRS = ("bullseye-arm64", "trixie-armhf", "trixie-riscv64", "bookworm-s390x", "bookworm-i386", "sid-arm64")
# The libssl each dist's hello-ssl links: bullseye still ships OpenSSL 1.1; the 64-bit time_t
# transition renamed the package libssl3t64 on every arch from trixie on.
LIBSSL = {"bullseye": "libssl1.1", "bookworm": "libssl3", "trixie": "libssl3t64", "sid": "libssl3t64"}
MACHINE = {"arm64": "EM_AARCH64", "armhf": "EM_ARM", "riscv64": "EM_RISCV", "s390x": "EM_S390",
           "i386": "EM_386"}  # fmt: skip


def test_one_command_packages_and_test_installs_every_pair(e2e_cache: Cache, tmp_path: Path) -> None:
    require_docker()
    out = tmp_path / "dist"
    pairs = ",".join(p.replace("-", "/") for p in PAIRS)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "debforge", "--quiet", "package", str(RECIPE), "--dist", pairs, "--test",
         "--jobs", "2", "--out", str(out), "--json", "--no-check-valid-until", "--security-mirror", "none"],
        capture_output=True, text=True, check=False, timeout=3500,
        env={**os.environ, "DEBFORGE_CACHE": str(e2e_cache.root)},
    )  # fmt: skip
    print(f"timing: matrix of {len(PAIRS)} pairs with --test: {time.monotonic() - start:.0f} s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads(done.stdout)
    assert doc["ok"] is True
    assert [f"{p['dist']}-{p['arch']}" for p in doc["pairs"]] == list(PAIRS)
    for pair in doc["pairs"]:
        deb = Path(pair["deb"])
        assert deb.parent == out / f"{pair['dist']}-{pair['arch']}"  # never two pairs in one directory
        info = read_deb(deb)
        assert info.get("Architecture") == pair["arch"]
        assert LIBSSL[pair["dist"]] in info.get("Depends"), info.get("Depends")
        elf = read_elf(_binary(deb, tmp_path / pair["dist"] / pair["arch"]))
        assert elf.machine == MACHINE[pair["arch"]]
        assert elf.endian == ("big" if pair["arch"] == "s390x" else "little")


def _binary(deb: Path, into: Path) -> Path:
    into.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(into)], check=True)
    return into / "usr/bin/hello-ssl"
