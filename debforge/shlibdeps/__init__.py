"""The `shlibs:Depends` value dpkg-shlibdeps would compute, from a sysroot's dpkg database.

Mirrors dpkg 1.21's scripts/dpkg-shlibdeps.pl with Dpkg::Shlibs (library search),
Dpkg::Shlibs::SymbolFile (symbols and shlibs files, in `symbols`) and Dpkg::Deps (final sort
and formatting).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from debforge.archive.version import compare_versions
from debforge.dists import Target
from debforge.elf import DynSymbol, ElfInfo, check_symbol_versions, read_dynamic_symbols, read_elf
from debforge.errors import ElfError
from debforge.rootfs.dpkgdb import DpkgDatabase
from debforge.shlibdeps.symbols import SymbolsObject, extract_from_shlibs, parse_symbols, smallest_version


@dataclass(frozen=True, slots=True, kw_only=True)
class LibraryDep:
    """How one NEEDED soname was mapped to a package."""

    soname: str
    path: PurePosixPath
    package: str
    source: Literal["symbols", "shlibs"]  # which control file of `package` gave the dependency


@dataclass(frozen=True, slots=True, kw_only=True)
class ShlibsDepends:
    """The result of `debforge deps`: the Depends value and where each part came from."""

    depends: str
    libraries: tuple[LibraryDep, ...]

    def to_json(self) -> dict[str, object]:
        """The `debforge deps --json` document."""
        libs = [{"soname": x.soname, "path": str(x.path), "package": x.package, "source": x.source}
                for x in self.libraries]  # fmt: skip
        return {"depends": self.depends, "libraries": libs}


def compute_depends(paths: Sequence[Path], sysroot: Path, *, target: Target) -> str:
    """What `dpkg-shlibdeps -O` prints as shlibs:Depends for these files shipped in one new package.

    Each file is read once; the symbol-version guard runs before the lookup, as in `debforge package`.
    """
    infos = [read_elf(p) for p in paths]
    check_symbol_versions(infos, sysroot, target)
    return resolve_depends(infos, sysroot, target=target).depends


def resolve_depends(
    infos: Sequence[ElfInfo],
    sysroot: Path,
    *,
    target: Target,
    build_depends: Mapping[str, str] | None = None,
    provided: Iterable[str] = (),
) -> ShlibsDepends:
    """Map every NEEDED soname to its package and fold the symbol minimum versions into one Depends value.

    `infos` are the facts of the files the package ships (read once, after ELF repair); the caller
    runs check_symbol_versions on them first. `build_depends` (dev package → minimum version, see
    build_depends_minimums) plays the role of the source's Build-Depends for symbols files with a
    `Build-Depends-Package` field. `provided` are the names the package ships its own libraries
    under (package_libraries): NEEDED entries found there add no dependency.
    """
    state = _State(sysroot=sysroot, db=DpkgDatabase(sysroot), target=target)
    shipped = {i.soname for i in infos if i.soname} | set(provided)
    for info in infos:
        _scan_file(state, info, shipped, build_depends or {})
    return ShlibsDepends(depends=_format(state.deps), libraries=tuple(state.libraries))


def package_libraries(
    files: Mapping[PurePosixPath, ElfInfo], links: Mapping[PurePosixPath, str]
) -> frozenset[str]:
    """The names the package being built ships its own libraries under: each shipped ELF file's
    SONAME and file name, and the name of every symlink that leads (within the package) to one.

    dpkg-shlibdeps looks a NEEDED name up in the package build tree before the system, and a library
    found there, which no installed package owns and which has no symbols or shlibs file yet, adds
    no dependency (dpkg-shlibdeps.pl: "the lib and the binary are in the same package"). `files`
    and `links` are keyed by install path, so `libfoo.so.1 -> libfoo.so.1.2.3` counts, and so
    does a library without a SONAME, which its users NEED by file name.
    """
    names = {name for path, info in files.items() for name in (info.soname, path.name) if name}
    for link in links:
        if _follow(link, links) in files:
            names.add(link.name)
    return frozenset(names)


def _follow(path: PurePosixPath, links: Mapping[PurePosixPath, str]) -> PurePosixPath:
    """Where a chain of the package's own symlinks ends, relative targets read from the link's
    directory (symlink(7)); at most 40 hops, the kernel's MAXSYMLINKS."""
    for _ in range(40):
        target = links.get(path)
        if target is None:
            break
        path = PurePosixPath(os.path.normpath(path.parent / target))
    return path


