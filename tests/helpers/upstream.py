"""Upstream sources from Debian's pool (orig tarballs), fetched once into the test cache by SHA256."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

from debforge.cache import atomic_write_bytes
from debforge.session import Session


def pinned_tarball(session: Session, url: str, sha256: str) -> Path:
    """The tarball at `url`, kept in the test cache under its SHA256 once it matched the pinned one."""
    path = session.cache.root / "upstream" / f"{sha256}-{url.rsplit('/', 1)[-1]}"
    if not path.is_file():
        response = session.http().get(url, timeout=120)
        response.raise_for_status()
        digest = hashlib.sha256(response.content).hexdigest()
        assert digest == sha256, f"{url} has SHA256 {digest}, not the pinned one"
        atomic_write_bytes(path, response.content)
    return path


def unpack_top(tarball: Path, into: Path) -> Path:
    """Unpack a tarball with one top directory into `into`; returns that directory."""
    with tarfile.open(tarball) as archive:
        archive.extractall(into, filter="data")
    (top,) = into.iterdir()
    return top
