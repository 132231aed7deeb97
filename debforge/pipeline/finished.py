"""A finished `package` run, remembered by its plan key, so that running it again with nothing changed
is skipped (osbuild's "skip work whose key is already present", style rule 8).

The plan key hashes everything that decides the output: debforge's version, the parsed recipe, the
project's files (path, size, mtime: any edit or checkout rebuilds), the target, the signed indexes the
closures come from, the build options, SOURCE_DATE_EPOCH and the output directory. The result is
reused only while every file it names is still in place with the SHA256 it was written with.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path

from debforge import __version__
from debforge.cache import Cache, atomic_write_bytes, file_sha256, key
from debforge.deb import Package
from debforge.pipeline.record import RECORD_FORMAT
from debforge.recipe import Recipe

FINISHED_FORMAT = 1
# Not the project's own sources: cargo's output directory and version control metadata.
_SKIPPED_DIRS = frozenset({".git", "target"})


def plan_key(recipe: Recipe, *, inputs: Mapping[str, object], out: Path) -> str:
    """sha256 of the canonical JSON of the run's inputs (`inputs`: target, options, index keys)."""
    trees = sorted({recipe.source_dir.resolve(), recipe.recipe_file.resolve().parent})
    return key({
        "format": [FINISHED_FORMAT, RECORD_FORMAT, __version__],
        "recipe": repr(recipe),
        "files": [_tree_listing(tree) for tree in trees],
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH"),
        "out": str(out.resolve()),
        **inputs,
    })  # fmt: skip


def _tree_listing(top: Path) -> list[tuple[str, int, int, int]]:
    """(path, size, mtime in ns, mode) of every file under `top`, sorted; a missing `top` is empty."""
    listing = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS)
        for name in filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            listing.append((str(path.relative_to(top)), st.st_size, st.st_mtime_ns, st.st_mode))
    return sorted(listing)


def load_finished(cache: Cache, plan: str) -> object | None:
    """The result stored for `plan`, if every file it names is still there with its SHA256."""
    state = cache.state(f"finished-{plan}.pickle")
    try:
        # debforge's own cache entry, written below by this user: not data from elsewhere.
        result: object = pickle.loads(state.read_bytes())  # noqa: S301 - see the comment above
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    debs = [getattr(result, "package", None), getattr(result, "dbgsym", None)]
    record = getattr(result, "record", None)
    if not isinstance(record, Path) or not record.is_file():
        return None
    if not all(deb is None or (isinstance(deb, Package) and _intact(deb)) for deb in debs):
        return None
    return result


def _intact(deb: Package) -> bool:
    return deb.path.is_file() and file_sha256(deb.path) == deb.sha256


def store_finished(cache: Cache, plan: str, result: object) -> None:
    """Remember `result` under `plan` (atomically: a crash leaves the old entry or none)."""
    atomic_write_bytes(cache.state(f"finished-{plan}.pickle"), pickle.dumps(result))
