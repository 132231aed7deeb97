"""Content-addressed cache: keys are hashes of inputs, every write is atomic and locked."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from debforge.errors import CacheError


def key(obj: object) -> str:
    """sha256 of the canonical JSON of `obj` (sorted keys, no spaces): a cache key for inputs.

    >>> key({"b": 1, "a": [1, 2]}) == key({"a": [1, 2], "b": 1})
    True
    """
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def default_cache_dir() -> Path:
    """`$DEBFORGE_CACHE`, else `$XDG_CACHE_HOME/debforge`, else `~/.cache/debforge`."""
    if env := os.environ.get("DEBFORGE_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "debforge"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never a part."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success fsync it and rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class Cache:
    """A cache directory: `blobs/` by sha256, `trees/` by key, `state/` for small mutable records."""

    root: Path

    def ensure(self) -> Cache:
        """Create the layout, or raise CacheError with what to do."""
        try:
            for sub in ("blobs", "trees", "state", "locks", "tmp"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot use cache directory {self.root}: {exc.strerror}",
                hint="pass --cache-dir with a writable directory or set DEBFORGE_CACHE",
            ) from exc
        return self

    def blob(self, sha256: str) -> Path:
        """Where the file with this SHA256 lives (it may not exist yet)."""
        return self.root / "blobs" / sha256[:2] / sha256

    def has_blob(self, sha256: str) -> bool:
        """True when the blob is present."""
        return self.blob(sha256).is_file()

    def put_blob(self, sha256: str, source: Path) -> Path:
        """Move a verified file into the blob store (atomic rename) and return its path."""
        dest = self.blob(sha256)
        dest.parent.mkdir(parents=True, exist_ok=True)
        source.replace(dest)
        return dest

    def state(self, name: str) -> Path:
        """A small mutable record (written with atomic_write_bytes)."""
        return self.root / "state" / name

    def tree(self, tree_key: str) -> Path:
        """Where the finished tree with this key lives (it may not exist yet)."""
        return self.root / "trees" / tree_key

    def tempdir(self, prefix: str) -> Path:
        """A fresh temporary directory on the cache's filesystem, so renames into it are atomic."""
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.root / "tmp"))

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold an exclusive advisory lock; the kernel drops it if the process dies (kill -9)."""
        path = self.root / "locks" / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def build_tree(self, tree_key: str, fill: Callable[[Path], None]) -> Path:
        """Return the tree for `tree_key`, filling it once (under a lock) if absent; atomic rename."""
        final = self.tree(tree_key)
        if final.is_dir():
            return final
        with self.lock(f"tree-{tree_key}"):
            if final.is_dir():
                return final
            work = self.tempdir(f"tree-{tree_key[:12]}-")
            try:
                fill(work)
                final.parent.mkdir(parents=True, exist_ok=True)
                work.rename(final)
            finally:
                if work.exists():
                    shutil.rmtree(work, ignore_errors=True)
        return final
