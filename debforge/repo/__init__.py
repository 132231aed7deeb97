"""Apt repository publishing: pool/, dists/<dist>/…/Packages(.gz|.xz), Release, InRelease (gpg).

The repository stage knows nothing of building: it reads each .deb's control stanza and writes
indexes as Debian's archive does, signed, and switched in atomically for concurrent readers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from debforge.errors import RepoError
from debforge.repo.pool import (
    Labels,
    PackageList,
    RepoPackage,
    add_debs,
    init_repo,
    list_packages,
    prune,
    remove,
)
from debforge.repo.publish import DistPublished, PublishResult, publish
from debforge.repo.sign import KeyOptions, export_public_key, signing_key
from debforge.repo.state import Repo, load_config


def parse_date(text: str) -> datetime:
    """`--date`: ISO 8601 (UTC when no zone is given) or `@<unix seconds>` (as SOURCE_DATE_EPOCH).

    >>> parse_date("2024-06-10T08:47:43"), parse_date("@0").year
    (datetime.datetime(2024, 6, 10, 8, 47, 43, tzinfo=datetime.timezone.utc), 1970)
    """
    try:
        if text.startswith("@"):
            return datetime.fromtimestamp(int(text[1:]), UTC)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise RepoError(
            f"--date {text!r} is neither ISO 8601 (2024-06-10T08:47:43Z) nor @<unix seconds>"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def export_key(root: Path, key: KeyOptions | None = None) -> str:
    """The repository's public signing key, ASCII-armored (for /etc/apt/keyrings/ and signed-by)."""
    return export_public_key(signing_key(load_config(root), key or KeyOptions()))


__all__ = [
    "DistPublished",
    "KeyOptions",
    "Labels",
    "PackageList",
    "PublishResult",
    "Repo",
    "RepoPackage",
    "add_debs",
    "export_key",
    "init_repo",
    "list_packages",
    "load_config",
    "parse_date",
    "prune",
    "publish",
    "remove",
]
