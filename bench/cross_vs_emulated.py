"""Benchmark: cross-building in the builder container against building under QEMU (--emulate).

Usage: .venv/bin/python bench/cross_vs_emulated.py [--recipes hello-ssl multi-crate] [--no-emulate]

For each recipe, in the same run and with clean target dirs: the cross build and the emulated build
(images, sysroots and the target std prepared first and reported apart: they are built once per
closure), the ratio emulated / cross (target: at least 10), then the warm-rebuild overhead of
debforge (a no-change `build()`) over a bare `cargo build` exec'd in a running builder with the
same mounts and environment (target: under 3 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from debforge.builder import build, rust
from debforge.cache import Cache, default_cache_dir
from debforge.container import IDLE, open_container
from debforge.dists import Target, make_target
from debforge.recipe import Recipe, load_recipe
from debforge.report import NullReporter
from debforge.session import Session

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
TARGET = make_target("bookworm", "arm64")
NATIVE = make_target("bookworm", "amd64")


def timed(fn: object, *args: object, **kwargs: object) -> float:
    start = time.monotonic()
    fn(*args, **kwargs)  # type: ignore[operator]
    return time.monotonic() - start


def timed_build(
    session: Session, recipe: Recipe, *, target: Target = TARGET, **kwargs: object
) -> tuple[float, float]:
    """(wall seconds of debforge's build(), seconds cargo itself reported in its `Finished` line)."""
    start = time.monotonic()
    result = build(session, recipe, target, **kwargs)  # type: ignore[arg-type]
    return time.monotonic() - start, cargo_seconds(result.log)


def cargo_seconds(log: str) -> float:
    """`Finished `release` profile [optimized] target(s) in 1m 02s` → 62.0."""
    found = re.search(r"Finished .* in (?:(\d+)m )?([\d.]+)s", log)
    return 0.0 if found is None else int(found.group(1) or 0) * 60 + float(found.group(2))


def clean_target(recipe: Recipe, cache: Cache, variant: str, target: Target = TARGET) -> None:
    shutil.rmtree(rust.workdirs(recipe, target, cache, variant).target_dir, ignore_errors=True)


def native_build(session: Session, name: str, out: Path) -> tuple[float, float]:
    """The same project built for amd64 on this amd64 machine (the builder's own gcc, no cross)."""
    recipe = load_recipe(RECIPES / name, arch=NATIVE.arch, reporter=NullReporter())
    rust.plan_build(session, recipe, NATIVE)  # its builder image and sysroot, reported apart as above
    clean_target(recipe, session.cache, "container", NATIVE)
    return timed_build(session, recipe, target=NATIVE, out=out)


def bare_cargo(session: Session, plan: rust.ContainerPlan) -> float:
    """Seconds of the plan's cargo command alone, exec'd in an already running builder container."""
    spec = dataclasses.replace(plan.spec(), argv=IDLE, network="none", timeout=None)
    with open_container(session, spec) as box:
        start = time.monotonic()
        box.exec(plan.cargo, env=dict(plan.env), user=spec.user)
        return time.monotonic() - start


def bench_recipe(session: Session, name: str, *, emulate: bool) -> None:
    cache = session.cache
    recipe = load_recipe(RECIPES / name, arch=TARGET.arch, reporter=NullReporter())
    out = Path(tempfile.mkdtemp(prefix="bench-out-"))
    prep = timed(rust.plan_build, session, recipe, TARGET)
    if emulate:
        prep += timed(rust.plan_build, session, recipe, TARGET, emulate=True)
    print(f"{name}: images, sysroot and std ready in {prep:.1f} s (once per closure)")
    clean_target(recipe, cache, "container")
    cross, cross_cargo = timed_build(session, recipe, out=out)
    print(f"{name}: cross build (clean target dir)     {cross:8.1f} s  (cargo {cross_cargo:.1f} s)")
    native, native_cargo = native_build(session, name, out)
    print(f"{name}: native amd64 build (clean target)  {native:8.1f} s  (cargo {native_cargo:.1f} s)")
    print(f"{name}: figure 4: ratio cross / native amd64 = {cross / native:.2f}x (target <= 1.1x)")
    if emulate:
        clean_target(recipe, cache, "emulate")
        emulated, emulated_cargo = timed_build(session, recipe, emulate=True, out=out)
        print(f"{name}: emulated build (clean target dir)  {emulated:8.1f} s  (cargo {emulated_cargo:.1f} s)")
        print(f"{name}: figure 4: ratio emulated / cross = {emulated / cross:.1f}x (target >= 10x); "
              f"cargo alone {emulated_cargo / max(cross_cargo, 0.01):.1f}x")  # fmt: skip
    warm = min(timed(build, session, recipe, TARGET, out=out) for _ in range(3))
    bare = min(bare_cargo(session, rust.plan_build(session, recipe, TARGET)) for _ in range(3))
    print(f"{name}: warm rebuild: debforge {warm:.2f} s, bare cargo in the builder {bare:.2f} s, "
          f"overhead {warm - bare:.2f} s (target < 3 s)")  # fmt: skip
    shutil.rmtree(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["hello-ssl", "multi-crate"])
    parser.add_argument("--no-emulate", action="store_true", help="skip the (slow) emulated builds")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("DEBFORGE_E2E_CACHE") or default_cache_dir()),
    )
    args = parser.parse_args()
    with Session(cache=Cache(args.cache_dir).ensure()) as session:
        for name in args.recipes:
            bench_recipe(session, name, emulate=not args.no_emulate)


if __name__ == "__main__":
    main()
