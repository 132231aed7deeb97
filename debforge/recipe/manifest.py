"""Facts from a Cargo.toml that packaging needs: package fields (workspace-inherited too), targets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from debforge.errors import RecipeError
from debforge.recipe.tomlfile import Table, display, read_toml
from debforge.report import Reporter

# [package] keys a member may take from [workspace.package] with `key.workspace = true`.
_INHERITABLE = (
    "version", "authors", "description", "license", "license-file", "readme", "homepage",
    "repository", "documentation", "publish", "edition", "rust-version",
)  # fmt: skip
_PATH_KEYS = ("license-file", "readme")  # relative to the manifest that defines them
_README_NAMES = ("README.md", "README.txt", "README")  # Cargo's readme auto-detection order
# The first stable rustc of each edition (the Rust Edition Guide): what an unset rust-version implies.
_EDITION_RUSTC = {"2015": "1.0", "2018": "1.31", "2021": "1.56", "2024": "1.85"}


@dataclass(frozen=True, slots=True, kw_only=True)
class CargoManifest:
    """The parts of a Cargo package manifest debforge uses."""

    path: Path
    name: str
    version: str
    authors: tuple[str, ...] = ()
    description: str | None = None
    license: str | None = None
    license_file: Path | None = None
    readme: Path | None = None
    homepage: str | None = None  # homepage, else documentation, else repository (cargo-deb)
    publish: bool = True
    bins: tuple[str, ...] = ()
    cdylibs: tuple[str, ...] = ()
    metadata: Mapping[str, object] = field(default_factory=dict)  # [package.metadata]
    min_rustc: str = "1.0"  # the oldest rustc that builds it: rust-version, else its edition's first

    @property
    def dir(self) -> Path:
        """The package's directory."""
        return self.path.parent


def read_cargo_manifest(path: Path, reporter: Reporter) -> CargoManifest:
    """Read a Cargo.toml, resolving `key.workspace = true` from the workspace root's [workspace.package]."""
    data = read_toml(path)
    root = Table(data, file=path, name="", strict=False, reporter=reporter)
    package = root.table("package")
    if package is None:
        raise RecipeError(
            f"{display(path)} has no [package] table",
            hint="a virtual workspace manifest cannot be packaged; point debforge at a member's directory",
        )
    values = {key: _inherited(package, key, path) for key in _INHERITABLE if package.has(key)}
    metadata = package.table("metadata")
    bins, cdylibs = targets(data, path, package.required("name"))
    return CargoManifest(
        path=path,
        name=package.required("name"),
        version=_string(values, "version", path) or "0.0.0",  # Cargo ≥ 1.75 defaults a missing version
        authors=_strings(values, "authors", path),
        description=_string(values, "description", path),
        license=_string(values, "license", path),
        license_file=_path(values, "license-file", path),
        readme=_readme(values, path),
        # cargo-deb's Homepage: homepage, else documentation, else repository (generate_control).
        homepage=_string(values, "homepage", path)
        or _string(values, "documentation", path)
        or _string(values, "repository", path),
        publish=values.get("publish", (True, path))[0] is not False,
        bins=bins,
        cdylibs=cdylibs,
        metadata=metadata.data if metadata else {},
        min_rustc=_min_rustc(values, path),
    )


def _min_rustc(values: dict[str, tuple[object, Path]], path: Path) -> str:
    """`rust-version` (Cargo's MSRV field), else the first rustc of the `edition` (2015 when unset)."""
    edition = _string(values, "edition", path) or "2015"
    if edition not in _EDITION_RUSTC:
        raise RecipeError(
            f"'edition' in [package] of {display(path)} is '{edition}', "
            f"not one of {', '.join(_EDITION_RUSTC)}"
        )
    return _string(values, "rust-version", path) or _EDITION_RUSTC[edition]


def _inherited(package: Table, key: str, path: Path) -> tuple[object, Path]:
    """A [package] value and the manifest it came from (this one, or the workspace root's)."""
    value = package.raw(key)
    if not (isinstance(value, dict) and value.get("workspace") is True):
        return value, path
    ws_path = _workspace_root(package, path)
    ws_package = read_toml(ws_path).get("workspace", {})
    inherited = ws_package.get("package", {}) if isinstance(ws_package, dict) else {}
    if not isinstance(inherited, dict) or key not in inherited:
        raise RecipeError(
            f"'{key}' in [package] of {display(path)} is inherited from the workspace, "
            f"but [workspace.package] of {display(ws_path)} does not set it"
        )
    return inherited[key], ws_path


