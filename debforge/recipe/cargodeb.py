"""Cargo.toml `[package.metadata.deb]` → Recipe, with cargo-deb's keys, defaults and semantics.

Unknown keys are warnings (cargo-deb itself rejects them), so that a manifest written for a newer
cargo-deb still packages. debforge's own additions live in `[package.metadata.debforge]`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from debforge.errors import RecipeError
from debforge.recipe import fields, parts
from debforge.recipe.debian import AUTO, debian_package_name, mangle_cargo_version, suggest
from debforge.recipe.manifest import CargoManifest, read_cargo_manifest
from debforge.recipe.model import Asset, BuiltSource, CargoBuild, CratesSource, Recipe
from debforge.recipe.overrides import Overrides, apply_overrides
from debforge.recipe.tomlfile import Table, display
from debforge.recipe.workspace import Member, Workspace, select_manifest, workspace_of
from debforge.report import Reporter

# Every key of cargo-deb's CargoDeb struct (src/parse/manifest.rs, v3.7.0), kebab-case.
DEB_KEYS = (
    "name",
    "maintainer",
    "copyright",
    "license-file",
    "changelog",
    *parts.RELATION_KEYS,
    "extended-description",
    "extended-description-file",
    "section",
    "priority",
    "revision",
    "conf-files",
    "assets",
    "merge-assets",
    "triggers-file",
    "maintainer-scripts",
    "features",
    "default-features",
    "separate-debug-symbols",
    "dbgsym",
    "compress-debug-symbols",
    "preserve-symlinks",
    "systemd-units",
    "variants",
    "profile",
)
DEBFORGE_KEYS = ("build-depends", "crates", "toolchain-dist", "test", "lintian-overrides")
_CRATES: tuple[CratesSource, ...] = ("registry", "debian", "vendored")


def load_cargo_deb(
    path: Path,
    *,
    arch: str,
    reporter: Reporter,
    variant: str | None = None,
    package: str | None = None,
    overrides: Overrides | None = None,
) -> Recipe:
    """Read a Cargo project the way cargo-deb does (optionally one member, one variant, CLI overrides).

    `path` may be a workspace root: the member is chosen as cargo-deb chooses it (workspace.py).
    """
    overrides = overrides or Overrides()
    path = select_manifest(path, package)
    workspace = workspace_of(path)
    cargo = read_cargo_manifest(path, reporter)
    deb = _deb_table(cargo, reporter, variant)
    extra = Table(
        _mapping(cargo.metadata.get("debforge")),
        file=path,
        name="package.metadata.debforge",
        strict=True,
        reporter=reporter,
    )
    extra.check_keys(DEBFORGE_KEYS)
    base = cargo.dir
    default_name = debian_package_name(cargo.name) + (f"-{variant}" if variant else "")
    name = fields.package_name(deb, "name", deb.string("name") or default_name)
    upstream, revision = mangle_cargo_version(cargo.version), fields.revision(deb, "revision")
    package_t = Table({}, file=path, name="package", strict=False, reporter=reporter)
    fields.version(package_t, "version", upstream, revision)
    synopsis, extended = fields.cargo_deb_description(
        package_t, "description", _description(cargo, reporter), _extended(deb, cargo)
    )
    license_file, skip = parts.license_file(deb, "license-file", base)
    build = _build(deb, extra, cargo, arch)
    ctx = parts.AssetContext(
        source_dir=base,
        deb_name=name,
        bins=build.binaries,
        cdylibs=build.cdylibs,
        readme=cargo.readme,
        preserve_symlinks=deb.boolean("preserve-symlinks", False),
    )
    all_assets = parts.assets(deb, "assets", deb.raw("assets") or [AUTO], ctx)
    build = _only_named_targets(deb, build, all_assets, cargo, workspace)
    scripts_dir = _scripts_dir(deb, base)
    copyright_ = deb.string("copyright") or ", ".join(cargo.authors) or None
    if copyright_ is None:
        reporter.warning(
            f"{deb.where()} has no copyright and [package] no authors; the copyright file will lack holders"
        )
    recipe = Recipe(
        recipe_file=path,
        source_dir=workspace.root,  # cargo builds from the workspace root (Cargo.lock, path deps)
        name=name,
        version=upstream,
        revision=revision,
        maintainer=overrides.maintainer or _maintainer(deb, cargo),
        description=synopsis,
        extended_description=extended,
        section=fields.section(deb, "section", deb.string("section")),
        priority=fields.priority(deb, "priority", deb.string("priority")),
        homepage=cargo.homepage,
        license=cargo.license or (None if cargo.publish else "UNLICENSED"),
        license_file=license_file or cargo.license_file,
        license_file_skip=skip,
        copyright=copyright_,
        changelog=parts.existing_file(deb, "changelog", deb.string("changelog"), base),
        relations=parts.relation_fields(deb, arch),
        build=build,
        assets=all_assets,
        conffiles=parts.conffiles(deb, "conf-files", deb.strings("conf-files") or (), all_assets),
        scripts_dir=scripts_dir,
        scripts=parts.find_maintainer_scripts(scripts_dir),
        triggers_file=parts.existing_file(deb, "triggers-file", deb.string("triggers-file"), base),
        systemd=parts.systemd_units(deb, "systemd-units", name, base, scripts_dir),
        test=parts.smoke_spec(extra.table("test")),
        lintian_overrides=parts.parse_lintian_overrides(extra, "lintian-overrides"),
        preserve_symlinks=deb.boolean("preserve-symlinks", False),
        variant=variant,
    )
    return apply_overrides(recipe, overrides, reporter)


def _maintainer(deb: Table, cargo: CargoManifest) -> str:
    """cargo-deb's maintainer: the metadata's, else the first author, verbatim (a warning without email)."""
    value = deb.string("maintainer")
    if value is not None:
        return fields.maintainer(deb, "maintainer", value)
    if cargo.authors:
        where = f"'authors' in [package] of {display(cargo.path)}"
        return fields.lenient_maintainer(cargo.authors[0], where, deb.reporter)
    # cargo-deb 3.x then writes no Maintainer field at all; Policy 5.3 makes it mandatory, so debforge asks.
    raise RecipeError(
        f"{deb.where()} has no maintainer and [package] of {display(cargo.path)} no authors, "
        "and Debian Policy 5.3 requires a Maintainer field (cargo-deb would leave it out)",
        hint="set maintainer = 'Full Name <email>' there, or pass --maintainer",
    )


def _description(cargo: CargoManifest, reporter: Reporter) -> str:
    """[package] description, else cargo-deb's placeholder with a warning."""
    if cargo.description:
        return cargo.description
    reporter.warning(f"[package] of {display(cargo.path)} has no description; using cargo-deb's placeholder")
    return f"[generated from Rust crate {cargo.name}]"


