"""What an apt index needs from a .deb, read by debforge.deb.read; errors become RepoError."""

from __future__ import annotations

from pathlib import Path

from debforge.deb import read
from debforge.deb.read import DebInfo, Fields, parse_control
from debforge.errors import PackageError, RepoError

__all__ = ["DebInfo", "Fields", "parse_control", "read_deb"]


def read_deb(path: Path) -> DebInfo:
    """Read `path`'s control stanza and hashes; RepoError (one sentence) if it is not a .deb."""
    try:
        return read.read_deb(path)
    except PackageError as exc:
        raise RepoError(str(exc), hint=exc.hint) from exc
