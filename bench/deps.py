"""Benchmark: compute_depends against dpkg-shlibdeps over the whole oracle sample, same run.

Prints both wall-clock times and the ratio debforge/dpkg-shlibdeps (target: at most 0.5).
Each file is one call, as a packaging run would make it; results must agree.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from debforge.dists import make_target
from debforge.shlibdeps import compute_depends
from tests.helpers.elfs import ORACLE_SAMPLE, dpkg_shlibdeps, oracle_sysroot, sample_file


def main() -> int:
    """Time both tools on every sample file; print the totals and the ratio."""
    target = make_target("bookworm", "arm64")
    sysroot = oracle_sysroot()
    ours = theirs = 0.0
    agree = 0
    for _pkg, path in ORACLE_SAMPLE:
        src = sample_file(sysroot, path)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            expected = dpkg_shlibdeps([(src, path)], sysroot, Path(tmp))
            theirs += time.perf_counter() - start
        start = time.perf_counter()
        got = compute_depends([src], sysroot, target=target)
        ours += time.perf_counter() - start
        agree += got == expected
    n = len(ORACLE_SAMPLE)
    print(f"files: {n}  agreement: {agree}/{n}")
    print(f"dpkg-shlibdeps: {theirs:.2f} s  debforge: {ours:.2f} s")
    print(f"ratio debforge/dpkg-shlibdeps: {ours / theirs:.2f} (target <= 0.50)")
    return 0 if agree == n else 1


if __name__ == "__main__":
    sys.exit(main())
