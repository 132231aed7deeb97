"""A repository's own records under `<root>/.debforge/`: its configuration, its contents, a lock.

The pool is the published data; these records say which pool file belongs to which dist and
component, and cache each deb's control stanza and hashes keyed by the file's (size, mtime,
inode), so a publish re-reads only the debs that changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from debforge.cache import atomic_write_bytes
from debforge.errors import RepoError
from debforge.repo.debfile import DebInfo, read_deb

META_DIR = ".debforge"
CONFIG_NAME = "repo.json"
STATE_NAME = "state.json"
FORMAT = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Repo:
    """A repository's configuration, as `init_repo` wrote it."""

    root: Path
    dists: tuple[str, ...]
    components: tuple[str, ...]
    arches: tuple[str, ...]
    origin: str
    label: str
    description: str
    sign_key: str | None = None
    key_file: Path | None = None

    def to_json(self) -> dict[str, object]:
        """The configuration as JSON (also the on-disk format, minus `root`)."""
        return {
            "root": str(self.root),
            "dists": list(self.dists),
            "components": list(self.components),
            "arches": list(self.arches),
            "origin": self.origin,
            "label": self.label,
            "description": self.description,
            "sign_key": self.sign_key,
            "key_file": None if self.key_file is None else str(self.key_file),
        }


def config_path(root: Path) -> Path:
    """Where the repository keeps its configuration."""
    return root / META_DIR / CONFIG_NAME


def save_config(repo: Repo) -> None:
    """Write the configuration atomically."""
    data = repo.to_json()
    del data["root"]
    data["format"] = FORMAT
    atomic_write_bytes(config_path(repo.root), (json.dumps(data, indent=2) + "\n").encode())


def load_config(root: Path) -> Repo:
    """Read the configuration, or say that `root` is not a debforge repository."""
    path = config_path(root)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RepoError(
            f"{root} is not a debforge repository (no {META_DIR}/{CONFIG_NAME})",
            hint=f"create it with `debforge repo init --repo {root}`",
        ) from None
    except (OSError, ValueError) as exc:
        raise RepoError(f"cannot read {path}: {exc}") from exc
    key_file = data.get("key_file")
    return Repo(
        root=root,
        dists=tuple(data["dists"]),
        components=tuple(data["components"]),
        arches=tuple(data["arches"]),
        origin=data["origin"],
        label=data["label"],
        description=data["description"],
        sign_key=data.get("sign_key"),
        key_file=None if key_file is None else Path(key_file),
    )


@dataclass(frozen=True, slots=True, order=True)
class Member:
    """One pool file listed in one dist and component."""

    dist: str
    component: str
    filename: str  # pool-relative path as it appears in Packages' Filename field


@dataclass(slots=True)
class State:
    """Mutable, lock-protected contents record; only this module's callers touch it, under `locked`."""

    members: set[Member] = field(default_factory=set)
    debs: dict[str, dict[str, object]] = field(default_factory=dict)  # filename → {stat, info}
    generations: list[list[str]] = field(default_factory=list)  # by-hash paths of recent publishes
    orphans: set[str] = field(default_factory=set)  # unlisted pool files, deleted by the next publish

    def snapshot(self) -> object:
        """A cheap value that changes whenever the state does (cheaper than serialising it)."""
        stamps = {k: str(v.get("stat")) for k, v in self.debs.items()}
        return (frozenset(self.members), stamps, str(self.generations), frozenset(self.orphans))

    def info(self, root: Path, filename: str) -> DebInfo:
        """The deb's cached control and hashes, re-read only when the pool file's stat changed."""
        path = pool_path(root, filename)
        stamp = _stamp(path, root, filename)
        cached = self.debs.get(filename)
        if cached is not None and cached.get("stat") == stamp:
            return DebInfo.from_json(cast("dict[str, object]", cached["info"]))
        info = read_deb(path)
        self.debs[filename] = {"stat": stamp, "info": info.to_json()}
        return info

    def remember(self, root: Path, filename: str, info: DebInfo) -> None:
        """Cache what was read from a deb just copied to `filename` (its bytes were checked equal)."""
        self.debs[filename] = {
            "stat": _stamp(pool_path(root, filename), root, filename),
            "info": info.to_json(),
        }

    def to_bytes(self) -> bytes:
        """Serialized state (sorted, so equal contents give equal bytes)."""
        data = {
            "format": FORMAT,
            "members": [[m.dist, m.component, m.filename] for m in sorted(self.members)],
            "debs": {k: self.debs[k] for k in sorted(self.debs)},
            "generations": self.generations,
            "orphans": sorted(self.orphans),
        }
        return json.dumps(data, separators=(",", ":")).encode()


def pool_path(root: Path, filename: str) -> Path:
    """Where pool file `filename` really is: refused unless that is inside `<root>/pool`.

    Filenames come from control fields (checked against Policy when read) and the repository's
    own records; resolving also follows symlinks, so a pool directory symlinked elsewhere is caught.
    The pool itself may be a symlink (to another disk, say): paths are compared with its target.
    """
    pool = (root / "pool").resolve()
    path = (root / filename).resolve()
    if path == pool or not path.is_relative_to(pool):
        raise RepoError(
            f"pool path {filename} leads to {path}, outside the repository's pool {pool}",
            hint="check the repository for a symlink in pool/ or a component name with '..'",
        )
    return path


def _stamp(path: Path, root: Path, filename: str) -> list[int]:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise RepoError(
            f"pool file {filename} is missing from {root}",
            hint="remove the package with `debforge repo remove` and add it again",
        ) from None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def load_state(root: Path) -> State:
    """Read the contents record (empty for a fresh repository)."""
    path = root / META_DIR / STATE_NAME
    if not path.exists():
        return State()
    data = json.loads(path.read_bytes())
    return State(
        members={Member(d, c, f) for d, c, f in data["members"]},
        debs=dict(data["debs"]),
        generations=[list(g) for g in data.get("generations", [])],
        orphans=set(data.get("orphans", [])),
    )


def save_state(root: Path, state: State) -> None:
    """Write the contents record atomically."""
    atomic_write_bytes(root / META_DIR / STATE_NAME, state.to_bytes())


@contextlib.contextmanager
def locked(root: Path) -> Iterator[tuple[Repo, State]]:
    """Hold the repository's lock, yield its config and state, and save the state on success."""
    repo = load_config(root)
    lock = root / META_DIR / "lock"
    with lock.open("a") as fh:
        # flock: one writer at a time (add/remove/publish from parallel CI jobs); the kernel
        # releases it if the process dies.
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            state = load_state(root)
            before = state.snapshot()
            yield repo, state
            if state.snapshot() != before:
                save_state(root, state)
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_state(root: Path) -> tuple[Repo, State]:
    """Config and state for read-only use (no lock: both files are replaced atomically)."""
    return load_config(root), load_state(root)


def fsync_dir(path: Path) -> None:
    """fsync a directory so renames in it survive a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
