"""The ELF files a package ships: repaired, read once, and turned into a runtime sysroot and Depends.

Every later step takes the ElfInfo read here (after repair: patching changes PT_INTERP and the
search paths), so no file is parsed twice: the runtime sysroot lookup, the symbol-version guard and
the dpkg-shlibdeps lookup all see the same facts.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from debforge.builder import Artifact, Artifacts
from debforge.builder.tree import private_library_dir
from debforge.cache import atomic_write_bytes
from debforge.dists import Target
from debforge.elf import ElfInfo, check_symbol_versions, patch_elf, read_elf
from debforge.errors import ElfError
from debforge.pipeline.runtime import runtime_sysroot
from debforge.recipe import Asset, FileSource, Recipe, TreeBuild
from debforge.report import Reporter
from debforge.resolve import Closure
from debforge.session import Session
from debforge.shlibdeps import build_depends_minimums, package_libraries, resolve_depends

_ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeDepends:
    """The shipped ELF files' facts, the runtime sysroot closure they need, and the computed Depends."""

    elfs: tuple[ElfInfo, ...]
    closure: Closure  # the packages the runtime sysroot was unpacked from (for the build record)
    depends: str  # shlibs:Depends as dpkg-shlibdeps computes it ("" without dynamic ELF files)
    # ELF file assets that needed repair: (the project's file, its repaired copy in the workspace)
    repaired_assets: tuple[tuple[Path, Path], ...] = ()


def runtime_depends(session: Session, recipe: Recipe, target: Target, artifacts: Artifacts) -> RuntimeDepends:
    """Repair the built ELF files and the ELF file assets, read every shipped one once, then guard
    symbol versions and compute Depends against the runtime sysroot of their NEEDED libraries."""
    reporter = session.reporter
    private = private_library_dir(recipe.name) if isinstance(recipe.build, TreeBuild) else None
    built = repair_elfs(artifacts, target, reporter, private=private)
    with reporter.step("Repairing ELF file assets"):
        assets = repair_file_assets(recipe, target, session.workspace())
    elfs = (*built, *(read_elf(copy) for _, copy in assets))
    provided = own_libraries(artifacts, elfs)
    runtime = runtime_sysroot(
        session, elfs, target, build_root=artifacts.sysroot,
        recipe_file=recipe.recipe_file if artifacts.sysroot is not None else None, provided=provided,
    )  # fmt: skip
    with reporter.step("Checking symbol versions against the target"):
        _check_versions(elfs, runtime.sysroot.path, target, provided=provided,
                        prebuilt=recipe.build.kind in ("binary", "tree"))  # fmt: skip
    with reporter.step("Computing shared-library Depends"):
        # dpkg-shlibdeps raises a symbols file's minimum to the version the source's Build-Depends
        # asks of its Build-Depends-Package (get_min_version_from_deps).
        minimums = build_depends_minimums(recipe.build.build_depends)
        shlibs = resolve_depends(
            elfs, runtime.sysroot.path, target=target, build_depends=minimums, provided=provided
        )
    changed = tuple((old, new) for old, new in assets if old != new)
    return RuntimeDepends(elfs=elfs, closure=runtime.closure, depends=shlibs.depends, repaired_assets=changed)


def own_libraries(artifacts: Artifacts, elfs: Sequence[ElfInfo]) -> frozenset[str]:
    """The names the package ships its own libraries under (shlibdeps.package_libraries), with each
    built file at its install path (a C/C++ or tree build names files by it) and the staging
    tree's symlinks; a file asset counts by its file name."""
    where = {a.source: PurePosixPath("/", a.name) for a in artifacts.files}
    files = {where.get(info.path, PurePosixPath("/", info.path.name)): info for info in elfs}
    links = {PurePosixPath("/", dest): target for dest, target in artifacts.links}
    return package_libraries(files, links)


