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

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    suggests: Relations = ()
    replaces: Relations = ()
    enhances: Relations = ()
    provides: tuple[Provide, ...] = ()
    filename: PurePosixPath = PurePosixPath()  # noqa: RUF009 - immutable, safe to share
    size: int = 0
    sha256: str = ""
    installed_size: int = 0
    suite: str = ""  # which suite of the target listed it
    suite_rank: int = 0  # position of that suite in the target's sources order (0 = main suite)
    pin: int = 500  # apt's default priority of that suite (100 for backports): the candidate is the top pin
    url: str = ""  # full .deb URL on the suite's mirror
    component: str = ""  # archive component that listed it (main, contrib, ...)

    def to_json(self) -> dict[str, object]:
        """The candidate record as `debforge show --json` prints it."""
        return {
            "name": self.name,
            "version": self.version,
            "arch": self.arch,
            "multi_arch": self.multi_arch,
            "essential": self.essential,
            "priority": self.priority,
            "source": self.source or self.name,
            "suite": self.suite,
            "filename": str(self.filename),
            "url": self.url,
            "sha256": self.sha256,
            "size": self.size,
            "installed_size": self.installed_size,
            "depends": format_relations(self.depends),
            "pre_depends": format_relations(self.pre_depends),
            "provides": ", ".join(n if v is None else f"{n} (= {v})" for n, v in self.provides),
            "conflicts": format_relations(self.conflicts),
            "breaks": format_relations(self.breaks),
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
    # Names with some version that is Essential: yes or Priority: required, recorded when the index is
    # built (a superset: the candidate decides). Empty for hand-built indexes, which are scanned instead.
    required: tuple[str, ...] = field(default=(), repr=False)

    def versions(self, name: str) -> tuple[PackageRecord, ...]:
        """All records named `name`, highest pin first, then newest (ties: sources order)."""
        return self.packages.get(name, ())

    def candidate(self, name: str) -> PackageRecord | None:
        """apt's default-policy candidate: the highest version of the highest-pinned suites."""
        found = self.packages.get(name)
        return found[0] if found else None

    def provided_by(self, name: str) -> tuple[PackageRecord, ...]:
        """Every record whose Provides names `name`."""
        return self.providers.get(name, ())

    def names(self) -> Iterator[str]:
        """Every real package name."""
        return iter(self.packages)


# One relation term as Policy 7.1 writes it: `name[:archqual] [(op version)] [[arch list]] [<profiles>]`.
# Arch lists and build profiles only occur in source packages; they are accepted and dropped here.
_TERM = re.compile(
    r"\s*(?P<name>[^\s:(\[<]+)(?::(?P<arch>[^\s(\[<]+))?"
    r"\s*(?:\(\s*(?P<op><<|<=|>=|>>|=|<|>)\s*(?P<version>[^\s)]+)\s*\))?"
    r"\s*(?:\[[^\]]*\])?\s*(?:<[^>]*>\s*)*$"
)
# Not per-run state (which lives in a Session): a memo of a pure function of its text, holding
# frozen Relations only, so sharing it across runs and threads can change no result.
_TERM_CACHE: dict[str, Relation] = {}


def _parse_term(text: str) -> Relation:
    # Memoised: the same terms (`libc6 (>= 2.34)`) recur thousands of times in an archive.
    found = _TERM_CACHE.get(text)
    if found is None:
        m = _TERM.match(text)
        # Not Policy syntax: keep the text as a name rather than fail a whole index.
        found = Relation(text.strip()) if m is None else Relation(m["name"], m["arch"], m["op"], m["version"])
        _TERM_CACHE[text] = found
    return found


def parse_relations(text: str) -> Relations:
    """A relation field (Depends, Pre-Depends, ...) in conjunctive normal form, as python-debian.

    >>> parse_relations("libc6 (>= 2.34), default-mta | mail-transport-agent, perl:any")
    ... # doctest: +NORMALIZE_WHITESPACE
    ((Relation(name='libc6', arch=None, op='>=', version='2.34'),),
     (Relation(name='default-mta', arch=None, op=None, version=None),
      Relation(name='mail-transport-agent', arch=None, op=None, version=None)),
     (Relation(name='perl', arch='any', op=None, version=None),))
    """
    groups = []
    for group in text.split(","):
        terms = tuple(_parse_term(term) for term in group.split("|") if term.strip())
        if terms:
            groups.append(terms)
    return tuple(groups)


def parse_provides(text: str) -> tuple[Provide, ...]:
    """Provides entries as (name, version or None); Policy 7.5 allows only `=` versions.

    >>> parse_provides("mail-transport-agent, libssl (= 3.0.11)")
    (('mail-transport-agent', None), ('libssl', '3.0.11'))
    """
    return tuple((r.name, r.version) for group in parse_relations(text) for r in group)


def parse_stanza(text: str) -> dict[str, str]:
    r"""A deb822 stanza as field → value (continuation lines joined with newlines).

    >>> parse_stanza("Package: a\nDescription: x\n more\nVersion: 1\n")
    {'Package': 'a', 'Description': 'x\n more', 'Version': '1'}
    """
    fields: dict[str, str] = {}
    last = ""
    for line in text.split("\n"):
        if not line:
            continue
        if line[0] in " \t":
            if last:
                fields[last] += "\n" + line
            continue
        name, _, value = line.partition(":")
        last = name
        fields[name] = value.strip()
    return fields


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """Where a Packages file came from: suite, its rank in sources order, component, mirror."""

    suite: str
    suite_rank: int
    component: str
    mirror: str
    pin: int = 500  # apt's default priority of the suite (Release.pin)


def record_from_fields(fields: Mapping[str, str], origin: Origin) -> PackageRecord:
    """A PackageRecord from one parsed Packages stanza."""
    get = fields.get
    source, _, source_version = get("Source", "").partition(" (")
    filename = get("Filename", "")
    return PackageRecord(
        name=fields["Package"], version=get("Version", ""), arch=get("Architecture", ""),
        multi_arch=get("Multi-Arch", "no"), essential=get("Essential") == "yes",
        priority=get("Priority", "optional"),
        important=get("Important") == "yes" or get("Protected") == "yes",
        source=source.strip(), source_version=source_version.rstrip(")").strip(),
        depends=parse_relations(get("Depends", "")), pre_depends=parse_relations(get("Pre-Depends", "")),
        recommends=parse_relations(get("Recommends", "")), conflicts=parse_relations(get("Conflicts", "")),
        breaks=parse_relations(get("Breaks", "")), suggests=parse_relations(get("Suggests", "")),
        replaces=parse_relations(get("Replaces", "")), enhances=parse_relations(get("Enhances", "")),
        provides=parse_provides(get("Provides", "")), filename=PurePosixPath(filename),
        size=int(get("Size", "0") or 0), sha256=get("SHA256", ""),
        installed_size=int(get("Installed-Size", "0") or 0), suite=origin.suite,
        suite_rank=origin.suite_rank, pin=origin.pin,
        url=f"{origin.mirror.rstrip('/')}/{filename}" if filename else "",
        component=origin.component,
    )  # fmt: skip


class LazyRecords(Mapping[str, tuple[PackageRecord, ...]]):
    """name → records, decoded from the stanza store on first access and memoised.

    A warm `debforge show` touches one name and a resolve a few hundred, out of 60,000: decoding
    only those is what keeps a warm run well under half a second.
    """

    def __init__(self, table: Mapping[str, Sequence[int]], decode: Callable[[int], PackageRecord]) -> None:
        self._table = table
        self._decode = decode
        self._memo: dict[str, tuple[PackageRecord, ...]] = {}

    def __getitem__(self, name: str) -> tuple[PackageRecord, ...]:
        found = self._memo.get(name)
        if found is None:
            found = tuple(self._decode(i) for i in self._table[name])
            self._memo[name] = found
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._table

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


class LazyNameIds(Mapping[str, int]):
    """apt's package-ID order, stored as a list of names; the dict is built on first lookup."""

    def __init__(self, names: Sequence[str]) -> None:
        self._names = names
        self._ids: dict[str, int] | None = None

    def _table(self) -> dict[str, int]:
        if self._ids is None:
            self._ids = {name: i for i, name in enumerate(self._names)}
        return self._ids

    def __getitem__(self, name: str) -> int:
        return self._table()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