def build_depends_minimums(groups: Iterable[str]) -> dict[str, str]:
    """Package → the highest `>=`/`>>` version the Build-Depends groups ask for (dpkg-shlibdeps'
    get_min_version_from_deps); an unversioned, `=`, `<<` or `<=` relation gives no minimum.

    >>> build_depends_minimums(["libfoo-dev (>= 1.2)", "libbar-dev (>> 2) | libfoo-dev (>= 1.10)", "zlib"])
    {'libfoo-dev': '1.10', 'libbar-dev': '2'}
    """
    found: dict[str, str] = {}
    for group in groups:
        for alternative in re.split(r"\s*\|\s*", group.strip()):
            name, _arch, rel, version = _parse_simple(alternative)
            if rel not in (">=", ">>") or version is None:
                continue
            if name not in found or compare_versions(version, found[name]) > 0:
                found[name] = version
    return found


# --- the sysroot's dpkg database and library search ---------------------------------------------


def _ldso_conf_dirs(sysroot: Path, conf: Path, seen: set[Path]) -> Iterator[str]:
    if conf in seen or not conf.is_file():
        return
    seen.add(conf)
    for raw in conf.read_text(errors="replace").splitlines():
        line = raw.strip().rstrip("/")
        if m := re.match(r"^include\s+(\S.*\S)$", line):
            pattern = m.group(1).lstrip("/")
            for inc in sorted(sysroot.glob(pattern)):
                yield from _ldso_conf_dirs(sysroot, inc, seen)
        elif line.startswith("/"):
            yield line


def search_dirs(sysroot: Path, target: Target, rpath: Sequence[str]) -> tuple[str, ...]:
    """dpkg-shlibdeps' search order: RPATH/RUNPATH, multiarch, /lib, /usr/lib, ld.so.conf, multilib."""
    ma = target.multiarch
    dirs = [*rpath, f"/lib/{ma}", f"/usr/lib/{ma}", "/lib", "/usr/lib"]
    for d in _ldso_conf_dirs(sysroot, sysroot / "etc/ld.so.conf", set()):
        if d not in dirs[len(rpath) :]:
            dirs.append(d)
    return (*dirs, "/lib32", "/usr/lib32", "/lib64", "/usr/lib64")


def _inside(sysroot: Path, path: PurePosixPath) -> Path:
    return sysroot / str(path).lstrip("/")


def _realpath(sysroot: Path, path: PurePosixPath) -> PurePosixPath:
    """realpath() of `path` with the sysroot as `/` (absolute links stay inside it)."""
    parts, resolved, hops = list(path.parts[1:]), PurePosixPath("/"), 0
    while parts:
        head = parts.pop(0)
        if head == "..":
            resolved = resolved.parent
            continue
        candidate = resolved / head
        real = _inside(sysroot, candidate)
        if real.is_symlink() and hops < 40:  # noqa: PLR2004 - the kernel's MAXSYMLINKS
            hops += 1
            link = str(real.readlink())
            parts = [*PurePosixPath(link).parts[1 if link.startswith("/") else 0 :], *parts]
            resolved = PurePosixPath("/") if link.startswith("/") else resolved
        else:
            resolved = candidate
    return resolved


_Formats = dict[Path, tuple[int, int, str] | None]  # library → its ELF format (None: not an ELF file)


def _same_format(path: Path, info: ElfInfo, formats: _Formats) -> bool:
    """Objdump.pm get_format(): class, byte order and machine must match the binary's.

    `formats` remembers each library's format, so a library many files need is read once.
    """
    if path not in formats:
        try:
            formats[path] = read_elf(path).abi
        except ElfError:
            formats[path] = None
    return formats[path] == info.abi


# --- the scan ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _State:
    sysroot: Path
    db: DpkgDatabase
    target: Target
    deps: dict[str, str] = field(default_factory=dict)  # template → minimum version ("" = none yet)
    libraries: list[LibraryDep] = field(default_factory=list)
    symfiles: dict[tuple[Path, str], SymbolsObject | None] = field(default_factory=dict)
    formats: _Formats = field(default_factory=dict)


