"""`package`, `build` and `test-install`: the commands that build and install (registered in cli/__init__)."""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from debforge.cli.cargodeb import CargoDebFlags, cargo_deb_target, install_debs, move_deb, with_cargo_deb
from debforge.cli.matrix import Jobs, is_matrix, pair_debs, pair_out, render_matrix, run_pairs
from debforge.cli.options import Json, TargetOptions, mark, print_json, stdout, with_target
from debforge.errors import InstallCheckError, UsageError

if TYPE_CHECKING:
    from debforge.pipeline import PackageResult
    from debforge.pipeline.matrix import Made, Pair


class ToolchainChoice(StrEnum):
    """Where cargo runs."""

    container = "container"
    host = "host"


Toolchain = Annotated[
    ToolchainChoice,
    typer.Option("--toolchain", help="container: the Rust cross builder image; host: this machine's cargo."),
]
Emulate = Annotated[bool, typer.Option("--emulate", help="Build natively in a target container under QEMU.")]
Static = Annotated[
    bool, typer.Option("--static", help="Link a static program (Rust: +crt-static, static libraries).")
]


@with_target
@with_cargo_deb
def package(
    ctx: typer.Context,
    *,
    project: Annotated[Path, typer.Argument(help="Project or recipe directory.")] = Path(),
    out: Annotated[
        Path,
        typer.Option(
            "--out", "--output", "-o", help="Directory for the .deb and its build record, or a FILE.deb."
        ),
    ] = Path("dist"),
    binary: Annotated[
        list[Path] | None,
        typer.Option(
            "--binary",
            metavar="PATH",
            help="Package this prebuilt ELF, install tree (a Nix result/) or tarball instead; repeatable.",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Package name (with --binary).")] = None,
    maintainer: Annotated[str | None, typer.Option("--maintainer", help="'Full Name <email>'.")] = None,
    toolchain: Toolchain = ToolchainChoice.container,
    emulate: Emulate = False,
    static: Static = False,
    test: Annotated[
        bool, typer.Option("--test", help="Install and run it in a fresh target container.")
    ] = False,
    json_out: Json = False,
    jobs: Jobs = None,
    opts: TargetOptions,
    flags: CargoDebFlags,
) -> None:
    """Build, repair, compute Depends and write a reproducible .deb for the target (cargo deb's flags too)."""
    from debforge.pipeline import package as run_package
    from debforge.recipe import apply_overrides, binary_recipe, load_recipe
    from debforge.recipe.prebuilt import with_static

    opts = cargo_deb_target(ctx, opts, flags.rust_target)
    version = flags.deb_version  # with --binary: the upstream version, as --name names the package
    deb_file = out if out.suffix == ".deb" else None  # cargo-deb's -o FILE.deb

    def package_one(opts: TargetOptions, out: Path) -> PackageResult:
        target = opts.target()
        with opts.session() as session:
            overrides = flags.overrides(maintainer=maintainer, reporter=session.reporter)
            if binary:
                if not (name and version):
                    raise UsageError("--binary needs --name and --deb-version")
                recipe = binary_recipe(binary, name=name, version=version, maintainer=maintainer)
                # --deb-version and --maintainer went in above; other cargo-deb flags apply as to a project.
                rest = dataclasses.replace(overrides, deb_version=None, maintainer=None)
                recipe = apply_overrides(recipe, rest, session.reporter)
            else:
                recipe = load_recipe(
                    flags.manifest_path or project, arch=target.arch, reporter=session.reporter,
                    variant=flags.variant, package=flags.package_, overrides=overrides,
                )  # fmt: skip
            recipe = with_static(recipe) if static else recipe
            result = run_package(
                session, recipe, target, out=out, toolchain=toolchain.value, emulate=emulate, test=test
            )  # fmt: skip
            if flags.install:
                install_debs(session, result, target, with_dbgsym=not flags.no_install_dbgsym)
        return result

    if is_matrix(opts):  # one .deb per (dist, arch) pair, each in <out>/<dist>-<arch>/
        if deb_file:
            raise UsageError(f"a matrix writes one .deb per pair: give --out a directory, not {deb_file}")
        matrix = run_pairs(opts, lambda pair, o: _made(package_one(o, pair_out(out, pair))), jobs=jobs)
        render_matrix(matrix, json_out=json_out)
        return
    result = package_one(opts, deb_file.parent if deb_file else out)
    deb_path = move_deb(result, deb_file) if deb_file else result.package.path
    if json_out:
        print_json(result.to_json())
    else:
        stdout().print(f"Depends: {result.depends}")
        if result.dbgsym is not None:
            stdout().print(str(result.dbgsym.path))
        stdout().print(str(deb_path))  # last, alone on its line, as cargo deb prints it


@with_target
def build_command(
    project: Annotated[Path, typer.Argument(help="Project or recipe directory.")] = Path(),
    out: Annotated[Path, typer.Option("--out", help="Where the built artifacts are copied.")] = Path(
        "build-out"
    ),
    toolchain: Toolchain = ToolchainChoice.container,
    emulate: Emulate = False,
    json_out: Json = False,
    *,
    static: Static = False,
    opts: TargetOptions,
) -> None:
    """Build the project for the target and copy the artifacts to --out."""
    from debforge.builder import build
    from debforge.recipe import load_recipe
    from debforge.recipe.prebuilt import with_static

    target = opts.target()
    with opts.session() as session:
        recipe = load_recipe(project, arch=target.arch, reporter=session.reporter)
        recipe = with_static(recipe) if static else recipe
        artifacts = build(session, recipe, target, toolchain=toolchain.value, emulate=emulate, out=out)
    if json_out:
        print_json(artifacts.to_json())
    else:
        for artifact in artifacts.files:
            stdout().print(str(artifact.source))


@with_target
def check_install_command(
    debs: Annotated[list[Path], typer.Argument(help=".deb files to install together.")],
    run: Annotated[str | None, typer.Option("--run", help="Smoke command to run after install.")] = None,
    expect: Annotated[
        str | None, typer.Option("--expect", help="Text the command's stdout must contain.")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the container and say how to enter it.")] = False,
    json_out: Json = False,
    *,
    jobs: Jobs = None,
    opts: TargetOptions,
) -> None:
    """Install, run, remove and purge DEBS in a fresh container of the target, with the target's real apt.

    With --dist/--arch lists, each pair installs the DEBS that are files plus `<DIR>/<dist>-<arch>/*.deb`
    of each DEBS that is a directory (the --out of a `package` matrix)."""
    from debforge.testinstall import check_install

    if is_matrix(opts):
        from debforge.pipeline.matrix import Made

        def install_one(pair: Pair, o: TargetOptions) -> Made:
            installed = pair_debs(debs, pair)
            with o.session() as session:
                report = check_install(session, installed, o.target(), run=run, expect=expect)
            if not report.ok:
                failed = next((step for step in report.steps if not step.ok), None)
                detail = f": {failed.name} failed ({failed.detail})" if failed else ""
                tail = failed.output_tail.strip() if failed else ""
                hint = f"it printed: {tail}" if tail else None
                raise InstallCheckError(f"test-install of {pair.dist}/{pair.arch}{detail}", hint=hint)
            return Made(path=installed[0], doc=report.to_json())

        render_matrix(run_pairs(opts, install_one, jobs=jobs), json_out=json_out)
        return
    target = opts.target()
    with opts.session(keep=keep) as session:
        report = check_install(session, debs, target, run=run, expect=expect, keep=keep)
    if json_out:
        print_json(report.to_json())
    else:
        table = Table("", "step", "time", "detail")
        for step in report.steps:
            table.add_row(mark(ok=step.ok), step.name, f"{step.seconds:.1f} s", step.detail)
        stdout().print(table)
        for step in report.steps:
            if step.name == "run" and step.ok and step.output_tail:
                stdout().print(Text.assemble((f"{run} printed:", "bold"), " ", step.output_tail.strip()))
            if not step.ok and step.output_tail:
                stdout().print(Text.assemble((f"{step.name} output:", "bold"), "\n", step.output_tail))
        if report.leftovers:
            stdout().print("left after purge: " + ", ".join(report.leftovers))
        if report.enter:
            stdout().print(f"container kept; enter it with: {report.enter}")
    if not report.ok:
        raise typer.Exit(1)


def _made(result: PackageResult) -> Made:
    """A matrix pair's outcome: its .deb and build record."""
    from debforge.pipeline.matrix import Made

    return Made(path=result.package.path, doc=result.to_json())
