"""The command line: options → Target/Cache/Reporter → one stage call → render. Only this module exits."""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer
from rich.console import Console
from rich.table import Table

from debforge import __version__
from debforge.cache import Cache, default_cache_dir
from debforge.dists import DEFAULT_MIRROR, Target, make_target, supported_arches, supported_dists
from debforge.errors import DebforgeError, UsageError
from debforge.report import NullReporter, Reporter, RichReporter

if TYPE_CHECKING:
    from debforge.archive.index import PackageIndex

app = typer.Typer(
    name="debforge",
    help="Build Debian packages for other Debian releases and architectures from an x86_64 machine.",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
repo_app = typer.Typer(help="Publish debs to a signed apt repository.", no_args_is_help=True)
app.add_typer(repo_app, name="repo")

_TARGET = "Target"
_KILO = 1000
Dist = Annotated[
    str,
    typer.Option(
        "--dist",
        envvar="DEBFORGE_DIST",
        rich_help_panel=_TARGET,
        help=f"Debian release to build for: {', '.join(supported_dists())}.",
    ),
]
Arch = Annotated[
    str,
    typer.Option(
        "--arch",
        envvar="DEBFORGE_ARCH",
        rich_help_panel=_TARGET,
        help=f"Debian architecture: {', '.join(supported_arches())}.",
    ),
]
Mirror = Annotated[
    str,
    typer.Option("--mirror", envvar="DEBFORGE_MIRROR", rich_help_panel=_TARGET, help="Debian mirror URL."),
]
SecurityMirror = Annotated[
    str | None,
    typer.Option(
        "--security-mirror",
        rich_help_panel=_TARGET,
        help="Mirror of debian-security (default: the --mirror URL with '-security' appended).",
    ),
]
Keyring = Annotated[
    Path | None,
    typer.Option(
        "--keyring",
        rich_help_panel=_TARGET,
        help="OpenPGP keyring that signs the archive (default: debian-archive-keyring).",
    ),
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        rich_help_panel=_TARGET,
        help="Cache directory (default: $DEBFORGE_CACHE or ~/.cache/debforge).",
    ),
]
Offline = Annotated[
    bool, typer.Option("--offline", rich_help_panel=_TARGET, help="Never touch the network; use the cache.")
]
Ttl = Annotated[
    float, typer.Option("--ttl", rich_help_panel=_TARGET, help="Seconds cached indexes count as fresh.")
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")]


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetOptions:
    """The options every command shares, gathered once."""

    dist: str
    arch: str
    mirror: str
    security_mirror: str | None
    keyring: Path | None
    cache_dir: Path | None
    offline: bool
    ttl: float

    def target(self) -> Target:
        """The Target these options name."""
        security = self.security_mirror
        if security is None:
            security = (
                "http://deb.debian.org/debian-security"
                if self.mirror == DEFAULT_MIRROR
                else self.mirror.rstrip("/") + "-security"
            )
        return make_target(
            self.dist, self.arch, mirror=self.mirror, security_mirror=security, keyring=self.keyring
        )

    def cache(self) -> Cache:
        """The cache directory, created."""
        return Cache(self.cache_dir or default_cache_dir()).ensure()


_state: dict[str, bool] = {}  # set by the root callback; read by main() and _reporter()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"debforge {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More progress detail.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """debforge: Debian packages for Debian releases and architectures, built from any x86_64 machine."""
    del version
    _state.update(debug=debug, verbose=verbose, quiet=quiet)
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")


# The shared options, declared once: `_with_target` adds them to a command's signature and hands the
# command one TargetOptions instead of eight parameters.
_TARGET_PARAMS = (
    ("dist", Dist, "bookworm"),
    ("arch", Arch, "arm64"),
    ("mirror", Mirror, DEFAULT_MIRROR),
    ("security_mirror", SecurityMirror, None),
    ("keyring", Keyring, None),
    ("cache_dir", CacheDir, None),
    ("offline", Offline, False),
    ("ttl", Ttl, 3600.0),
)


def _with_target(func: Callable[..., None]) -> Callable[..., None]:
    own = [p for p in inspect.signature(func).parameters.values() if p.name != "opts"]
    hints = {
        k: v for k, v in get_type_hints(func, include_extras=True).items() if k not in ("opts", "return")
    }
    extra = [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a)
        for n, a, d in _TARGET_PARAMS
    ]

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> None:
        values = {name: kwargs.pop(name) for name, _, _ in _TARGET_PARAMS}
        func(*args, opts=TargetOptions(**values), **kwargs)

    own_hints = {p.name: hints[p.name] for p in own}
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]  # read by typer via inspect
        [p.replace(annotation=own_hints[p.name]) for p in own] + extra
    )
    command.__annotations__ = {**own_hints, **{n: a for n, a, _ in _TARGET_PARAMS}}
    del command.__wrapped__  # typer must see the new signature, not the wrapped one
    return command


