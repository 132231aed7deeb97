"""Contents-<arch>: which package ships a library path, from the signed archive's own file lists.

The full bookworm arm64 list is 143 MB; debforge needs it to map NEEDED sonames (and pkg-config
files) to packages, so only paths under the library directories are kept, in a cached compact
form keyed by the SHA256 the signed Release lists.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from debforge.archive.fetch import decompress, index_entry, release_of, suite_state
from debforge.archive.indexfile import download_index_file
from debforge.dists import Target

_FORMAT = "v2"  # bump when filter_contents changes: it is part of the tree key
_KEPT = "lib.contents"  # format: see filter_contents (the tree key names the Contents SHA256)
# Library directories of the FHS and of multiarch (Debian Policy 9.1.1): lib/, lib64/, usr/lib*/.
# A Contents line is `<path><whitespace><section/package>[,<section/package>...]`; paths may
# contain spaces, so the package list is the last whitespace-separated token.
_LIB_LINE = re.compile(rb"^((?:usr/)?lib(?:32|64|x32)?/[^\n]*?)[ \t]+(\S+)$", re.MULTILINE)

if TYPE_CHECKING:
    from debforge.session import Session


@dataclass(frozen=True, slots=True, kw_only=True)
class Contents:
    """path → packages shipping it (shared objects and pkg-config files), over a target's suites.

    Each suite's kept lines stay one bytes block (`\npath\tpkg,pkg\n...`): a lookup is a
    substring search, so loading costs no parsing at all.
    """

    texts: tuple[bytes, ...] = field(repr=False)

    def packages_for(self, path: str) -> tuple[str, ...]:
        """Packages that ship `path` (`usr/lib/aarch64-linux-gnu/libssl.so.3`; a leading / is ignored).

        bookworm and later are usrmerged (/lib is a link to /usr/lib), while Contents lists the
        path a package ships: both spellings are looked up.
        """
        path = path.lstrip("/")
        alias = path.removeprefix("usr/") if path.startswith("usr/lib") else f"usr/{path}"
        found: list[str] = []
        for text in self.texts:
            for needle in (f"\n{path}\t".encode(), f"\n{alias}\t".encode()):
                at = text.find(needle)
                if at >= 0:
                    end = text.find(b"\n", at + len(needle))
                    found += [p for p in text[at + len(needle) : end].decode().split(",") if p not in found]
        return tuple(found)


def filter_contents(data: bytes) -> bytes:
    """Keep the shared objects and pkg-config files of the library directories, as `path\\tpkg,pkg` lines.

    >>> filter_contents(b"bin/sh  shells/dash\\nlib/x/libz.so.1  libs/zlib1g\\nlib/x/a.py  python/p\\n")
    b'\\nlib/x/libz.so.1\\tzlib1g\\n'
    """
    lines = [b""]
    for path, where in _LIB_LINE.findall(data):
        if b".so" not in path.rpartition(b"/")[2] and not path.endswith(b".pc"):
            continue  # only what a NEEDED soname or a pkg-config lookup can ask about
        packages = b",".join(item.rpartition(b"/")[2] for item in where.split(b","))
        lines.append(path + b"\t" + packages)
    return b"\n".join(lines) + b"\n"


def fetch_contents(session: Session, target: Target) -> Contents:
    """The Contents lookup of every suite of `target` that lists `<component>/Contents-<arch>`."""
    cache = session.cache.ensure()
    kept: list[bytes] = []
    with cache.lock("archive", on_wait=session.reporter.warning):
        for suite in target.suites:
            state = suite_state(session, suite, target.keyring, refresh=False)
            release = release_of(state, cache)
            for component in suite.components:
                entry = index_entry(release, component, f"Contents-{target.arch}")
                if entry is None or entry.size <= 20:  # noqa: PLR2004 - an empty .gz (security suites)
                    continue
                blob = download_index_file(session, suite, release, entry)
                # Keyed by the blob used (its name is its SHA256): an older verified copy that
                # stood in for a file the mirror could not serve must not pose as today's.
                fill = functools.partial(_fill, blob=blob)
                tree = cache.build_tree(f"contents-{_FORMAT}-{blob.name}", fill)
                kept.append((tree / _KEPT).read_bytes())
    return Contents(texts=tuple(kept))


def _fill(work: Path, blob: Path) -> None:
    (work / _KEPT).write_bytes(filter_contents(decompress(blob)))
