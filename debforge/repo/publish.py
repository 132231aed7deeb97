"""Publish: Packages indexes, by-hash copies, Release, then InRelease/Release.gpg switched in last.

The order is what makes a publish atomic for readers (apt with `Acquire-By-Hash: yes`):
1. every new index is written to `by-hash/SHA256/<hash>` (content-addressed: never overwritten)
   and then renamed over its plain name;
2. Release is rendered; if it is byte-identical to the published one, nothing else happens;
3. Release.gpg, Release and InRelease are written beside the old ones and renamed into place.
A reader holding any recent InRelease finds every index it lists under by-hash, because
by-hash files of the last `keep_generations` publishes are kept.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import lzma
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from debian.debian_support import version_compare

from debforge.cache import atomic_write_bytes
from debforge.repo.debfile import DebInfo
from debforge.repo.pool import unreferenced_pool_files
from debforge.repo.render import (
    IndexFile,
    ReleaseInfo,
    compress_gz,
    compress_xz,
    package_stanza,
    render_packages,
    render_release,
)
from debforge.repo.sign import KeyOptions, Signer, signer, signing_key
from debforge.repo.state import Repo, State, fsync_dir, locked
from debforge.report import NullReporter, Reporter

SIGNATURES = ("InRelease", "Release.gpg")


@dataclass(frozen=True, slots=True, kw_only=True)
class DistPublished:
    """What one dist's publish did."""

    dist: str
    changed: bool
    packages: int
    release_sha256: str
    indexes: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        """JSON record."""
        return {
            "dist": self.dist,
            "changed": self.changed,
            "packages": self.packages,
            "release_sha256": self.release_sha256,
            "indexes": list(self.indexes),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishResult:
    """What `publish` did to the repository."""

    root: Path
    dists: tuple[DistPublished, ...]
    signed: bool
    removed_files: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """True when any Release was replaced."""
        return any(d.changed for d in self.dists)

    def to_json(self) -> dict[str, object]:
        """JSON document for `debforge repo publish --json`."""
        return {
            "root": str(self.root),
            "changed": self.changed,
            "signed": self.signed,
            "dists": [d.to_json() for d in self.dists],
            "removed_files": list(self.removed_files),
        }


def publish(
    root: Path,
    *,
    date: datetime | None = None,
    valid_for: timedelta | None = None,
    key: KeyOptions | None = None,
    unsigned: bool = False,
    keep_generations: int = 3,
    reporter: Reporter | None = None,
) -> PublishResult:
    """Regenerate every index and Release, sign them, and switch them in atomically."""
    reporter = reporter or NullReporter()
    when = (date or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    with locked(root) as (repo, state):
        chosen = signing_key(repo, key or KeyOptions())
        dates = _Dates(when=when, valid_for=valid_for)
        by_hash: set[str] = set()
        # The keyring is opened before any file is written: a missing key changes nothing.
        with contextlib.nullcontext(None) if unsigned else signer(chosen) as sign:
            published = [
                _publish_dist(repo, state, dist, dates=dates, sign=sign, by_hash=by_hash, reporter=reporter)
                for dist in repo.dists
            ]
        removed = _collect_garbage(repo.root, state, sorted(by_hash), keep_generations)
    return PublishResult(
        root=repo.root, dists=tuple(published), signed=not unsigned, removed_files=tuple(removed)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Dates:
    """The Release's Date and how long it stays valid (Valid-Until = Date + valid_for)."""

    when: datetime
    valid_for: timedelta | None


def _publish_dist(
    repo: Repo,
    state: State,
    dist: str,
    *,
    dates: _Dates,
    sign: Signer | None,
    by_hash: set[str],
    reporter: Reporter,
) -> DistPublished:
    with reporter.step(f"publishing {dist}"):
        files, count = _write_indexes(repo, state, dist, by_hash)
        release = render_release(_release_info(repo, dist, dates.when, dates.valid_for, files))
        changed = _switch_release(repo.root / "dists" / dist, release, sign)
    return DistPublished(
        dist=dist,
        changed=changed,
        packages=count,
        release_sha256=hashlib.sha256(release).hexdigest(),
        indexes=tuple(f.path for f in files),
    )


def _release_info(
    repo: Repo, dist: str, when: datetime, valid_for: timedelta | None, files: list[IndexFile]
) -> ReleaseInfo:
    return ReleaseInfo(
        origin=repo.origin,
        label=repo.label,
        suite=dist,
        codename=dist,
        date=when,
        valid_for=valid_for,
        architectures=repo.arches,
        components=repo.components,
        description=repo.description,
        files=tuple(files),
    )


def _write_indexes(repo: Repo, state: State, dist: str, by_hash: set[str]) -> tuple[list[IndexFile], int]:
    files: list[IndexFile] = []
    count = 0
    for component in repo.components:
        members = [m.filename for m in state.members if m.dist == dist and m.component == component]
        infos = [(name, state.info(repo.root, name)) for name in members]
        count += len(infos)
        for arch in repo.arches:
            # Arch-all packages are listed in every architecture's index (no
            # No-Support-for-Architecture-all field), as apt expects by default.
            chosen = sorted(((n, i) for n, i in infos if i.arch in (arch, "all")), key=_stanza_key)
            raw = render_packages(package_stanza(i, PurePosixPath(n)) for n, i in chosen)
            rel_dir = f"{component}/binary-{arch}"
            for name, data in _compressed(repo.root / "dists" / dist / rel_dir, raw):
                files.append(_write_index(repo.root / "dists" / dist, rel_dir, name, data, by_hash))
    return files, count


def _compressed(index_dir: Path, raw: bytes) -> list[tuple[str, bytes]]:
    """Packages.gz, Packages.xz, then Packages: reuses the compressed files when Packages is unchanged.

    The plain file is written last, so an unchanged plain file means its compressed siblings
    were completely written from the same text (xz is most of a no-change publish's time).
    """
    plain, gz, xz = (index_dir / n for n in ("Packages", "Packages.gz", "Packages.xz"))
    if plain.is_file() and gz.is_file() and xz.is_file() and plain.read_bytes() == raw:
        old_gz, old_xz = gz.read_bytes(), xz.read_bytes()
        # Decompressing is ~10x cheaper than compressing, and it keeps a tampered or damaged
        # file on disk from being signed into the next Release.
        with contextlib.suppress(OSError, EOFError, lzma.LZMAError):
            if gzip.decompress(old_gz) == raw and lzma.decompress(old_xz) == raw:
                return [("Packages.gz", old_gz), ("Packages.xz", old_xz), ("Packages", raw)]
    return [("Packages.gz", compress_gz(raw)), ("Packages.xz", compress_xz(raw)), ("Packages", raw)]


def _write_index(dist_dir: Path, rel_dir: str, name: str, data: bytes, by_hash: set[str]) -> IndexFile:
    sha256 = hashlib.sha256(data).hexdigest()
    hashed = dist_dir / rel_dir / "by-hash" / "SHA256" / sha256
    if not hashed.exists():
        atomic_write_bytes(hashed, data)
    by_hash.add(hashed.relative_to(dist_dir.parent.parent).as_posix())
    plain = dist_dir / rel_dir / name
    if not plain.exists() or plain.read_bytes() != data:
        atomic_write_bytes(plain, data)
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    return IndexFile(path=f"{rel_dir}/{name}", size=len(data), md5=md5, sha256=sha256)


def _switch_release(dist_dir: Path, release: bytes, key: Signer | None) -> bool:
    current = dist_dir / "Release"
    signatures_ok = all((dist_dir / s).exists() == (key is not None) for s in SIGNATURES)
    if current.exists() and current.read_bytes() == release and signatures_ok:
        return False  # idempotent: nothing changed, not even a signature timestamp
    new = {name: dist_dir / f".{name}.new" for name in ("Release", *SIGNATURES)}
    try:
        new["Release"].write_bytes(release)
        if key is not None:
            key.sign_release(new["Release"], new["InRelease"], new["Release.gpg"])
        # Rename order: the detached signature, its Release, then InRelease (which apt reads
        # first); each rename is atomic, so a reader sees a whole old or a whole new file.
        for name in ("Release.gpg", "Release", "InRelease"):
            if new[name].exists():
                new[name].replace(dist_dir / name)
            elif key is None:
                (dist_dir / name).unlink(missing_ok=True)
        fsync_dir(dist_dir)
    finally:
        for path in new.values():
            path.unlink(missing_ok=True)
    return True


def _collect_garbage(root: Path, state: State, generation: list[str], keep: int) -> list[str]:
    """Drop by-hash files older than the last `keep` generations, then unlisted pool files."""
    if not state.generations or state.generations[-1] != generation:
        state.generations.append(generation)
    del state.generations[: max(0, len(state.generations) - max(keep, 1))]
    kept = {path for gen in state.generations for path in gen}
    removed: list[str] = []
    for hashed in sorted((root / "dists").glob("*/*/binary-*/by-hash/SHA256/*")):
        rel = hashed.relative_to(root).as_posix()
        if rel not in kept:
            hashed.unlink()
            removed.append(rel)
    # Pool files go only now, after the new Release no longer lists them.
    for deb in unreferenced_pool_files(root, state):
        deb.unlink()
        removed.append(deb.relative_to(root).as_posix())
        _remove_empty_parents(deb.parent, root / "pool")
    state.orphans.clear()
    return removed


def _remove_empty_parents(path: Path, stop: Path) -> None:
    while path != stop and path.is_dir() and not any(path.iterdir()):
        path.rmdir()
        path = path.parent


_version_key = functools.cmp_to_key(lambda a, b: int(version_compare(a, b)))


def _stanza_key(item: tuple[str, DebInfo]) -> tuple[str, object, str]:
    # By name, then Debian version order, then file name: the same bytes for the same contents.
    filename, info = item
    return (info.name, _version_key(info.version), filename)
