"""The command line: options → Target/Cache/Reporter → one stage call → render. Only this module exits."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from debforge.cache import default_cache_dir
from debforge.cli.cargodeb import (
    CargoDebFlags,
    cargo_deb_target,
    install_debs,
    move_deb,
    preprocess_argv,
    with_cargo_deb,
)
from debforge.cli.matrix import Jobs, is_matrix, pair_debs, pair_out, render_matrix, run_pairs
from debforge.cli.options import (
    GLOBAL_OPTIONS,
    GlobalOptions,
    Json,
    ProgressMode,
    ProgressOption,
    TargetOptions,
    print_json,
    reporter,
    stdout,
    styled,
    version_option,
    with_target,
)
from debforge.cli.repo import repo_app
from debforge.errors import DebforgeError, InstallCheckError, UsageError

if TYPE_CHECKING:
    from debforge.archive.index import PackageIndex
    from debforge.pipeline import PackageResult
    from debforge.pipeline.matrix import Made, Pair

app = typer.Typer(
    name="debforge",
    help="Build Debian packages for other Debian releases and architectures from an x86_64 machine.",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(repo_app, name="repo")
_KILO = 1000


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More progress detail.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    progress: ProgressOption = ProgressMode.auto,
    version: Annotated[
        bool,
        typer.Option("--version", callback=version_option, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """debforge: Debian packages for Debian releases and architectures, built from any x86_64 machine."""
    del version
    GLOBAL_OPTIONS.set(GlobalOptions(debug=debug, verbose=verbose, quiet=quiet, progress=progress))
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")


def _load_index(opts: TargetOptions, *, refresh: bool = False) -> PackageIndex:
    target = opts.target()  # validate the inputs before any work
    from debforge.archive import fetch_index

    with opts.session() as session:
        return fetch_index(session, target, refresh=refresh)


@app.command()
@with_target
def update(*, opts: TargetOptions) -> None:
    """Refresh the target's package indexes now (verified against the archive's signature)."""
    index = _load_index(opts, refresh=True)
    count = sum(1 for _ in index.names())
    reporter().info(f"{count} packages in {opts.dist}/{opts.arch}")
    typer.echo(f"{opts.dist} {opts.arch}: {count} packages indexed", err=True)


@app.command()
@with_target
def show(
    package: Annotated[str, typer.Argument(help="Package name.")],
    json_out: Json = False,
    *,
    opts: TargetOptions,
) -> None:
    """Print the candidate record of PACKAGE (what apt would install), like `apt-cache show`."""
    index = _load_index(opts)
    record = index.candidate(package)
    if record is None:
        from debforge.resolve import unknown_package

        raise unknown_package(index, package)
    doc = record.to_json()
    if json_out:
        print_json(doc)
        return
    table = Table(show_header=False, box=None)
    for key_, value in doc.items():
        if value not in ("", None):
            table.add_row(styled(key_, "bold"), str(value))
    stdout().print(table)


@app.command()
@with_target
def resolve(
    packages: Annotated[
        list[str] | None, typer.Argument(help="Packages: NAME, NAME=VERSION or NAME:ARCH.")
    ] = None,
    with_essential: Annotated[
        bool, typer.Option("--with-essential", help="Add the Essential and Priority: required set.")
    ] = False,
    json_out: Json = False,
    *,
    opts: TargetOptions,
) -> None:
    """Resolve PACKAGES to the exact set apt would install into an empty system."""
    from debforge.resolve import resolve_closure

    if not packages and not with_essential:
        raise UsageError("name at least one package, or pass --with-essential")

    closure = resolve_closure(_load_index(opts), packages or [], with_essential=with_essential)
    if json_out:
        print_json(closure.to_json())
        return
    table = Table("package", "version", "arch", "size")
    for record in closure.packages:
        table.add_row(record.name, record.version, record.arch, _size(record.size))
    stdout().print(table)
    stdout().print(f"{len(closure.packages)} packages, {_size(closure.download_size)} to download")


@app.command()
@with_target
def sysroot(
    packages: Annotated[
        list[str], typer.Argument(help="Packages to lay out (libc6-dev and libgcc-s1 are added).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory to create (hard links into the cache).")],
    json_out: Json = False,
    *,
    opts: TargetOptions,
) -> None:
    """Extract the closure of PACKAGES into a Debian tree usable as --sysroot (with a dpkg database)."""
    from debforge.rootfs import make_sysroot

    target = opts.target()
    with opts.session() as session:
        tree = make_sysroot(session, target, packages, out=out)
    if json_out:
        print_json({"path": str(tree.path), "closure_key": tree.closure_key})
    else:
        stdout().print(str(tree.path))


@app.command()
@with_target
def image(
    packages: Annotated[
        list[str] | None, typer.Argument(help="Extra packages to install in the image.")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Also tag the image with this name.")] = None,
    json_out: Json = False,
    *,
    opts: TargetOptions,
) -> None:
    """Build a configured Debian image of the target arch from the archive (no registry needed)."""
    from debforge.container import build_image

    target = opts.target()
    with opts.session() as session:
        built = build_image(session, target, packages=tuple(packages or ()), tag=tag)
    doc = {"tag": built.tag, "id": built.id, "platform": built.platform, "closure_key": built.closure_key}
    if json_out:
        print_json(doc)
    else:
        stdout().print(f"{built.tag} ({built.platform})")


@app.command()
@with_target
def doctor(json_out: Json = False, *, opts: TargetOptions) -> None:
    """Check Docker, binfmt/QEMU, keyring and cache; each problem says what to run to fix it."""
    from debforge.cache import Cache
    from debforge.doctor import check_environment
    from debforge.session import Session

    target = opts.target()
    cache = Cache(opts.cache_dir or default_cache_dir())  # probed by the check, never created
    with Session(cache=cache, reporter=reporter(), offline=opts.offline, ttl=opts.ttl) as session:
        checks = check_environment(session, target)
    if json_out:
        print_json([c.to_json() for c in checks])
    else:
        table = Table("", "check", "detail")
        for c in checks:
            table.add_row(_mark(ok=c.ok), c.name, c.detail if c.ok else c.fix)
        stdout().print(table)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


@app.command("inspect")
def inspect_elf(
    files: Annotated[list[Path], typer.Argument(help="ELF files to read.")],
    json_out: Json = False,
) -> None:
    """Print ELF facts: Debian arch, interpreter, NEEDED, SONAME, RPATH/RUNPATH, symbol versions."""
    from debforge.elf import read_elf

    infos = [read_elf(f).to_json() for f in files]
    if json_out:
        print_json(infos if len(infos) > 1 else infos[0])
        return
    for info in infos:
        table = Table(show_header=False, box=None, title=str(info["path"]), title_justify="left")
        for key_, value in info.items():
            if key_ != "path" and value not in (None, "", [], {}):
                table.add_row(
                    styled(key_, "bold"), json.dumps(value) if isinstance(value, (dict, list)) else str(value)
                )
        stdout().print(table)


@app.command("patch-elf")
@with_target
def patch_elf_command(
    file: Annotated[Path, typer.Argument(help="ELF file to repair.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of in place.")
    ] = None,
    sysroot: Annotated[
        Path | None, typer.Option("--sysroot", help="Target tree whose libraries the version guard reads.")
    ] = None,
    *,
    opts: TargetOptions,
) -> None:
    """Point FILE at the target's FHS loader and drop non-FHS RPATH/RUNPATH entries (e.g. /nix/store)."""
    from debforge.cache import atomic_write_bytes
    from debforge.elf import check_symbol_versions, patch_elf, read_elf

    target = opts.target()
    if sysroot is not None:
        check_symbol_versions([read_elf(file)], sysroot, target)
    data = patch_elf(file, interpreter=target.ld_so)
    dest = output or file
    atomic_write_bytes(dest, data, mode=file.stat().st_mode & 0o7777)  # the repaired file keeps its mode
    stdout().print(f"{dest}: interpreter {target.ld_so}")