def _reporter() -> Reporter:
    if _state.get("quiet"):
        return NullReporter()
    return RichReporter(verbose=_state.get("verbose", False))


def _stdout() -> Console:
    return Console(soft_wrap=True)


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")


def _load_index(opts: TargetOptions, *, refresh: bool = False) -> PackageIndex:
    target, cache = opts.target(), opts.cache()  # validate the inputs before any work
    from debforge.archive import fetch_index

    return fetch_index(target, cache, _reporter(), ttl=opts.ttl, offline=opts.offline, refresh=refresh)


@app.command()
@_with_target
def update(*, opts: TargetOptions) -> None:
    """Refresh the target's package indexes now (verified against the archive's signature)."""
    index = _load_index(opts, refresh=True)
    count = sum(1 for _ in index.names())
    _reporter().info(f"{count} packages in {opts.dist}/{opts.arch}")
    typer.echo(f"{opts.dist} {opts.arch}: {count} packages indexed", err=True)


@app.command()
@_with_target
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
        from debforge.resolve import unknown_package_error

        raise unknown_package_error(index, package)
    doc = record.to_json()
    if json_out:
        _print_json(doc)
        return
    table = Table(show_header=False, box=None)
    for key_, value in doc.items():
        if value not in ("", None):
            table.add_row(f"[bold]{key_}[/]", str(value))
    _stdout().print(table)


@app.command()
@_with_target
def resolve(
    packages: Annotated[list[str], typer.Argument(help="Packages: NAME, NAME=VERSION or NAME:ARCH.")],
    with_essential: Annotated[
        bool, typer.Option("--with-essential", help="Add the Essential and Priority: required set.")
    ] = False,
    json_out: Json = False,
    *,
    opts: TargetOptions,
) -> None:
    """Resolve PACKAGES to the exact set apt would install into an empty system."""
    from debforge.resolve import resolve_closure

    closure = resolve_closure(_load_index(opts), packages, with_essential=with_essential)
    if json_out:
        _print_json(closure.to_json())
        return
    table = Table("package", "version", "arch", "size")
    for record in closure.packages:
        table.add_row(record.name, record.version, record.arch, _size(record.size))
    _stdout().print(table)
    _stdout().print(f"{len(closure.packages)} packages, {_size(closure.download_size)} to download")


@app.command()
@_with_target
def doctor(json_out: Json = False, *, opts: TargetOptions) -> None:
    """Check Docker, binfmt/QEMU, keyring and cache; each problem says what to run to fix it."""
    from debforge.doctor import check_environment

    checks = check_environment(opts.target(), opts.cache_dir or default_cache_dir())
    if json_out:
        _print_json([c.to_json() for c in checks])
    else:
        table = Table("", "check", "detail")
        for c in checks:
            table.add_row("[green]ok[/]" if c.ok else "[red]FAIL[/]", c.name, c.detail if c.ok else c.fix)
        _stdout().print(table)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def _size(n: int) -> str:
    """Bytes in SI units, as apt prints download sizes."""
    value = float(n)
    for unit in ("B", "kB", "MB"):
        if value < _KILO:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= _KILO
    return f"{value:.1f} GB"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the app, turn errors into one sentence and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("DEBFORGE_DEBUG") == "1"
    try:
        app(args=args, prog_name="debforge")
    except DebforgeError as exc:
        if debug:
            raise
        err = Console(stderr=True, highlight=False)
        err.print(f"[bold red]error:[/] {exc}", markup=True)
        if exc.hint:
            err.print(f"[bold]hint:[/] {exc.hint}")
        sys.exit(2 if isinstance(exc, UsageError) else 1)
    except KeyboardInterrupt:
        Console(stderr=True).print("[bold red]error:[/] interrupted")
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        Console(stderr=True).print(
            f"[bold red]error:[/] internal error: {type(exc).__name__}: {exc}\n"
            "[bold]hint:[/] run again with --debug for the traceback, and please report it"
        )
        sys.exit(1)
