"""`debforge package`: recipe → build → ELF repair → glibc guard → Depends → .deb + build record.

`package()` reads as a flat list of named stage calls (mkosi's build_image); the Debian policy it
needs on the way (copyright, changelog, #DEBHELPER# snippets, SOURCE_DATE_EPOCH) sits in small
pure helpers below it, which tests/test_pipeline.py checks one by one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from debforge.ahead import Ahead, beside
from debforge.archive import fetch_index
from debforge.builder import Artifacts, Toolchain, build
from debforge.cache import atomic_output, atomic_write_bytes
from debforge.container import build_image, host_target
from debforge.deb import (
    FileFromBytes,
    FileFromPath,
    Package,
    PackageSpec,
    Symlink,
    TreeEntry,
    changelog_gz,
    write_deb,
)
from debforge.dists import Target
from debforge.errors import DebforgeError, InstallCheckError, PackageError
from debforge.pipeline.dbgsym import dbgsym_spec, separate_debug_entries
from debforge.pipeline.elfs import RuntimeDepends, repair_elfs, runtime_depends, with_repaired_assets
from debforge.pipeline.finished import load_finished, plan_key, store_finished
from debforge.pipeline.makeshlibs import makeshlibs, with_makeshlibs
from debforge.pipeline.policy import (
    SourceDate,
    copyright_text,
    generated_changelog,
    generated_overrides,
    merge_depends,
    misc_depends,
    render_lintian_overrides,
    render_maintainer_scripts,
    source_date_epoch,
    wrap_extended,
)
from debforge.pipeline.record import RECORD_FORMAT, BuildRecord, DbgsymRecord, build_record
from debforge.pipeline.runtime import sysroot_for_files
from debforge.pipeline.tree import fix_store_paths, tree_conffiles, tree_entries
from debforge.recipe import AssetSource, BuiltSource, FileSource, InstallTree, LinkSource, Recipe
from debforge.report import Reporter
from debforge.session import Session
from debforge.testinstall import check_install

__all__ = [
    "DEFAULT_SECTION", "RECORD_FORMAT", "BuildRecord", "DbgsymRecord", "PackageResult", "RuntimeDepends",
    "build_record", "package", "package_spec", "repair_elfs", "runtime_depends", "sysroot_for_files",
]  # fmt: skip
# dh_gencontrol takes Section from debian/control, and lintian warns (recommended-field) without one;
# a recipe that names none (e.g. --binary) gets Debian's catch-all section.
DEFAULT_SECTION = "misc"


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageResult:
    """What `debforge package` made: the .deb, its JSON build record beside it, and the final Depends."""

    package: Package
    record: Path
    buildinfo: BuildRecord  # what `record` holds
    dbgsym: Package | None = None  # the `<name>-dbgsym` deb beside it, when the recipe asks for one

    @property
    def depends(self) -> str:
        """The .deb's final Depends value."""
        return self.package.spec.depends

    def to_json(self) -> dict[str, object]:
        """The build record (what `--json` prints)."""
        return self.buildinfo.to_json()


# --------------------------------------------------------------------------- the pipeline


def package(
    session: Session,
    recipe: Recipe,
    target: Target,
    *,
    out: Path,
    toolchain: Toolchain = "container",
    emulate: bool = False,
    test: bool = False,
) -> PackageResult:
    """Build, repair, compute Depends and write `<out>/<name>_<version>_<arch>.deb` plus its build record.

    Every download goes through `session`, so `session.offline` keeps the whole run off the network.
    """
    reporter = session.reporter
    date = source_date_epoch(recipe, os.environ)  # validate before any work (style rule 7)
    reporter.info(f"SOURCE_DATE_EPOCH {date.epoch} comes from {date.note}")
    options = _Options(toolchain=toolchain, emulate=emulate, test=test)
    plan = _plan_key(session, recipe, target, out=out, options=options)
    finished = load_finished(session.cache, plan) if plan else None
    if isinstance(finished, PackageResult):
        with reporter.step(f"{finished.package.path.name} is up to date (nothing changed since it was made)"):
            return finished
    result = _package(session, recipe, target, out=out, options=options, date=date)
    if plan:
        store_finished(session.cache, plan, result)
    return result