def _scan_file(state: _State, info: ElfInfo, shipped: set[str], build_depends: Mapping[str, str]) -> None:
    """One iteration of dpkg-shlibdeps' main loop: libraries, then every undefined symbol."""
    objects: dict[str, SymbolsObject] = {}
    for soname in info.needed:
        if soname in shipped:
            continue  # the package ships this library itself: no dependency (dpkg ignores it too)
        obj = _map_soname(state, info, soname, search_dirs(state.sysroot, state.target, _rpath(info)))
        if obj is not None:
            objects[soname] = obj
    for sym in read_dynamic_symbols(info.path):
        if not sym.defined:
            _use_symbol(state, sym, info.needed, objects)
    for obj in objects.values():
        dev = obj.fields.get("build-depends-packages") or obj.fields.get("build-depends-package") or ""
        for dev_pkg in filter(None, re.split(r"[,\s]+", dev)):
            if dev_pkg in build_depends:
                for template in obj.deps:
                    _update(state.deps, template, build_depends[dev_pkg], existing_only=True)


def _rpath(info: ElfInfo) -> list[str]:
    # RUNPATH replaces RPATH in dpkg's Objdump.pm; $ORIGIN entries point into the new package itself.
    return [p for p in (info.runpath or info.rpath) if "$ORIGIN" not in p and "${ORIGIN}" not in p]


def _locate(
    sysroot: Path, db: DpkgDatabase, info: ElfInfo, soname: str, dirs: Sequence[str], *, formats: _Formats
) -> tuple[PurePosixPath, list[str]] | None:
    """The first `<dir>/<soname>` of `info`'s format in the sysroot and its owners (dpkg -S)."""
    for directory in dirs:
        vpath = PurePosixPath(directory) / soname
        real = _inside(sysroot, vpath)
        if real.exists() and _same_format(real, info, formats):
            return vpath, db.owners(vpath) or db.owners(_realpath(sysroot, vpath))
    return None


def library_packages(infos: Sequence[ElfInfo], sysroot: Path, target: Target) -> dict[str, str]:
    """NEEDED soname → the package owning it in `sysroot`'s dpkg database, found where dpkg-shlibdeps
    looks; sonames the sysroot lacks (or no package there lists) are left out."""
    db, formats = DpkgDatabase(sysroot), _Formats()
    found: dict[str, str] = {}
    for info in infos:
        dirs = search_dirs(sysroot, target, _rpath(info))
        for soname in info.needed:
            hit = None if soname in found else _locate(sysroot, db, info, soname, dirs, formats=formats)
            if hit is not None and hit[1]:
                found[soname] = hit[1][0].split(":")[0]  # `pkg:arch` (Multi-Arch: same) → pkg
    return found


def _map_soname(state: _State, info: ElfInfo, soname: str, dirs: Sequence[str]) -> SymbolsObject | None:
    hit = _locate(state.sysroot, state.db, info, soname, dirs, formats=state.formats)
    if hit is None:
        raise ElfError(
            f"{soname} needed by {info.path.name} is not in the {state.target.dist} {state.target.arch} "
            "sysroot",
            hint="add the package that ships it to the sysroot",
        )
    vpath, owners = hit
    if not owners:
        raise ElfError(
            f"{soname} (needed by {info.path.name}) is {vpath} in the sysroot, which no package ships",
            hint="make sure the sysroot was extracted with its dpkg database",
        )
    for pkg in owners:
        found = _from_package(state, soname, pkg, vpath)
        if found is not None:
            return found.symbols
    raise ElfError(
        f"{soname} (needed by {info.path.name}) comes from {owners[0].split(':')[0]}, "
        "which has neither a symbols nor a shlibs file",
        hint="the package's Depends cannot be computed; add the dependency by hand",
    )


@dataclass(frozen=True, slots=True)
class _Answer:
    """A package's answer for a soname: its symbols-file object, or None when its shlibs file gave it."""

    symbols: SymbolsObject | None


