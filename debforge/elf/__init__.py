"""ELF facts (pyelftools), the symbol-version guard, and in-place repair of PT_INTERP and RPATH/RUNPATH.

`read` reads the facts, `patch` repairs files (it imports `read`); the guard lives here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from debforge.dists import Target
from debforge.elf.patch import keeps_rpath_entry, patch_elf
from debforge.elf.read import DynSymbol, ElfInfo, build_id, read_dynamic_symbols, read_elf, version_key
from debforge.errors import ElfError

__all__ = [
    "DynSymbol",
    "ElfInfo",
    "build_id",
    "check_symbol_versions",
    "find_in_sysroot",
    "keeps_rpath_entry",
    "library_dirs",
    "patch_elf",
    "read_dynamic_symbols",
    "read_elf",
    "version_key",
]

# --- the symbol-version guard -----------------------------------------------------------------


def library_dirs(target: Target) -> tuple[PurePosixPath, ...]:
    """Where the target's dynamic loader finds system libraries (multiarch first, as ld.so.conf says)."""
    ma = target.multiarch
    return tuple(PurePosixPath(p) for p in (f"/lib/{ma}", f"/usr/lib/{ma}", "/lib", "/usr/lib"))


def find_in_sysroot(soname: str, sysroot: Path, dirs: Sequence[PurePosixPath]) -> Path | None:
    """The first `<sysroot><dir>/<soname>` that exists, or None."""
    for d in dirs:
        candidate = sysroot / d.relative_to("/") / soname
        if candidate.exists():
            return candidate
    return None


def check_symbol_versions(
    infos: Iterable[ElfInfo], sysroot: Path, target: Target, *, provided: Iterable[str] = ()
) -> None:
    """Refuse files needing a symbol version (GLIBC_, GLIBCXX_, OPENSSL_…) the target's libraries lack.

    The provided versions are read from `.gnu.version_d` of each library in the sysroot, never from
    a table: the same check ld.so makes at start-up ("version `GLIBC_2.38' not found"). Libraries
    the files ship themselves, by SONAME or by a name in `provided`, are not looked for.
    """
    infos = tuple(infos)
    shipped = {i.soname for i in infos if i.soname} | set(provided)
    defined: dict[Path, set[str]] = {}  # each library is read once, however many files need it
    for info in infos:
        for lib, wanted in sorted(info.versions.items()):
            if lib in shipped:
                continue
            found = find_in_sysroot(lib, sysroot, library_dirs(target))
            if found is None:
                raise ElfError(
                    f"{info.path.name} needs {lib}, which the {target.dist} sysroot does not have",
                    hint=f"add the package that ships {lib} to the sysroot",
                )
            if found not in defined:
                defined[found] = set(read_elf(found).defined_versions)
            provided = defined[found]
            missing = sorted(set(wanted) - provided, key=version_key)
            if missing:
                need = f"{missing[-1]}{_for_symbols(info.path, missing[-1])}"
                raise ElfError(_guard_sentence(info.path.name, need, provided, target.dist, lib))


def _for_symbols(path: Path, version: str) -> str:
    """` (for strlcpy, strlcat)`: the imported functions that need `version`, the ones to replace
    (at most three named), or "" when the dynamic symbol table names none."""
    wanted = {(s.weak, s.name) for s in read_dynamic_symbols(path) if not s.defined and s.version == version}
    names = [name for _, name in sorted(wanted)]  # strong references first: the calls the program makes
    if not names:
        return ""
    more = ", …" if len(names) > 3 else ""  # noqa: PLR2004 - a sentence, not a listing
    return f" (for {', '.join(names[:3])}{more})"


def _guard_sentence(name: str, need: str, provided: set[str], dist: str, lib: str) -> str:
    prefix = re.sub(r"[\d.]+( \(.*\))?$", "", need)
    same = sorted((v for v in provided if re.fullmatch(re.escape(prefix) + r"[\d.]+", v)), key=version_key)
    have = f"{dist} provides {same[-1]}" if same else f"{dist}'s {lib} does not define it"
    return f"{name} needs {need} but {have}; build against the {dist} sysroot"