@dataclass(frozen=True, slots=True, kw_only=True)
class _Options:
    """How `package` was asked to build: where cargo runs, under QEMU or not, and whether to test-install."""

    toolchain: Toolchain
    emulate: bool
    test: bool


def _plan_key(
    session: Session, recipe: Recipe, target: Target, *, out: Path, options: _Options
) -> str | None:
    """The plan key of a build from sources (cargo, C); None for prebuilt inputs, which may live anywhere."""
    if recipe.build.kind in ("binary", "tree"):
        return None
    try:
        indexes = [fetch_index(session, target).release_key]
        if (
            options.toolchain == "container" and not options.emulate
        ):  # the builder's closure: the host's index
            indexes.append(fetch_index(session, host_target(target)).release_key)
    except DebforgeError:
        return None  # no key, no skip: the build itself meets the same problem and says it in its words
    inputs = {"target": repr(target), "options": repr(options), "indexes": indexes}
    return plan_key(recipe, inputs=inputs, out=out)


def _package(
    session: Session, recipe: Recipe, target: Target, *, out: Path, options: _Options, date: SourceDate
) -> PackageResult:
    reporter = session.reporter
    work = Path(tempfile.mkdtemp(prefix="package-", dir=session.workspace()))  # the run's scratch space
    try:
        with _runtime_image_beside(session, target, test=options.test) as runtime_image:
            artifacts = build(
                session, recipe, target, toolchain=options.toolchain, emulate=options.emulate, out=work / "a"
            )
            runtime = runtime_depends(session, recipe, target, artifacts)
            recipe = with_repaired_assets(recipe, dict(runtime.repaired_assets))
            store_depends = fix_store_paths(session, recipe, target, artifacts)
            extra = (*misc_depends(recipe), *store_depends)
            depends = merge_depends(recipe.relations.depends, runtime.depends, extra=extra)
            spec = package_spec(recipe, target, artifacts, depends=depends, date=date)
            spec = with_public_libraries(spec, runtime, target)
            deb = write_deb(spec, work, reporter=reporter, allow_zstd=target.zstd)
            dbgsym = _write_dbgsym(spec, artifacts, work, target, reporter) if recipe.build.dbgsym else None
            if runtime_image is not None:
                runtime_image.wait()
                _check_install(session, recipe, deb, target)
            record = build_record(recipe, target, deb, artifacts, runtime.closure, date=date, dbgsym=dbgsym)
            return _publish(deb, record, out, dbgsym=dbgsym)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _runtime_image_beside(
    session: Session, target: Target, *, test: bool
) -> AbstractContextManager[Ahead[None] | None]:
    """With `test`, the runtime image `--test` installs into, built (or found) beside the build; if the
    build fails, it is let finish (the next run reuses it), leaving no container behind."""
    if not test:
        return contextlib.nullcontext()
    session.docker()  # connected here, once, before two threads share it

    def prepare() -> None:
        with session.reporter.step(f"Runtime image for {target.dist}/{target.arch} (beside the build)"):
            build_image(session, target)

    return beside(prepare, name="runtime-image")


def _write_dbgsym(
    spec: PackageSpec, artifacts: Artifacts, work: Path, target: Target, reporter: Reporter
) -> Package | None:
    """The `<name>-dbgsym` deb of the build's detached debug files (none without `dbgsym`)."""
    if not artifacts.debug:
        return None
    with reporter.step(f"Writing {spec.name}-dbgsym"):
        return write_deb(
            dbgsym_spec(spec, artifacts.debug), work, reporter=reporter,
            allow_zstd=target.zstd,
        )  # fmt: skip


def _copy_out(deb: Package, out: Path) -> Path:
    final = out / deb.path.name
    with atomic_output(final) as tmp:
        shutil.copyfile(deb.path, tmp)
    return final


