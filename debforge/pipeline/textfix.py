"""Store paths in shipped files: `/nix/store/<hash>-<name>/<path>` rewritten to FHS paths, or refused.

A Nix build writes absolute store paths into shebangs (`#!/nix/store/…-bash-5.2/bin/bash`),
`.desktop` `Exec=` lines, systemd units and pkg-config files. On Debian no /nix/store exists, so
each is rewritten to where the file really is: in the package itself (`bin/greet` → /usr/bin/greet)
or where Debian's package of the same name ships it (`bash` ships /bin/bash on bookworm), that
package then joining Depends unless it is Essential (Policy 3.5). Anything else is refused with
the file and line. Afterwards no shipped file may hold a store path at all, ELF files included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from debforge.archive import fetch_index
from debforge.dists import Target
from debforge.errors import PackageError
from debforge.rootfs import fetch_debs
from debforge.run import run
from debforge.session import Session

STORE = b"/nix/store/"
# A store path: 32 base-32 hash characters, a name, then optionally a path inside it.
_STORE_PATH = re.compile(r"/nix/store/[0-9a-z]{32}-([^/\s\"'`;:=()]+)((?:/[^\s\"'`;:=()]*)?)")
_VERSION = re.compile(r"-\d[^/]*$")  # nixpkgs' <pname>-<version>: the version starts with a digit

# (Debian package name guesses, candidate absolute paths) → (the path Debian ships, the package to
# depend on or None when it is Essential), or None when no guess ships any candidate.
DebianLookup = Callable[[Sequence[str], Sequence[str]], tuple[str, str | None] | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreFix:
    """Where the package's own files are, and how to find a file in Debian."""

    layout: Mapping[str, PurePosixPath]  # tree top-level directory → FHS directory
    shipped: frozenset[PurePosixPath]  # every destination of the package
    lookup: DebianLookup
    target: Target


def rewrite_store_paths(files: Iterable[tuple[PurePosixPath, Path]], fix: StoreFix) -> tuple[str, ...]:
    """Rewrite the store paths of the text files among `files` (destination, file) in place; return the
    Debian packages the rewritten paths belong to (for Depends)."""
    depends: list[str] = []
    for dest, path in files:
        data = path.read_bytes()
        if STORE not in data or data.startswith(b"\x7fELF"):
            continue
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise PackageError(
                f"{dest} is a binary file that names {_first_store_path(data)}, which cannot be rewritten",
                hint="build it without store references (nixpkgs' remove-references-to), or leave it out",
            ) from None
        lines = [
            _rewrite_line(line, dest, number, fix, depends)
            for number, line in enumerate(text.splitlines(True), 1)
        ]
        path.write_text("".join(lines))
    return tuple(dict.fromkeys(depends))


def check_no_store_paths(files: Iterable[tuple[PurePosixPath, Path]]) -> None:
    """Refuse a file that still holds /nix/store bytes (an ELF string, a binary blob)."""
    for dest, path in files:
        data = path.read_bytes()
        at = data.find(STORE)
        if at >= 0:
            line = data.count(b"\n", 0, at) + 1
            where = f"at byte {at}" if data.startswith(b"\x7fELF") else f"line {line}"
            raise PackageError(
                f"{dest} still holds {_first_store_path(data)} ({where}), a path no Debian system has",
                hint="rebuild it without store references (nixpkgs' remove-references-to), or statically",
            )


