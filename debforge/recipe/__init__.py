'''Recipes: a project's `debforge.toml`, or cargo-deb's `[package.metadata.deb]`, → a validated Recipe.

`load_recipe(path, arch=..., reporter=...)` reads `path/debforge.toml` when it exists, else
`path/Cargo.toml` the way cargo-deb does. Every problem is a RecipeError whose sentence names the
file and the key, raised before any download or build starts.

The debforge.toml schema (paths are relative to the directory holding debforge.toml; every
unknown key is an error with a suggestion):

    [package]
    name = "hello-ssl"              # Policy 5.6.1; default: the Cargo package name, lowercased, _ → -
    version = "from-cargo"          # default with a Cargo.toml; or a literal upstream version "1.2.3"
                                    # Cargo versions are mangled: 1.0.0-alpha.1 → 1.0.0~alpha.1
    revision = "1"                  # default "1"; "" or "0" leaves it out
    maintainer = "Jane Doe <jane@example.org>"   # default: Cargo authors[0]
    description = "One-line synopsis"            # default: Cargo description
    extended-description = """Longer text."""    # or extended-description-file = "README"
    section = "utils"               # one of Debian's sections, optionally "contrib/…"
    priority = "optional"           # required | important | standard | optional
    homepage = "https://…"          # default: Cargo homepage, else repository
    license = "MIT"                 # default: Cargo license
    license-file = "LICENSE"        # or ["LICENSE", "2"]: skip 2 lines; default: Cargo license-file
    copyright = "2024 Jane Doe <jane@example.org>"
    copyright-file = "debian/copyright"          # a ready DEP-5 file, installed verbatim
    changelog = "debian/changelog"  # debian/changelog format → changelog.Debian.gz
    conf-files = ["/opt/x/x.conf"]  # conffiles besides the automatic ones: every asset under /etc
    preserve-symlinks = false

    [relations]                     # each a string "a, b | c" or an array; [arch]/[!arch] allowed
    depends = ["$auto", "ca-certificates"]       # default ["$auto"]: computed shared-library Depends
    pre-depends = []                # also recommends, suggests, enhances, conflicts, breaks,
    recommends = []                 # replaces, provides

    [build]
    kind = "cargo"                  # cargo (default with a Cargo.toml) | binary
    source = "."                    # the project directory
    build-depends = ["libssl-dev"]  # Debian packages of the target, laid out as the build sysroot
    features = []
    default-features = true
    crates = "registry"             # registry (crates.io) | debian (librust-*-dev) | vendored
    profile = "release"
    binaries = ["hello-ssl"]        # default: every bin target of Cargo.toml
    # binary = "result/bin/foo"     # kind binary: the prebuilt ELF
    dbgsym = false                  # also separate-debug-symbols, compress-debug-symbols

    [[assets]]                      # default ["$auto"]: bins → /usr/bin, cdylibs → /usr/lib, readme → doc
    source = "target/release/hello-ssl"          # target/release/NAME: the built artifact NAME
    dest = "usr/bin/"               # trailing / keeps the file name
    mode = "755"                    # octal string or 0o755; default the source's mode
    # or: assets = ["$auto", ["etc/x.conf", "etc/x/", "644"], {source = "doc/*.md", dest = "doc/x/"}]

    [scripts]
    dir = "debian"                  # preinst postinst prerm postrm config templates; #DEBHELPER# marks
    triggers-file = "debian/triggers"            # where the systemd snippets go

    [systemd]                       # or [[systemd]] for several
    unit-scripts = "debian"         # default: [scripts] dir, else systemd/; finds <name>.service etc.
    unit-name = "hello"             # default: the package name
    enable = true                   # also start, restart-after-upgrade, stop-on-upgrade (all true)

    [test]
    run = "hello-ssl"               # run in a fresh target container after apt install
    expect = "OpenSSL 3"            # a substring of its stdout

    [lintian]
    overrides = [{ tag = "no-manual-page", reason = "a demo program without a manual" }]

cargo-deb projects: every key of `[package.metadata.deb]` is read with cargo-deb's defaults,
`[package.metadata.deb.variants.NAME]` is merged over it with `variant=NAME`, an unknown key is a
warning; debforge's extras go in `[package.metadata.debforge]`: build-depends, crates, test
({run, expect}) and lintian-overrides ([{tag, reason}]).
'''