def _scripts_dir(deb: Table, base: Path) -> Path | None:
    """`maintainer-scripts`, relative to the package; cargo-deb takes a missing directory as no scripts."""
    value = deb.string("maintainer-scripts")
    if value is None or (base / value).is_dir():
        return None if value is None else base / value
    deb.reporter.warning(
        f"{deb.ref('maintainer-scripts')}: directory '{value}' does not exist in {display(base)}; "
        "the package gets no maintainer scripts from it, as with cargo-deb"
    )
    return None


def _only_named_targets(
    deb: Table, build: CargoBuild, all_assets: tuple[Asset, ...], cargo: CargoManifest, workspace: Workspace
) -> CargoBuild:
    """Build only the binaries the assets name (cargo `--bin`), in whichever member builds each."""
    own = Member(manifest=cargo.path, name=cargo.name, bins=cargo.bins, cdylibs=cargo.cdylibs)
    bins: list[str] = []
    cdylibs: list[str] = []
    packages: list[str] = []
    extra: list[str] = []
    for asset in all_assets:
        if not isinstance(asset.source, BuiltSource):
            continue
        name = asset.source.name
        owner = own if name in own.artifacts() else workspace.owner(name)
        if owner is None:  # cargo-deb copies what a build script wrote there
            known = list(dict.fromkeys(a for m in (own, *workspace.members) for a in m.artifacts()))
            deb.reporter.info(
                f"{deb.ref('assets')}: 'target/release/{name}' is no bin or cdylib target "
                f"({', '.join(known) or 'none'}){suggest(name, known)}; a build script must write it"
            )
            extra.append(name)
            continue
        lib = next((lib for lib in owner.cdylibs if f"lib{lib}.so" == name), None)
        (cdylibs if lib else bins).append(lib or name)
        packages.append(owner.name)
    return dataclasses.replace(
        build,
        binaries=tuple(dict.fromkeys(bins)),
        cdylibs=tuple(dict.fromkeys(cdylibs)),
        packages=tuple(dict.fromkeys(packages)) if len(workspace.members) > 1 else (),
        extra_files=tuple(dict.fromkeys(extra)),
    )