def fhs_candidates(rel: PurePosixPath, multiarch: str) -> tuple[str, ...]:
    """Where Debian may ship a store output's `rel` path (usrmerged or not).

    >>> fhs_candidates(PurePosixPath("bin/bash"), "aarch64-linux-gnu")
    ('/usr/bin/bash', '/bin/bash')
    >>> fhs_candidates(PurePosixPath("share/x/y"), "aarch64-linux-gnu")
    ('/usr/share/x/y',)
    >>> fhs_candidates(PurePosixPath("."), "aarch64-linux-gnu")
    ()
    """
    if len(rel.parts) < 2:  # noqa: PLR2004 - a store output itself (`prefix=` in a .pc) or its bin/
        return ()
    top, rest = rel.parts[0], PurePosixPath(*rel.parts[1:])
    table = {
        "bin": ("/usr/bin", "/bin"), "sbin": ("/usr/sbin", "/sbin"), "share": ("/usr/share",),
        "libexec": ("/usr/libexec",), "etc": ("/etc",),
        "lib": (f"/usr/lib/{multiarch}", f"/lib/{multiarch}", "/usr/lib", "/lib"),
    }  # fmt: skip
    return tuple(str(PurePosixPath(d) / rest) for d in table.get(top, ()))


def debian_lookup(session: Session, target: Target) -> DebianLookup:
    """A DebianLookup over the target's index: each package's .deb is fetched and listed once.

    A guessed package is depended on when it ships the path or one of its first alternatives of
    Pre-Depends/Depends does: bookworm's python3 ships no /usr/bin/python3, its Pre-Depends
    python3-minimal does, and `python3` is what a script names in Depends (Debian Python Policy 3.1).
    """
    index = fetch_index(session, target)
    listings: dict[str, frozenset[str]] = {}

    def ships(name: str) -> frozenset[str]:
        record = index.candidate(name)
        if record is None:
            return frozenset()
        if name not in listings:
            listings[name] = _deb_paths(next(iter(fetch_debs(session, [record]).values())))
        return listings[name]

    def lookup(names: Sequence[str], paths: Sequence[str]) -> tuple[str, str | None] | None:
        for name in names:
            record = index.candidate(name)
            if record is None:
                continue
            direct = [alts[0].name for alts in (*record.pre_depends, *record.depends)]
            for shipper in (name, *direct):
                found = next((path for path in paths if path in ships(shipper)), None)
                if found is not None:
                    return found, None if record.essential else record.name
        return None

    return lookup


def _deb_paths(deb: Path) -> frozenset[str]:
    """The absolute paths a .deb ships (files and links), from `dpkg-deb --contents`."""
    paths = set()
    for line in run(["dpkg-deb", "--contents", deb]).text.splitlines():
        fields = line.split(None, 5)
        if len(fields) == 6:  # noqa: PLR2004 - mode owner size date time name
            paths.add(fields[5].split(" -> ")[0].removeprefix(".").rstrip("/"))
    return frozenset(paths)


def _rewrite_line(line: str, dest: PurePosixPath, number: int, fix: StoreFix, depends: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, inner = match.group(1), PurePosixPath(match.group(2).lstrip("/") or ".")
        own = _own_path(inner, fix)
        if own is not None:
            return own
        pname = _VERSION.sub("", name)
        found = fix.lookup(
            tuple(dict.fromkeys((pname, pname.split("-")[0]))), fhs_candidates(inner, fix.target.multiarch)
        )
        if found is None:
            raise PackageError(
                f"{dest} line {number} names {match.group(0)}, which neither this package nor "
                f"{fix.target.dist} {fix.target.arch} ships",
                hint="ship that file in the tree, or point the file at a path Debian has",
            )
        path, package = found
        depends.extend([package] if package else [])
        return path

    return _STORE_PATH.sub(replace, line)


def _own_path(inner: PurePosixPath, fix: StoreFix) -> str | None:
    """Where the package itself ships a store output's `inner` path, if it does."""
    if inner == PurePosixPath(".") or inner.parts[0] not in fix.layout:
        return None
    dest = fix.layout[inner.parts[0]].joinpath(*inner.parts[1:])
    return str(dest) if dest in fix.shipped else None


def _first_store_path(data: bytes) -> str:
    at = data.find(STORE)
    end = at
    while end < len(data) and data[end] > 0x20 and data[end] not in b"\"':;\0":  # noqa: PLR2004 - space
        end += 1
    return data[at:end].decode("utf-8", "replace")
