"""The typed recipe: what to build and what goes into the .deb, validated and frozen."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import ClassVar, Literal

from debforge.recipe.debian import AUTO, full_version

CratesSource = Literal["debian", "vendored", "registry"]
MultiArch = Literal["same", "foreign"]
Compression = Literal["xz", "zstd", "gzip"]  # what the deb writer can write
DebugCompression = Literal["zlib", "zstd"]  # objcopy --compress-debug-sections=<this>
CargoColor = Literal["auto", "always", "never"]  # cargo --color
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


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallTree:
    """`$install`: every file a C/C++ build's install step put into its staging tree, at its own path."""

    def __str__(self) -> str:
        return INSTALL


INSTALL = "$install"


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSource:
    """An asset that is a symbolic link (cargo-deb's `preserve-symlinks`); it may dangle."""

    target: str  # already in Policy 10.5 form: relative within a top-level dir, else absolute

    def __str__(self) -> str:
        return f"<link:{self.target}>"


AssetSource = BuiltSource | FileSource | InstallTree | LinkSource  # where an asset's bytes come from


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
    debug_compression: DebugCompression | None = None  # --compress-debug-symbols=ALGO; None: cargo-deb's
    color: CargoColor = "never"  # cargo's --color, as cargo-deb passes its own to cargo
    packages: tuple[str, ...] = ()  # cargo -p: the workspace members whose targets are built
    all_features: bool = False
    cargo_flags: tuple[str, ...] = ()  # --locked, --frozen, --offline as given on the command line
    strip: bool = True
    profile_env: tuple[tuple[str, str], ...] = ()  # CARGO_PROFILE_<P>_DEBUG/LTO from --override-*
    no_build: bool = False  # cargo-deb --no-build: package what the last build of this project left
    extra_files: tuple[str, ...] = ()  # target/release/<name> assets no target builds: build-script output
    static: bool = False  # `[build] static` / --static: +crt-static against the target's glibc and .a files
    min_rustc: str = "1.0"  # Cargo.toml's rust-version, else the first rustc of its edition
    toolchain_dist: str | None = None  # `[build] toolchain-dist`: whose rustc builds it (None: chosen)

    @property
    def split_debug(self) -> bool:
        """Whether debug symbols are split off (for a -dbgsym package or a file in this one)."""
        return self.strip and (self.dbgsym or self.separate_debug_symbols)


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
    def split_debug(self) -> bool:
        """A prebuilt file is packaged as it is: nothing is split off."""
        return False

    @property
    def binaries(self) -> tuple[str, ...]:
        """The one artifact: the prebuilt file's name."""
        return (self.binary.name,)

    @property
    def cdylibs(self) -> tuple[str, ...]:
        """A prebuilt file is never a Cargo cdylib target."""
        return ()


CKind = Literal["autotools", "cmake", "meson", "make", "script"]
C_KINDS: tuple[CKind, ...] = ("autotools", "cmake", "meson", "make", "script")


@dataclass(frozen=True, slots=True, kw_only=True)
class CBuild:
    """`kind = "autotools" | "cmake" | "meson" | "make" | "script"`: a C/C++ project, cross-built and
    installed into a staging tree (`$DESTDIR` in any argument expands to it)."""

    kind: CKind
    source: Path  # the project directory
    subdir: PurePosixPath | None = None  # where the build system's files are, e.g. build/cmake
    build_depends: tuple[str, ...] = ()
    configure_args: tuple[str, ...] = ()  # configure options, or CMake/Meson -D definitions
    make_args: tuple[str, ...] = ()  # make command-line variables, as debhelper passes them
    install_args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    script: tuple[str, ...] = ()  # kind script: shell commands run with the cross environment
    keep_dev_files: bool = False  # keep headers, .a, .la, .pc and unversioned .so links
    static: bool = False  # `[build] static` / --static: -static, pkg-config --static, meson prefer_static
    dbgsym: bool = False
    separate_debug_symbols: bool = False
    compress_debug_symbols: bool | None = None

    @property
    def binaries(self) -> tuple[str, ...]:
        """Named artifacts: none; what gets installed is packaged through `$install`."""
        return ()

    @property
    def cdylibs(self) -> tuple[str, ...]:
        """Never Cargo cdylib targets."""
        return ()


# Where each top-level directory of a prebuilt tree (an install prefix, e.g. a Nix result/) goes:
# FHS 3.0 §4 for /usr, §3.7 for /etc. lib/ is not listed: its shared libraries are split by what
# provides them (debforge/builder/tree.py), and include/ and nix-support/ are not runtime files.
DEFAULT_TREE_LAYOUT: tuple[tuple[str, PurePosixPath], ...] = (
    ("bin", PurePosixPath("/usr/bin")),
    ("sbin", PurePosixPath("/usr/sbin")),
    ("libexec", PurePosixPath("/usr/libexec")),
    ("share", PurePosixPath("/usr/share")),
    ("etc", PurePosixPath("/etc")),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeBuild:
    """`kind = "tree"`: package a prebuilt install tree (a Nix `result/`), laid out in the FHS.

    `inputs` are directories (an install prefix), tarballs of one, or loose files (which go to
    /usr/bin); `layout` maps a top-level directory of the tree to its FHS directory.
    """

    kind: ClassVar[Literal["tree"]] = "tree"
    inputs: tuple[Path, ...]
    layout: tuple[tuple[str, PurePosixPath], ...] = DEFAULT_TREE_LAYOUT
    build_depends: tuple[str, ...] = ()
    dbgsym: bool = False  # a prebuilt tree brings no separate debug info
    separate_debug_symbols: bool = False
    compress_debug_symbols: bool | None = None

    @property
    def binaries(self) -> tuple[str, ...]:
        """The tree's files are found when it is staged, not named up front."""
        return ()

    @property
    def cdylibs(self) -> tuple[str, ...]:
        """A prebuilt tree is never a Cargo cdylib target."""
        return ()


# how to produce the built assets, one type per build kind
BuildSpec = CargoBuild | BinaryBuild | CBuild | TreeBuild


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
    multi_arch: MultiArch | None = None  # cargo-deb --multiarch: usr/lib → usr/lib/<triplet>, Multi-Arch
    version_override: str | None = None  # cargo-deb --deb-version: the whole Version, as given
    compression: Compression | None = None  # None: xz, dpkg-deb's default

    @property
    def deb_version(self) -> str:
        """The full `Version:` value: upstream plus `-revision` when there is one, or --deb-version."""
        return self.version_override or full_version(self.version, self.revision)
