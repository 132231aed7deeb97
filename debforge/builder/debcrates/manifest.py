"""A Cargo project's crates.io dependencies, read from its Cargo.toml files as cargo resolves them.

The walk starts at the built packages (the manifest's own package, the `-p` members, or every
member of a virtual workspace) with the selected features, follows path dependencies into their
Cargo.toml with the features asked of them, and reports each crates.io dependency once per place
it is named: whether the build compiles it (a normal or build dependency on a matching platform,
not optional or enabled by a feature) or cargo only needs it to write Cargo.lock (dev-dependencies,
other platforms, optional ones left off: cargo's lock covers every feature and target of the
workspace members).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from debforge.builder.debcrates.cfg import platform_matches
from debforge.errors import BuildError

Kind = Literal["normal", "build", "dev"]
_TABLES: tuple[tuple[str, Kind], ...] = (
    ("dependencies", "normal"), ("build-dependencies", "build"), ("dev-dependencies", "dev"),
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Need:
    """One crates.io dependency as a Cargo.toml names it."""

    crate: str  # its name on crates.io (`package = ...` of a renamed dependency)
    key: str  # the name it has in the table (the rename, else the crate)
    requirement: str
    features: tuple[str, ...] = ()
    default_features: bool = True
    kind: Kind = "normal"
    built: bool = True  # False: cargo only resolves it for Cargo.lock
    manifest: Path
    table: tuple[str, ...]  # where it is in the TOML: ("target", KEY, "dev-dependencies")

    @property
    def why(self) -> str:
        """How the dependency is named, for messages: `clap (dependencies of Cargo.toml)`."""
        return f"{'.'.join(self.table)} of {self.manifest}"


@dataclass(slots=True)
class _Local:
    """A package of the project during the walk: its manifest and the features asked of it."""

    manifest: Path
    data: dict[str, Any]
    features: set[str] = field(default_factory=set)
    default: bool = False


def read_needs(
    manifest: Path,
    *,
    features: tuple[str, ...] = (),
    default_features: bool = True,
    all_features: bool = False,
    packages: tuple[str, ...] = (),
    target: str,
    host: str,
) -> tuple[Need, ...]:
    """Every crates.io dependency of the project at `manifest`, built or only locked, for `target`."""
    root = _load(manifest)
    workspace = root.get("workspace", {})
    locals_ = {p: _Local(p, _load(p)) for p in _members(manifest, root)}
    todo = _start(locals_, manifest, root, packages)
    for local in todo:
        local.default = local.default or default_features
        local.features |= set(_all_features(local) if all_features else features)
    found: dict[tuple[Path, tuple[str, ...], str], Need] = {}
    seen: set[tuple[Path, frozenset[str], bool]] = set()
    while todo:
        local = todo.pop()
        state = (local.manifest, frozenset(local.features), local.default)
        if state in seen:
            continue
        seen.add(state)
        for need, path in _deps(local, workspace, target=target, host=host):
            if path is None:
                old = found.get((need.manifest, need.table, need.key))
                found[(need.manifest, need.table, need.key)] = _merge(old, need)
            elif need.built:
                child = locals_.setdefault(path, _Local(path, _load(path)))
                child.features |= set(need.features)
                child.default = child.default or need.default_features
                todo.append(child)
    return tuple(found[k] for k in sorted(found, key=lambda k: (str(k[0]), k[1], k[2])))


def _merge(old: Need | None, new: Need) -> Need:
    if old is None:
        return new
    features = tuple(sorted({*old.features, *new.features}))
    return Need(
        crate=new.crate, key=new.key, requirement=new.requirement, features=features,
        default_features=old.default_features or new.default_features, kind=new.kind,
        built=old.built or new.built, manifest=new.manifest, table=new.table,
    )  # fmt: skip


def _load(manifest: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(manifest.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"cannot read {manifest}: {exc}") from exc


def _members(manifest: Path, root: Mapping[str, Any]) -> list[Path]:
    """The workspace members' manifests (globs expanded, `exclude` honoured), the root's package first."""
    base = manifest.parent
    found = [manifest] if "package" in root else []
    workspace = root.get("workspace", {})
    excluded = {(base / e).resolve() for e in workspace.get("exclude", [])}
    for pattern in workspace.get("members", []):
        for path in sorted(base.glob(pattern)):
            member = path / "Cargo.toml"
            if member.is_file() and member.parent.resolve() not in excluded and member != manifest:
                found.append(member)
    return found


def _start(
    locals_: dict[Path, _Local], manifest: Path, root: Mapping[str, Any], packages: tuple[str, ...]
) -> list[_Local]:
    """The packages `cargo build` builds: `-p` ones, else the root package, else every member."""
    if packages:
        chosen = [lo for lo in locals_.values() if lo.data.get("package", {}).get("name") in packages]
        return chosen
    return [locals_[manifest]] if "package" in root else list(locals_.values())


def _all_features(local: _Local) -> list[str]:
    table = local.data.get("features", {})
    optional = [name for name, _ in _plain_deps(local.data) if _is_optional(local.data, name)]
    return [*table, *optional]


def _plain_deps(data: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    yield from data.get("dependencies", {}).items()
    for table in data.get("target", {}).values():
        yield from table.get("dependencies", {}).items()


def _is_optional(data: Mapping[str, Any], key: str) -> bool:
    return any(k == key and isinstance(v, dict) and v.get("optional") for k, v in _plain_deps(data))


def _enabled(local: _Local) -> tuple[set[str], dict[str, set[str]]]:
    """The optional dependencies the features turn on, and the features they ask of each dependency."""
    table: dict[str, list[str]] = local.data.get("features", {})
    wanted = set(local.features) | ({"default"} if local.default and "default" in table else set())
    deps: set[str] = set()
    asked: dict[str, set[str]] = {}
    stack, done = list(wanted), set()
    while stack:
        feature = stack.pop()
        if feature in done:
            continue
        done.add(feature)
        if feature not in table and _is_optional(local.data, feature):
            deps.add(feature)  # an optional dependency's implicit feature
        for item in table.get(feature, []):
            name, _, sub = item.removeprefix("dep:").partition("/")
            if "/" in item:  # `dep/feat` turns the dependency on, `dep?/feat` only asks
                asked.setdefault(name.rstrip("?"), set()).add(sub)
                if not name.endswith("?") and _is_optional(local.data, name):
                    deps.add(name)
            elif item.startswith("dep:"):
                deps.add(name)
            else:
                stack.append(item)
    return deps, asked


@dataclass(frozen=True, slots=True, kw_only=True)
class _Table:
    """One dependency table of a package: where it is, its kind, whether its platform is the build's."""

    where: tuple[str, ...]
    kind: Kind
    matches: bool


