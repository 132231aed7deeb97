"""`debforge package`: recipe → build → ELF repair → glibc guard → Depends → .deb + build record.

`package()` reads as a flat list of named stage calls (mkosi's build_image); the Debian policy it
needs on the way (copyright, changelog, #DEBHELPER# snippets, SOURCE_DATE_EPOCH) sits in small
pure helpers below it, which tests/test_pipeline.py checks one by one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from debforge.builder import Artifacts, Toolchain, build
from debforge.cache import Cache, atomic_output, atomic_write_bytes
from debforge.deb import FileEntry, Package, PackageSpec, changelog_gz, write_deb
from debforge.dists import Target
from debforge.elf import check_symbol_versions, patch_elf, read_elf
from debforge.errors import ElfError, PackageError, TestInstallError
from debforge.pipeline.dbgsym import dbgsym_spec
from debforge.pipeline.policy import (
    GENERATED_CHANGELOG_OVERRIDE,
    SourceDate,
    copyright_text,
    generated_changelog,
    lintian_overrides,
    maintainer_scripts,
    merge_depends,
    misc_depends,
    source_date_epoch,
    wrap_extended,
)
from debforge.pipeline.runtime import runtime_sysroot, sysroot_for_files
from debforge.recipe import Recipe
from debforge.report import Reporter
from debforge.resolve import Closure
from debforge.shlibdeps import resolve_depends
from debforge.testinstall import test_install

__all__ = [
    "DEFAULT_SECTION", "RECORD_FORMAT", "PackageResult", "build_record", "package", "package_spec",
    "repair_elfs", "sysroot_for_files",
]  # fmt: skip
RECORD_FORMAT = 1
# dh_gencontrol takes Section from debian/control, and lintian warns (recommended-field) without one;
# a recipe that names none (e.g. --binary) gets Debian's catch-all section.
DEFAULT_SECTION = "misc"
_ELF_MAGIC = b"\x7fELF"
# dpkg ≥ 1.21 reads zstd members; bookworm (Debian 12) is the first release whose dpkg does.
_ZSTD_DISTS = frozenset({"bookworm", "trixie"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageResult:
    """What `debforge package` made: the .deb, its JSON build record beside it, and the final Depends."""

    package: Package
    record: Path
    depends: str
    record_text: str  # the build record's JSON, as written
    dbgsym: Package | None = None  # the `<name>-dbgsym` deb beside it, when the recipe asks for one

    def to_json(self) -> dict[str, Any]:
        """The build record (what `--json` prints)."""
        loaded: dict[str, Any] = json.loads(self.record_text)
        return loaded


# --------------------------------------------------------------------------- the pipeline


def package(
    recipe: Recipe,
    target: Target,
    cache: Cache,
    reporter: Reporter,
    *,
    out: Path,
    toolchain: Toolchain = "container",
    emulate: bool = False,
    offline: bool = False,
    test: bool = False,
) -> PackageResult:
    """Build, repair, compute Depends and write `<out>/<name>_<version>_<arch>.deb` plus its build record."""
    date = source_date_epoch(recipe, os.environ)  # validate before any work (style rule 7)
    reporter.info(f"SOURCE_DATE_EPOCH {date.epoch} comes from {date.note}")
    work = cache.ensure().tempdir("package-")
    try:
        artifacts = build(
            recipe, target, cache, reporter, toolchain=toolchain, emulate=emulate, out=work / "a"
        )
        elfs = repair_elfs(artifacts, target, reporter)
        shipped = elfs + _elf_file_assets(recipe)
        runtime = runtime_sysroot(
            shipped, target, cache, reporter, offline=offline, build_root=artifacts.sysroot,
            recipe_file=recipe.recipe_file if artifacts.sysroot is not None else None,
        )  # fmt: skip
        with reporter.step("Checking symbol versions against the target"):
            check_symbol_versions([read_elf(p) for p in shipped], runtime.sysroot.path, target)
        with reporter.step("Computing shared-library Depends"):
            computed = (
                resolve_depends(shipped, runtime.sysroot.path, target=target).depends if shipped else ""
            )
        depends = merge_depends(recipe.relations.depends, computed, extra=misc_depends(recipe))
        spec = package_spec(recipe, target, artifacts, depends=depends, date=date)
        deb = write_deb(spec, work, reporter=reporter, allow_zstd=target.dist in _ZSTD_DISTS)
        dbgsym = _write_dbgsym(spec, artifacts, work, target, reporter)
        if test:
            _test_install(recipe, deb, target, cache, reporter)
        record = build_record(recipe, target, deb, artifacts, runtime.closure, date=date, depends=depends)
        if dbgsym is not None:
            record["dbgsym"] = _dbgsym_record(dbgsym)
        return _publish(deb, record, out, depends=depends, dbgsym=dbgsym)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def repair_elfs(artifacts: Artifacts, target: Target, reporter: Reporter) -> list[Path]:
    """Give every built ELF the target's FHS loader and drop RPATH/RUNPATH entries outside the FHS."""
    elfs: list[Path] = []
    with reporter.step("Repairing ELF interpreters and RPATHs"):
        for artifact in artifacts.files:
            if not _is_elf(artifact.source):
                continue
            info = read_elf(artifact.source)
            if info.deb_arch != target.arch:
                raise ElfError(f"{artifact.name} is built for {info.deb_arch}, not {target.arch}")
            patched = patch_elf(artifact.source, interpreter=target.ld_so if info.interpreter else None)
            if patched != artifact.source.read_bytes():
                mode = artifact.source.stat().st_mode & 0o7777
                atomic_write_bytes(artifact.source, patched)
                artifact.source.chmod(mode)
            elfs.append(artifact.source)
    return elfs


