"""Cargo workspaces as cargo-deb sees them: which member to package, and who builds which binary.

cargo-deb packages one member. Given a virtual workspace root it takes (1) the single
`default-members` entry, (2) else the root's own package, (3) else the only member with
`[package.metadata.deb]`, (4) else it asks for `-p`. Assets may name a binary that another member
builds; the build then selects that member too (cargo's `-p`), so the project is built from the
workspace root, where Cargo.lock and the shared `[workspace.package]` live.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from debforge.errors import RecipeError
from debforge.recipe.manifest import targets
from debforge.recipe.tomlfile import display, read_toml


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """One package of a workspace: its manifest, name and build targets."""

    manifest: Path
    name: str
    bins: tuple[str, ...] = ()
    cdylibs: tuple[str, ...] = ()
    has_deb: bool = False  # it has [package.metadata.deb]

    def artifacts(self) -> tuple[str, ...]:
        """The files its targets build: bin names and `lib<name>.so`."""
        return (*self.bins, *(f"lib{lib}.so" for lib in self.cdylibs))


@dataclass(frozen=True, slots=True, kw_only=True)
class Workspace:
    """The workspace a package builds in (a package alone is a workspace of one)."""

    root: Path  # the directory cargo builds from: the workspace root, or the package's own directory
    members: tuple[Member, ...]

    def owner(self, artifact: str) -> Member | None:
        """The member that builds `artifact` (a bin name or `lib<name>.so`), if any."""
        return next((member for member in self.members if artifact in member.artifacts()), None)


def select_manifest(manifest: Path, package: str | None) -> Path:
    """The Cargo.toml of the package to build: `-p NAME`, or cargo-deb's choice for a workspace root."""
    data = read_toml(manifest)
    own = _package_name(data)
    if package is not None and own == package:
        return manifest
    ws_manifest = manifest if "workspace" in data else _root_manifest(manifest)
    members = _members(ws_manifest) if ws_manifest else ()
    if package is not None:
        found = next((m for m in members if m.name == package), None)
        if found is None:
            known = ", ".join(m.name for m in members) or own or "none"
            raise RecipeError(
                f"-p {package}: there is no package of that name in {display(manifest)} (packages: {known})"
            )
        return found.manifest
    if own is not None and "workspace" not in data:
        return manifest
    return _default_member(manifest, data, members)


def _default_member(manifest: Path, data: Mapping[str, object], members: tuple[Member, ...]) -> Path:
    """cargo-deb's choice at a workspace root: default-members, the root package, the one with metadata."""
    workspace = data.get("workspace")
    defaults = workspace.get("default-members", []) if isinstance(workspace, dict) else []
    if isinstance(defaults, list) and len(defaults) == 1 and isinstance(defaults[0], str):
        chosen = manifest.parent / defaults[0] / "Cargo.toml"
        if chosen.is_file():
            return chosen
    if _package_name(data) is not None:
        return manifest
    with_deb = [m for m in members if m.has_deb]
    if len(with_deb) == 1:
        return with_deb[0].manifest
    names = ", ".join(m.name for m in (with_deb or members)) or "none"
    raise RecipeError(
        f"{display(manifest)} is a workspace with several packages ({names}); say which one to package",
        hint="pass -p NAME (cargo-deb's --package), or set a single workspace.default-members entry",
    )


def workspace_of(manifest: Path) -> Workspace:
    """The workspace `manifest` belongs to, with every member's targets."""
    root = _root_manifest(manifest)
    if root is not None:
        members = _members(root)
        if any(m.manifest.resolve() == manifest.resolve() for m in members):
            return Workspace(root=root.parent, members=members)
    member = _member(manifest)
    return Workspace(root=manifest.parent, members=(member,) if member else ())


def _root_manifest(manifest: Path) -> Path | None:
    """The nearest Cargo.toml at or above `manifest`'s directory that has [workspace]."""
    for parent in (manifest.parent.absolute(), *manifest.parent.absolute().parents):
        candidate = parent / "Cargo.toml"
        if candidate.is_file() and "workspace" in read_toml(candidate):
            return candidate
    return None


def _members(root: Path) -> tuple[Member, ...]:
    """The root package (if any) and every `members` glob match not in `exclude`, as Cargo expands them."""
    workspace = read_toml(root).get("workspace")
    table = workspace if isinstance(workspace, dict) else {}
    excluded = {(root.parent / e).resolve() for e in _strings(table.get("exclude"))}
    dirs = [root.parent]
    for pattern in _strings(table.get("members")):
        dirs += sorted(p for p in root.parent.glob(pattern) if (p / "Cargo.toml").is_file())
    found: dict[Path, Member] = {}
    for directory in dirs:
        if directory.resolve() in excluded or directory.resolve() in found:
            continue
        member = _member(directory / "Cargo.toml")
        if member is not None:
            found[directory.resolve()] = member
    return tuple(found.values())


def _member(manifest: Path) -> Member | None:
    data = read_toml(manifest)
    name = _package_name(data)
    if name is None:
        return None
    bins, cdylibs = targets(data, manifest, name)
    package = data.get("package")
    metadata = package.get("metadata") if isinstance(package, dict) else None
    has_deb = isinstance(metadata, dict) and "deb" in metadata
    return Member(manifest=manifest, name=name, bins=bins, cdylibs=cdylibs, has_deb=has_deb)


def _package_name(data: Mapping[str, object]) -> str | None:
    package = data.get("package")
    name = package.get("name") if isinstance(package, dict) else None
    return name if isinstance(name, str) else None


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
