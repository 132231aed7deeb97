"""The compact on-disk index: raw stanza text plus small lookup tables, loaded in milliseconds.

A full python-debian parse of bookworm's 62,000 arm64 stanzas takes 10+ seconds. Here a cold
build scans each stanza once for the few fields that decide lookups (Package, Version, the
relation fields for apt's name order, Provides) and stores:

- `stanzas.bin`: the decompressed Packages files, concatenated (read through mmap on demand);
- `tables.marshal`: stanza offsets, origin of each stanza, name → stanza ids (newest first),
  provided name → stanza ids, and the names in apt's package-ID order.

A warm load reads only `tables.marshal`; records are decoded one name at a time (LazyRecords).
"""

from __future__ import annotations

import marshal
import mmap
import re
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from debforge.archive.index import (
    LazyNameIds,
    LazyRecords,
    Origin,
    PackageIndex,
    PackageRecord,
    parse_stanza,
    record_from_fields,
)
from debforge.archive.version import version_key

FORMAT = 3  # bump when the layout below changes: it is part of the cache key
STANZAS = "stanzas.bin"
TABLES = "tables.marshal"

# The fields that decide lookups. apt (pkgcachegen/ListParser::NewVersion) creates the package
# groups of a stanza in this order: the package itself, then the targets of Pre-Depends, Depends,
# Conflicts, Breaks, Recommends, Suggests, Replaces, Enhances, then Provides.
_RELATION_FIELDS = (
    b"Pre-Depends", b"Depends", b"Conflicts", b"Breaks", b"Recommends", b"Suggests", b"Replaces", b"Enhances",
)  # fmt: skip
_FIELD = re.compile(
    rb"^(Package|Version|Provides|Essential|Priority|"
    + b"|".join(_RELATION_FIELDS)
    + rb"):[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)",
    re.MULTILINE,
)
# A relation target's name: what follows the start of the field, a `,` or a `|`.
_NAME = re.compile(rb"(?:^|[,|])\s*([^\s,|:(\[<]+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class PackagesFile:
    """One decompressed Packages file and where it came from (in sources order)."""

    origin: Origin
    data: bytes


class _Builder:
    """Accumulates the tables while scanning Packages files in sources order."""

    def __init__(self) -> None:
        self.starts = array("q")
        self.file_starts: list[int] = []
        self.versions: list[str] = []
        self.pin = 500  # the pin of the file being scanned
        self.pins: list[int] = []  # each stanza's suite pin (apt's candidate is the top pin, then version)
        self.packages: dict[str, list[int]] = {}
        self.providers: dict[str, list[int]] = {}
        self.met: list[bytes] = []  # every name in the order apt meets it, duplicates included
        self.required: dict[str, None] = {}  # names with a stanza a bootstrap installs (ordered set)

    def add_file(self, data: bytes, base: int, pin: int) -> None:
        self.file_starts.append(len(self.starts))
        self.pin = pin
        offset = 0
        for chunk in data.split(b"\n\n"):
            if chunk.strip():
                self._add_stanza(chunk, base + offset)
            offset += len(chunk) + 2

    def _add_stanza(self, chunk: bytes, start: int) -> None:
        fields = dict(_FIELD.findall(chunk))
        package = fields.get(b"Package", b"").strip()
        if not package:
            return  # not a binary package stanza: apt skips it too
        name = package.decode()
        stanza = len(self.starts)
        self.starts.append(start)
        self.versions.append(fields.get(b"Version", b"").strip().decode())
        self.pins.append(self.pin)
        self.packages.setdefault(name, []).append(stanza)
        self.met.append(package)
        # debootstrap/mmdebstrap start from Essential: yes and Priority: required; remembering the names
        # here spares `--with-essential` a decode of all 60,000 stanzas.
        if (
            fields.get(b"Essential", b"").strip() == b"yes"
            or fields.get(b"Priority", b"").strip() == b"required"
        ):
            self.required[name] = None
        # One regex pass over the relation fields joined in apt's order (cheaper than one per field).
        relations = b",".join([fields[f] for f in _RELATION_FIELDS if f in fields])
        if relations:
            self.met += _NAME.findall(relations)
        if provides := fields.get(b"Provides"):
            provided = _NAME.findall(provides)
            self.met += provided
            for target in provided:
                self.providers.setdefault(target.decode(), []).append(stanza)

    def tables(self, end: int, origins: Sequence[Origin]) -> dict[str, object]:
        self.starts.append(end)
        return {
            "format": FORMAT,
            "starts": self.starts.tobytes(),
            "file_starts": self.file_starts,
            "origins": [(o.suite, o.suite_rank, o.component, o.mirror, o.pin) for o in origins],
            "packages": {name: self._newest_first(ids) for name, ids in self.packages.items()},
            "providers": {name: tuple(ids) for name, ids in self.providers.items()},
            # dict.fromkeys keeps the first occurrence of each name, in order, at C speed.
            "name_ids": [name.decode() for name in dict.fromkeys(self.met)],
            "required": list(self.required),
        }

    def _newest_first(self, ids: list[int]) -> tuple[int, ...]:
        if len(ids) == 1:
            return (ids[0],)
        # Python's sort is stable, also with reverse=True: equal versions keep sources order,
        # which is how apt breaks ties between suites (main suite first). A higher pin wins over a
        # higher version (apt_preferences(5)), so backports (100) lose to the release (500).
        pins, versions = self.pins, self.versions
        return tuple(sorted(ids, key=lambda i: (pins[i], version_key(versions[i])), reverse=True))


def build_tables(files: Iterable[PackagesFile]) -> tuple[bytes, dict[str, object]]:
    """Scan Packages files (in sources order) into (stanza store, tables)."""
    builder = _Builder()
    parts: list[bytes] = []
    origins: list[Origin] = []
    base = 0
    for file in files:
        data = file.data if file.data.endswith(b"\n\n") else file.data.rstrip(b"\n") + b"\n\n"
        builder.add_file(data, base, file.origin.pin)
        parts.append(data)
        origins.append(file.origin)
        base += len(data)
    return b"".join(parts), builder.tables(base, origins)


def write_compact(directory: Path, files: Iterable[PackagesFile]) -> None:
    """Write the compact index of `files` into `directory` (a fresh tree the cache renames in)."""
    store, tables = build_tables(files)
    (directory / STANZAS).write_bytes(store)
    (directory / TABLES).write_bytes(marshal.dumps(tables))


class _StanzaStore:
    """Decodes stanza `i` into a PackageRecord from a bytes-like store, memoised."""

    def __init__(self, store: bytes | mmap.mmap, tables: dict[str, object]) -> None:
        self._store = store
        self._starts = array("q")
        self._starts.frombytes(tables["starts"])  # type: ignore[arg-type]  # marshal gives bytes
        self._file_starts: list[int] = tables["file_starts"]  # type: ignore[assignment]  # see build_tables
        origins: list[tuple[str, int, str, str, int]] = tables["origins"]  # type: ignore[assignment]  # ditto
        self._origins = [
            Origin(suite=s, suite_rank=r, component=c, mirror=m, pin=p) for s, r, c, m, p in origins
        ]
        self._memo: dict[int, PackageRecord] = {}

    def decode(self, i: int) -> PackageRecord:
        found = self._memo.get(i)
        if found is None:
            text = self._store[self._starts[i] : self._starts[i + 1]].decode("utf-8", "replace")
            origin = self._origins[bisect_right(self._file_starts, i) - 1]
            found = self._memo[i] = record_from_fields(parse_stanza(text), origin)
        return found


def index_from_tables(
    store: bytes | mmap.mmap, tables: dict[str, object], *, dist: str, arch: str, release_key: str
) -> PackageIndex:
    """A PackageIndex over a stanza store and its tables; records decode lazily."""
    stanzas = _StanzaStore(store, tables)
    packages: dict[str, tuple[int, ...]] = tables["packages"]  # type: ignore[assignment]  # build_tables
    providers: dict[str, tuple[int, ...]] = tables["providers"]  # type: ignore[assignment]  # build_tables
    names: list[str] = tables["name_ids"]  # type: ignore[assignment]  # build_tables
    required: list[str] = tables["required"]  # type: ignore[assignment]  # build_tables
    return PackageIndex(
        dist=dist, arch=arch, release_key=release_key,
        packages=LazyRecords(packages, stanzas.decode), providers=LazyRecords(providers, stanzas.decode),
        name_ids=LazyNameIds(names), required=tuple(required),
    )  # fmt: skip


def load_compact(directory: Path, *, dist: str, arch: str, release_key: str) -> PackageIndex | None:
    """Open a compact index written by write_compact, or None if it is missing or of another format."""
    try:
        tables = marshal.loads((directory / TABLES).read_bytes())  # noqa: S302 - our own cache file
        store: bytes | mmap.mmap = b""
        with (directory / STANZAS).open("rb") as fh:
            # mmap keeps its own reference to the file; pages are read only for decoded stanzas.
            if (directory / STANZAS).stat().st_size:
                store = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(tables, dict) or tables.get("format") != FORMAT:
        return None
    return index_from_tables(store, tables, dist=dist, arch=arch, release_key=release_key)


def index_from_packages(
    texts: Sequence[tuple[Origin, bytes]], *, dist: str = "test", arch: str = "amd64", release_key: str = ""
) -> PackageIndex:
    """An in-memory PackageIndex from Packages texts in sources order (for tests and tools)."""
    store, tables = build_tables(PackagesFile(origin=o, data=d) for o, d in texts)
    return index_from_tables(store, tables, dist=dist, arch=arch, release_key=release_key)
