"""A build matrix: one stage call per (dist, arch) pair, side by side, bounded by `jobs`.

The stage is any function of a Pair that returns what the pair made (a .deb path and its JSON
document); a DebforgeError in one pair becomes that pair's failure and never stops the others,
as a CI matrix with fail-fast off. Results keep the order the pairs were asked in.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from debforge.dists import make_target
from debforge.errors import DebforgeError, UsageError


@dataclass(frozen=True, slots=True, kw_only=True)
class Pair:
    """One (dist, arch) target of a matrix."""

    dist: str
    arch: str

    @property
    def name(self) -> str:
        """`<dist>-<arch>`: the pair's output directory under --out."""
        return f"{self.dist}-{self.arch}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Made:
    """What a stage returns for its pair: the main file and its JSON document."""

    path: Path | None
    doc: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class PairResult:
    """One pair's outcome: what it made, or the error's sentence and hint."""

    pair: Pair
    seconds: float
    made: Made | None = None
    error: str = ""
    hint: str | None = None

    @property
    def ok(self) -> bool:
        """The stage returned without an error."""
        return self.made is not None

    def to_json(self) -> dict[str, object]:
        """One pair in `--json`."""
        doc: dict[str, object] = {"dist": self.pair.dist, "arch": self.pair.arch, "ok": self.ok,
                                  "seconds": round(self.seconds, 1)}  # fmt: skip
        if self.made is not None:
            doc |= {"deb": str(self.made.path) if self.made.path else None, "result": self.made.doc}
        else:
            doc |= {"error": self.error, "hint": self.hint}
        return doc


@dataclass(frozen=True, slots=True, kw_only=True)
class MatrixResult:
    """Every pair's outcome, in the order the pairs were asked in."""

    results: tuple[PairResult, ...]

    @property
    def ok(self) -> bool:
        """Every pair succeeded."""
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> tuple[PairResult, ...]:
        """The pairs that failed, in order."""
        return tuple(r for r in self.results if not r.ok)

    def to_json(self) -> dict[str, object]:
        """`--json` of a matrix: ok, and every pair."""
        return {"ok": self.ok, "pairs": [r.to_json() for r in self.results]}


def split_list(value: str, what: str) -> tuple[str, ...]:
    """`a,b, c` → ('a', 'b', 'c'), without duplicates; an empty list is a usage error.

    >>> split_list("bookworm, trixie,bookworm", "--dist")
    ('bookworm', 'trixie')
    """
    items = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    if not items:
        raise UsageError(f"{what} names no value: {value!r}")
    return items


def matrix_pairs(dists: Sequence[str], arches: Sequence[str]) -> tuple[Pair, ...]:
    """Every (dist, arch) pair, dist-major; a `DIST/ARCH` item is that pair alone (a CI matrix's
    `include:`). Every pair is checked against dists.py before any work, so an arch a dist lacks
    fails here with the sentence naming the dists that have it.

    >>> [p.name for p in matrix_pairs(["bookworm", "sid/arm64"], ["armhf", "i386"])]
    ['bookworm-armhf', 'bookworm-i386', 'sid-arm64']
    """
    pairs = tuple(
        dict.fromkeys(
            Pair(dist=d.partition("/")[0], arch=arch)
            for d in dists
            for arch in ([d.partition("/")[2]] if "/" in d else arches)
        )
    )
    for pair in pairs:
        make_target(pair.dist, pair.arch)  # raises TargetError
    return pairs


def default_jobs() -> int:
    """The number of CPUs this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_matrix(
    pairs: Sequence[Pair],
    stage: Callable[[Pair], Made],
    *,
    jobs: int,
    lane: Callable[[Pair], str] | None = None,
) -> MatrixResult:
    """Run `stage` for every pair, at most `jobs` at a time per lane (a pair's Docker engine): pairs on
    different engines run side by side, and a slow engine holds back only its own pairs."""
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}")
    lanes = {p: (lane(p) if lane else "") for p in pairs}
    gates = {name: threading.Semaphore(jobs) for name in set(lanes.values())}
    # Each pair runs in a copy of this context, so verbosity (a contextvar) reaches the workers.
    context = contextvars.copy_context()
    workers = min(jobs * len(gates), len(pairs)) or 1
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="matrix") as pool:
        futures = [pool.submit(context.copy().run, _gated, gates[lanes[p]], stage, p) for p in pairs]
        return MatrixResult(results=tuple(f.result() for f in futures))


def _gated(gate: threading.Semaphore, stage: Callable[[Pair], Made], pair: Pair) -> PairResult:
    with gate:
        return _timed(stage, pair)


def _timed(stage: Callable[[Pair], Made], pair: Pair) -> PairResult:
    start = time.monotonic()
    try:
        made = stage(pair)
    except DebforgeError as exc:
        return PairResult(pair=pair, seconds=time.monotonic() - start, error=str(exc), hint=exc.hint)
    except Exception as exc:  # one pair's bug must not hide the other pairs' results
        tail = "".join(traceback.format_exception_only(exc)).strip()
        return PairResult(pair=pair, seconds=time.monotonic() - start, error=f"internal error: {tail}",
                          hint="run the pair alone with --debug for the traceback")  # fmt: skip
    return PairResult(pair=pair, seconds=time.monotonic() - start, made=made)
