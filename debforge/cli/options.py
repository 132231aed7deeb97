"""Options every command shares, declared once, and the small rendering helpers."""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer
from rich.console import Console
from rich.text import Text

from debforge import __version__
from debforge.cache import Cache, default_cache_dir
from debforge.dists import DEFAULT_MIRROR, Target, make_target, supported_arches, supported_dists
from debforge.engines import EngineMap, parse_engines
from debforge.report import NullReporter, Reporter, RichReporter, TimedReporter, Timings
from debforge.session import Freshness, Session

_TARGET = "Target"
Dist = Annotated[
    str,
    typer.Option(
        "--dist",
        envvar="DEBFORGE_DIST",
        rich_help_panel=_TARGET,
        help=f"Debian release to build for: {', '.join(supported_dists())} "
        "(package, test-install: a comma list builds a matrix with every --arch; DIST/ARCH is one "
        "pair alone, as a CI matrix's include:).",
    ),
]
Arch = Annotated[
    str,
    typer.Option(
        "--arch",
        envvar="DEBFORGE_ARCH",
        rich_help_panel=_TARGET,
        help=f"Debian architecture: {', '.join(supported_arches())} (package, test-install: a comma list).",
    ),
]
Mirror = Annotated[
    str | None,
    typer.Option(
        "--mirror",
        envvar="DEBFORGE_MIRROR",
        rich_help_panel=_TARGET,
        help=f"Debian mirror URL (default: the dist's own, {DEFAULT_MIRROR}).",
    ),
]
SecurityMirror = Annotated[
    str | None,
    typer.Option(
        "--security-mirror",
        rich_help_panel=_TARGET,
        help="Mirror of debian-security (default: the dist's own with the default --mirror, "
        "else the --mirror URL with '-security' appended); 'none' leaves the security suites out, "
        "as a sources.list without that line.",
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
Backports = Annotated[
    bool,
    typer.Option(
        "--backports",
        envvar="DEBFORGE_BACKPORTS",
        rich_help_panel=_TARGET,
        help="Add the dist's backports suite at apt's default priority (100): used only for "
        "name/backports or name=version requests.",
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
CheckValidUntil = Annotated[
    bool,
    typer.Option(
        "--check-valid-until/--no-check-valid-until",
        rich_help_panel=_TARGET,
        help="Refuse an InRelease past its Valid-Until, as apt does; --no-check-valid-until (apt's "
        "Acquire::Check-Valid-Until=false) uses it with a warning, for frozen mirrors such as "
        "snapshot.debian.org.",
    ),
]
EngineOption = Annotated[
    list[str] | None,
    typer.Option(
        "--engine",
        envvar="DEBFORGE_ENGINES",
        metavar="ARCH=ENDPOINT",
        rich_help_panel=_TARGET,
        help="Run ARCH's containers on this Docker engine: a context name or a URL (unix://, tcp://, "
        "ssh://); repeatable. Others use DOCKER_HOST, else the current Docker context.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")]


class ProgressMode(StrEnum):
    """How steps are drawn on stderr."""

    auto = "auto"  # rich on a terminal, plain otherwise
    plain = "plain"  # one line per finished step, for CI logs
    rich = "rich"  # spinners and bars, even when stderr is not a terminal


ProgressOption = Annotated[
    ProgressMode,
    typer.Option(
        "--progress",
        envvar="DEBFORGE_PROGRESS",
        help="auto: spinners on a terminal, else plain; plain: one line per finished step; rich: always.",
    ),
]


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetOptions:
    """The options every command shares, gathered once."""

    dist: str
    arch: str
    mirror: str | None
    security_mirror: str | None
    keyring: Path | None
    backports: bool
    cache_dir: Path | None
    offline: bool
    ttl: float
    check_valid_until: bool = True
    engine: list[str] | None = None  # --engine ARCH=ENDPOINT words, parsed by engines()

    def target(self) -> Target:
        """The Target these options name (dists supplies the security mirror when none is given)."""
        security = self.security_mirror
        return make_target(
            self.dist,
            self.arch,
            mirror=self.mirror,
            security_mirror=security,
            keyring=self.keyring,
            backports=self.backports,
        )

    def cache(self) -> Cache:
        """The cache directory, created."""
        return Cache(self.cache_dir or default_cache_dir()).ensure()

    def session(self, *, keep: bool = False) -> Session:
        """The command's one Session: the cache (created), the reporter, --offline and --ttl.

        Use it as a context manager: leaving it closes the network and Docker clients and removes
        the workspace, on every path.
        """
        return Session(
            cache=self.cache(), reporter=reporter(), offline=self.offline, freshness=self.freshness(),
            keep=keep, engine=self.engines().for_arch(self.arch),
        )  # fmt: skip

    def freshness(self) -> Freshness:
        """--ttl and --[no-]check-valid-until."""
        return Freshness(ttl=self.ttl, check_valid_until=self.check_valid_until)

    def engines(self) -> EngineMap:
        """The `--engine ARCH=ENDPOINT` choices (a usage error for a malformed one)."""
        return parse_engines(self.engine or ())


@dataclass(frozen=True, slots=True, kw_only=True)
class GlobalOptions:
    """The root callback's options (--debug, --verbose, --quiet, --progress): verbosity only."""

    debug: bool = False
    verbose: bool = False
    quiet: bool = False
    progress: ProgressMode = ProgressMode.auto
    timings: Timings | None = None  # --timings: every step is recorded, cli.main prints the breakdown


# Verbosity is the one thing style.md lets a contextvar carry (as pypa/build's _ctx); everything
# else a command needs goes down explicitly, in its Session.
GLOBAL_OPTIONS: contextvars.ContextVar[GlobalOptions] = contextvars.ContextVar("debforge_global_options")
_NO_OPTIONS = GlobalOptions()  # outside a command (library use, tests)


def version_option(value: bool) -> None:
    if value:
        typer.echo(f"debforge {__version__}")
        raise typer.Exit


def reporter() -> Reporter:
    """The Reporter the global options ask for (stderr; nothing with --quiet)."""
    options = GLOBAL_OPTIONS.get(_NO_OPTIONS)
    mode = options.progress
    plain = None if mode == ProgressMode.auto else mode == ProgressMode.plain
    drawn: Reporter = NullReporter() if options.quiet else RichReporter(verbose=options.verbose, plain=plain)
    return drawn if options.timings is None else TimedReporter(drawn, options.timings)


def stdout() -> Console:
    """The result console: plain strings are literal (a package, path or tool output is never markup);
    style comes only from `styled` Text."""
    return Console(soft_wrap=True, markup=False, highlight=False)


def styled(text: str, style: str) -> Text:
    """`text` in `style`, literally (for table cells and labels on the `stdout` console)."""
    return Text(text, style=style)


def mark(*, ok: bool) -> Text:
    """The ok/FAIL cell of a result table."""
    return styled("ok", "green") if ok else styled("FAIL", "red")


def print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")


# The shared options, declared once: `with_target` adds them to a command's signature and hands the
# command one TargetOptions instead of eight parameters.
_TARGET_PARAMS = (
    ("dist", Dist, "bookworm"),
    ("arch", Arch, "arm64"),
    ("mirror", Mirror, None),
    ("security_mirror", SecurityMirror, None),
    ("keyring", Keyring, None),
    ("backports", Backports, False),
    ("cache_dir", CacheDir, None),
    ("offline", Offline, False),
    ("ttl", Ttl, 3600.0),
    ("check_valid_until", CheckValidUntil, True),
    ("engine", EngineOption, None),
)


def bundle_options(
    params: Sequence[tuple[str, Any, Any]], *, keyword: str, make: Callable[..., object]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator giving a command the typer options `params` (name, Annotated type, default), which
    it receives gathered into one value: `keyword=make(**values)` (declared once, used by many commands)."""

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        own = [p for p in inspect.signature(func).parameters.values() if p.name != keyword]
        hints = get_type_hints(func, include_extras=True)
        extra = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a)
            for n, a, d in params
        ]

        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> None:
            values = {name: kwargs.pop(name) for name, _, _ in params}
            func(*args, **{keyword: make(**values)}, **kwargs)

        own_hints = {p.name: hints[p.name] for p in own}
        command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]  # read by typer via inspect
            [p.replace(annotation=own_hints[p.name]) for p in own] + extra
        )
        command.__annotations__ = {**own_hints, **{n: a for n, a, _ in params}}
        del command.__wrapped__  # typer must see the new signature, not the wrapped one
        return command

    return decorate


def _target_options(**values: Any) -> TargetOptions:
    """TargetOptions from the command line; a lone `--dist DIST/ARCH` names both."""
    dist, slash, arch = str(values["dist"]).partition("/")
    if slash and "," not in values["dist"]:
        values |= {"dist": dist, "arch": arch}
    return TargetOptions(**values)


with_target = bundle_options(_TARGET_PARAMS, keyword="opts", make=_target_options)
