"""Packages files → PackageIndex: compact frozen records of every version in every suite.

INTERFACE (fixed; other stages depend on it):

- `Relation(name, arch, op, version)`: one term of a relation; `arch` is the `:qualifier`
  (`any`, `native`, an arch name) or None; `op` one of `<<`, `<=`, `=`, `>=`, `>>` or None.
- `Relations = tuple[tuple[Relation, ...], ...]`: conjunctive normal form, as python-debian
  (outer tuple: AND of comma-separated groups; inner: the `|` alternatives).
- `PackageRecord`: one stanza, with the fields later stages need.
- `PackageIndex`: every record of every suite of a target, looked up by name; built from the
  Packages texts of a target in sources order (suite order, then component order).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

Provide = tuple[str, str | None]  # (virtual name, version or None for an unversioned Provides)


@dataclass(frozen=True, slots=True)
class Relation:
    """One term of a relation field: `name[:arch] [(op version)]`."""

    name: str
    arch: str | None = None
    op: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        text = self.name if self.arch is None else f"{self.name}:{self.arch}"
        return text if self.op is None else f"{text} ({self.op} {self.version})"


Relations = tuple[tuple[Relation, ...], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageRecord:
    """One binary package version as the archive lists it."""

    name: str
    version: str
    arch: str
    multi_arch: str = "no"  # no | same | foreign | allowed
    essential: bool = False
    priority: str = "optional"
    important: bool = False  # `Important: yes` / `Protected: yes`
    source: str = ""  # source package name ("" → same as name)
    source_version: str = ""
    depends: Relations = ()
    pre_depends: Relations = ()
    recommends: Relations = ()
    conflicts: Relations = ()
    breaks: Relations = ()
    provides: tuple[Provide, ...] = ()
    filename: PurePosixPath = PurePosixPath()
    size: int = 0
    sha256: str = ""
    installed_size: int = 0
    suite: str = ""  # which suite of the target listed it
    suite_rank: int = 0  # position of that suite in the target's sources order (0 = main suite)
    url: str = ""  # full .deb URL on the suite's mirror

    def to_json(self) -> dict[str, object]:
        """The candidate record as `debforge show --json` prints it."""
        return {
            "name": self.name, "version": self.version, "arch": self.arch,
            "multi_arch": self.multi_arch, "essential": self.essential, "priority": self.priority,
            "source": self.source or self.name, "suite": self.suite,
            "filename": str(self.filename), "url": self.url, "sha256": self.sha256,
            "size": self.size, "installed_size": self.installed_size,
            "depends": format_relations(self.depends), "pre_depends": format_relations(self.pre_depends),
            "provides": ", ".join(n if v is None else f"{n} (= {v})" for n, v in self.provides),
            "conflicts": format_relations(self.conflicts), "breaks": format_relations(self.breaks),
        }


def format_relations(relations: Relations) -> str:
    """Relations back to Debian's text form.

    >>> format_relations(((Relation("a", op=">=", version="1"), Relation("b")), (Relation("c", "any"),)))
    'a (>= 1) | b, c:any'
    """
    return ", ".join(" | ".join(str(r) for r in group) for group in relations)


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageIndex:
    """Every version of every package of a target (all suites), looked up by name."""

    dist: str
    arch: str
    release_key: str  # hash of the signed Release files it was built from
    packages: Mapping[str, tuple[PackageRecord, ...]] = field(repr=False)
    providers: Mapping[str, tuple[PackageRecord, ...]] = field(repr=False)
    # apt's internal package ID order: when apt first met each *name* while building its cache
    # (index files in sources order, stanzas in file order, the package's own name, then every
    # relation target in field order, then Provides). The resolver breaks ties with it.
    name_ids: Mapping[str, int] = field(repr=False)

    def versions(self, name: str) -> tuple[PackageRecord, ...]:
        """All records named `name`, newest first (ties: sources order)."""
        return self.packages.get(name, ())

    def candidate(self, name: str) -> PackageRecord | None:
        """apt's default-policy candidate: the highest version across all suites."""
        found = self.packages.get(name)
        return found[0] if found else None

    def provided_by(self, name: str) -> tuple[PackageRecord, ...]:
        """Every record whose Provides names `name`."""
        return self.providers.get(name, ())

    def names(self) -> Iterator[str]:
        """Every real package name."""
        return iter(self.packages)