from __future__ import annotations

from pathlib import Path

from debforge.errors import RecipeError
from debforge.recipe.cargodeb import load_cargo_deb
from debforge.recipe.debian import AUTO, mangle_cargo_version
from debforge.recipe.model import (
    C_KINDS,
    INSTALL,
    Asset,
    AssetSource,
    BinaryBuild,
    BuildSpec,
    BuiltSource,
    CargoBuild,
    CBuild,
    CKind,
    FileSource,
    InstallTree,
    LinkSource,
    LintianOverride,
    MaintainerScript,
    Recipe,
    RelationFields,
    SmokeSpec,
    SystemdUnits,
    TreeBuild,
    UnitFile,
)
from debforge.recipe.native import load_native
from debforge.recipe.overrides import BuildOverrides, Overrides, apply_overrides
from debforge.recipe.prebuilt import binary_recipe
from debforge.recipe.tomlfile import display
from debforge.report import Reporter

RECIPE_FILE = "debforge.toml"

__all__ = [
    "AUTO",
    "C_KINDS",
    "INSTALL",
    "Asset",
    "AssetSource",
    "BinaryBuild",
    "BuildOverrides",
    "BuildSpec",
    "BuiltSource",
    "CBuild",
    "CKind",
    "CargoBuild",
    "FileSource",
    "InstallTree",
    "LinkSource",
    "LintianOverride",
    "MaintainerScript",
    "Overrides",
    "Recipe",
    "RelationFields",
    "SmokeSpec",
    "SystemdUnits",
    "TreeBuild",
    "UnitFile",
    "apply_overrides",
    "binary_recipe",
    "load_recipe",
    "mangle_cargo_version",
]


def load_recipe(
    path: Path,
    *,
    arch: str,
    reporter: Reporter,
    variant: str | None = None,
    package: str | None = None,
    overrides: Overrides | None = None,
) -> Recipe:
    """Parse and validate the recipe of a project dir or `recipes/<name>/` dir for Debian arch `arch`.

    `package` picks a Cargo workspace member (cargo-deb's `-p`); `overrides` are cargo-deb's flags.
    """
    path = path.absolute()  # later stages bind-mount and cache by these paths
    if path.is_file() and path.name in (RECIPE_FILE, "Cargo.toml"):
        path = path.parent
    if not path.is_dir():
        raise RecipeError(f"{display(path)} is not a directory")
    native, cargo = path / RECIPE_FILE, path / "Cargo.toml"
    if native.is_file():
        if variant is not None or package is not None:
            asked = f"variant '{variant}'" if variant is not None else f"package '{package}' (-p)"
            raise RecipeError(f"{asked} was asked for, but {display(native)} describes one package")
        if cargo.is_file() and _has_deb_metadata(cargo):
            reporter.info(f"{display(native)} is used; [package.metadata.deb] of {display(cargo)} is ignored")
        recipe = load_native(native, arch=arch, reporter=reporter)
        return apply_overrides(recipe, overrides, reporter) if overrides else recipe
    if cargo.is_file():
        return load_cargo_deb(
            cargo, arch=arch, reporter=reporter, variant=variant, package=package, overrides=overrides
        )
    raise RecipeError(
        f"{display(path)} has neither {RECIPE_FILE} nor Cargo.toml",
        hint=f"write a {RECIPE_FILE} (see README) or run debforge in a Cargo project",
    )


def _has_deb_metadata(cargo: Path) -> bool:
    """Whether a Cargo.toml mentions cargo-deb metadata (a cheap textual check, for a message only)."""
    return "[package.metadata.deb" in cargo.read_text(errors="replace")
