"""Pure readers for test-install: a deb's control, apt's and dpkg's messages, the loader's, file lists."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from debforge.deb.read import read_deb
from debforge.errors import InstallCheckError, PackageError

_TAIL_LINES = 25
_TAIL_CHARS = 4000


@dataclass(frozen=True, slots=True, kw_only=True)
class DebControl:
    """What test-install needs from a .deb before starting anything: its name, version and arch."""

    path: Path
    name: str  # Package:
    version: str  # Version:
    arch: str  # Architecture: (`all` installs anywhere)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unmet:
    """One line of apt's "unmet dependencies": a package's relation and why no alternative works."""

    package: str
    kind: str  # Depends, Pre-Depends, Recommends, Conflicts, Breaks
    alternatives: tuple[tuple[str, str], ...]  # (relation as apt prints it, apt's reason)

    @property
    def names(self) -> tuple[str, ...]:
        """The package names the alternatives relate to."""
        return tuple(_bare(rel) for rel, _ in self.alternatives)


# --------------------------------------------------------------------------- the .deb


def read_control(path: Path) -> DebControl:
    """Package, Version and Architecture of a .deb, read from its control.tar on the host."""
    try:
        info = read_deb(path)
    except PackageError as exc:
        raise InstallCheckError(str(exc), hint=exc.hint) from exc
    return DebControl(path=path, name=info.name, version=info.version, arch=info.arch)


# --------------------------------------------------------------------------- apt and dpkg


def tail(text: str, lines: int = _TAIL_LINES) -> str:
    """The last `lines` lines of `text`, at most a few thousand characters."""
    return "\n".join(text.rstrip().splitlines()[-lines:])[-_TAIL_CHARS:]


_UNMET = re.compile(
    r"^\s*(?:(?P<pkg>\S+) : )?(?P<kind>Pre-?Depends|Depends|Recommends|Conflicts|Breaks): (?P<rest>.+)$"
)


def parse_unmet(output: str) -> tuple[Unmet, ...]:
    """The relations apt's resolver reports as unmet (apt 2.x `apt-get -s`, and apt 3.0's format).

    >>> text = ''' hello : Depends: libssl1.1 but it is not installable
    ...          Depends: libfoo (>= 2) but 1.0 is to be installed or
    ...                   libbar but it is not installable'''
    >>> [(u.package, u.kind, u.alternatives) for u in parse_unmet(text)]  # doctest: +NORMALIZE_WHITESPACE
    [('hello', 'Depends', (('libssl1.1', 'it is not installable'),)),
     ('hello', 'Depends', (('libfoo (>= 2)', '1.0 is to be installed'), ('libbar', 'it is not installable')))]
    """
    found: list[Unmet] = []
    package, more = "", False
    for line in output.splitlines():
        if more and found and line[:1].isspace() and ": " not in line:
            rel, why, more = _split_alternative(line.strip())
            last = found[-1]
            found[-1] = Unmet(
                package=last.package, kind=last.kind, alternatives=(*last.alternatives, (rel, why))
            )
            continue
        m = _UNMET.match(line)
        more = False
        if m is None or not (m.group("pkg") or package):
            continue
        package = (m.group("pkg") or package).split(":")[0]
        rel, why, more = _split_alternative(m.group("rest"))
        found.append(Unmet(package=package, kind=m.group("kind"), alternatives=((rel, why),)))
    return tuple(found)


def _split_alternative(text: str) -> tuple[str, str, bool]:
    """`libfoo (>= 2) but 1.0 is to be installed or` → relation, reason, another alternative follows."""
    more = text.endswith(" or")
    text = text.removesuffix(" or").strip()
    rel, _, why = text.partition(" but ")
    return rel.strip(), why.strip(), more


def _bare(relation: str) -> str:
    m = re.match(r"[A-Za-z0-9][A-Za-z0-9+.\-]*", relation)
    return m.group(0) if m else relation


_VERBS = {
    "Depends": "depends on",
    "Pre-Depends": "pre-depends on",
    "PreDepends": "pre-depends on",
    "Recommends": "recommends",
    "Conflicts": "conflicts with",
    "Breaks": "breaks",
}


def explain_unmet(unmet: Unmet, dist: str, versions: Callable[[str], tuple[str, ...]]) -> str:
    """One sentence for an unmet relation, naming what `dist` has instead.

    >>> u = Unmet(package="hello", kind="Depends", alternatives=(("libssl1.1", "it is not installable"),))
    >>> explain_unmet(u, "bookworm", lambda name: ())
    'hello depends on libssl1.1, which bookworm does not have'
    >>> u = Unmet(package="hi", kind="Depends",
    ...           alternatives=(("libc6 (>= 2.38)", "2.36-9 is to be installed"),))
    >>> explain_unmet(u, "bookworm", lambda name: ("2.36-9", "2.36-8"))
    'hi depends on libc6 (>= 2.38), but bookworm has only libc6 2.36-9, 2.36-8'
    """
    negative = unmet.kind in ("Conflicts", "Breaks")
    parts = [
        _explain_alternative(rel, why, dist, versions, negative=negative) for rel, why in unmet.alternatives
    ]
    return f"{unmet.package} {_VERBS.get(unmet.kind, unmet.kind)} {' or '.join(parts)}"


def _explain_alternative(  # noqa: PLR0911 - one return per reason apt gives
    rel: str, why: str, dist: str, versions: Callable[[str], tuple[str, ...]], *, negative: bool
) -> str:
    name = _bare(rel)
    have = versions(name)
    if why == "it is not installable":
        if not have:
            return f"{rel}, which {dist} does not have"
        return f"{rel}; {dist} has {name} {', '.join(have)}, but its own dependencies cannot be met"
    if why == "it is a virtual package":
        return f"{rel}, a virtual package no installable {dist} package provides"
    if why.endswith((" is to be installed", " is installed")):
        version, _, state = why.partition(" ")  # "1.0 is to be installed" / "1.0 is installed"
        if negative:
            return f"{rel}, which {state} ({name} {version})"
        return f"{rel}, but {dist} has only {name} {', '.join(have) or version}"
    if why == "it is not going to be installed":
        return f"{rel}, which apt cannot install together with the rest (a conflict or unmet dependency)"
    return f"{rel} ({why})" if why else rel


def parse_madison(text: str) -> dict[str, tuple[str, ...]]:
    """`apt-cache madison` → name → versions, newest first as apt lists them.

    >>> parse_madison("  libc6 | 2.36-9+deb12u7 | http://deb.debian.org/debian bookworm/main arm64 Packages")
    {'libc6': ('2.36-9+deb12u7',)}
    """
    table: dict[str, list[str]] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 3 and parts[0] and parts[1]:  # noqa: PLR2004 - name | version | source
            versions = table.setdefault(parts[0], [])
            if parts[1] not in versions:
                versions.append(parts[1])
    return {name: tuple(vs) for name, vs in table.items()}


# dpkg's own wording (src/main/script.c, dpkg ≥ 1.19): "installed foo package post-installation
# script subprocess returned error exit status 1"; the maintainer script names are Policy 6's.
_SCRIPT_FAILED = re.compile(
    r"(?:installed|new|old) (?P<pkg>\S+) package (?P<desc>pre-installation|post-installation|pre-removal|"
    r"post-removal) script subprocess (?:returned error exit status (?P<code>\d+)|"
    r"was killed by signal \((?P<signal>[^)]*)\))"
)
_SCRIPTS = {
    "pre-installation": "preinst",
    "post-installation": "postinst",
    "pre-removal": "prerm",
    "post-removal": "postrm",
}


def maintscript_failures(output: str) -> tuple[str, ...]:
    """Failed maintainer scripts named as "postinst of foo exited 1", in the order dpkg reported them.

    >>> maintscript_failures("dpkg: error processing package foo (--configure):\\n installed foo package "
    ...     "post-installation script subprocess returned error exit status 1")
    ('postinst of foo exited 1',)
    """
    found: list[str] = []
    for m in _SCRIPT_FAILED.finditer(output):
        how = f"exited {m.group('code')}" if m.group("code") else f"was killed by signal {m.group('signal')}"
        text = f"{_SCRIPTS[m.group('desc')]} of {m.group('pkg').split(':')[0]} {how}"
        if text not in found:
            found.append(text)
    return tuple(found)


_LOADER = re.compile(
    r"version `GLIBC[^']*' not found|error while loading shared libraries|not found \(required by"
)


def run_failure(command: str, code: int, stderr: str) -> str:
    """Why the smoke command failed: the dynamic loader's message first, else its last stderr line.

    >>> run_failure("hi", 1, "hi: /lib/libc.so.6: version `GLIBC_2.99' not found (required by hi)")
    "`hi` exited 1: hi: /lib/libc.so.6: version `GLIBC_2.99' not found (required by hi)"
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    loader = [line for line in lines if _LOADER.search(line)]
    shown = loader[0] if loader else (lines[-1] if lines else "")
    return f"`{command}` exited {code}" + (f": {shown}" if shown else "")


