"""Benchmark: `debforge package` of the real upstream Rust recipes (fd-find, ripgrep) for bookworm
arm64 with Debian's crates: cold (empty target dir) and warm (no change), same run.

Usage: .venv/bin/python bench/rust_projects.py [--recipe fd-find] [--recipe ripgrep]
Downloads (archive, orig tarballs) and images come from $DEBFORGE_TEST_CACHE (warm, as in CI), so the
cold time is cargo compiling every crate plus debforge's own steps; the warm time is what a rebuild
with nothing changed costs. Emulated builds of programs this size take far too long here: the
emulated comparison is bench/cross_vs_emulated.py's, on the small recipes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from debforge.builder import rust
from debforge.cache import Cache
from debforge.dists import make_target
from debforge.pipeline import package
from debforge.recipe import load_recipe
from debforge.report import NullReporter
from debforge.session import Session
from tests.e2e.test_rust_projects_e2e import project

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", action="append", choices=["fd-find", "ripgrep"])
    names = parser.parse_args().recipe or ["fd-find", "ripgrep"]
    cache = Cache(Path(os.environ.get("DEBFORGE_TEST_CACHE") or ROOT / ".cache" / "test")).ensure()
    target = make_target("bookworm", "arm64")
    with Session(cache=cache, reporter=NullReporter()) as session, tempfile.TemporaryDirectory() as tmp:
        for name in names:
            src = project(session, name, Path(tmp) / name)
            recipe = load_recipe(src, arch="arm64", reporter=NullReporter())
            work = rust.workdirs(recipe, target, cache, "container")
            try:
                times = []
                for _ in ("cold", "warm"):
                    start = time.perf_counter()
                    package(session, recipe, target, out=Path(tmp) / f"{name}-out")
                    times.append(time.perf_counter() - start)
            finally:  # the work dirs of this throwaway project path: a later cold run starts empty again
                shutil.rmtree(work.out.parent, ignore_errors=True)
            print(f"{name}: cold {times[0]:.1f} s (empty target dir), warm {times[1]:.1f} s (no change), "
                  f"cold/warm {times[0] / times[1]:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
