"""Recipe parts shared by debforge.toml and cargo-deb metadata: relations, assets, scripts, units."""

from __future__ import annotations

import dataclasses
import itertools
import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from debforge.errors import RecipeError
from debforge.recipe.debian import AUTO, parse_relation_group, split_relation_field, suggest
from debforge.recipe.model import (
    INSTALL,
    SCRIPT_NAMES,
    Asset,
    BuildSpec,
    BuiltSource,
    FileSource,
    InstallTree,
    LinkSource,
    LintianOverride,
    MaintainerScript,
    RelationFields,
    SmokeSpec,
    SystemdUnits,
    UnitFile,
)
from debforge.recipe.tomlfile import Table, display

RELATION_KEYS = (
    "depends",
    "pre-depends",
    "recommends",
    "suggests",
    "enhances",
    "conflicts",
    "breaks",
    "replaces",
    "provides",
)
UNIT_KEYS = ("unit-scripts", "unit-name", "enable", "start", "restart-after-upgrade", "stop-on-upgrade")
# dh_installsystemd's unit suffixes; tmpfiles go to tmpfiles.d (cargo-deb systemd.md).
_UNIT_SUFFIXES = ("mount", "path", "service", "socket", "target", "timer", "tmpfile")
_GLOB_CHARS = frozenset("*?[")


