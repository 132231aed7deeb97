"""Benchmark: a C recipe cross-built in the builder container against the same build under QEMU.

Usage: .venv/bin/python bench/c_cross_vs_emulated.py [--recipe tree]

The smallest C recipe (recipes/tree, a plain Makefile) by default. Its source is Debian's orig
tarball (recipes/<name>/upstream.toml, SHA256-checked). Images and the sysroot are prepared
first and reported apart, because they are built once per closure. Then, in the same run, the
cross build and the emulated build (`--emulate`: gcc running under qemu-user in a target
container) are timed, and the ratio emulated / cross is printed (target: at least 10).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from debforge.builder import build, c, toolchain
from debforge.cache import Cache, atomic_write_bytes, default_cache_dir
from debforge.dists import make_target
from debforge.recipe import CBuild, load_recipe
from debforge.report import NullReporter
from debforge.session import Session

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
TARGET = make_target("bookworm", "arm64")


def fetch_source(session: Session, name: str, into: Path) -> Path:
    """recipes/<name> copied to `into`, with its SHA256-checked orig tarball unpacked as src/."""
    pin = tomllib.loads((RECIPES / name / "upstream.toml").read_text())
    tarball = session.cache.root / "upstream" / f"{pin['sha256']}-{pin['url'].rsplit('/', 1)[-1]}"
    if not tarball.is_file():
        response = session.http().get(pin["url"], timeout=120)
        response.raise_for_status()
        if hashlib.sha256(response.content).hexdigest() != pin["sha256"]:
            raise SystemExit(f"{pin['url']} does not have the SHA256 pinned in recipes/{name}/upstream.toml")
        atomic_write_bytes(tarball, response.content)
    project = into / name
    shutil.copytree(RECIPES / name, project)
    with tarfile.open(tarball) as archive:
        archive.extractall(into / "unpacked", filter="data")
    (top,) = (into / "unpacked").iterdir()
    top.rename(project / "src")
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="tree")
    args = parser.parse_args()
    cache = Cache(default_cache_dir()).ensure()
    with Session(cache=cache, reporter=NullReporter()) as session, tempfile.TemporaryDirectory() as tmp:
        recipe = load_recipe(
            fetch_source(session, args.recipe, Path(tmp)), arch="arm64", reporter=NullReporter()
        )
        assert isinstance(recipe.build, CBuild)
        start = time.monotonic()
        toolchain.build_depends_sysroot(session, recipe, TARGET)
        toolchain.builder_image(session, TARGET, kind=recipe.build.kind)
        c._emulated_image(session, recipe.build, TARGET)
        print(f"prepare (sysroot, builder image, emulated image): {time.monotonic() - start:.1f} s")
        start = time.monotonic()
        build(session, recipe, TARGET)
        cross = time.monotonic() - start
        start = time.monotonic()
        build(session, recipe, TARGET, emulate=True)
        emulated = time.monotonic() - start
    print(f"{args.recipe} ({recipe.build.kind}) cross build: {cross:.1f} s")
    print(f"{args.recipe} ({recipe.build.kind}) emulated build: {emulated:.1f} s")
    print(f"ratio emulated / cross: {emulated / cross:.1f}x (target: at least 10x)")


if __name__ == "__main__":
    main()