def _write_dbgsym(
    spec: PackageSpec, artifacts: Artifacts, work: Path, target: Target, reporter: Reporter
) -> Package | None:
    """The `<name>-dbgsym` deb of the build's detached debug files (none without `dbgsym`)."""
    if not artifacts.debug:
        return None
    with reporter.step(f"Writing {spec.name}-dbgsym"):
        return write_deb(
            dbgsym_spec(spec, artifacts.debug), work, reporter=reporter,
            allow_zstd=target.dist in _ZSTD_DISTS,
        )  # fmt: skip


def _dbgsym_record(deb: Package) -> dict[str, Any]:
    return {
        "deb": deb.path.name, "sha256": deb.sha256, "size": deb.size,
        "build_ids": deb.spec.extra_fields["Build-Ids"].split(),
    }  # fmt: skip


def _copy_out(deb: Package, out: Path) -> Path:
    final = out / deb.path.name
    with atomic_output(final) as tmp:
        shutil.copyfile(deb.path, tmp)
    return final


def _publish(
    deb: Package, record: dict[str, Any], out: Path, *, depends: str, dbgsym: Package | None = None
) -> PackageResult:
    """Copy the debs into `out`, then the record, each renamed into place whole (no record: no .deb)."""
    written: list[Path] = []
    record_path = out / f"{deb.path.name}.buildinfo.json"
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    try:
        extra = _copy_out(dbgsym, out) if dbgsym is not None else None
        written += [extra] if extra is not None else []
        final = _copy_out(deb, out)
        written.append(final)
        atomic_write_bytes(record_path, text.encode())
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return PackageResult(
        package=dataclasses.replace(deb, path=final), record=record_path, depends=depends, record_text=text,
        dbgsym=dataclasses.replace(dbgsym, path=extra) if dbgsym is not None and extra is not None else None,
    )  # fmt: skip


def _test_install(recipe: Recipe, deb: Package, target: Target, cache: Cache, reporter: Reporter) -> None:
    """Install, run, remove and purge the new deb in a fresh target container; raise on any failed step."""
    if recipe.test is None:
        reporter.warning(f"{recipe.recipe_file} has no [test]; installing without running anything")
    report = test_install(
        [deb.path], target, cache, reporter,
        run=recipe.test.run if recipe.test else None, expect=recipe.test.expect if recipe.test else None,
    )  # fmt: skip
    failed = next((step for step in report.steps if not step.ok), None)
    if failed is not None:
        raise TestInstallError(
            f"{deb.path.name} failed its test install at the {failed.name} step: {failed.detail}",
            hint="nothing was written to --out; run `debforge test-install` on the deb to see every step",
        )
    if report.leftovers:
        raise TestInstallError(f"{deb.path.name} leaves files after purge: {', '.join(report.leftovers)}")


# --------------------------------------------------------------------------- spec assembly