# --------------------------------------------------------------------------- file lists

# What always changes, whatever was installed (piuparts' ignored_files, trimmed to a minbase
# system): dpkg's and apt's state, debconf's database and its -old copies, ldconfig's cache,
# shadow's backups of the user databases, ucf's registry. Logs and /tmp are pruned by find already.
_IGNORED_TREES = (
    "/proc", "/sys", "/dev", "/run", "/var/log", "/var/lib/dpkg", "/var/lib/apt", "/var/cache/apt",
    "/var/cache/debconf", "/var/cache/ldconfig", "/var/lib/ucf",
    "/tmp",  # noqa: S108 - a path in the test container, not the host's
)  # fmt: skip
_IGNORED_FILES = frozenset(
    {"/etc/ld.so.cache", "/etc/machine-id", "/etc/mtab", "/etc/.pwd.lock"}
    | {f"/etc/{db}-" for db in ("passwd", "group", "shadow", "gshadow", "subuid", "subgid")}
)


def ignored(path: str) -> bool:
    """Whether a path's appearing or vanishing says nothing about the package under test.

    >>> ignored("/var/lib/dpkg/status-old"), ignored("/etc/passwd-"), ignored("/var/lib/foo/state")
    (True, True, False)
    """
    return path in _IGNORED_FILES or any(path == t or path.startswith(t + "/") for t in _IGNORED_TREES)


def file_list_changes(before: Iterable[str], after: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(paths left behind, paths gone) between two file lists, ignoring what always changes."""
    old, new = frozenset(before), frozenset(after)
    left = sorted(p for p in new - old if not ignored(p))
    gone = sorted(p for p in old - new if not ignored(p))
    return tuple(left), tuple(gone)
