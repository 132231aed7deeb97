"""Benchmark: `debforge resolve PKG --json` (warm index) vs `apt-get install -s` with the same indexes.

For every package of the oracle sample (tests/helpers/aptoracle.py), one run of each, interleaved so
both see the same machine load; wall time including process start-up. Prints per-package times and
the median ratio debforge/apt (target ≤ 1.0, aim 0.5).

    .venv/bin/python bench/resolve.py [--dist bookworm|trixie] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.aptoracle import SAMPLE, AptOracle, make_oracle  # noqa: E402 - needs the path above

CACHE = Path(os.environ.get("DEBFORGE_TEST_CACHE", ROOT / ".cache/test"))
DEBFORGE = ROOT / ".venv/bin/debforge"


def wall(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds one command takes, start-up included (its output is discarded)."""
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def oracle(dist: str) -> AptOracle:
    """The bench's own isolated apt tree for `dist`, updated when it has no lists yet."""
    tree = make_oracle(CACHE / "bench-apt" / dist, dist, "arm64")
    if not any((tree.root / "state/lists").glob("*_Packages")):
        tree.update()
    return tree


def bench_dist(dist: str, limit: int) -> list[float]:
    """Ratios debforge/apt for the dist's sample; prints one line per package."""
    apt = oracle(dist)
    env = {**os.environ, "DEBFORGE_CACHE": str(CACHE)}
    ours = [str(DEBFORGE), "resolve", "--dist", dist, "--arch", "arm64", "--json"]
    subprocess.run([*ours, "base-files"], env=env, stdout=subprocess.DEVNULL, check=True)  # warm the index
    ratios = []
    for name in SAMPLE[dist][:limit]:
        theirs = wall(apt.argv("install", "-s", "--no-install-recommends", name), apt.env())
        mine = wall([*ours, name], env)
        ratios.append(mine / theirs)
        print(f"{dist:9} {name:28} debforge {mine:6.3f} s   apt {theirs:6.3f} s   ratio {mine / theirs:5.2f}")
    return ratios


def main() -> None:
    """Run the benchmark for the chosen dists and print the median ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", choices=sorted(SAMPLE), action="append")
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    ratios = [r for dist in args.dist or sorted(SAMPLE) for r in bench_dist(dist, args.limit)]
    print(f"resolve: median ratio debforge/apt = {statistics.median(ratios):.2f} over {len(ratios)} packages")


if __name__ == "__main__":
    main()