def relations(table: Table, key: str, arch: str, *, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A relation field (string or array) as AND-groups filtered for `arch`; `$auto` kept in depends."""
    values = table.strings(key, allow_string=True)
    if values is None:
        return default
    groups: list[str] = []
    for value in values:
        for group in split_relation_field(value):
            if group == AUTO:
                if key != "depends":
                    raise table.error(key, f"'{AUTO}' is only allowed in depends")
                groups.append(AUTO)
                continue
            try:
                kept = parse_relation_group(group, arch)
            except ValueError as exc:
                raise table.error(key, str(exc)) from None
            if kept is not None:
                groups.append(kept)
    return tuple(dict.fromkeys(groups))


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetContext:
    """What asset parsing needs to know about the project."""

    source_dir: Path
    deb_name: str
    bins: tuple[str, ...]
    cdylibs: tuple[str, ...] = ()
    readme: Path | None = None
    preserve_symlinks: bool = False  # cargo-deb: keep a symlink source as a link instead of copying


def auto_assets(ctx: AssetContext) -> list[Asset]:
    """cargo-deb's `$auto`: bins to usr/bin (0755), cdylibs to usr/lib (0644), the readme to the doc dir."""
    out = [Asset(source=BuiltSource(name=b), dest=PurePosixPath("/usr/bin", b), mode=0o755) for b in ctx.bins]
    for lib in ctx.cdylibs:
        source = BuiltSource(name=f"lib{lib}.so")
        out.append(Asset(source=source, dest=PurePosixPath("/usr/lib", f"lib{lib}.so"), mode=0o644))
    if ctx.readme is not None:
        dest = PurePosixPath("/usr/share/doc", ctx.deb_name, ctx.readme.name)
        out.append(Asset(source=FileSource(path=ctx.readme), dest=dest, mode=0o644))
    return out


def assets(table: Table, key: str, entries: object, ctx: AssetContext) -> tuple[Asset, ...]:
    """Parse an asset list (cargo-deb arrays, tables, `$auto`); duplicate dests: first wins."""
    if not isinstance(entries, list):
        raise table.error(key, "expected an array of assets")
    found: dict[PurePosixPath, Asset] = {}
    for entry in entries:
        for asset in _entry_assets(table, key, entry, ctx):
            if asset.dest in found:
                table.reporter.warning(
                    f"{table.ref(key)}: {asset.dest} is listed twice; the first one is used"
                )
                continue
            found[asset.dest] = asset
    return tuple(found.values())


def _entry_assets(table: Table, key: str, entry: object, ctx: AssetContext) -> list[Asset]:
    """The assets of one entry: `"$auto"`, `[src, dest, mode?]` or `{source, dest, mode?}`."""
    if entry == AUTO:
        return auto_assets(ctx)
    if entry == INSTALL:  # a C/C++ build's staging tree, file by file at its own path
        return [Asset(source=InstallTree(), dest=PurePosixPath("/"))]
    if isinstance(entry, list) and 2 <= len(entry) <= 3 and all(isinstance(v, str | int) for v in entry):  # noqa: PLR2004  # [src, dest] or [src, dest, mode]
        source, dest, mode = (*entry, None) if len(entry) == 2 else entry  # noqa: PLR2004  # same forms
    elif isinstance(entry, dict) and {"source", "dest"} <= entry.keys():
        unknown = entry.keys() - {"source", "dest", "mode", "preserve-symlinks"}
        if unknown:
            raise table.error(key, f"unknown asset key '{sorted(unknown)[0]}' (source, dest, mode)")
        source, dest, mode = entry["source"], entry["dest"], entry.get("mode")
        preserve = entry.get("preserve-symlinks", ctx.preserve_symlinks)
        if not isinstance(preserve, bool):
            raise table.error(key, f"preserve-symlinks of {entry!r} must be true or false")
        ctx = dataclasses.replace(ctx, preserve_symlinks=preserve)
    else:
        raise table.error(
            key, f"{entry!r} is not an asset: use [source, dest, mode] or {{source, dest, mode}}"
        )
    if not isinstance(source, str) or not isinstance(dest, str):
        raise table.error(key, f"source and dest of {entry!r} must be strings")
    return _expand(table, key, source=source, dest=dest, mode=_mode(table, key, mode), ctx=ctx)


def _mode(table: Table, key: str, mode: object) -> int | None:
    """An octal mode string ("755") or a TOML integer (0o755)."""
    if mode is None or (isinstance(mode, int) and not isinstance(mode, bool)):
        return mode
    try:
        value = int(str(mode), 8)
    except ValueError:
        raise table.error(key, f'mode {mode!r} is not an octal number such as "644"') from None
    if not 0 <= value <= 0o7777:  # noqa: PLR2004  # the permission bits only
        raise table.error(key, f"mode {mode!r} is out of range")
    return value


def _dest(table: Table, key: str, dest: str, name: str) -> PurePosixPath:
    """Absolute dest; a trailing `/` means "into this directory, keeping the file name"."""
    path = PurePosixPath("/", dest)
    if ".." in path.parts:
        raise table.error(key, f"dest '{dest}' must not contain '..'")
    return path / name if dest.endswith("/") else path


def _expand(
    table: Table, key: str, *, source: str, dest: str, mode: int | None, ctx: AssetContext
) -> list[Asset]:
    """Resolve one source: a build artifact, a file, or a glob of files."""
    if source.startswith("target/"):
        name = _built_name(table, key, source)
        built = BuiltSource(name=name)
        return [Asset(source=built, dest=_dest(table, key, dest, name), mode=mode)]
    if not _GLOB_CHARS & set(source):
        path = ctx.source_dir / source
        if ctx.preserve_symlinks and path.is_symlink():
            return [_link(_dest(table, key, dest, path.name), path)]
        if not path.is_file():
            where = display(ctx.source_dir)
            raise RecipeError(
                f"asset source '{source}' of {table.ref(key)} does not exist (looked in {where})"
            )
        return [Asset(source=FileSource(path=path), dest=_dest(table, key, dest, path.name), mode=mode)]
    if Path(source).is_absolute():
        raise table.error(key, f"the glob '{source}' must be relative to the project")
    matches = ctx.source_dir.glob(source)
    files = sorted(p.relative_to(ctx.source_dir) for p in matches if _globbed(p, ctx.preserve_symlinks))
    if not files:
        where = display(ctx.source_dir)
        raise RecipeError(f"asset source '{source}' of {table.ref(key)} matches no file (looked in {where})")
    base = Path(*itertools.takewhile(lambda part: not _GLOB_CHARS & set(part), Path(source).parts))
    into = dest if dest.endswith("/") else f"{dest}/"  # cargo-deb: a glob's dest is always a directory
    out = []
    for rel in files:
        # cargo-deb keeps the path below the glob's fixed prefix, so `doc/**/*.md` keeps subdirs.
        below = rel.relative_to(base) if rel.is_relative_to(base) else Path(rel.name)
        target = _dest(table, key, into, below.as_posix())
        path = ctx.source_dir / rel
        if ctx.preserve_symlinks and path.is_symlink():
            out.append(_link(target, path))
        else:
            out.append(Asset(source=FileSource(path=path), dest=target, mode=mode))
    return out


def _globbed(path: Path, preserve_symlinks: bool) -> bool:
    """A glob match that is an asset: a file, or with preserve-symlinks any symlink (even dangling)."""
    return path.is_file() or (preserve_symlinks and path.is_symlink())


def _link(dest: PurePosixPath, path: Path) -> Asset:
    """A symlink asset, its target in Debian's form."""
    return Asset(source=LinkSource(target=link_target(dest, str(path.readlink()))), dest=dest)


def link_target(dest: PurePosixPath, target: str) -> str:
    """Policy 10.5: a link within one top-level directory is relative, across top-level dirs absolute.

    >>> link_target(PurePosixPath("/usr/bin/foo"), "/usr/lib/foo/foo")
    '../lib/foo/foo'
    >>> link_target(PurePosixPath("/usr/bin/foo"), "../../etc/foo.conf")
    '/etc/foo.conf'
    """
    absolute = posixpath.normpath(posixpath.join(str(dest.parent), target))
    if PurePosixPath(absolute).parts[1:2] == dest.parts[1:2]:
        return posixpath.relpath(absolute, str(dest.parent))
    return absolute


def _built_name(table: Table, key: str, source: str) -> str:
    """The artifact name in `target/<profile>/<name>`, refusing what cargo-deb refuses."""
    parts = source.split("/")
    if len(parts) >= 4 and parts[2] in ("release", "debug"):  # noqa: PLR2004  # target/<triple>/<profile>/x
        raise table.error(
            key, f"'{source}' hardcodes a cross-compilation path; write target/release/{'/'.join(parts[3:])}"
        )
    if len(parts) != 3 or not parts[2] or _GLOB_CHARS & set(parts[2]):  # noqa: PLR2004  # target/<profile>/<name>
        raise table.error(key, f"'{source}' must name one build artifact, as target/release/<name>")
    if parts[1] == "debug":
        raise table.error(key, f"'{source}' is a development build; package target/release/{parts[2]}")
    return parts[2]


def conffiles(
    table: Table, key: str, extra: tuple[str, ...], all_assets: tuple[Asset, ...]
) -> tuple[PurePosixPath, ...]:
    """Every asset under /etc (as debhelper's dh_installdeb does) plus `extra`, which must be assets."""
    dests = {a.dest for a in all_assets}
    found = [a.dest for a in all_assets if a.dest.parts[1:2] == ("etc",)]
    for item in extra:
        path = PurePosixPath("/", item)
        if path not in dests:
            raise table.error(key, f"conffile {path} is not installed by any asset")
        found.append(path)
    return tuple(dict.fromkeys(found))


def directory(table: Table, key: str, value: str | None, base: Path) -> Path | None:
    """An existing directory named relative to `base`."""
    if value is None:
        return None
    path = base / value
    if not path.is_dir():
        raise table.error(key, f"directory '{value}' does not exist in {display(base)}")
    return path


def existing_file(table: Table, key: str, value: str | None, base: Path) -> Path | None:
    """An existing file named relative to `base`."""
    if value is None:
        return None
    path = base / value
    if not path.is_file():
        raise table.error(key, f"file '{value}' does not exist in {display(base)}")
    return path


def find_maintainer_scripts(scripts_dir: Path | None) -> tuple[MaintainerScript, ...]:
    """The maintainer scripts present in the directory; `#DEBHELPER#` marks where snippets go."""
    if scripts_dir is None:
        return ()
    out = []
    for name in SCRIPT_NAMES:
        path = scripts_dir / name
        if path.is_file():
            debhelper = "#DEBHELPER#" in path.read_text(errors="replace")
            out.append(MaintainerScript(name=name, path=path, debhelper=debhelper))
    return tuple(out)


def systemd_units(
    table: Table, key: str, package: str, base: Path, scripts_dir: Path | None
) -> tuple[SystemdUnits, ...]:
    """Each `systemd-units` entry with its unit files found the dh_installsystemd way."""
    out = []
    for entry in table.tables(key):
        entry.check_keys(UNIT_KEYS)
        unit_dir = directory(entry, "unit-scripts", entry.string("unit-scripts"), base) or scripts_dir
        if unit_dir is None:  # cargo-deb's last resort is a systemd/ directory
            unit_dir = directory(entry, "unit-scripts", "systemd", base) or base / "systemd"
        unit_name = entry.string("unit-name")
        files = _unit_files(unit_dir, package, unit_name)
        if not files:
            wanted = unit_name or package
            raise entry.error(
                "unit-scripts", f"no unit file for '{wanted}' (e.g. {wanted}.service) in {display(unit_dir)}"
            )
        out.append(
            SystemdUnits(
                unit_scripts=unit_dir,
                unit_name=unit_name,
                files=files,
                enable=entry.boolean("enable", True),
                start=entry.boolean("start", True),
                restart_after_upgrade=entry.boolean("restart-after-upgrade", True),
                stop_on_upgrade=entry.boolean("stop-on-upgrade", True),
            )
        )
    return tuple(out)


def _unit_files(unit_dir: Path, package: str, unit_name: str | None) -> tuple[UnitFile, ...]:
    """dh_lib pkgfile naming: `<package>.<unit>.<suffix>` or `<unit>.<suffix>`; `@` templates too."""
    unit = unit_name or package
    found: list[UnitFile] = []
    for suffix in _UNIT_SUFFIXES:
        for stem in (unit, f"{unit}@"):
            names = [f"{package}.{stem}.{suffix}", f"{stem}.{suffix}"] if unit_name else [f"{stem}.{suffix}"]
            path = next((unit_dir / n for n in names if (unit_dir / n).is_file()), None)
            if path is None:
                continue
            if suffix == "tmpfile":
                dest = PurePosixPath("/usr/lib/tmpfiles.d", f"{stem}.conf")
            else:
                dest = PurePosixPath("/usr/lib/systemd/system", f"{stem}.{suffix}")
            found.append(UnitFile(source=path, dest=dest))
    sysusers = unit_dir / f"{package}.sysusers"
    if sysusers.is_file():
        found.append(UnitFile(source=sysusers, dest=PurePosixPath("/usr/lib/sysusers.d", f"{package}.conf")))
    return tuple(found)


def license_file(table: Table, key: str, base: Path) -> tuple[Path | None, int]:
    """cargo-deb's license-file: a path, or `[path, "N"]` with N lines to skip at the top."""
    value = table.raw(key)
    if value is None:
        return None, 0
    skip: object = 0
    if isinstance(value, list) and len(value) in (1, 2):
        value, skip = (value[0], value[1] if len(value) == 2 else 0)  # noqa: PLR2004  # [path, skip]
    if not isinstance(value, str) or not str(skip).isdigit():
        raise table.error(key, 'expected a path or [path, "lines to skip"]')
    return existing_file(table, key, value, base), int(str(skip))


def check_built(table: Table, key: str, all_assets: tuple[Asset, ...], build: BuildSpec) -> None:
    """Every built asset must name something the build produces (a bin target or a cdylib)."""
    known = (*build.binaries, *(f"lib{lib}.so" for lib in build.cdylibs))
    for asset in all_assets:
        if isinstance(asset.source, BuiltSource) and (name := asset.source.name) not in known:
            what = f"it builds {', '.join(known) or 'nothing'}"
            hint = suggest(name, known)
            raise table.error(key, f"'target/release/{name}' is not built by this project ({what}){hint}")


def relation_fields(table: Table, arch: str) -> RelationFields:
    """All relation fields of a table; depends defaults to `["$auto"]`, as in cargo-deb."""
    get = {key: relations(table, key, arch) for key in RELATION_KEYS}
    return RelationFields(
        depends=relations(table, "depends", arch, default=(AUTO,)),
        pre_depends=get["pre-depends"],
        recommends=get["recommends"],
        suggests=get["suggests"],
        enhances=get["enhances"],
        conflicts=get["conflicts"],
        breaks=get["breaks"],
        replaces=get["replaces"],
        provides=get["provides"],
    )


def smoke_spec(table: Table | None) -> SmokeSpec | None:
    """A `{run, expect}` table: a command and the substring its stdout must contain."""
    if table is None:
        return None
    table.check_keys(("run", "expect"))
    return SmokeSpec(run=table.required("run"), expect=table.string("expect"))


def parse_lintian_overrides(table: Table, key: str) -> tuple[LintianOverride, ...]:
    """`[{tag, reason}, ...]`, each reason one line (lintian-clean means every override is explained)."""
    out = []
    for entry in table.tables(key):
        entry.check_keys(("tag", "reason"))
        tag, reason = entry.required("tag"), entry.required("reason").strip()
        if "\n" in reason:
            raise entry.error("reason", f"the reason for '{tag}' must be one line")
        out.append(LintianOverride(tag=tag.strip(), reason=reason))
    return tuple(out)
