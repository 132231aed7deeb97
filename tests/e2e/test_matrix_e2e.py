"""One real matrix command: hello-ssl for trixie armhf and trixie i386, built side by side (--jobs 2),
each .deb test-installed and run under QEMU (`package --test`), outputs in <out>/<dist>-<arch>/.

The representative CI subset of issue 17: 32-bit ARM hard-float and i386 (the cross gcc is
gcc-i686-linux-gnu there). `make matrix` runs every pair; the README table has their times.
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
from tests.conftest import require_docker

pytestmark = pytest.mark.e2e
RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "hello-ssl"
PAIRS = ("trixie-armhf", "trixie-i386")


def test_one_command_packages_and_test_installs_every_pair(e2e_cache: Cache, tmp_path: Path) -> None:
    require_docker()
    out = tmp_path / "dist"
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "debforge", "--quiet", "package", str(RECIPE), "--dist", "trixie",
         "--arch", "armhf,i386", "--test", "--jobs", "2", "--out", str(out), "--json"],
        capture_output=True, text=True, check=False, timeout=1800,
        env={**os.environ, "DEBFORGE_CACHE": str(e2e_cache.root)},
    )  # fmt: skip
    print(f"timing: matrix trixie armhf,i386 with --test: {time.monotonic() - start:.0f} s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads(done.stdout)
    assert doc["ok"] is True
    assert [f"{p['dist']}-{p['arch']}" for p in doc["pairs"]] == list(PAIRS)
    for pair in doc["pairs"]:
        deb = Path(pair["deb"])
        assert deb.parent == out / f"{pair['dist']}-{pair['arch']}"  # never two pairs in one directory
        info = read_deb(deb)
        assert info.get("Architecture") == pair["arch"]
        assert "libssl3t64" in info.get("Depends") and pair["seconds"] > 0
