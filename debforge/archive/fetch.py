"""fetch_index: signed InRelease per suite → verified Packages files → compact PackageIndex.

Freshness rule: a suite's InRelease is reused without any network while it was checked less than
`session.ttl` seconds ago and its Valid-Until has not passed. Past that, debforge asks the mirror
again with a conditional request (If-None-Match / If-Modified-Since). An expired Release is never
used: it is an error, as in apt. `session.offline` never touches the network. The Packages files
themselves come through indexfile.py (by-hash first, a small fallback chain, an older verified copy
as last resort).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import lzma
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from debforge.archive.compact import FORMAT, PackagesFile, load_compact, write_compact
from debforge.archive.http import Fetched, fetch
from debforge.archive.index import Origin, PackageIndex
from debforge.archive.indexfile import age_text, download_index_file
from debforge.cache import Cache, atomic_write_bytes, key
from debforge.dists import Suite, Target
from debforge.errors import ArchiveError, FetchError, OfflineError, SignatureError

if TYPE_CHECKING:
    from debforge.archive.release import FileEntry, Release
    from debforge.session import Session


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteState:
    """What the cache knows about one suite's InRelease (stored as JSON in the cache's state/)."""

    url: str
    inrelease: str  # sha256 of the InRelease file as served (a blob)
    release: str  # sha256 of the verified, signed Release text gpgv returned (a blob)
    checked: float  # when the mirror was last asked (seconds since the epoch)
    valid_until: float | None
    etag: str | None = None
    last_modified: str | None = None

    def expired(self, now: float) -> bool:
        """True when the Release's Valid-Until has passed."""
        return self.valid_until is not None and self.valid_until < now


def fetch_index(session: Session, target: Target, *, refresh: bool = False) -> PackageIndex:
    """The verified PackageIndex of every suite of `target`, from the cache when fresh.

    `refresh` asks the mirror even when the cached InRelease is fresh (`debforge update`).
    """
    cache = session.cache.ensure()
    with cache.lock("archive", on_wait=session.reporter.warning):
        states = [suite_state(session, suite, target.keyring, refresh=refresh) for suite in target.suites]
        sources = [
            (s.mirror, s.name, s.components, st.release) for s, st in zip(target.suites, states, strict=True)
        ]
        release_key = key({"format": FORMAT, "arch": target.arch, "sources": sources})
        tree = cache.tree(f"index-{release_key}")
        index = load_compact(tree, dist=target.dist, arch=target.arch, release_key=release_key)
        if index is not None:
            return index
        shutil.rmtree(tree, ignore_errors=True)  # unreadable (older format): rebuild it
        blobs = list(_packages_blobs(session, target, states))
        if not all(current for _, _, current in blobs):
            # An older verified copy stood in for a Packages file the mirror could not serve
            # (indexfile.py): key the index by the blobs really used, so it never poses as the
            # index of today's Release and the next run asks the mirror again.
            names = [blob.name for _, blob, _ in blobs]
            release_key = key({"format": FORMAT, "arch": target.arch, "sources": sources, "blobs": names})
        return _build_index(session, target, release_key, [(origin, blob) for origin, blob, _ in blobs])


def _build_index(
    session: Session, target: Target, release_key: str, blobs: list[tuple[Origin, Path]]
) -> PackageIndex:
    cache = session.cache
    tree = cache.tree(f"index-{release_key}")
    files = [PackagesFile(origin=origin, data=decompress(blob)) for origin, blob in blobs]
    with session.reporter.step(f"Indexing {target.dist}/{target.arch}"):
        cache.build_tree(tree.name, lambda work: write_compact(work, files))
    found = load_compact(tree, dist=target.dist, arch=target.arch, release_key=release_key)
    if found is None:
        raise ArchiveError(f"the package index in {tree} cannot be read", hint="delete it and run again")
    return found


def release_of(state: SuiteState, cache: Cache) -> Release:
    """The parsed, verified Release text of a suite state (from the blob cache)."""
    from debforge.archive.release import parse_release  # noqa: PLC0415 - only cold runs parse Releases

    return parse_release(cache.blob(state.release).read_text(encoding="utf-8"))


def _state_path(cache: Cache, url: str) -> Path:
    return cache.state(f"inrelease-{hashlib.sha256(url.encode()).hexdigest()[:32]}.json")


