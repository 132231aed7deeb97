"""The Debian repository client: verified indexes, .deb downloads and Contents lookups.

`fetch_index` is what most stages need; `download_packages` fetches .debs into the blob cache;
`fetch_contents` answers "which package ships this path". Each takes the run's Session first (its
cache, reporter, HTTP session, offline flag, ttl and retry policy). Names are imported on first use
(PEP 562), so a warm `debforge show` loads only the modules it really runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from debforge.archive.compact import index_from_packages
    from debforge.archive.contents import Contents, fetch_contents
    from debforge.archive.download import download_packages
    from debforge.archive.fetch import fetch_index
    from debforge.archive.index import (
        Origin,
        PackageIndex,
        PackageRecord,
        Relation,
        Relations,
        format_relations,
        parse_relations,
    )
    from debforge.archive.version import compare_versions, satisfies

_WHERE = {
    "index_from_packages": "compact",
    "Contents": "contents",
    "fetch_contents": "contents",
    "download_packages": "download",
    "fetch_index": "fetch",
    "Origin": "index",
    "PackageIndex": "index",
    "PackageRecord": "index",
    "Relation": "index",
    "Relations": "index",
    "format_relations": "index",
    "parse_relations": "index",
    "compare_versions": "version",
    "satisfies": "version",
}
__all__ = [
    "Contents", "Origin", "PackageIndex", "PackageRecord", "Relation", "Relations",
    "compare_versions", "download_packages", "fetch_contents", "fetch_index", "format_relations",
    "index_from_packages", "parse_relations", "satisfies",
]  # fmt: skip


def __getattr__(name: str) -> object:
    """Import the submodule that defines `name` on first access."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"debforge.archive.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
