"""The command line: options → Target/Cache/Reporter → one stage call → render. Only this module exits."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from debforge.cache import default_cache_dir
from debforge.cli import build as build_commands
from debforge.cli import elf as elf_commands
from debforge.cli import engines as engine_commands
from debforge.cli.cargodeb import preprocess_argv
from debforge.cli.options import (
    GLOBAL_OPTIONS,
    GlobalOptions,
    Json,
    ProgressMode,
    ProgressOption,
    TargetOptions,
    mark,
    print_json,
    reporter,
    stdout,
    styled,
    version_option,
    with_target,
)
from debforge.cli.repo import repo_app
from debforge.errors import DebforgeError, UsageError
from debforge.report import Timings

if TYPE_CHECKING:
    from debforge.archive.index import PackageIndex

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
    *,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More progress detail.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    progress: ProgressOption = ProgressMode.auto,
    timings: Annotated[
        bool,
        typer.Option(
            "--timings", help="At the end, print on stderr where the run's time went, step by step."
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=version_option, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """debforge: Debian packages for Debian releases and architectures, built from any x86_64 machine."""
    del version
    GLOBAL_OPTIONS.set(
        GlobalOptions(debug=debug, verbose=verbose, quiet=quiet, progress=progress,
                      timings=Timings() if timings else None)
    )  # fmt: skip
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
    from debforge.doctor import check_engine, check_environment
    from debforge.session import Session

    target, engines = opts.target(), opts.engines()
    cache = Cache(opts.cache_dir or default_cache_dir())  # probed by the check, never created
    mine = engines.for_arch(target.arch)
    with Session(
        cache=cache, reporter=reporter(), offline=opts.offline, freshness=opts.freshness(), engine=mine,
    ) as session:  # fmt: skip
        checks = check_environment(session, target)
    for endpoint in (e for e in engines.endpoints() if e != mine):  # every other --engine, by its arches
        with Session(cache=cache, engine=endpoint) as other:
            checks += (check_engine(other, [a for a, e in engines.pairs if e == endpoint] or [target.arch]),)
    if json_out:
        print_json([c.to_json() for c in checks])
    else:
        table = Table("", "check", "detail")
        for c in checks:
            table.add_row(mark(ok=c.ok), c.name, c.detail if c.ok else c.fix)
        stdout().print(table)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


# Commands kept in their own modules (style rule 15), registered here in `--help` order.
app.command("inspect")(elf_commands.inspect_elf)
app.command("patch-elf")(elf_commands.patch_elf_command)
app.command()(elf_commands.deps)
app.command()(build_commands.package)
app.command("build")(build_commands.build_command)
app.command("test-install")(build_commands.check_install_command)
app.command()(engine_commands.clean)


def _size(n: int) -> str:
    """Bytes in SI units, as apt prints download sizes."""
    value = float(n)
    for unit in ("B", "kB", "MB"):
        if value < _KILO:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= _KILO
    return f"{value:.1f} GB"


def _say_error(message: str, hint: str | None = None) -> None:
    """One sentence on stderr (never wrapped, never read as rich markup), then the hint."""
    err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
    err.print(Text.assemble(("error:", "bold red"), " ", message))
    if hint:
        err.print(Text.assemble(("hint:", "bold"), " ", hint))


class _Terminated(BaseException):
    """SIGTERM (a cancelled CI job, `docker stop`, systemd): unwound like Ctrl-C, so every container
    and temporary file is removed on the way out (every cleanup is a `finally`). Not a
    KeyboardInterrupt, which typer would swallow without a word."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the app, turn errors into one sentence and an exit code."""
    args = preprocess_argv(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in args or os.environ.get("DEBFORGE_DEBUG") == "1"
    if threading.current_thread() is threading.main_thread():  # signal handlers live there only
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        app(args=args, prog_name="debforge")
    except DebforgeError as exc:
        if debug:
            raise
        _say_error(str(exc), exc.hint)
        sys.exit(2 if isinstance(exc, UsageError) else 1)
    except _Terminated:
        _say_error("terminated (SIGTERM)")
        sys.exit(143)
    except KeyboardInterrupt:
        _say_error("interrupted")
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        _say_error(f"internal error: {type(exc).__name__}: {exc}",
                   "run again with --debug for the traceback, and please report it")  # fmt: skip
        sys.exit(1)
    finally:
        _print_timings()


def _print_timings() -> None:
    """--timings: the breakdown of the steps on stderr, after everything else (also on failure)."""
    timings = GLOBAL_OPTIONS.get(GlobalOptions()).timings
    if timings is not None:
        Console(stderr=True, highlight=False, soft_wrap=True, markup=False).print(timings.render())