def _from_package(state: _State, soname: str, pkg: str, vpath: PurePosixPath) -> _Answer | None:
    """Use pkg's symbols file, else its shlibs file (dpkg-shlibdeps' order); None if neither knows."""
    symbols = state.db.control_path(pkg, "symbols")
    if symbols is not None:
        key = (symbols, soname)
        if key not in state.symfiles:
            state.symfiles[key] = parse_symbols(symbols, soname)
        obj = state.symfiles[key]
        if obj is not None:
            # Unversioned is not enough: the library may not always have been in this package.
            _update(state.deps, obj.deps[0], smallest_version(obj))
            state.libraries.append(LibraryDep(soname=soname, path=vpath, package=pkg, source="symbols"))
            return _Answer(symbols=obj)
    shlibs = state.db.control_path(pkg, "shlibs")
    dep = extract_from_shlibs(soname, shlibs) if shlibs is not None else None
    if dep is None:
        return None
    for sub in re.split(r",\s*", dep) if dep else []:
        state.deps[sub] = ""  # shlibs dependencies carry no minimum of their own
    state.libraries.append(LibraryDep(soname=soname, path=vpath, package=pkg, source="shlibs"))
    return _Answer(symbols=None)


def _use_symbol(
    state: _State, sym: DynSymbol, needed: Sequence[str], objects: Mapping[str, SymbolsObject]
) -> None:
    for soname in needed:
        obj = objects.get(soname)
        hit = obj.syms.get(sym.key) if obj is not None else None
        if obj is not None and hit is not None and not hit[2]:
            minver, dep_id, _ = hit
            if dep_id < len(obj.deps):
                _update(state.deps, obj.deps[dep_id], minver)
            return


def _update(deps: dict[str, str], template: str, minver: str, *, existing_only: bool = False) -> None:
    """update_dependency_version(): keep the strongest minimum per dependency template."""
    for sub in [s for s in re.split(r"\s*,\s*", template) if s] or [template]:
        if sub in deps:
            if deps[sub] == "" or (minver != "" and compare_versions(minver, deps[sub]) > 0):
                deps[sub] = minver
        elif not existing_only:
            deps[sub] = minver


# --- output, as Dpkg::Deps parses, sorts and prints ----------------------------------------------

_SIMPLE = re.compile(
    r"^\s*([a-zA-Z0-9][a-zA-Z0-9+.-]*)(?::([a-zA-Z0-9][a-zA-Z0-9-]*))?"
    r"(?:\s*\(\s*(<<|<=|=|>=|>>|[<>])\s*([^)\s]+)\s*\))?\s*$"
)
_REL_ORDER = {None: 0, ">=": 1, ">>": 2, "=": 3, "<<": 4, "<=": 5}
_Simple = tuple[str, str | None, str | None, str | None]  # package, arch qualifier, relation, version


def _parse_simple(text: str) -> _Simple:
    m = _SIMPLE.match(text)
    if m is None:
        raise ElfError(f"invalid dependency got generated: {text}")
    rel = {"<": "<=", ">": ">="}.get(m.group(3) or "", m.group(3))
    return m.group(1), m.group(2), rel, m.group(4)


def _render(s: _Simple) -> str:
    pkg, arch, rel, ver = s
    return pkg + (f":{arch}" if arch else "") + (f" ({rel} {ver})" if rel else "")


def _sort_key(alternatives: list[_Simple]) -> list[tuple[str, int, str]]:
    return [(p, _REL_ORDER[r], v or "") for p, _a, r, v in alternatives]


def _format(deps: Mapping[str, str]) -> str:
    """Substitute #MINVER#, then parse, sort and print the list as dpkg-shlibdeps does."""
    items = []
    for template, minver in deps.items():
        # Perl truthiness: a version of "0" (or none) leaves the dependency unversioned.
        versioned = re.match(r"^(\d+:)?\d", minver) is not None and minver != "0"
        text = template.replace("#MINVER#", f"(>= {minver})" if versioned else "")
        items.append(re.sub(r"\s+", " ", text))
    line = ", ".join(items).strip()
    if not line:
        return ""
    parsed = [
        [_parse_simple(alt) for alt in re.split(r"\s*\|\s*", part)] for part in re.split(r"\s*,\s*", line)
    ]
    parsed.sort(key=_sort_key)
    return ", ".join(" | ".join(_render(s) for s in alts) for alts in parsed)
