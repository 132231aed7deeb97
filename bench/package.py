"""Benchmark: debforge's write_deb against `dpkg-deb --build -Zxz` on the same 100 MB tree, same run.

Usage: .venv/bin/python bench/package.py [--size-mb 100] [--repeat 1]
Prints both wall times (best of --repeat) and the ratio debforge / dpkg-deb (target: at most 1.0).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from debforge.deb import FileFromPath, PackageSpec, write_deb
from debforge.deb.compress import default_threads
from debforge.report import NullReporter

SDE = 1_700_000_000
WORDS = b"alpha beta gamma delta error warning info debug request response cache miss hit user id".split()


def make_payload(root: Path, total: int, seed: int = 20231114) -> list[Path]:
    """Deterministic files under root/usr/share/bench: 60 % log-like text, 40 % random bytes, varied sizes."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    base = root / "usr/share/bench"
    paths, written, index = [], 0, 0
    while written < total:
        size = min(total - written, rng.choice((4 << 10, 64 << 10, 1 << 20, 8 << 20)))
        path = base / f"d{index % 16:02d}" / f"f{index:05d}.{'txt' if rng.random() < 0.6 else 'bin'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_text(rng, size) if path.suffix == ".txt" else rng.randbytes(size))
        paths.append(path)
        written += size
        index += 1
    return paths


def _text(rng: random.Random, size: int) -> bytes:
    lines, length = [], 0
    while length < size:
        words = b" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12)))
        line = b"2023-11-14T22:%02d:%02d %s %d\n" % (
            rng.randint(0, 59),
            rng.randint(0, 59),
            words,
            rng.randint(0, 99999),
        )
        lines.append(line)
        length += len(line)
    return b"".join(lines)[:size]


def spec_for(root: Path, paths: list[Path]) -> PackageSpec:
    """The PackageSpec of the tree: every file under its path relative to root."""
    files = tuple(
        FileFromPath(dest=PurePosixPath("/") / p.relative_to(root).as_posix(), source=p) for p in paths
    )
    return PackageSpec(
        name="benchdata",
        version="1.0-1",
        arch="all",
        maintainer="debforge bench <bench@debforge.invalid>",
        description="benchmark payload\nText and random data.",
        section="misc",
        files=files,
        source_date_epoch=SDE,
    )


def time_debforge(spec: PackageSpec, out: Path) -> float:
    start = time.perf_counter()
    write_deb(spec, out, reporter=NullReporter())
    return time.perf_counter() - start


def time_dpkg_deb(root: Path, out: Path) -> float:
    (root / "DEBIAN").mkdir(exist_ok=True)
    control = (
        "Package: benchdata\nVersion: 1.0-1\nArchitecture: all\nMaintainer: b <b@b.invalid>\nDescription: b\n"
    )
    (root / "DEBIAN/control").write_text(control)
    out.mkdir(parents=True, exist_ok=True)
    argv = ["dpkg-deb", "--root-owner-group", "-Zxz", "-z6", "--build", str(root), str(out / "ref.deb")]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(SDE)}
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="debforge-bench-") as tmp:
        root = Path(tmp) / "tree"
        paths = make_payload(root, args.size_mb * 1_000_000)
        spec = spec_for(root, paths)
        ours, theirs = [], []
        for run in range(args.repeat):
            theirs.append(time_dpkg_deb(root, Path(tmp) / f"ref{run}"))
            ours.append(time_debforge(spec, Path(tmp) / f"ours{run}"))
        ours_size = next((Path(tmp) / "ours0").glob("*.deb")).stat().st_size
        ref_size = (Path(tmp) / "ref0/ref.deb").stat().st_size
    print(f"payload: {args.size_mb} MB in {len(paths)} files, xz -6, {default_threads()} threads")
    print(f"dpkg-deb --build -Zxz : {min(theirs):7.2f} s  ({ref_size} bytes)")
    print(f"debforge write_deb    : {min(ours):7.2f} s  ({ours_size} bytes)")
    print(f"ratio debforge/dpkg-deb: {min(ours) / min(theirs):.2f} (target <= 1.0)")


if __name__ == "__main__":
    main()
