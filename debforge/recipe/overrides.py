"""cargo-deb's command-line settings that override a recipe: the CLI wins over the metadata.

`Overrides` is what `debforge package` gathers from cargo-deb's flags (`--deb-version`,
`--maintainer`, `--multiarch`, `--profile`, `-F`, `--no-strip`, ...); `apply_overrides` returns
the recipe with them applied, checked the way the metadata's own values are.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TypeVar

from debforge.errors import RecipeError, UsageError
from debforge.recipe.debian import check_section, check_section_syntax, check_version, full_version
from debforge.recipe.fields import lenient_maintainer
from debforge.recipe.model import (
    BuildSpec,
    CargoBuild,
    CargoColor,
    Compression,
    DebugCompression,
    MultiArch,
    Recipe,
)
from debforge.report import Reporter

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Overrides:
    """cargo-deb's flags that change the package; None (or empty) leaves the recipe's value."""

    deb_version: str | None = None  # the whole Version field, revision included
    deb_revision: str | None = None
    maintainer: str | None = None
    section: str | None = None
    multiarch: MultiArch | None = None
    compression: Compression | None = None
    build: BuildOverrides | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOverrides:
    """cargo-deb's flags that change the cargo build."""

    profile: str | None = None
    features: tuple[str, ...] = ()  # added to the metadata's features, as cargo-deb does
    no_default_features: bool = False
    all_features: bool = False
    cargo_flags: tuple[str, ...] = ()  # --locked, --frozen, --offline
    profile_env: tuple[tuple[str, str], ...] = ()  # --override-debug / --override-lto
    strip: bool | None = None
    separate_debug_symbols: bool | None = None
    compress_debug_symbols: bool | None = None
    debug_compression: DebugCompression | None = None  # --compress-debug-symbols=zlib|zstd
    color: CargoColor | None = None
    dbgsym: bool | None = None
    no_build: bool = False


def apply_overrides(recipe: Recipe, overrides: Overrides, reporter: Reporter) -> Recipe:
    """`recipe` with cargo-deb's command-line settings applied."""
    revision = recipe.revision
    if overrides.deb_revision is not None:
        revision = "" if overrides.deb_revision in ("", "0") else overrides.deb_revision
        _check_version(full_version(recipe.version, revision), "--deb-revision")
    if overrides.deb_version is not None:
        _check_version(overrides.deb_version, "--deb-version")
    section = overrides.section or recipe.section
    if overrides.section is not None:
        _check_section(overrides.section, reporter)
    maintainer = recipe.maintainer
    if overrides.maintainer is not None:
        maintainer = lenient_maintainer(overrides.maintainer, "--maintainer", reporter)
    return dataclasses.replace(
        recipe,
        revision=revision,
        version_override=overrides.deb_version or recipe.version_override,
        section=section,
        maintainer=maintainer,
        multi_arch=overrides.multiarch or recipe.multi_arch,
        compression=overrides.compression or recipe.compression,
        build=_build(recipe.build, overrides.build) if overrides.build else recipe.build,
    )


def _check_section(section: str, reporter: Reporter) -> None:
    """cargo-deb writes --section verbatim: one word is required, an unknown one is a warning."""
    if reason := check_section_syntax(section):
        raise UsageError(f"--section '{section}' {reason}")
    if reason := check_section(section):
        reporter.warning(f"--section '{section}' is written as it is, as cargo-deb does, though it {reason}")


def _check_version(version: str, flag: str) -> None:
    reason = check_version(version)
    if reason:
        raise UsageError(f"{flag} gives '{version}', which is not a valid Debian version: {reason}")


def _build(spec: BuildSpec, flags: BuildOverrides) -> BuildSpec:
    """The cargo build with the flags applied; a prebuilt file only takes the debug-symbol ones."""
    if not isinstance(spec, CargoBuild):
        if flags != BuildOverrides():
            raise UsageError(
                "cargo-deb's build flags (--profile, -F, --no-strip, --dbgsym, ...) need a Cargo project; "
                "this package is not built by cargo"
            )
        return spec
    if flags.profile == "dev":
        # cargo-deb refuses it too: a development build is not what a package should ship.
        raise RecipeError("--profile dev is a development profile; package a release-like profile")
    return dataclasses.replace(
        spec,
        profile=flags.profile or spec.profile,
        features=tuple(dict.fromkeys((*spec.features, *flags.features))),
        default_features=spec.default_features and not flags.no_default_features,
        all_features=flags.all_features,
        cargo_flags=flags.cargo_flags,
        profile_env=flags.profile_env,
        strip=spec.strip if flags.strip is None else flags.strip,
        separate_debug_symbols=_pick(flags.separate_debug_symbols, spec.separate_debug_symbols),
        compress_debug_symbols=_pick(flags.compress_debug_symbols, spec.compress_debug_symbols),
        debug_compression=_pick(flags.debug_compression, spec.debug_compression),
        color=_pick(flags.color, spec.color),
        dbgsym=_pick(flags.dbgsym, spec.dbgsym),
        no_build=flags.no_build,
    )


def _pick(flag: _T | None, value: _T) -> _T:
    """The flag when it was given, else the recipe's value."""
    return value if flag is None else flag
