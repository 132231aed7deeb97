"""The symbols and shlibs files of a dpkg database, read as dpkg-shlibdeps reads them.

Mirrors Dpkg::Shlibs::SymbolFile (parse, get_smallest_version) and dpkg-shlibdeps'
extract_from_shlibs, for one soname at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from debforge.archive.version import compare_versions


@dataclass(slots=True)
class SymbolsObject:
    """One soname's part of a symbols file: dependency templates, `* Field:` values, symbol minimums."""

    deps: list[str]
    fields: dict[str, str] = field(default_factory=dict)
    syms: dict[str, tuple[str, int, bool]] = field(
        default_factory=dict
    )  # name@ver → (minver, dep_id, deprecated)


_SYMLINE = re.compile(r"^(?:\s+|#(?:DEPRECATED|MISSING): ([^#]+)#\s*)(.*)")
_PATTERN_TAGS = ("c++", "symver", "regex")


def parse_symbols(path: Path, wanted: str) -> SymbolsObject | None:
    """The object for soname `wanted` in a symbols file (SymbolFile.pm parse), or None."""
    obj: SymbolsObject | None = None
    current = None
    with path.open(encoding="utf-8", errors="surrogateescape") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if m := _SYMLINE.match(line):
                if current == wanted and obj is not None:
                    _add_symbol(obj, m.group(2), deprecated=bool(m.group(1)))
            elif line.startswith("#") or not line:
                continue
            elif m := re.match(r"^\|\s*(.*)$", line):
                if current == wanted and obj is not None:
                    obj.deps.append(m.group(1))
            elif m := re.match(r"^\*\s*([^:]+):\s*(.*\S)\s*$", line):
                if current == wanted and obj is not None:
                    obj.fields[m.group(1).lower()] = m.group(2)
            elif m := re.match(r"^(\S+)\s+(.*)$", line):
                current = m.group(1)
                if current == wanted:
                    obj = obj or SymbolsObject(deps=[])
                    obj.deps = [m.group(2)]  # a repeated header overrides the templates only
    return obj


def _add_symbol(obj: SymbolsObject, spec: str, *, deprecated: bool) -> None:
    tags: list[str] = []
    if (m := re.match(r"^\s*\((.*?)\)(.*)$", spec)) and m.group(1):
        tags = [t.split("=", 1)[0] for t in m.group(1).split("|")]
        spec = m.group(2)
        if q := re.match(r"""^(['"])(.*?)\1(.*)$""", spec):
            return _store(obj, q.group(2), q.group(3), tags, deprecated)
    m2 = re.match(r"^(\S+)(.*)$", spec)
    if m2:
        _store(obj, m2.group(1), m2.group(2), tags, deprecated)


def _store(obj: SymbolsObject, name: str, rest: str, tags: list[str], deprecated: bool) -> None:
    # Patterns (c++/symver/regex tags, old "*@VERSION") never take part in dpkg-shlibdeps lookups.
    if name.startswith("*@") or any(t in _PATTERN_TAGS for t in tags):
        return
    if m := re.match(r"^\s(\S+)(?:\s(\d+))?", rest):
        obj.syms[name] = (m.group(1), int(m.group(2) or 0), deprecated)


def smallest_version(obj: SymbolsObject) -> str:
    """get_smallest_version() for dep_id 0, with Perl's `|| ''` (so "0" means unversioned)."""
    smallest: str | None = None
    for minver, dep_id, _deprecated in obj.syms.values():
        if dep_id == 0 and (smallest is None or compare_versions(smallest, minver) > 0):
            smallest = minver
    return "" if smallest in (None, "0") else str(smallest)


def _split_soname(soname: str) -> tuple[str, str] | None:
    if m := re.match(r"^(.+)\.so\.(.+)$", soname):
        return m.group(1), m.group(2)
    if m := re.match(r"^(.+)-(\d.*)\.so$", soname):
        return m.group(1), m.group(2)
    return None


_SHLIBS_LINE = re.compile(r"^\s*(?:(\S+):\s+)?(\S+)\s+(\S+)(?:\s+(\S.*\S))?\s*$")


def extract_from_shlibs(soname: str, path: Path) -> str | None:
    """The dependency an shlibs file gives `soname` (a `deb:` typed line wins over an untyped one)."""
    parts = _split_soname(soname)
    if parts is None:
        return None
    found: str | None = None
    for raw in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
        line = raw.rstrip()
        m = _SHLIBS_LINE.match(line)
        if line.startswith("#") or m is None or (m.group(2), m.group(3)) != parts:
            continue
        if m.group(1) is None:
            found = found if found is not None else (m.group(4) or "")
        elif m.group(1) == "deb":
            return m.group(4) or ""
    return found
