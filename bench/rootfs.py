"""Benchmark: `debforge image` vs mmdebstrap minbase, `debforge sysroot` vs mmdebstrap extract.

Same run, same machine, both from a warm package cache (mmdebstrap's through sync-in/sync-out hooks,
cross-build-notes S2; its merged-usr hook keeps usrmerge+perl out, S1, as debforge does).
Prints both ratios; targets: image ≤ 0.5x, sysroot (warm) < 2 s and ≤ 0.3x.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from debforge import container, rootfs
from debforge.archive import download_packages, fetch_index
from debforge.cache import Cache
from debforge.dists import make_target
from debforge.session import Session

TARGET = make_target("bookworm", "arm64")
CACHE = Cache(
    Path(os.environ.get("DEBFORGE_TEST_CACHE", Path(__file__).resolve().parents[1] / ".cache/test"))
)
MMDEB_CACHE = CACHE.root / "bench-mmdebstrap-debs"
HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr"


def mmdebstrap(variant: str, out: Path, *extra: str) -> float:
    """One mmdebstrap run with its .debs synced in from (and out to) a cache dir; seconds."""
    MMDEB_CACHE.mkdir(parents=True, exist_ok=True)
    sync_out = "--extract-hook" if variant == "extract" else "--customize-hook"
    argv = [
        "mmdebstrap", "--quiet", "--arch=arm64", f"--variant={variant}", f"--hook-dir={HOOKS}",
        "--skip=essential/unlink", '--setup-hook=mkdir -p "$1"/var/cache/apt/archives/',
        f"--setup-hook=sync-in {MMDEB_CACHE} /var/cache/apt/archives/",
        f"{sync_out}=sync-out /var/cache/apt/archives {MMDEB_CACHE}", *extra, "bookworm", str(out),
        "http://deb.debian.org/debian",
    ]  # fmt: skip
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def debforge_image(session: Session) -> float:
    """A full `debforge image` from cached .debs with no image of the target in the engine: every
    `debforge/bookworm-arm64-runtime` image is removed first (a runtime image with extra packages is
    that image plus a layer, so building on a kept one would time the layer alone)."""
    closure = container.resolve_bootstrap(fetch_index(session, TARGET), [], cache=CACHE)
    download_packages(session, closure.packages)  # warm package cache, as mmdebstrap's
    client = session.docker()
    for old in client.images.list(name=f"debforge/{TARGET.dist}-{TARGET.arch}-runtime"):
        client.images.remove(str(old.id), force=True)
    start = time.monotonic()
    container.build_image(session, TARGET)
    return time.monotonic() - start


def debforge_sysroot(session: Session, work: Path) -> tuple[float, float]:
    """(seconds with the tree already cached, seconds with only the .debs cached)."""
    rootfs.make_sysroot(session, TARGET, ["libssl-dev"], out=work / "warm0")
    start = time.monotonic()
    rootfs.make_sysroot(session, TARGET, ["libssl-dev"], out=work / "warm")
    warm_s = time.monotonic() - start
    for tree in (CACHE.root / "trees").iterdir():  # drop the cached tree: extraction from .debs only
        if (tree / "var/lib/dpkg/info/libssl-dev:arm64.list").exists():
            shutil.rmtree(tree)
    start = time.monotonic()
    rootfs.make_sysroot(session, TARGET, ["libssl-dev"], out=work / "cold")
    return warm_s, time.monotonic() - start


def main() -> int:
    """Run both comparisons and print the ratios."""
    if shutil.which("mmdebstrap") is None:
        print("mmdebstrap is not installed (apt install mmdebstrap)", file=sys.stderr)
        return 1
    CACHE.ensure()
    with tempfile.TemporaryDirectory(dir=CACHE.root / "tmp") as tmp, Session(cache=CACHE) as session:
        work = Path(tmp)
        mmdebstrap("extract", work / "warmup-x", "--include=libssl-dev")  # fill mmdebstrap's cache
        mm_extract = mmdebstrap("extract", work / "x", "--include=libssl-dev")
        warm, cold = debforge_sysroot(session, work)
        print(f"sysroot libssl-dev: debforge {warm:.2f} s warm ({cold:.2f} s from .debs), mmdebstrap extract "
              f"{mm_extract:.2f} s, ratio {warm / mm_extract:.2f}x (target <= 0.3x, < 2 s)")  # fmt: skip
        mmdebstrap("minbase", work / "warmup.tar")
        mm_minbase = mmdebstrap("minbase", work / "minbase.tar")
        image = debforge_image(session)
        print(f"figure 2: image bookworm/arm64: debforge {image:.1f} s, mmdebstrap minbase "
              f"{mm_minbase:.1f} s, ratio {image / mm_minbase:.2f}x (target <= 0.5x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