def _deps(
    local: _Local, workspace: Mapping[str, Any], *, target: str, host: str
) -> Iterator[tuple[Need, Path | None]]:
    """Each dependency of one package as a Need; for a path dependency also its manifest."""
    enabled, asked = _enabled(local)
    tables = [
        (_Table(where=(name,), kind=kind, matches=True), local.data.get(name, {})) for name, kind in _TABLES
    ]
    for key, platform in local.data.get("target", {}).items():
        for name, kind in _TABLES:
            # build-dependencies run on the host (cargo reference, "Platform specific dependencies")
            matches = platform_matches(key, host if kind == "build" else target)
            tables.append(
                (_Table(where=("target", key, name), kind=kind, matches=matches), platform.get(name, {}))
            )
    for table, deps in tables:
        for key, entry in deps.items():
            spec = _spec(workspace, key, entry)
            need, path = _need(local, key, spec, table)
            built = need.built and (not spec.get("optional") or key in enabled)
            features = tuple(sorted({*need.features, *asked.get(key, set())}))
            yield replace(need, built=built, features=features), path


def _spec(workspace: Mapping[str, Any], key: str, entry: Any) -> dict[str, Any]:
    """A dependency's table, with `dep.workspace = true` filled in from [workspace.dependencies]."""
    spec: dict[str, Any] = {"version": entry} if isinstance(entry, str) else dict(entry)
    if spec.get("workspace"):
        inherited = workspace.get("dependencies", {}).get(key, {})
        inherited = {"version": inherited} if isinstance(inherited, str) else inherited
        features = [*inherited.get("features", []), *spec.get("features", [])]
        spec = {**inherited, **spec, "features": features}
    return spec


def _need(local: _Local, key: str, spec: Mapping[str, Any], table: _Table) -> tuple[Need, Path | None]:
    """The Need of one dependency (built unless dev or another platform's); a path dependency's manifest."""
    need = Need(
        crate=spec.get("package", key), key=key, requirement=str(spec.get("version", "*")),
        features=tuple(sorted(spec.get("features", []))),
        default_features=spec.get("default-features", spec.get("default_features", True)),
        kind=table.kind, built=table.kind != "dev" and table.matches, manifest=local.manifest,
        table=table.where,
    )  # fmt: skip
    path = spec.get("path")
    return need, (local.manifest.parent / path / "Cargo.toml").resolve() if path else None