def _workspace_root(package: Table, path: Path) -> Path:
    """The Cargo.toml with [workspace]: `package.workspace` if set, else the nearest parent."""
    explicit = package.string("workspace")
    candidates = [path.parent / explicit / "Cargo.toml"] if explicit else []
    candidates += [parent / "Cargo.toml" for parent in path.resolve().parents]
    for candidate in candidates:
        if candidate.is_file() and "workspace" in read_toml(candidate):
            return candidate
    raise RecipeError(f"{display(path)} inherits from a workspace, but no parent Cargo.toml has [workspace]")


def _string(values: dict[str, tuple[object, Path]], key: str, path: Path) -> str | None:
    """A string field, checked."""
    value, _ = values.get(key, (None, path))
    if value is not None and not isinstance(value, str):
        raise RecipeError(f"invalid '{key}' in [package] of {display(path)}: expected a string")
    return value


def _strings(values: dict[str, tuple[object, Path]], key: str, path: Path) -> tuple[str, ...]:
    """An array-of-strings field, checked."""
    value, _ = values.get(key, ([], path))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecipeError(f"invalid '{key}' in [package] of {display(path)}: expected an array of strings")
    return tuple(value)


def _path(values: dict[str, tuple[object, Path]], key: str, path: Path) -> Path | None:
    """A file path field, relative to the manifest that set it; it must exist."""
    value, origin = values.get(key, (None, path))
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecipeError(f"invalid '{key}' in [package] of {display(path)}: expected a path")
    file = origin.parent / value
    if not file.is_file():
        raise RecipeError(f"'{key}' in [package] of {display(origin)} names '{value}', which does not exist")
    return file


def _readme(values: dict[str, tuple[object, Path]], path: Path) -> Path | None:
    """`readme`: a path, `false` for none, or (absent or `true`) Cargo's auto-detected README."""
    value, origin = values.get("readme", (True, path))
    if value is False:
        return None
    if value is True:
        return next((origin.parent / n for n in _README_NAMES if (origin.parent / n).is_file()), None)
    return _path(values, "readme", path)


def targets(data: Mapping[str, object], path: Path, package: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Bin target names (explicit [[bin]] plus Cargo's auto-discovered ones) and cdylib names."""
    explicit = data.get("bin", [])
    explicit = explicit if isinstance(explicit, list) else []
    bins: dict[str, str] = {}  # name → source path, to drop auto targets an explicit one replaces
    for entry in explicit:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            default = "src/main.rs" if entry["name"] == package else f"src/bin/{entry['name']}.rs"
            bins[entry["name"]] = str(entry.get("path", default))
    package_table = data.get("package", {})
    autobins = not (isinstance(package_table, dict) and package_table.get("autobins") is False)
    if autobins:
        for name, source in _auto_bins(path.parent, package):
            if name not in bins and source not in bins.values():
                bins[name] = source
    lib = data.get("lib", {})
    cdylibs: tuple[str, ...] = ()
    if isinstance(lib, dict) and "cdylib" in lib.get("crate-type", []):
        cdylibs = (str(lib.get("name", package.replace("-", "_"))),)
    return tuple(bins), cdylibs


def _auto_bins(root: Path, package: str) -> list[tuple[str, str]]:
    """Cargo's target auto-discovery: src/main.rs, src/bin/*.rs, src/bin/*/main.rs."""
    found = [(package, "src/main.rs")] if (root / "src/main.rs").is_file() else []
    bin_dir = root / "src/bin"
    if bin_dir.is_dir():
        for entry in sorted(bin_dir.iterdir()):
            if entry.suffix == ".rs" and entry.is_file():
                found.append((entry.stem, f"src/bin/{entry.name}"))
            elif (entry / "main.rs").is_file():
                found.append((entry.name, f"src/bin/{entry.name}/main.rs"))
    return found
