"""debforge.toml → Recipe. Unknown keys are errors here: the schema is ours (see the package docstring)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from debforge.errors import RecipeError
from debforge.recipe import fields, parts
from debforge.recipe.cbuild import C_KEYS, c_build, c_kind
from debforge.recipe.debian import AUTO, debian_package_name, mangle_cargo_version
from debforge.recipe.manifest import CargoManifest, read_cargo_manifest
from debforge.recipe.model import (
    C_KINDS,
    INSTALL,
    Asset,
    BinaryBuild,
    BuildSpec,
    CargoBuild,
    CBuild,
    CratesSource,
    Recipe,
)
from debforge.recipe.prebuilt import tree_build
from debforge.recipe.tomlfile import Table, display, read_toml
from debforge.report import Reporter

_Build = TypeVar("_Build", CargoBuild, BinaryBuild)  # _debug_options keeps the kind it is given

TOP_KEYS = ("package", "relations", "build", "assets", "scripts", "systemd", "test", "lintian")
PACKAGE_KEYS = (
    "name",
    "version",
    "revision",
    "maintainer",
    "description",
    "extended-description",
    "extended-description-file",
    "section",
    "priority",
    "homepage",
    "license",
    "license-file",
    "copyright",
    "copyright-file",
    "changelog",
    "conf-files",
    "preserve-symlinks",
)
BUILD_KEYS = (
    "kind",
    "source",
    "build-depends",
    "features",
    "default-features",
    "crates",
    "profile",
    "binaries",
    "binary",
    "tree",  # kind tree
    "layout",
    "static",
    "toolchain-dist",  # kind cargo: build with this dist's rustc (default: chosen by rust-version)
    "dbgsym",
    "separate-debug-symbols",
    "compress-debug-symbols",
    *C_KEYS,
)
CRATES: tuple[CratesSource, ...] = ("registry", "debian", "vendored")
FROM_CARGO = "from-cargo"


def load_native(path: Path, *, arch: str, reporter: Reporter) -> Recipe:
    """Parse and validate a debforge.toml (and the Cargo.toml of its project, when there is one)."""
    root = Table(read_toml(path), file=path, name="", strict=True, reporter=reporter)
    root.check_keys(TOP_KEYS)
    pkg, build_t = _section(root, "package", PACKAGE_KEYS), _section(root, "build", BUILD_KEYS)
    source_dir = parts.directory(build_t, "source", build_t.string("source"), path.parent) or path.parent
    cargo_toml = source_dir / "Cargo.toml"
    cargo = read_cargo_manifest(cargo_toml, reporter) if cargo_toml.is_file() else None
    build = _build(build_t, cargo, source_dir, arch)
    name = fields.package_name(
        pkg, "name", pkg.required("name", debian_package_name(cargo.name) if cargo else None)
    )
    upstream, revision = _version(pkg, cargo), fields.revision(pkg, "revision")
    fields.version(pkg, "version", upstream, revision)
    synopsis, extended = fields.description(
        pkg,
        "description",
        pkg.required("description", cargo.description if cargo else None),
        _extended(pkg, path.parent),
    )
    license_file, skip = parts.license_file(pkg, "license-file", path.parent)
    ctx = parts.AssetContext(
        source_dir=path.parent,
        deb_name=name,
        bins=build.binaries,
        cdylibs=build.cdylibs,
        readme=cargo.readme if cargo else None,
    )
    all_assets = _assets(root, ctx, default=INSTALL if isinstance(build, CBuild) else AUTO)
    parts.check_built(root, "assets", all_assets, build)
    scripts_t = _section(root, "scripts", ("dir", "triggers-file"))
    scripts_dir = parts.directory(scripts_t, "dir", scripts_t.string("dir"), path.parent)
    return Recipe(
        recipe_file=path,
        source_dir=source_dir,
        name=name,
        version=upstream,
        revision=revision,
        maintainer=fields.maintainer(pkg, "maintainer", pkg.required("maintainer", _author(cargo))),
        description=synopsis,
        extended_description=extended,
        section=fields.section(pkg, "section", pkg.string("section")),
        priority=fields.priority(pkg, "priority", pkg.string("priority")),
        homepage=pkg.string("homepage", cargo.homepage if cargo else None),
        license=pkg.string("license", cargo.license if cargo else None),
        license_file=license_file or (cargo.license_file if cargo else None),
        license_file_skip=skip,
        copyright=pkg.string("copyright"),
        copyright_file=parts.existing_file(pkg, "copyright-file", pkg.string("copyright-file"), path.parent),
        changelog=parts.existing_file(pkg, "changelog", pkg.string("changelog"), path.parent),
        relations=parts.relation_fields(_section(root, "relations", parts.RELATION_KEYS), arch),
        build=build,
        assets=all_assets,
        conffiles=parts.conffiles(pkg, "conf-files", pkg.strings("conf-files") or (), all_assets),
        scripts_dir=scripts_dir,
        scripts=parts.find_maintainer_scripts(scripts_dir),
        triggers_file=parts.existing_file(
            scripts_t, "triggers-file", scripts_t.string("triggers-file"), path.parent
        ),
        systemd=parts.systemd_units(root, "systemd", name, path.parent, scripts_dir),
        test=parts.smoke_spec(root.table("test")),
        lintian_overrides=parts.parse_lintian_overrides(
            _section(root, "lintian", ("overrides",)), "overrides"
        ),
        preserve_symlinks=pkg.boolean("preserve-symlinks", False),
    )


def _section(root: Table, key: str, known: tuple[str, ...]) -> Table:
    """A top-level table (empty when absent) whose keys are checked."""
    table = root.table(key) or root.sub(key, {})
    table.check_keys(known)
    return table


def _author(cargo: CargoManifest | None) -> str | None:
    """The first Cargo author, cargo-deb's fallback maintainer."""
    return cargo.authors[0] if cargo and cargo.authors else None