@app.command()
@with_target
def deps(
    files: Annotated[list[Path], typer.Argument(help="ELF files shipped in one package.")],
    sysroot: Annotated[
        Path | None,
        typer.Option("--sysroot", help="Target tree with a dpkg database (default: built from the archive)."),
    ] = None,
    json_out: Json = False,
    *,
    opts: TargetOptions,
) -> None:
    """Print the shlibs Depends value dpkg-shlibdeps would compute for FILES, alone on one line."""
    from debforge.elf import check_symbol_versions, read_elf
    from debforge.shlibdeps import resolve_depends

    target, infos = opts.target(), [read_elf(file) for file in files]  # each file read once
    if sysroot is None:
        from debforge.pipeline import sysroot_for_files

        with opts.session() as session:
            sysroot = sysroot_for_files(session, infos, target).path
    check_symbol_versions(infos, sysroot, target)
    result = resolve_depends(infos, sysroot, target=target)
    if json_out:
        print_json(result.to_json())
    else:
        sys.stdout.write(result.depends + "\n")


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


@app.command()
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


@app.command("build")
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


@app.command("test-install")
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
            table.add_row(_mark(ok=step.ok), step.name, f"{step.seconds:.1f} s", step.detail)
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


def _size(n: int) -> str:
    """Bytes in SI units, as apt prints download sizes."""
    value = float(n)
    for unit in ("B", "kB", "MB"):
        if value < _KILO:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= _KILO
    return f"{value:.1f} GB"


def _mark(*, ok: bool) -> Text:
    return styled("ok", "green") if ok else styled("FAIL", "red")


def _say_error(message: str, hint: str | None = None) -> None:
    """One sentence on stderr (never wrapped, never read as rich markup), then the hint."""
    err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
    err.print(Text.assemble(("error:", "bold red"), " ", message))
    if hint:
        err.print(Text.assemble(("hint:", "bold"), " ", hint))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the app, turn errors into one sentence and an exit code."""
    args = preprocess_argv(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in args or os.environ.get("DEBFORGE_DEBUG") == "1"
    try:
        app(args=args, prog_name="debforge")
    except DebforgeError as exc:
        if debug:
            raise
        _say_error(str(exc), exc.hint)
        sys.exit(2 if isinstance(exc, UsageError) else 1)
    except KeyboardInterrupt:
        _say_error("interrupted")
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        _say_error(f"internal error: {type(exc).__name__}: {exc}",
                   "run again with --debug for the traceback, and please report it")  # fmt: skip
        sys.exit(1)