def _load_state(cache: Cache, url: str) -> SuiteState | None:
    try:
        state = SuiteState(**json.loads(_state_path(cache, url).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return state if cache.has_blob(state.release) and cache.has_blob(state.inrelease) else None


def _save_state(cache: Cache, state: SuiteState) -> None:
    atomic_write_bytes(_state_path(cache, state.url), json.dumps(asdict(state)).encode())


def suite_state(session: Session, suite: Suite, keyring: Path, *, refresh: bool) -> SuiteState:
    """The verified InRelease state of `suite`, refreshed from the mirror when the freshness rule says so."""
    url = f"{suite.base_url}/InRelease"
    what = f"{suite.name} InRelease from {suite.mirror}"
    cache, reporter = session.cache, session.reporter
    state = _load_state(cache, url)
    now = time.time()
    if session.offline:
        if state is None:
            raise OfflineError(
                f"{what} is not in the cache and --offline forbids downloading it",
                hint="run `debforge update` once without --offline",
            )
        _reject_expired(session, state, what, now)
        return state
    fresh = now - state.checked < session.ttl if state is not None else False
    if state is not None and not refresh and fresh and not _expired(session, state, now):
        return state
    try:
        with reporter.step(f"Checking {suite.name}"):
            asked = _Asked(suite=suite.name, url=url, what=what, keyring=keyring, now=now)
            return _refresh_state(session, asked, state)
    except FetchError as exc:
        # The mirror is unreachable: a cached index within its Valid-Until stays usable (with a
        # warning), except on an explicit refresh (`debforge update`), which must report it.
        if state is None or refresh or _expired(session, state, now):
            raise
        reporter.warning(f"{exc}; using the cached index checked {age_text(now - state.checked)} ago")
        return state


def _expired(session: Session, state: SuiteState, now: float) -> bool:
    return session.check_valid_until and state.expired(now)


def _reject_expired(session: Session, state: SuiteState, what: str, now: float) -> None:
    if not state.expired(now):
        return
    until = dt.datetime.fromtimestamp(state.valid_until or 0, dt.UTC)
    sentence = f"{what} expired on {until:%Y-%m-%d %H:%M} UTC (Valid-Until)"
    if not session.check_valid_until:
        session.reporter.warning(f"{sentence}; used anyway (--no-check-valid-until)")
        return
    raise SignatureError(
        sentence,
        hint="run `debforge update` online; if that fails too the mirror is stale: use another --mirror, "
        "or --no-check-valid-until for a frozen one (snapshot.debian.org)",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Asked:
    """One InRelease being asked for: the suite name, its URL, how messages name it, the keyring, when."""

    suite: str
    url: str
    what: str
    keyring: Path
    now: float


def _refresh_state(session: Session, asked: _Asked, state: SuiteState | None) -> SuiteState:
    cache, now = session.cache, asked.now
    headers: dict[str, str] = {}
    if state is not None and state.etag:
        headers["If-None-Match"] = state.etag
    if state is not None and state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    tmp = cache.root / "tmp" / f"InRelease-{uuid.uuid4().hex}"
    try:
        got = fetch(session.http(), asked.url, tmp, headers=headers, retry=session.retry)
        if got.not_modified and state is not None:
            state = replace(state, checked=now)
            _reject_expired(session, state, asked.what, now)
            _save_state(cache, state)
            return state
        return _adopt_inrelease(session, asked, path=tmp, got=got)
    finally:
        tmp.unlink(missing_ok=True)


def _adopt_inrelease(session: Session, asked: _Asked, *, path: Path, got: Fetched) -> SuiteState:
    # Imported here: gpgv (run.py, subprocess) is only needed when an InRelease really changed.
    from debforge.archive.release import parse_release, verify_inrelease  # noqa: PLC0415

    cache, suite, url, what, now = session.cache, asked.suite, asked.url, asked.what, asked.now
    text = verify_inrelease(path, asked.keyring, what=what)
    release = parse_release(text)
    if suite not in (release.suite, release.codename):
        # apt warns on this; a signed Release of another suite is a replay, so refuse it.
        raise SignatureError(f"{what} is signed but describes suite {release.suite or release.codename!r}")
    text_sha = hashlib.sha256(text.encode()).hexdigest()
    state = SuiteState(
        url=url, inrelease=got.sha256, release=text_sha, checked=now,
        valid_until=release.valid_until.timestamp() if release.valid_until else None,
        etag=got.etag, last_modified=got.last_modified,
    )  # fmt: skip
    _reject_expired(session, state, what, now)  # apt's replay protection, before anything is kept
    atomic_write_bytes(cache.blob(text_sha), text.encode())
    cache.put_blob(got.sha256, path)
    _save_state(cache, state)
    return state


def index_entry(release: Release, component: str, name: str) -> FileEntry | None:
    """The best compressed form the Release lists of `<component>/<name>` (xz, then gz, then plain)."""
    return release.entry(f"{component}/{name}.xz", f"{component}/{name}.gz", f"{component}/{name}")


def decompress(path: Path) -> bytes:
    """The content of an index file, by its Release name's suffix (xz, gz or plain)."""
    data = path.read_bytes()
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.decompress(data)
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    return data


def _packages_blobs(
    session: Session, target: Target, states: list[SuiteState]
) -> Iterator[tuple[Origin, Path, bool]]:
    """(origin, verified blob, whether the current Release lists it) of each suite's Packages file."""
    cache = session.cache
    for rank, (suite, state) in enumerate(zip(target.suites, states, strict=True)):
        release = release_of(state, cache)
        if release.architectures and target.arch not in release.architectures:
            if rank == 0:
                arches = " ".join(release.architectures)
                raise ArchiveError(
                    f"{suite.name} on {suite.mirror} carries no {target.arch} (Architectures: {arches})"
                )
            # apt: "Skipping acquire of configured file ... as repository ... doesn't support
            # architecture": a mirror may carry an update suite for fewer arches than the release.
            session.reporter.info(
                f"{suite.name} on {suite.mirror} carries no {target.arch}; skipped, as apt does"
            )
            continue
        listed = {entry.sha256 for entry in release.files.values()}
        for component in suite.components:
            entry = index_entry(release, component, f"binary-{target.arch}/Packages")
            if entry is None:
                raise ArchiveError(
                    f"{suite.name} on {suite.mirror} lists no Packages index for {component}/{target.arch}"
                )
            blob = download_index_file(session, suite, release, entry)
            origin = Origin(
                suite=suite.name, suite_rank=rank, component=component, mirror=suite.mirror, pin=release.pin
            )
            yield origin, blob, blob.name in listed