def _publish(deb: Package, record: BuildRecord, out: Path, *, dbgsym: Package | None = None) -> PackageResult:
    """Copy the debs into `out`, then the record, each renamed into place whole (no record: no .deb)."""
    written: list[Path] = []
    record_path = out / f"{deb.path.name}.buildinfo.json"
    text = record.text()
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
        package=dataclasses.replace(deb, path=final), record=record_path, buildinfo=record,
        dbgsym=dataclasses.replace(dbgsym, path=extra) if dbgsym is not None and extra is not None else None,
    )  # fmt: skip


def _check_install(session: Session, recipe: Recipe, deb: Package, target: Target) -> None:
    """Install, run, remove and purge the new deb in a fresh target container; raise on any failed step."""
    if recipe.test is None:
        session.reporter.warning(f"{recipe.recipe_file} has no [test]; installing without running anything")
    report = check_install(
        session, [deb.path], target,
        run=recipe.test.run if recipe.test else None, expect=recipe.test.expect if recipe.test else None,
    )  # fmt: skip
    failed = next((step for step in report.steps if not step.ok), None)
    if failed is not None:
        raise InstallCheckError(
            f"{deb.path.name} failed its test install at the {failed.name} step: {failed.detail}",
            hint="nothing was written to --out; run `debforge test-install` on the deb to see every step",
        )
    if report.leftovers:
        raise InstallCheckError(f"{deb.path.name} leaves files after purge: {', '.join(report.leftovers)}")


# --------------------------------------------------------------------------- spec assembly


def package_spec(
    recipe: Recipe, target: Target, artifacts: Artifacts, *, depends: str, date: SourceDate
) -> PackageSpec:
    """The PackageSpec of a recipe: assets, doc files, conffiles, scripts and control fields."""
    files: list[TreeEntry] = [*_asset_entries(recipe, artifacts, target), *_doc_entries(recipe, date)]
    files += _unit_entries(recipe)
    files += tree_entries(recipe, artifacts)
    if not recipe.build.dbgsym:  # cargo-deb's separate-debug-symbols: the .debug files ship in this package
        files += separate_debug_entries(artifacts.debug)
    overrides = (*recipe.lintian_overrides, *generated_overrides(recipe))
    if overrides:
        text = render_lintian_overrides(recipe.name, overrides)
        dest = PurePosixPath("/usr/share/lintian/overrides", recipe.name)
        files.append(FileFromBytes(dest=dest, data=text.encode(), mode=0o644))
    rel = recipe.relations
    return PackageSpec(
        name=recipe.name, version=recipe.deb_version, arch=target.arch, maintainer=recipe.maintainer,
        description=_description(recipe), section=recipe.section or DEFAULT_SECTION, priority=recipe.priority,
        homepage=recipe.homepage, pre_depends=", ".join(rel.pre_depends), depends=depends,
        recommends=", ".join(rel.recommends), suggests=", ".join(rel.suggests),
        enhances=", ".join(rel.enhances), conflicts=", ".join(rel.conflicts), breaks=", ".join(rel.breaks),
        replaces=", ".join(rel.replaces), provides=", ".join(rel.provides), files=tuple(files),
        conffiles=(
            *(str(path) for path in recipe.conffiles), *tree_conffiles(recipe, artifacts),
            *_install_conffiles(recipe, artifacts),
        ),
        scripts=render_maintainer_scripts(recipe),
        source_date_epoch=date.epoch, multi_arch=recipe.multi_arch, compression=recipe.compression or "xz",
    )  # fmt: skip


def with_public_libraries(spec: PackageSpec, runtime: RuntimeDepends, target: Target) -> PackageSpec:
    """The spec with dh_makeshlibs' shlibs file and ldconfig trigger when it ships a public shared
    library (debforge/pipeline/makeshlibs.py); each ELF file is found at its install path."""
    dests = {entry.source: entry.dest for entry in spec.files if isinstance(entry, FileFromPath)}
    files = {dests[info.path]: info for info in runtime.elfs if info.path in dests}
    control = makeshlibs(spec.name, files, target.multiarch)
    return dataclasses.replace(spec, scripts=with_makeshlibs(spec.scripts, control)) if control else spec