def package_spec(
    recipe: Recipe, target: Target, artifacts: Artifacts, *, depends: str, date: SourceDate
) -> PackageSpec:
    """The PackageSpec of a recipe: assets, doc files, conffiles, scripts and control fields."""
    files = [*_asset_entries(recipe, artifacts), *_doc_entries(recipe, date), *_unit_entries(recipe)]
    overrides = (*recipe.lintian_overrides, *(() if recipe.changelog else (GENERATED_CHANGELOG_OVERRIDE,)))
    if overrides:
        dest = PurePosixPath("/usr/share/lintian/overrides", recipe.name)
        files.append(
            FileEntry(dest=dest, data=lintian_overrides(recipe.name, overrides).encode(), mode=0o644)
        )
    rel = recipe.relations
    return PackageSpec(
        name=recipe.name, version=recipe.deb_version, arch=target.arch, maintainer=recipe.maintainer,
        description=_description(recipe), section=recipe.section or DEFAULT_SECTION, priority=recipe.priority,
        homepage=recipe.homepage, pre_depends=", ".join(rel.pre_depends), depends=depends,
        recommends=", ".join(rel.recommends), suggests=", ".join(rel.suggests),
        enhances=", ".join(rel.enhances), conflicts=", ".join(rel.conflicts), breaks=", ".join(rel.breaks),
        replaces=", ".join(rel.replaces), provides=", ".join(rel.provides), files=tuple(files),
        conffiles=tuple(str(path) for path in recipe.conffiles), scripts=maintainer_scripts(recipe),
        source_date_epoch=date.epoch,
    )  # fmt: skip


def _description(recipe: Recipe) -> str:
    extended = wrap_extended(recipe.extended_description or "").strip("\n")
    return f"{recipe.description}\n{extended}" if extended else recipe.description


def _asset_entries(recipe: Recipe, artifacts: Artifacts) -> list[FileEntry]:
    entries = []
    for asset in recipe.assets:
        if asset.source.kind == "built":
            source = artifacts.get(asset.source.name or "").source
        elif asset.source.path is not None:
            source = asset.source.path
        else:
            raise PackageError(f"the asset for {asset.dest} names no source file")
        if not source.is_file():
            raise PackageError(f"the asset {asset.source} for {asset.dest} does not exist")
        entries.append(FileEntry(dest=asset.dest, source=source, mode=asset.mode))
    return entries


def _elf_file_assets(recipe: Recipe) -> list[Path]:
    """ELF files among the "file" assets: dpkg-shlibdeps would scan them too."""
    paths = [a.source.path for a in recipe.assets if a.source.kind == "file" and a.source.path is not None]
    return [path for path in paths if path.is_file() and _is_elf(path)]


def _is_elf(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == _ELF_MAGIC


def _doc_entries(recipe: Recipe, date: SourceDate) -> list[FileEntry]:
    """Policy 12.5 copyright and 12.7 changelog; a native version (no revision) has changelog.gz."""
    doc = PurePosixPath("/usr/share/doc", recipe.name)
    changelog = recipe.changelog.read_bytes() if recipe.changelog else generated_changelog(recipe, date.epoch)
    name = "changelog.Debian.gz" if recipe.revision else "changelog.gz"
    return [
        FileEntry(dest=doc / "copyright", data=copyright_text(recipe, date.epoch).encode(), mode=0o644),
        FileEntry(dest=doc / name, data=changelog_gz(changelog), mode=0o644),
    ]


def _unit_entries(recipe: Recipe) -> list[FileEntry]:
    return [
        FileEntry(dest=unit.dest, source=unit.source, mode=0o644)
        for units in recipe.systemd
        for unit in units.files
    ]


# --------------------------------------------------------------------------- build record


def build_record(
    recipe: Recipe,
    target: Target,
    deb: Package,
    artifacts: Artifacts,
    closure: Closure,
    *,
    date: SourceDate,
    depends: str,
) -> dict[str, Any]:
    """The JSON build record: inputs (recipe, target, sysroot closure, toolchain) and the output's SHA256."""
    return {
        "format": RECORD_FORMAT,
        "package": recipe.name,
        "version": recipe.deb_version,
        "architecture": target.arch,
        "deb": deb.path.name,
        "sha256": deb.sha256,
        "size": deb.size,
        "installed_size": deb.installed_size,
        "depends": depends,
        "recipe": {"file": recipe.recipe_file.name, "sha256": _sha256(recipe.recipe_file)},
        "target": {"dist": target.dist, "arch": target.arch, "mirror": target.mirror},
        "source_date_epoch": {"value": date.epoch, "from": date.origin},
        "sysroot": [f"{p.name}={p.version}" for p in closure.packages],
        "toolchain": dict(artifacts.toolchain),
        "artifacts": [{"name": a.name, "sha256": a.sha256} for a in artifacts.files],
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