def _version(pkg: Table, cargo: CargoManifest | None) -> str:
    """`version`: a literal upstream version, or "from-cargo" (the default with a Cargo.toml)."""
    value = pkg.required("version", FROM_CARGO if cargo else None)
    if value != FROM_CARGO:
        return value
    if cargo is None:
        raise pkg.error("version", f"'{FROM_CARGO}' needs a Cargo.toml in the project directory")
    return mangle_cargo_version(cargo.version)


def _extended(pkg: Table, base: Path) -> str | None:
    """`extended-description`, else the text of `extended-description-file`."""
    text = pkg.string("extended-description")
    file = parts.existing_file(
        pkg, "extended-description-file", pkg.string("extended-description-file"), base
    )
    if text is not None and file is not None:
        pkg.reporter.warning(
            f"{pkg.where()} sets both extended-description and extended-description-file; using the first"
        )
    return text if text is not None or file is None else file.read_text()


def _build(table: Table, cargo: CargoManifest | None, source_dir: Path, arch: str) -> BuildSpec:
    """The [build] table, with defaults from Cargo.toml."""
    kind = table.required("kind", "cargo" if cargo else None)
    if table.has("toolchain-dist") and kind != "cargo":
        raise table.error("toolchain-dist", f"'toolchain-dist' is for kind 'cargo' only, not '{kind}'")
    if table.has("static") and kind in ("binary", "tree"):  # prebuilt: linked already
        raise table.error("static", f"'static' is for kinds that compile (cargo and C), not '{kind}'")
    ckind = c_kind(kind)
    if ckind is not None:
        return c_build(table, ckind, source_dir, arch)
    if kind == "tree":
        return tree_build(table, table.file.parent)
    if kind not in ("cargo", "binary"):
        kinds = ", ".join(("cargo", "binary", "tree", *C_KINDS))
        raise table.error("kind", f"'{kind}' is not a build kind (one of {kinds})")
    crates = _crates(table)
    if kind == "binary":
        binary = parts.existing_file(table, "binary", table.required("binary"), table.file.parent)
        if binary is None:  # unreachable: required() raised; kept for the type checker
            raise table.error("binary", "a prebuilt file is required")
        return _debug_options(table, BinaryBuild(binary=binary), arch)
    if cargo is None:
        raise RecipeError(
            f"[build] kind 'cargo' of {display(table.file)} needs a Cargo.toml in {display(source_dir)}"
        )
    binaries = table.strings("binaries") or cargo.bins
    for binary_name in binaries:
        if binary_name not in cargo.bins:
            raise table.error("binaries", f"'{binary_name}' is not a bin target of {display(cargo.path)}")
    spec = CargoBuild(
        crates=crates,
        features=table.strings("features") or (),
        default_features=table.boolean("default-features", True),
        profile=table.string("profile") or "release",
        binaries=binaries,
        cdylibs=cargo.cdylibs,
        manifest=cargo.path,
        static=table.boolean("static", False),
        min_rustc=cargo.min_rustc,
        toolchain_dist=fields.toolchain_dist(table, "toolchain-dist"),
    )
    return _debug_options(table, spec, arch)


def _crates(table: Table) -> CratesSource:
    """Where cargo takes crates from: crates.io ("registry"), Debian's librust-*-dev, or vendor/."""
    value = table.string("crates") or "registry"
    for crates in CRATES:
        if value == crates:
            return crates
    raise table.error("crates", f"'{value}' is not a crates source ({', '.join(CRATES)})")


def _debug_options(table: Table, spec: _Build, arch: str) -> _Build:
    """The keys every build kind shares: build-depends and debug symbols."""
    compress = table.boolean("compress-debug-symbols", True) if table.has("compress-debug-symbols") else None
    return replace(
        spec,
        build_depends=parts.relations(table, "build-depends", arch),
        dbgsym=table.boolean("dbgsym", False),
        separate_debug_symbols=table.boolean("separate-debug-symbols", False),
        compress_debug_symbols=compress,
    )


def _assets(root: Table, ctx: parts.AssetContext, *, default: str) -> tuple[Asset, ...]:
    """`assets = [...]` or `[[assets]]`; absent: `["$auto"]` as in cargo-deb (C kinds: `["$install"]`)."""
    entries = root.raw("assets")
    return parts.assets(root, "assets", [default] if entries is None else entries, ctx)