def _description(recipe: Recipe) -> str:
    extended = wrap_extended(recipe.extended_description or "").strip("\n")
    return f"{recipe.description}\n{extended}" if extended else recipe.description


def _asset_entries(recipe: Recipe, artifacts: Artifacts, target: Target) -> list[TreeEntry]:
    entries: list[TreeEntry] = []
    for asset in recipe.assets:
        dest = multiarch_dest(asset.dest, target.multiarch) if recipe.multi_arch else asset.dest
        if isinstance(asset.source, InstallTree):  # a C/C++ build's staging tree, at its own paths
            entries += _install_entries(artifacts)
            continue
        if isinstance(asset.source, LinkSource):  # kept as a link (preserve-symlinks); it may dangle
            entries.append(Symlink(dest=dest, target=asset.source.target))
            continue
        source = _asset_file(asset.source, artifacts)
        if not source.is_file():
            raise PackageError(f"the asset {asset.source} for {asset.dest} does not exist")
        entries.append(FileFromPath(dest=dest, source=source, mode=asset.mode))
    return entries


def _install_conffiles(recipe: Recipe, artifacts: Artifacts) -> list[str]:
    """`$install`: every staged file under /etc is a conffile, as dh_installdeb marks them (Policy 10.7.2)."""
    if not any(isinstance(asset.source, InstallTree) for asset in recipe.assets):
        return []
    listed = {str(path) for path in recipe.conffiles}
    staged = (f"/{a.name}" for a in artifacts.files if a.name.startswith("etc/"))
    return [path for path in staged if path not in listed]


def _install_entries(artifacts: Artifacts) -> list[TreeEntry]:
    """`$install`: each staged file and symlink of a C/C++ build at its own install path."""
    files: list[TreeEntry] = [
        FileFromPath(dest=PurePosixPath("/", a.name), source=a.source) for a in artifacts.files
    ]
    return files + [Symlink(dest=PurePosixPath("/", dest), target=target) for dest, target in artifacts.links]


def multiarch_dest(dest: PurePosixPath, triplet: str) -> PurePosixPath:
    """cargo-deb --multiarch: a file under usr/lib moves to usr/lib/<triplet>/ (Policy 9.1.1, multiarch).

    >>> multiarch_dest(PurePosixPath("/usr/lib/libfoo.so"), "aarch64-linux-gnu")
    PurePosixPath('/usr/lib/aarch64-linux-gnu/libfoo.so')
    >>> multiarch_dest(PurePosixPath("/usr/lib/aarch64-linux-gnu/libfoo.so"), "aarch64-linux-gnu")
    PurePosixPath('/usr/lib/aarch64-linux-gnu/libfoo.so')
    """
    lib = PurePosixPath("/usr/lib")
    if not dest.is_relative_to(lib) or dest.is_relative_to(lib / triplet):
        return dest
    return lib / triplet / dest.relative_to(lib)


def _asset_file(source: AssetSource, artifacts: Artifacts) -> Path:
    if isinstance(source, BuiltSource):
        return artifacts.get(source.name).source
    if isinstance(source, FileSource):
        return source.path
    raise PackageError(f"the asset {source} is not a single file")


def _doc_entries(recipe: Recipe, date: SourceDate) -> list[FileFromBytes]:
    """Policy 12.5 copyright and 12.7 changelog; a native version (no revision) has changelog.gz."""
    doc = PurePosixPath("/usr/share/doc", recipe.name)
    changelog = recipe.changelog.read_bytes() if recipe.changelog else generated_changelog(recipe, date.epoch)
    name = "changelog.Debian.gz" if recipe.revision else "changelog.gz"
    return [
        FileFromBytes(dest=doc / "copyright", data=copyright_text(recipe, date.epoch).encode(), mode=0o644),
        FileFromBytes(dest=doc / name, data=changelog_gz(changelog), mode=0o644),
    ]


def _unit_entries(recipe: Recipe) -> list[FileFromPath]:
    return [
        FileFromPath(dest=unit.dest, source=unit.source, mode=0o644)
        for units in recipe.systemd
        for unit in units.files
    ]
