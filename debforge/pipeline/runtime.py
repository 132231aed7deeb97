"""The runtime sysroot shlibdeps reads: the packages behind the NEEDED sonames of the shipped files.

Each soname is looked up where it is cheapest and most exact, as dpkg-shlibdeps would find it:
the build sysroot's dpkg database (the build-depends closure the files were linked against), then
the files the package ships itself, and only for what is still unknown the archive's
Contents-<arch> (12 MB and one more thing the mirror must serve right).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from debforge.archive import Contents, fetch_contents, fetch_index
from debforge.dists import Target
from debforge.elf import ElfInfo
from debforge.errors import DebforgeError, ElfError, PackageError
from debforge.recipe.tomlfile import display
from debforge.resolve import Closure, resolve_closure
from debforge.rootfs import Sysroot, build_sysroot
from debforge.session import Session
from debforge.shlibdeps import library_packages

Candidate = Callable[[str], object]


@dataclass(frozen=True, slots=True, kw_only=True)
class Runtime:
    """The runtime sysroot and the closure it was unpacked from (for the build record)."""

    sysroot: Sysroot
    closure: Closure


def sysroot_for_files(session: Session, infos: Sequence[ElfInfo], target: Target) -> Sysroot:
    """The runtime sysroot for shlibdeps: the packages shipping the files' NEEDED sonames + closure."""
    return runtime_sysroot(session, infos, target).sysroot


def runtime_sysroot(
    session: Session,
    infos: Sequence[ElfInfo],
    target: Target,
    *,
    build_root: Path | None = None,
    recipe_file: Path | None = None,
    provided: Iterable[str] = (),
) -> Runtime:
    """Resolve and unpack the packages behind the files' NEEDED sonames (Contents only when needed).

    `infos` are the files' facts, read once by the caller. `build_root` is the build-depends
    sysroot the files were linked against; `recipe_file` is where the error for an unreadable
    Contents tells the user to add build-depends. `provided` are the names the package ships its own
    libraries under (shlibdeps.package_libraries): they are never looked for in the archive.
    """
    index = fetch_index(session, target)
    needed = needed_sonames(infos, provided)
    found = sysroot_packages(infos, needed, build_root, target, index.candidate)
    missing = {soname: file for soname, file in needed.items() if soname not in found}
    if missing:
        contents = _read_contents(
            session, missing, target, recipe_file=recipe_file, candidate=index.candidate
        )
        found |= soname_packages(missing, target, contents.packages_for, index.candidate)
    wanted = sorted(set(found.values()))
    with session.reporter.step(f"Resolving the runtime sysroot ({', '.join(wanted) or 'nothing'})"):
        closure = resolve_closure(index, wanted)
    return Runtime(sysroot=build_sysroot(session, closure, target, read_only=True), closure=closure)


def needed_sonames(infos: Sequence[ElfInfo], provided: Iterable[str] = ()) -> dict[str, str]:
    """NEEDED soname → the name of the first file needing it, without the sonames the files provide
    and the other names (`provided`) the package ships its libraries under."""
    own = {info.soname for info in infos if info.soname} | set(provided)
    needed: dict[str, str] = {}
    for info in infos:
        for soname in info.needed:
            if soname not in own:
                needed.setdefault(soname, info.path.name)
    return {soname: needed[soname] for soname in sorted(needed)}


def sysroot_packages(
    infos: Sequence[ElfInfo],
    needed: Mapping[str, str],
    build_root: Path | None,
    target: Target,
    candidate: Candidate,
) -> dict[str, str]:
    """soname → package, for the needed sonames the build sysroot's dpkg database knows."""
    if build_root is None:
        return {}
    found = library_packages(infos, build_root, target)
    # The same index laid the sysroot out, but only a package it has a candidate for can install.
    return {soname: pkg for soname, pkg in found.items() if soname in needed and candidate(pkg) is not None}


def soname_packages(
    needed: Mapping[str, str],
    target: Target,
    packages_for: Callable[[str], tuple[str, ...]],
    candidate: Candidate,
) -> dict[str, str]:
    """soname → the package shipping it in the target's library dirs, from Contents (`needed`: soname →
    the file needing it, for the error)."""
    found: dict[str, str] = {}
    for soname, file in needed.items():
        paths = (f"usr/lib/{target.multiarch}/{soname}", f"lib/{target.multiarch}/{soname}",
                 f"usr/lib/{soname}", f"lib/{soname}")  # fmt: skip
        shipping = [pkg for path in paths for pkg in packages_for(path)]
        # Contents lists packages of every suite; only one the index has a candidate for can install.
        usable = [pkg for pkg in shipping if candidate(pkg) is not None]
        if not usable:
            raise ElfError(
                f"{file} needs {soname}, which no {target.dist} {target.arch} package ships",
                hint="ship the library in the package, or build against a library Debian has",
            )
        found[soname] = usable[0]
    return found


def _read_contents(
    session: Session,
    missing: Mapping[str, str],
    target: Target,
    *,
    recipe_file: Path | None,
    candidate: Candidate,
) -> Contents:
    try:
        return fetch_contents(session, target)
    except DebforgeError as exc:
        raise contents_error(missing, target, exc, recipe_file=recipe_file, candidate=candidate) from exc


def contents_error(
    missing: Mapping[str, str],
    target: Target,
    cause: DebforgeError,
    *,
    recipe_file: Path | None,
    candidate: Candidate,
) -> PackageError:
    """The sonames Contents was needed for, why it could not be read, and how to do without it."""
    needs = ", ".join(f"{file} needs {' and '.join(sonames)}" for file, sonames in _by_file(missing).items())
    said = f"{needs}, and Contents-{target.arch} of {target.dist} could not be read ({cause})"
    if recipe_file is None:
        return PackageError(said, hint="try again later, or pass --mirror with a mirror that serves it")
    guesses = [dev for soname in missing if (dev := _dev_guess(soname, candidate))]
    one = len(missing) == 1
    which = "the -dev package that ships it" if one else "the -dev packages that ship them"
    maybe = f" (probably {', '.join(guesses)})" if guesses else ""
    where = display(recipe_file)
    return PackageError(
        f"{said}; add {which}{maybe} to build-depends in {where} so {'it is' if one else 'they are'} "
        "found without Contents"
    )


def _by_file(missing: Mapping[str, str]) -> dict[str, list[str]]:
    by_file: dict[str, list[str]] = {}
    for soname, file in missing.items():
        by_file.setdefault(file, []).append(soname)
    return by_file


def _dev_guess(soname: str, candidate: Candidate) -> str | None:
    """`libfoo.so.1` → `libfoo-dev` when the index has it: Debian's usual -dev name (Policy 8.4).

    >>> _dev_guess("libssl.so.3", lambda name: name == "libssl-dev" or None)
    'libssl-dev'
    """
    stem = soname.partition(".so")[0]
    dev = f"{stem}-dev"
    return dev if stem.startswith("lib") and candidate(dev) is not None else None
