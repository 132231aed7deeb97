"""The apt files a new image gets: deb822 sources for the target's suites, and the verified lists."""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from debforge.cache import Cache
from debforge.dists import Target
from debforge.session import Freshness, Session


def write_apt_sources(root: Path, target: Target) -> None:
    """deb822 sources for the target's suites on its mirrors, signed by the keyring debforge verified with."""
    keyring = PurePosixPath("/etc/apt/keyrings/debforge-archive.gpg")
    dest = root / str(keyring).lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target.keyring, dest)
    by_mirror: dict[str, list[str]] = {}
    for suite in target.suites:
        by_mirror.setdefault(suite.mirror, []).append(suite.name)
    stanzas = [
        f"Types: deb\nURIs: {mirror}\nSuites: {' '.join(names)}\nComponents: {' '.join(target.components)}\n"
        f"Signed-By: {keyring}\n"
        for mirror, names in by_mirror.items()
    ]
    sources = root / "etc/apt/sources.list.d/debian.sources"
    sources.parent.mkdir(parents=True, exist_ok=True)
    sources.write_text("\n".join(stanzas))


def _lists_name(url: str) -> str:
    """apt's URItoFileName: scheme dropped, `/` → `_` (apt-pkg/acquire-item.cc).

    >>> _lists_name("http://deb.debian.org/debian/dists/bookworm/InRelease")
    'deb.debian.org_debian_dists_bookworm_InRelease'
    """
    return url.split("://", 1)[-1].replace("/", "_")


def prefill_apt_lists(root: Path, target: Target, cache: Cache) -> None:
    """Copy the InRelease and Packages files debforge verified into /var/lib/apt/lists, so apt inside
    works without an emulated `apt-get update`."""
    from debforge.archive.fetch import decompress, index_entry, release_of, suite_state  # noqa: PLC0415

    lists = root / "var/lib/apt/lists"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    # Only what fetch_index verified a moment ago, under this run's Valid-Until policy: offline,
    # quiet, no network session opened, and not checked twice.
    with Session(cache=cache, offline=True, freshness=Freshness(check_valid_until=False)) as cached:
        states = [suite_state(cached, suite, target.keyring, refresh=False) for suite in target.suites]
    for suite, state in zip(target.suites, states, strict=True):
        shutil.copyfile(cache.blob(state.inrelease), lists / _lists_name(f"{suite.base_url}/InRelease"))
        release = release_of(state, cache)
        for component in suite.components:
            entry = index_entry(release, component, f"binary-{target.arch}/Packages")
            if entry is not None and cache.has_blob(entry.sha256):
                # Uncompressed, as `apt-get update` leaves it (Acquire::GzipIndexes is off by default).
                # apt reads an `.xz` list too, but decompresses it to build its cache: under QEMU that
                # took 24 of the 32 s of a bookworm `apt-cache gencaches` (7.9 s from the plain file).
                name = _lists_name(f"{suite.base_url}/{component}/binary-{target.arch}/Packages")
                (lists / name).write_bytes(decompress(cache.blob(entry.sha256)))