def with_repaired_assets(recipe: Recipe, repaired: Mapping[Path, Path]) -> Recipe:
    """The recipe with each repaired ELF file asset read from its repaired copy."""

    def swap(asset: Asset) -> Asset:
        if isinstance(asset.source, FileSource) and asset.source.path in repaired:
            return dataclasses.replace(asset, source=FileSource(path=repaired[asset.source.path]))
        return asset

    return dataclasses.replace(recipe, assets=tuple(swap(a) for a in recipe.assets))


def repair_elfs(
    artifacts: Artifacts, target: Target, reporter: Reporter, *, private: PurePosixPath | None = None
) -> tuple[ElfInfo, ...]:
    """Give every built ELF the target's FHS loader and drop RPATH/RUNPATH entries outside the FHS;
    return the facts of the repaired files (each read once, after its repair).

    With `private` (a prebuilt tree's /usr/lib/<package>), the built files are named by their
    destination, and every file needing a library shipped there gets the one RUNPATH
    `$ORIGIN/<relative path to it>`: ld.so expands $ORIGIN to the file's own directory, so it
    holds wherever the root is (ld.so(8)).
    """
    elf_files = [a for a in artifacts.files if _is_elf(a.source)]
    own = _private_sonames(elf_files, private)
    infos: list[ElfInfo] = []
    with reporter.step("Repairing ELF interpreters and RPATHs"):
        for artifact in elf_files:
            runpath = None
            if private is not None and own & set(read_elf(artifact.source).needed):
                where = PurePosixPath("/", artifact.name).parent
                runpath = f"$ORIGIN/{os.path.relpath(private, where)}".removesuffix("/.")
            # A file without PT_INTERP (a library, a static program) keeps having none.
            _write_if_changed(
                artifact.source, patch_elf(artifact.source, interpreter=target.ld_so, runpath=runpath)
            )
            info = read_elf(artifact.source)
            if info.deb_arch != target.arch:
                raise ElfError(f"{artifact.name} is built for {info.deb_arch}, not {target.arch}")
            infos.append(info)
    return tuple(infos)


def _private_sonames(elf_files: list[Artifact], private: PurePosixPath | None) -> set[str]:
    """The sonames of the libraries laid out under the private library directory."""
    if private is None:
        return set()
    inside = [a for a in elf_files if PurePosixPath("/", a.name).is_relative_to(private)]
    return {soname for a in inside if (soname := read_elf(a.source).soname)}


def _write_if_changed(path: Path, patched: bytes) -> None:
    if patched != path.read_bytes():
        mode = path.stat().st_mode & 0o7777
        atomic_write_bytes(path, patched)
        path.chmod(mode)


def repair_file_assets(recipe: Recipe, target: Target, workspace: Path) -> list[tuple[Path, Path]]:
    """(asset, repaired copy) of every ELF file asset; the project's own file is never written."""
    pairs = []
    for path in _elf_file_assets(recipe):
        patched = patch_elf(path, interpreter=target.ld_so)
        if patched == path.read_bytes():
            pairs.append((path, path))
            continue
        copy = Path(tempfile.mkdtemp(prefix="asset-", dir=workspace)) / path.name
        shutil.copyfile(path, copy)
        _write_if_changed(copy, patched)
        pairs.append((path, copy))
    return pairs


def _check_versions(
    elfs: tuple[ElfInfo, ...], sysroot: Path, target: Target, *, provided: frozenset[str], prebuilt: bool
) -> None:
    """The symbol-version guard; for a prebuilt file the hint says how to rebuild it (Nix's way)."""
    try:
        check_symbol_versions(elfs, sysroot, target, provided=provided)
    except ElfError as exc:
        if not prebuilt:
            raise
        raise ElfError(
            exc.message,
            hint=f"rebuild it against an older glibc (a nixpkgs release whose glibc {target.dist} has), "
            "or as a static program",
        ) from exc


def _elf_file_assets(recipe: Recipe) -> list[Path]:
    """ELF files among the "file" assets: dpkg-shlibdeps would scan them too."""
    paths = [a.source.path for a in recipe.assets if isinstance(a.source, FileSource)]
    return [path for path in paths if path.is_file() and _is_elf(path)]


def _is_elf(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == _ELF_MAGIC
