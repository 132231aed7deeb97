"""Content-addressed cache: keys are hashes of inputs, every write is atomic and locked."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from debforge.errors import CacheError


def key(obj: object) -> str:
    """sha256 of the canonical JSON of `obj` (sorted keys, no spaces): a cache key for inputs.

    >>> key({"b": 1, "a": [1, 2]}) == key({"a": [1, 2], "b": 1})
    True
    """
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """The SHA256 of a file's bytes, read in 1 MiB chunks (debs and artifacts can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class HashingWriter:
    """Writes through to a file while counting and hashing what goes out (a .deb, an image layer)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.out.write(data)

    def tell(self) -> int:
        """Bytes written so far (tarfile asks a stream for its position)."""
        return self.size


def default_cache_dir() -> Path:
    """`$DEBFORGE_CACHE`, else `$XDG_CACHE_HOME/debforge`, else `~/.cache/debforge`."""
    if env := os.environ.get("DEBFORGE_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "debforge"


# The umask at import, for kernels without `Umask:` in /proc/self/status (before 4.7). Setting and
# restoring it here runs before any thread of ours exists, so nothing can create a file in between.
_IMPORT_UMASK = os.umask(0o022)
os.umask(_IMPORT_UMASK)
_PRIVATE_MODE = 0o600


def current_umask() -> int:
    """The process umask, read without changing it (`Umask:` in /proc/self/status, Linux >= 4.7)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return _IMPORT_UMASK


def public_mode(*, executable: bool = False) -> int:
    """The mode `open()`/`mkdir` would give a new file or directory: 0644/0755 under umask 022.

    >>> public_mode() & 0o600, public_mode(executable=True) & 0o700
    (384, 448)
    """
    return (0o777 if executable else 0o666) & ~current_umask()


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None, private: bool = False) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never a part."""
    with atomic_output(path, mode=mode, private=private) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def atomic_output(path: Path, *, mode: int | None = None, private: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success fsync it and rename it over `path`.

    The file gets `mode`, else 0600 when `private`, else the umask's mode for a new file (0644
    under umask 022): mkstemp's 0600 would make a published repository unreadable to a web
    server running as another user. The mode is set before the caller writes, so a caller may
    still chmod the temporary file itself (an executable keeps its x bits).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp = Path(name)
    try:
        try:
            os.fchmod(fd, mode if mode is not None else _PRIVATE_MODE if private else public_mode())
        finally:
            os.close(fd)
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
    def lock(self, name: str, *, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold an exclusive advisory lock; the kernel drops it if the process dies (kill -9).

        When another process holds it, `on_wait` hears once who that is before this one blocks.
        """
        path = self.root / "locks" / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _lock_holder(path)
                # Another thread of this run (the images built beside the build) is no news to the user.
                if on_wait is not None and holder is not None:
                    on_wait(f"waiting for the cache lock held by {holder}")
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            _record_holder(fh.fileno())
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def build_tree(
        self, tree_key: str, fill: Callable[[Path], None], *, on_wait: Callable[[str], None] | None = None
    ) -> Path:
        """Return the tree for `tree_key`, filling it once (under a lock) if absent; atomic rename."""
        final = self.tree(tree_key)
        if final.is_dir():
            return final
        with self.lock(f"tree-{tree_key}", on_wait=on_wait):
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


_CMDLINE_MAX = 200  # characters of the holder's command line kept in the lock file


def _record_holder(fd: int) -> None:
    """Write `PID command line` into the held lock file, so a waiting job can say whom it waits for."""
    try:
        argv = Path("/proc/self/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        words = [a.decode(errors="replace") for a in argv]
    except OSError:
        words = sys.argv
    command = " ".join(" ".join(words).split())  # one line: `python -c` scripts hold newlines
    if len(command) > _CMDLINE_MAX:
        command = command[: _CMDLINE_MAX - 1] + "…"
    # The file is opened for appending: after the truncation the write lands at offset 0.
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {command}\n".encode())


def _lock_holder(path: Path) -> str | None:
    """`PID n (command)` from a lock file `_record_holder` wrote, or a vaguer phrase; None when it is
    this process."""
    try:
        pid, _, command = path.read_text(errors="replace").strip().partition(" ")
    except OSError:
        return "another process"
    if not pid.isdigit():
        return "another process"
    if int(pid) == os.getpid():
        return None
    return f"PID {pid} ({command})" if command else f"PID {pid}"
