"""`cargo deb`'s flags on `debforge package`, with cargo-deb's meaning (cargo-deb 3.x src/main.rs).

`with_cargo_deb` adds them to the command's signature and hands the command one `CargoDebFlags`;
`CargoDebFlags.overrides()` turns them into the recipe's `Overrides`. A flag debforge cannot honour
is an error that says why; one that only tunes how cargo-deb runs its compressor is a warning.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from debforge.cli.options import TargetOptions, bundle_options
from debforge.errors import InstallCheckError, UsageError
from debforge.recipe import BuildOverrides, Overrides
from debforge.recipe.model import Compression, DebugCompression, MultiArch
from debforge.report import Reporter

if TYPE_CHECKING:
    from debforge.dists import Target
    from debforge.pipeline import PackageResult
    from debforge.session import Session

_PANEL = "cargo-deb"


class MultiarchChoice(StrEnum):
    """cargo-deb --multiarch."""

    none = "none"
    same = "same"
    foreign = "foreign"


class ColorChoice(StrEnum):
    """cargo-deb --color, passed to cargo."""

    auto = "auto"
    always = "always"
    never = "never"


class CompressType(StrEnum):
    """cargo-deb -Z/--compress-type (zstd where the target's dpkg reads it)."""

    gz = "gz"
    gzip = "gzip"
    xz = "xz"
    zstd = "zstd"


def _opt(*names: str, help_: str, **extra: Any) -> Any:
    return typer.Option(*names, rich_help_panel=_PANEL, help=help_, **extra)


# (parameter, annotation, default): declared once, injected by with_cargo_deb.
_S = str | None
_B = bool | None
_PARAMS: tuple[tuple[str, Any, Any], ...] = (
    ("package_", Annotated[_S, _opt("--package", "-p", help_="Workspace member to package.")], None),
    ("manifest_path", Annotated[Path | None, _opt("--manifest-path", help_="Cargo.toml to read.")], None),
    ("rust_target", Annotated[_S, _opt("--target", help_="Rust target triple; sets the Debian arch.")], None),
    ("variant", Annotated[_S, _opt("--variant", help_="[package.metadata.deb.variants.NAME] to use.")], None),
    ("deb_version", Annotated[_S, _opt("--deb-version", help_="The Version (--binary: upstream).")],
     None),
    ("deb_revision", Annotated[_S, _opt("--deb-revision", help_="Debian revision; '' or 0 omits it.")], None),
    ("section", Annotated[_S, _opt("--section", help_="The Section field.")], None),
    ("multiarch", Annotated[MultiarchChoice, _opt("--multiarch", help_="usr/lib/<triplet> and Multi-Arch.")],
     MultiarchChoice.none),
    ("no_build", Annotated[bool, _opt("--no-build", help_="Package the last build of this project.")], False),
    ("profile", Annotated[_S, _opt("--profile", help_="Cargo profile (default release).")], None),
    ("features", Annotated[list[str] | None, _opt("--features", "-F", help_="Cargo features.")], None),
    ("no_default_features", Annotated[bool, _opt("--no-default-features", help_="cargo's flag.")], False),
    ("all_features", Annotated[bool, _opt("--all-features", help_="cargo's flag.")], False),
    ("locked", Annotated[bool, _opt("--locked", help_="cargo's flag.")], False),
    ("frozen", Annotated[bool, _opt("--frozen", help_="cargo's flag.")], False),
    ("cargo_build", Annotated[str, _opt("--cargo-build", help_="Cargo subcommand (only build).")], "build"),
    ("override_debug", Annotated[_S, _opt("--override-debug", help_="The profile's debug setting.")], None),
    ("override_lto", Annotated[_S, _opt("--override-lto", help_="The profile's lto setting.")], None),
    ("fast", Annotated[bool, _opt("--fast", help_="Faster compression (gzip), a larger .deb.")], False),
    ("compress_type", Annotated[CompressType | None, _opt("--compress-type", "-Z", help_="xz, gz or zstd.")],
     None),
    ("compress_system", Annotated[bool, _opt("--compress-system", help_="Ignored, with a warning.")], False),
    ("rsyncable", Annotated[bool, _opt("--rsyncable", help_="Ignored, with a warning.")], False),
    ("strip", Annotated[_B, _opt("--strip/--no-strip", help_="Strip the binaries (default yes).")], None),
    ("separate_debug_symbols", Annotated[_B, _opt(
        "--separate-debug-symbols/--no-separate-debug-symbols", help_="Keep .debug files.")], None),
    ("compress_debug_symbols", Annotated[_B, _opt(
        "--compress-debug-symbols/--no-compress-debug-symbols", help_="Compress .debug, =zlib|zstd.")], None),
    # --compress-debug-symbols=zlib|zstd arrives here through preprocess_argv (typer has no optional values).
    ("debug_compression", Annotated[_S, typer.Option("--debug-compression", hidden=True)], None),
    ("dbgsym", Annotated[_B, _opt("--dbgsym/--no-dbgsym", help_="Also write a -dbgsym package.")], None),
    ("color", Annotated[ColorChoice | None, _opt("--color", help_="Passed to cargo: auto, always, never.")],
     None),
    # `-- ARGS` (passed to cargo build) arrives here through preprocess_argv, one --cargo-arg=A each.
    ("cargo_args", Annotated[list[str] | None, typer.Option("--cargo-arg", hidden=True)], None),
    ("install", Annotated[bool, _opt("--install", help_="Install it (and its dbgsym) in a fresh container.")],
     False),
    ("no_install_dbgsym", Annotated[bool, _opt("--no-install-dbgsym", help_="--install without the dbgsym.")],
     False),
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class CargoDebFlags:
    """cargo-deb's flags as given."""

    package_: str | None
    manifest_path: Path | None
    rust_target: str | None
    variant: str | None
    deb_version: str | None
    deb_revision: str | None
    section: str | None
    multiarch: MultiarchChoice
    no_build: bool
    profile: str | None
    features: list[str] | None
    no_default_features: bool
    all_features: bool
    locked: bool
    frozen: bool
    cargo_build: str
    override_debug: str | None
    override_lto: str | None
    fast: bool
    compress_type: CompressType | None
    compress_system: bool
    rsyncable: bool
    strip: bool | None
    separate_debug_symbols: bool | None
    compress_debug_symbols: bool | None
    debug_compression: str | None
    dbgsym: bool | None
    color: ColorChoice | None
    cargo_args: list[str] | None
    install: bool
    no_install_dbgsym: bool

    def overrides(self, *, maintainer: str | None, reporter: Reporter) -> Overrides:
        """The recipe overrides these flags ask for; an impossible combination is a usage error."""
        if self.cargo_build != "build":
            raise UsageError(
                f"--cargo-build {self.cargo_build} is not available: debforge cross-builds with plain "
                "`cargo build` in its builder image, which has no other cargo subcommands"
            )
        if self.compress_system or self.rsyncable:
            flag = "--compress-system" if self.compress_system else "--rsyncable"
            reporter.warning(
                f"{flag} is ignored: debforge always compresses with its own reproducible writer"
            )
        multiarch: MultiArch | None = None
        if self.multiarch != MultiarchChoice.none:
            multiarch = "same" if self.multiarch == MultiarchChoice.same else "foreign"
        return Overrides(
            deb_version=self.deb_version, deb_revision=self.deb_revision, maintainer=maintainer,
            section=self.section, multiarch=multiarch, compression=self._compression(),
            build=self._build(),
        )  # fmt: skip

    def _compression(self) -> Compression | None:
        if self.compress_type is not None:
            return {"gz": "gzip", "gzip": "gzip", "xz": "xz", "zstd": "zstd"}[self.compress_type.value]  # type: ignore[return-value]
        return "gzip" if self.fast else None

    def _build(self) -> BuildOverrides:
        features = tuple(f for value in self.features or () for f in re.split(r"[\s,]+", value) if f)
        profile_env = tuple(
            (f"CARGO_PROFILE_{(self.profile or 'release').upper().replace('-', '_')}_{what}", value)
            for what, value in (("DEBUG", self.override_debug), ("LTO", self.override_lto))
            if value is not None
        )
        compression = _debug_compression(self.debug_compression)
        return BuildOverrides(
            profile=self.profile, features=features, no_default_features=self.no_default_features,
            all_features=self.all_features,
            cargo_flags=(
                *(["--locked"] if self.locked else []), *(["--frozen"] if self.frozen else []),
                *_cargo_args(self.cargo_args or ()),
            ),
            profile_env=profile_env, strip=self.strip, separate_debug_symbols=self.separate_debug_symbols,
            compress_debug_symbols=True if compression else self.compress_debug_symbols,
            debug_compression=compression, color=self.color.value if self.color else None,
            dbgsym=self.dbgsym, no_build=self.no_build,
        )  # fmt: skip


def _debug_compression(value: str | None) -> DebugCompression | None:
    """The value of --compress-debug-symbols=VALUE: objcopy's zlib or zstd."""
    if value is None:
        return None
    if value not in ("zlib", "zstd"):
        raise UsageError(f"--compress-debug-symbols={value} is not a debug compression (zlib or zstd)")
    return "zlib" if value == "zlib" else "zstd"


# cargo arguments after `--` that would move or rename what debforge packages: each has a debforge flag.
_OWN_CARGO_ARGS = {
    "--target": "--target or --arch", "--target-dir": "nothing (debforge keeps its own target dir)",
    "--manifest-path": "--manifest-path", "--release": "--profile", "--profile": "--profile",
    "--artifact-dir": "-o", "--out-dir": "-o",
}  # fmt: skip


def _cargo_args(args: Sequence[str]) -> tuple[str, ...]:
    """cargo-deb's `-- ARGS`, passed to cargo build as they are, except those debforge must set itself."""
    for arg in args:
        name = arg.split("=", 1)[0]
        if name in _OWN_CARGO_ARGS:
            raise UsageError(
                f"cargo's {name} after `--` would change where cargo puts what debforge packages",
                hint=f"use debforge's {_OWN_CARGO_ARGS[name]} instead",
            )
    return tuple(args)


# Add cargo-deb's flags to a command; the command receives them as `flags: CargoDebFlags`.
with_cargo_deb = bundle_options(_PARAMS, keyword="flags", make=CargoDebFlags)


# cargo-deb's debian_architecture_from_rust_triple (src/lib.rs): the CPU part of the triple, and the
# ABI for 32-bit ARM (hard-float → armhf) and x86_64 (gnux32 → x32).
def debian_arch(triple: str) -> str:
    """The Debian architecture of a Rust target triple, or a UsageError naming the triple.

    >>> debian_arch("aarch64-unknown-linux-gnu"), debian_arch("armv7-unknown-linux-gnueabihf")
    ('arm64', 'armhf')
    """
    cpu, _, rest = triple.partition("-")
    abi = triple.rsplit("-", 1)[-1]
    if not rest:
        raise UsageError(f"--target '{triple}' is not a Rust target triple such as aarch64-unknown-linux-gnu")
    if cpu.startswith(("arm", "thumb")):
        return "armhf" if abi.endswith("hf") else "armel"
    if cpu == "x86_64":
        return "x32" if abi == "gnux32" else "amd64"
    table = {
        "aarch64": "arm64", "aarch64_be": "arm64", "i586": "i386", "i686": "i386", "powerpc": "powerpc",
        "powerpc64": "ppc64", "powerpc64le": "ppc64el", "riscv64gc": "riscv64", "riscv64": "riscv64",
        "s390x": "s390x", "loongarch64": "loong64", "mips64el": "mips64el", "mipsel": "mipsel",
        "sparc64": "sparc64",
    }  # fmt: skip
    arch = table.get(cpu)
    if arch is None:
        raise UsageError(
            f"--target '{triple}' has no Debian architecture (its CPU '{cpu}' is not one Debian has)"
        )
    return arch


def cargo_deb_target(ctx: typer.Context, opts: TargetOptions, triple: str | None) -> TargetOptions:
    """The target options with cargo-deb's `--target TRIPLE` (or CARGO_BUILD_TARGET, which cargo and
    cargo-deb read, when no --arch is given) turned into the Debian arch."""
    source = ctx.get_parameter_source("arch")
    given = source is not None and source.name != "DEFAULT"  # --arch or DEBFORGE_ARCH
    triple = triple or (None if given else os.environ.get("CARGO_BUILD_TARGET") or None)
    if triple is None:
        return opts
    arch = debian_arch(triple)
    if given and opts.arch != arch:
        raise UsageError(f"--target {triple} is Debian arch {arch}, but --arch {opts.arch} was also given")
    return dataclasses.replace(opts, arch=arch)


# The root options cargo-deb users put anywhere on the line (`cargo deb -q`, `cargo deb -v`).
_GLOBAL_FLAGS = {
    "-q": "-q",
    "--quiet": "-q",
    "-v": "-v",
    "-vv": "-v",
    "--verbose": "-v",
    "--debug": "--debug",
}


def hoist_global_options(args: list[str]) -> list[str]:
    """Move -q/-v/--debug given after a subcommand to the front, where the root command reads them.

    >>> hoist_global_options(["package", ".", "-q", "--", "-v"])
    ['-q', 'package', '.', '--', '-v']
    """
    end = args.index("--") if "--" in args else len(args)
    hoisted = [_GLOBAL_FLAGS[a] for a in args[:end] if a in _GLOBAL_FLAGS]
    rest = [a for a in args[:end] if a not in _GLOBAL_FLAGS]
    return [*dict.fromkeys(hoisted), *rest, *args[end:]]


_DEBUG_COMPRESSIONS = ("zlib", "zstd")


def preprocess_argv(args: list[str]) -> list[str]:
    """cargo-deb's command line in typer's terms: the global options hoisted, and for `package`
    `--compress-debug-symbols[=zlib|zstd]`'s optional value and `-- ARGS` (for cargo) as hidden options.

    >>> preprocess_argv(["package", "--compress-debug-symbols=zstd", "-q", "--", "--timings"])
    ['-q', 'package', '--compress-debug-symbols', '--debug-compression=zstd', '--cargo-arg=--timings']
    """
    args = hoist_global_options(args)
    command = _subcommand(args)
    if command is None or args[command] != "package":
        return args
    end = args.index("--") if "--" in args else len(args)
    out, i = args[: command + 1], command + 1
    while i < end:
        flag, eq, value = args[i].partition("=")
        i += 1
        if flag != "--compress-debug-symbols":
            out.append(args[i - 1])
            continue
        if not eq and i < end and args[i] in _DEBUG_COMPRESSIONS:  # `--compress-debug-symbols zstd`
            value, eq, i = args[i], "=", i + 1
        out += [flag, *([f"--debug-compression={value}"] if eq else [])]
    return [*out, *(f"--cargo-arg={a}" for a in args[end + 1 :])]


def _subcommand(args: list[str]) -> int | None:
    """The index of the subcommand: the first word that is no root option (nor --progress's value)."""
    skip = False
    for i, arg in enumerate(args):
        if skip or arg.startswith("-"):
            skip = arg == "--progress"
            continue
        return i
    return None


def move_deb(result: PackageResult, deb_file: Path) -> Path:
    """cargo-deb's `-o FILE.deb`: the written .deb renamed to FILE.deb, its record beside it."""
    result.package.path.replace(deb_file)
    result.record.replace(deb_file.with_name(f"{deb_file.name}.buildinfo.json"))
    return deb_file


def install_debs(session: Session, result: PackageResult, target: Target, *, with_dbgsym: bool) -> None:
    """cargo-deb's `--install`, into a fresh target container: the package and (unless
    `--no-install-dbgsym`) its -dbgsym, installed, removed and purged by the target's apt."""
    from debforge.testinstall import check_install

    debs = [result.package.path]
    debs += [result.dbgsym.path] if with_dbgsym and result.dbgsym is not None else []
    report = check_install(session, debs, target)
    failed = next((step for step in report.steps if not step.ok), None)
    if failed is not None or not report.ok:
        where = f"at the {failed.name} step: {failed.detail}" if failed else "(no step ran)"
        raise InstallCheckError(
            f"{result.package.path.name} did not install cleanly on {target.dist}/{target.arch} {where}",
            hint=f"run `debforge test-install {result.package.path}` to see every step",
        )
