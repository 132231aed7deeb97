"""Benchmark: debforge's index vs a naive full python-debian parse, bookworm arm64.

(a) cold index build from already-downloaded Packages files (decompress + scan + write), and
(b) a warm `debforge show libssl3` in a fresh process (interpreter start-up included),
each against a naive python-debian parse of the same files (Deb822 iteration + every relation
field). Targets (issue 2): cold >= 3x faster, warm show < 0.5 s.

    .venv/bin/python bench/index.py [--cache-dir DIR] [--runs N]
"""

from __future__ import annotations

import argparse
import io
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from debian.deb822 import Packages, PkgRelation

from debforge.archive.compact import PackagesFile, write_compact
from debforge.archive.fetch import decompress, fetch_index, index_entry, release_of, suite_state
from debforge.archive.index import Origin
from debforge.archive.indexfile import download_index_file
from debforge.cache import Cache, default_cache_dir
from debforge.dists import make_target
from debforge.session import Session

RELATIONS = ("Depends", "Pre-Depends", "Recommends", "Suggests", "Conflicts", "Breaks", "Replaces",
             "Enhances", "Provides")  # fmt: skip


def packages_blobs(cache: Cache) -> list[tuple[Origin, Path]]:
    """The verified Packages files of bookworm arm64 in the cache (fetched first if needed)."""
    target = make_target("bookworm", "arm64")
    with Session(cache=cache) as session:
        fetch_index(session, target)
    found = []
    with Session(cache=cache, offline=True) as offline:
        for rank, suite in enumerate(target.suites):
            release = release_of(suite_state(offline, suite, target.keyring, refresh=False), cache)
            entry = index_entry(release, "main", "binary-arm64/Packages")
            assert entry is not None
            blob = download_index_file(offline, suite, release, entry)
            origin = Origin(suite=suite.name, suite_rank=rank, component="main", mirror=suite.mirror)
            found.append((origin, blob))
    return found


def naive_parse(blobs: list[tuple[Origin, Path]]) -> int:
    """What a straightforward python-debian reader does: every stanza, every relation field."""
    count = 0
    for _, blob in blobs:
        text = decompress(blob).decode()
        for stanza in Packages.iter_paragraphs(io.StringIO(text), use_apt_pkg=False):
            for field in RELATIONS:
                if field in stanza:
                    PkgRelation.parse_relations(stanza[field])
            count += 1
    return count


def cold_build(blobs: list[tuple[Origin, Path]]) -> tuple[float, float]:
    out = Path(tempfile.mkdtemp(prefix="debforge-bench-"))
    try:
        return timed(
            lambda: write_compact(out, (PackagesFile(origin=o, data=decompress(b)) for o, b in blobs))
        )
    finally:
        shutil.rmtree(out)


def wall(argv: list[str], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + sys) of a fresh process running argv."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def timed(func: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of one call: CPU time stays meaningful when other jobs load the machine."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    func()
    return time.perf_counter() - wall0, time.process_time() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cache = Cache(args.cache_dir).ensure()
    blobs = packages_blobs(cache)

    stanzas = naive_parse(blobs)  # warms the page cache; the timed run follows
    naive = timed(lambda: naive_parse(blobs))
    cold = min(cold_build(blobs) for _ in range(2))

    exe = Path(sys.executable).parent / "debforge"
    show = [str(exe), "show", "libssl3", "--dist", "bookworm", "--arch", "arm64",
            "--cache-dir", str(args.cache_dir), "--json"]  # fmt: skip
    library = [sys.executable, "-c",
               "import sys; from pathlib import Path; from debforge.archive import fetch_index; "
               "from debforge.cache import Cache; from debforge.dists import make_target; "
               "from debforge.session import Session; "
               "i = fetch_index(Session(cache=Cache(Path(sys.argv[1]))), make_target('bookworm', 'arm64')); "
               "print(i.candidate('libssl3').version)", str(args.cache_dir)]  # fmt: skip
    warm_lib = wall(library, args.runs)
    warm_cli = wall(show, args.runs) if exe.exists() else (float("nan"), float("nan"))

    print(f"bookworm arm64: {stanzas} stanzas in {len(blobs)} Packages files; wall / CPU seconds")
    rows = [
        ("naive python-debian parse (Deb822 + relations)", naive, ""),
        ("cold index build (decompress + scan + write)", cold, "target >= 3x faster"),
        ("warm fetch_index + candidate, fresh process", warm_lib, ""),
        ("warm `debforge show libssl3 --json`", warm_cli, "target < 0.5 s wall"),
    ]
    for title, (seconds, cpu), goal in rows:
        ratio = (
            f"ratio {naive[0] / seconds:5.1f}x wall, {naive[1] / cpu:5.1f}x CPU"
            if seconds != naive[0]
            else ""
        )
        print(f"{title + ':':48} {seconds:7.3f} s / {cpu:7.3f} s   {ratio}   {goal}")


if __name__ == "__main__":
    main()
