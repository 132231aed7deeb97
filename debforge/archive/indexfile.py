"""Index files a signed Release lists (Packages, Contents): by-hash first, a small fallback chain, old copies.

A mirror is not updated atomically. For minutes (hours on a slow mirror) its InRelease can list one
generation of a file while the plain path still serves another: a complete, valid file that is
simply not the one the signature covers. apt's answer is Acquire-By-Hash (a path that names its
content never changes); debforge tries these places, in this order and no others:

1. `<dir>/by-hash/SHA256/<sha256>` of the chosen compression (only when the Release says
   `Acquire-By-Hash: yes`), then its plain path;
2. the same two for each other compression the Release lists for the same file (.xz → .gz → plain).

Each is verified against its own Release entry. When none verifies, the copy of the same file last
verified for the same suite (recorded in the cache's state/) is used with a warning naming its age;
without one, the clearest failure is raised (a different file beats a by-hash 404).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from debforge.archive.http import Expected, fetch
from debforge.cache import Cache, atomic_write_bytes
from debforge.errors import ArchiveError, FetchError, HashMismatchError, OfflineError

if TYPE_CHECKING:
    from debforge.archive.release import FileEntry, Release
    from debforge.dists import Suite
    from debforge.session import Session

COMPRESSIONS = (".xz", ".gz", "")  # preference order, as apt's Acquire::CompressionTypes
_RECORD_REFRESH = 600.0  # seconds: keeps a record's age honest without an fsync on every warm run


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexSource:
    """One place an index file may be fetched from, and the Release entry it must match."""

    url: str
    entry: FileEntry
    by_hash: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedCopy:
    """The blob of one index file last found to match its suite's signed Release, and when."""

    url: str  # the suite's dists/<suite> URL
    path: str  # the file without compression suffix, e.g. main/Contents-arm64
    sha256: str  # the blob (of whichever compression was fetched)
    verified: float  # seconds since the epoch


def base_path(path: str) -> str:
    """The index path without its compression suffix.

    >>> base_path("main/binary-arm64/Packages.xz"), base_path("main/Contents-arm64")
    ('main/binary-arm64/Packages', 'main/Contents-arm64')
    """
    return path.removesuffix(".xz").removesuffix(".gz")


def index_sources(suite_url: str, release: Release, entry: FileEntry) -> tuple[IndexSource, ...]:
    """Where to fetch `entry`'s file from, in order (see the module docstring).

    >>> from debforge.archive.release import parse_release
    >>> rel = parse_release("Acquire-By-Hash: yes\\nSHA256:\\n aa 3 main/C.gz\\n bb 9 main/C\\n")
    >>> gz = rel.files["main/C.gz"]
    >>> [s.url.removeprefix("http://m/") for s in index_sources("http://m", rel, gz)]
    ['main/by-hash/SHA256/aa', 'main/C.gz', 'main/by-hash/SHA256/bb', 'main/C']
    """
    base = base_path(entry.path)
    others = [release.files.get(base + suffix) for suffix in COMPRESSIONS]
    entries = [entry, *(other for other in others if other is not None and other != entry)]
    sources: list[IndexSource] = []
    for each in entries:
        if release.acquire_by_hash:
            by_hash = f"{suite_url}/{each.path.rpartition('/')[0]}/by-hash/SHA256/{each.sha256}"
            sources.append(IndexSource(url=by_hash, entry=each, by_hash=True))
        sources.append(IndexSource(url=f"{suite_url}/{each.path}", entry=each, by_hash=False))
    return tuple(sources)


def download_index_file(session: Session, suite: Suite, release: Release, entry: FileEntry) -> Path:
    """The verified blob of one index file the Release lists (by-hash first, fallbacks as above).

    A blob's name is its SHA256: an older copy used as a last resort is named by its own hash,
    not `entry.sha256`, so caches derived from it must be keyed by `blob.name`.
    """
    cache = session.cache
    sources = index_sources(suite.base_url, release, entry)
    base = base_path(entry.path)
    cached = next((s.entry.sha256 for s in sources if cache.has_blob(s.entry.sha256)), None)
    if cached is not None:
        _remember(cache, suite.base_url, base, cached)
        return cache.blob(cached)
    try:
        if session.offline:
            raise OfflineError(
                f"{suite.base_url}/{entry.path} is not in the cache and --offline forbids downloading it",
                hint="run `debforge update` once without --offline",
            )
        blob = _download(session, suite, sources)
    except (FetchError, HashMismatchError, OfflineError) as exc:
        older = _load_record(cache, suite.base_url, base)
        if older is None:
            raise
        age = age_text(time.time() - older.verified)
        session.reporter.warning(f"{exc}; using the copy of {suite.name} {base} verified {age} ago")
        return cache.blob(older.sha256)
    _remember(cache, suite.base_url, base, blob.name)
    return blob


def age_text(seconds: float) -> str:
    """`3.2 h` or `12 min`: how old a cached copy is, for warnings."""
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"  # noqa: PLR2004 - an hour


def _download(session: Session, suite: Suite, sources: tuple[IndexSource, ...]) -> Path:
    failures: list[tuple[IndexSource, ArchiveError]] = []
    for source in sources:
        blob = session.cache.blob(source.entry.sha256)
        want = Expected(sha256=source.entry.sha256, size=source.entry.size)
        try:
            with session.reporter.progress(f"{suite.name} {source.entry.path}", source.entry.size) as bar:
                fetch(session.http(), source.url, blob, want=want, retry=session.retry, progress=bar.advance)
        except (FetchError, HashMismatchError) as exc:
            failures.append((source, exc))
            continue
        return blob
    # The clearest failure: a different file (the mirror is mid-sync) says the most; a by-hash
    # 404 alone is routine (mirrors prune by-hash/ or lag behind), the plain path's failure is not.
    _, clearest = min(failures, key=lambda f: (not isinstance(f[1], HashMismatchError), f[0].by_hash))
    raise clearest


def _record_path(cache: Cache, url: str, path: str) -> Path:
    name = hashlib.sha256(f"{url}\n{path}".encode()).hexdigest()[:32]
    return cache.state(f"indexfile-{name}.json")


def _load_record(cache: Cache, url: str, path: str) -> VerifiedCopy | None:
    try:
        record = VerifiedCopy(**json.loads(_record_path(cache, url, path).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return record if (record.url, record.path) == (url, path) and cache.has_blob(record.sha256) else None


def _remember(cache: Cache, url: str, path: str, sha256: str) -> None:
    """Record that blob `sha256` is `path` as the current signed Release of `url` lists it."""
    now = time.time()
    known = _load_record(cache, url, path)
    if known is not None and known.sha256 == sha256 and now - known.verified < _RECORD_REFRESH:
        return
    record = VerifiedCopy(url=url, path=path, sha256=sha256, verified=now)
    atomic_write_bytes(_record_path(cache, url, path), json.dumps(asdict(record)).encode())
