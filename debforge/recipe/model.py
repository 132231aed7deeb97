"""The typed recipe: what to build and what goes into the .deb, validated and frozen."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import ClassVar, Literal

from debforge.recipe.debian import AUTO, full_version

CratesSource = Literal["debian", "vendored", "registry"]
# Maintainer scripts dpkg runs or reads (Policy 6, debconf): the only names taken from the dir.
SCRIPT_NAMES = ("preinst", "postinst", "prerm", "postrm", "config", "templates")


@dataclass(frozen=True, slots=True, kw_only=True)
class BuiltSource:
    """An asset made by the build stage, by artifact name.

    A Cargo bin target such as "hello-ssl", a cdylib file name such as "libfoo.so", or for kind
    binary the prebuilt file's name; cargo-deb's `target/release/<name>` and `$auto` become this,
    so no host target dir leaks into a recipe.
    """

    name: str

    def __str__(self) -> str:
        return f"<built:{self.name}>"


@dataclass(frozen=True, slots=True, kw_only=True)
class FileSource:
    """An asset that is an existing file of the project."""

    path: Path

    def __str__(self) -> str:
        return str(self.path)


AssetSource = BuiltSource | FileSource  # where an asset's bytes come from


@dataclass(frozen=True, slots=True, kw_only=True)
class Asset:
    """One file of the package's data.tar: source → absolute dest, mode."""

    source: AssetSource
    dest: PurePosixPath
    mode: int | None = None  # None: the source file's own mode (cargo-deb)


@dataclass(frozen=True, slots=True, kw_only=True)
class RelationFields:
    """The relation fields of the binary package, each a tuple of AND-groups (`a | b (>= 1)`).

    `depends` may hold the marker `$auto` (AUTO) where the computed shared-library Depends goes.
    Arch-qualified entries (`foo [arm64]`, `bar [!armhf]`) are already filtered for the target.
    """

    depends: tuple[str, ...] = (AUTO,)
    pre_depends: tuple[str, ...] = ()
    recommends: tuple[str, ...] = ()
    suggests: tuple[str, ...] = ()
    enhances: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    breaks: tuple[str, ...] = ()
    replaces: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()

    @property
    def auto(self) -> bool:
        """Whether the computed shared-library Depends must be added."""
        return AUTO in self.depends


@dataclass(frozen=True, slots=True, kw_only=True)
class CargoBuild:
    """`kind = "cargo"`: cross-build the Cargo project of `manifest` for the target."""

    kind: ClassVar[Literal["cargo"]] = "cargo"
    manifest: Path  # the Cargo.toml
    build_depends: tuple[str, ...] = ()  # Debian relations for the target sysroot, e.g. "libssl-dev"
    features: tuple[str, ...] = ()
    default_features: bool = True
    crates: CratesSource = "registry"
    profile: str = "release"
    binaries: tuple[str, ...] = ()  # bin targets to build
    cdylibs: tuple[str, ...] = ()  # cdylib targets (lib<name>.so)
    dbgsym: bool = False
    separate_debug_symbols: bool = False
    compress_debug_symbols: bool | None = None  # None: cargo-deb's automatic choice


@dataclass(frozen=True, slots=True, kw_only=True)
class BinaryBuild:
    """`kind = "binary"`: package a prebuilt ELF file as it is (after ELF repair)."""

    kind: ClassVar[Literal["binary"]] = "binary"
    binary: Path  # the prebuilt file; its name is the artifact name
    build_depends: tuple[str, ...] = ()
    dbgsym: bool = False
    separate_debug_symbols: bool = False
    compress_debug_symbols: bool | None = None

    @property
    def binaries(self) -> tuple[str, ...]:
        """The one artifact: the prebuilt file's name."""
        return (self.binary.name,)

    @property
    def cdylibs(self) -> tuple[str, ...]:
        """A prebuilt file is never a Cargo cdylib target."""
        return ()


BuildSpec = CargoBuild | BinaryBuild  # how to produce the built assets, one type per build kind


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintainerScript:
    """A maintainer script; `debhelper` when it holds `#DEBHELPER#`, where generated snippets go."""

    name: str
    path: Path
    debhelper: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitFile:
    """A systemd unit (or tmpfiles/sysusers) file and where it is installed."""

    source: Path
    dest: PurePosixPath

    @property
    def unit(self) -> str:
        """The installed file name, e.g. `hello.service`."""
        return self.dest.name


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemdUnits:
    """One `systemd-units` entry: found unit files and what the maintainer scripts do with them.

    The flags mean what dh_installsystemd's options mean: enable at install, start at install,
    restart (not stop/start) across upgrades, stop before an upgrade.
    """

    unit_scripts: Path
    unit_name: str | None = None
    files: tuple[UnitFile, ...] = ()
    enable: bool = True
    start: bool = True
    restart_after_upgrade: bool = True
    stop_on_upgrade: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class SmokeSpec:
    """A command to run in a fresh target container after install, and a stdout substring."""

    run: str
    expect: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LintianOverride:
    """A lintian tag (optionally with its context) the package overrides, and why."""

    tag: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipe:
    """Everything debforge needs to build and package one project, validated."""

    recipe_file: Path  # debforge.toml, or Cargo.toml for a cargo-deb project
    source_dir: Path  # the project to build
    name: str
    version: str  # Debian upstream version (Cargo version mangled), without revision
    revision: str  # "" when omitted
    maintainer: str
    description: str  # the synopsis: one line
    extended_description: str | None = None
    section: str | None = None
    priority: str = "optional"
    homepage: str | None = None
    license: str | None = None  # SPDX/DEP-5 short name
    license_file: Path | None = None
    license_file_skip: int = 0  # lines skipped at the top of license_file (cargo-deb)
    copyright: str | None = None  # holders, e.g. "2024, Jane <jane@example.org>"
    copyright_file: Path | None = None  # a ready DEP-5 file used verbatim
    changelog: Path | None = None  # debian/changelog format
    relations: RelationFields = field(default_factory=RelationFields)
    build: BuildSpec
    assets: tuple[Asset, ...] = ()
    conffiles: tuple[PurePosixPath, ...] = ()
    scripts_dir: Path | None = None
    scripts: tuple[MaintainerScript, ...] = ()
    triggers_file: Path | None = None
    systemd: tuple[SystemdUnits, ...] = ()
    test: SmokeSpec | None = None
    lintian_overrides: tuple[LintianOverride, ...] = ()
    preserve_symlinks: bool = False
    variant: str | None = None

    @property
    def deb_version(self) -> str:
        """The full `Version:` value: upstream plus `-revision` when there is one."""
        return full_version(self.version, self.revision)
