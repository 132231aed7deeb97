"""The ELF files a package ships: repaired, read once, and turned into a runtime sysroot and Depends.

Every later step takes the ElfInfo read here (after repair: patching changes PT_INTERP and the
search paths), so no file is parsed twice: the runtime sysroot lookup, the symbol-version guard and
the dpkg-shlibdeps lookup all see the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from debforge.builder import Artifacts
from debforge.cache import atomic_write_bytes
from debforge.dists import Target
from debforge.elf import ElfInfo, check_symbol_versions, patch_elf, read_elf
from debforge.errors import ElfError
from debforge.pipeline.runtime import runtime_sysroot
from debforge.recipe import FileSource, Recipe
from debforge.report import Reporter
from debforge.resolve import Closure
from debforge.session import Session
from debforge.shlibdeps import build_depends_minimums, resolve_depends

_ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeDepends:
    """The shipped ELF files' facts, the runtime sysroot closure they need, and the computed Depends."""

    elfs: tuple[ElfInfo, ...]
    closure: Closure  # the packages the runtime sysroot was unpacked from (for the build record)
    depends: str  # shlibs:Depends as dpkg-shlibdeps computes it ("" without dynamic ELF files)


def runtime_depends(session: Session, recipe: Recipe, target: Target, artifacts: Artifacts) -> RuntimeDepends:
    """Repair the built ELF files, read every shipped one once, then guard symbol versions and compute
    Depends against the runtime sysroot of their NEEDED libraries."""
    reporter = session.reporter
    elfs = (*repair_elfs(artifacts, target, reporter), *(read_elf(p) for p in _elf_file_assets(recipe)))
    runtime = runtime_sysroot(
        session, elfs, target, build_root=artifacts.sysroot,
        recipe_file=recipe.recipe_file if artifacts.sysroot is not None else None,
    )  # fmt: skip
    with reporter.step("Checking symbol versions against the target"):
        check_symbol_versions(elfs, runtime.sysroot.path, target)
    with reporter.step("Computing shared-library Depends"):
        # dpkg-shlibdeps raises a symbols file's minimum to the version the source's Build-Depends
        # asks of its Build-Depends-Package (get_min_version_from_deps).
        minimums = build_depends_minimums(recipe.build.build_depends)
        shlibs = resolve_depends(elfs, runtime.sysroot.path, target=target, build_depends=minimums)
    return RuntimeDepends(elfs=elfs, closure=runtime.closure, depends=shlibs.depends)


def repair_elfs(artifacts: Artifacts, target: Target, reporter: Reporter) -> tuple[ElfInfo, ...]:
    """Give every built ELF the target's FHS loader and drop RPATH/RUNPATH entries outside the FHS;
    return the facts of the repaired files (each read once, after its repair)."""
    infos: list[ElfInfo] = []
    with reporter.step("Repairing ELF interpreters and RPATHs"):
        for artifact in artifacts.files:
            if not _is_elf(artifact.source):
                continue
            # A file without PT_INTERP (a library, a static program) keeps having none.
            patched = patch_elf(artifact.source, interpreter=target.ld_so)
            if patched != artifact.source.read_bytes():
                mode = artifact.source.stat().st_mode & 0o7777
                atomic_write_bytes(artifact.source, patched)
                artifact.source.chmod(mode)
            info = read_elf(artifact.source)
            if info.deb_arch != target.arch:
                raise ElfError(f"{artifact.name} is built for {info.deb_arch}, not {target.arch}")
            infos.append(info)
    return tuple(infos)


def _elf_file_assets(recipe: Recipe) -> list[Path]:
    """ELF files among the "file" assets: dpkg-shlibdeps would scan them too."""
    paths = [a.source.path for a in recipe.assets if isinstance(a.source, FileSource)]
    return [path for path in paths if path.is_file() and _is_elf(path)]


def _is_elf(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == _ELF_MAGIC