def _mapping(value: object) -> Mapping[str, object]:
    """A TOML table or an empty one."""
    return value if isinstance(value, dict) else {}


def _deb_table(cargo: CargoManifest, reporter: Reporter, variant: str | None) -> Table:
    """[package.metadata.deb], with the selected variant merged over it (cargo-deb `inherit_from`)."""
    deb = Table(
        _mapping(cargo.metadata.get("deb")),
        file=cargo.path,
        name="package.metadata.deb",
        strict=False,
        reporter=reporter,
    )
    deb.check_keys(DEB_KEYS)
    if variant is None:
        return deb
    variants = deb.table("variants")
    chosen = variants.table(variant) if variants else None
    if chosen is None:
        known = ", ".join(variants.data) if variants else "none"
        raise deb.error("variants", f"there is no variant '{variant}' (variants: {known})")
    chosen.check_keys([k for k in DEB_KEYS if k != "variants"])
    merged = {k: v for k, v in deb.data.items() if k != "variants"}
    merged |= {k: v for k, v in chosen.data.items() if k != "merge-assets"}
    if "merge-assets" in chosen.data and "assets" in merged:
        merged["assets"] = _merge_assets(
            chosen.sub("merge-assets", _mapping(chosen.raw("merge-assets"))), merged["assets"]
        )
    return Table(merged, file=cargo.path, name=chosen.name, strict=False, reporter=reporter)


def _merge_assets(merge: Table, parent: object) -> list[object]:
    """`merge-assets`: `append` first, then `by.src`/`by.dest` replace the entries with the same key."""
    merge.check_keys(("append", "by"))
    result = [*_entries(parent), *_entries(merge.raw("append"))]
    by = merge.table("by")
    if by is not None:
        by.check_keys(("src", "dest"))
        for key, index in (("src", 0), ("dest", 1)):
            for entry in _entries(by.raw(key)):
                match = [
                    i for i, old in enumerate(result) if _asset_key(old, index) == _asset_key(entry, index)
                ]
                if match:
                    result[match[0]] = entry
                else:
                    result.append(entry)
    return result


def _entries(value: object) -> list[object]:
    """An asset list, or nothing."""
    return list(value) if isinstance(value, list) else []


def _asset_key(entry: object, index: int) -> object:
    """The source (0) or dest (1) of an asset entry in list or table form."""
    if isinstance(entry, list) and len(entry) > index:
        return entry[index]
    if isinstance(entry, dict):
        return entry.get(("source", "dest")[index])
    return None


def _extended(deb: Table, cargo: CargoManifest) -> str | None:
    """cargo-deb's order (PackageConfig::new): extended-description-file, extended-description, the readme."""
    text = deb.string("extended-description")
    file = parts.existing_file(
        deb, "extended-description-file", deb.string("extended-description-file"), cargo.dir
    )
    if text is not None and file is not None:
        deb.reporter.warning(
            f"{deb.where()} sets both extended-description and extended-description-file; "
            "using the file, as cargo-deb does"
        )
    if file is None and text is not None:
        return text
    chosen = file or cargo.readme
    return chosen.read_text(errors="replace") if chosen else None


def _build(deb: Table, extra: Table, cargo: CargoManifest, arch: str) -> CargoBuild:
    """Build settings: cargo-deb's features/profile/debug keys plus debforge's build-depends/crates."""
    crates = extra.string("crates") or "registry"
    chosen = next((c for c in _CRATES if c == crates), None)
    if chosen is None:
        raise extra.error("crates", f"'{crates}' is not a crates source ({', '.join(_CRATES)})")
    compress = deb.boolean("compress-debug-symbols", True) if deb.has("compress-debug-symbols") else None
    return CargoBuild(
        build_depends=parts.relations(extra, "build-depends", arch),
        features=deb.strings("features") or (),
        default_features=deb.boolean("default-features", True),
        crates=chosen,
        profile=deb.string("profile") or "release",
        binaries=cargo.bins,
        cdylibs=cargo.cdylibs,
        manifest=cargo.path,
        dbgsym=deb.boolean("dbgsym", False),
        separate_debug_symbols=deb.boolean("separate-debug-symbols", False),
        compress_debug_symbols=compress,
        min_rustc=cargo.min_rustc,
        toolchain_dist=fields.toolchain_dist(extra, "toolchain-dist"),
    )
