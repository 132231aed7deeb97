"""The project as the build sees it with Debian's crates: a copy whose Cargo.toml files leave out the
dependencies Debian lacks and cargo never compiles, and whose Cargo.lock cargo writes anew.

Debian ships one version of most crates, so an upstream Cargo.lock pins versions Debian does not
have; dh-cargo removes it and lets cargo resolve against /usr/share/cargo/registry, and debcargo
drops the dev-dependencies Debian lacks. The copy keeps files' mtimes, so a warm build is a no-op for
cargo, and the user's tree is never written to.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from debforge.builder.debcrates.manifest import Need
from debforge.cache import atomic_write_bytes

_SKIP = frozenset({"target", ".git", ".hg", ".svn"})
LOCK_STAMP = ".debforge-lock-for"  # beside the copy: which crate set the copy's Cargo.lock was made with


def prepare_source(
    source: Path,
    dest: Path,
    drop: Iterable[Need],
    *,
    crate_set: str,
    features: Iterable[tuple[Path, str, str]] = (),
) -> Path:
    """Sync `source` into `dest` (mtimes kept), rewrite manifests without `drop` (and the feature items
    naming them) and without the (manifest, feature, item) `features`, reset a stale lock."""
    keys: dict[Path, list[Need]] = {}
    for need in drop:
        keys.setdefault(need.manifest, []).append(need)
    items: dict[Path, set[tuple[str, str]]] = {}
    for manifest, feature, item in features:
        items.setdefault(manifest, set()).add((feature, item))
    dest.mkdir(parents=True, exist_ok=True)
    # The rewritten manifests are not synced: rewriting one unchanged keeps its mtime, so cargo's
    # fingerprint (the package's newest mtime) sees no change on a warm build.
    _sync(source, dest, rewritten={m.relative_to(source) for m in {*keys, *items}})
    for manifest in sorted({*keys, *items}):
        data = tomllib.loads(manifest.read_text())
        gone = {need.key for need in keys.get(manifest, [])}
        for need in keys.get(manifest, []):
            _table(data, need.table).pop(need.key, None)
        for feature, entries in data.get("features", {}).items():
            entries[:] = [
                e for e in entries if (feature, e) not in items.get(manifest, set()) and _dep(e) not in gone
            ]
        text = "# debforge: Debian lacks the dependencies and features left out here\n" + dumps(data)
        _write_if_changed(dest / manifest.relative_to(source), text)
    stamp = dest.parent / LOCK_STAMP
    if not stamp.is_file() or stamp.read_text() != crate_set:
        # A lock made against another crate set (or upstream's) pins what may be gone: cargo starts anew.
        for lock in dest.rglob("Cargo.lock"):
            lock.unlink()
        atomic_write_bytes(stamp, crate_set.encode())
    return dest


def _dep(item: str) -> str:
    """The dependency a [features] item names (`dep:x`, `x/f`, `x?/f`), else the item itself."""
    return item.removeprefix("dep:").partition("/")[0].rstrip("?")


def _table(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for part in path:
        data = data.get(part, {})
    return data


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text() != text:
        atomic_write_bytes(path, text.encode())


def _sync(source: Path, dest: Path, *, rewritten: set[Path]) -> None:
    """Copy new and changed files (by size and mtime) but the `rewritten` ones, remove what `source` no
    longer has (but locks)."""
    wanted: set[Path] = set()
    for root, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d not in _SKIP]
        rel = Path(root).relative_to(source)
        (dest / rel).mkdir(exist_ok=True)
        wanted.add(rel)
        for name in files:
            src, copy = Path(root) / name, dest / rel / name
            wanted.add(rel / name)
            if name == "Cargo.lock" or rel / name in rewritten:
                continue  # cargo writes the copy's own lock; prepare_source the rewritten manifests
            if src.is_symlink() or not copy.is_file() or _differs(src, copy):
                copy.unlink(missing_ok=True)
                shutil.copy2(src, copy, follow_symlinks=False)
    for path in sorted(dest.rglob("*"), reverse=True):
        rel = path.relative_to(dest)
        if rel not in wanted and path.name != "Cargo.lock" and rel.parts[0] not in _SKIP:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def _differs(a: Path, b: Path) -> bool:
    sa, sb = a.stat(), b.stat()
    return sa.st_size != sb.st_size or int(sa.st_mtime) != int(sb.st_mtime)


def read_lock(path: Path) -> dict[str, str]:
    """crates.io crate → version (the newest one, if a lock has several) of a Cargo.lock; {} if none."""
    if not path.is_file():
        return {}
    found: dict[str, str] = {}
    for package in tomllib.loads(path.read_text()).get("package", []):
        if package.get("source"):  # registry crates; path crates have no source
            found[package["name"]] = package["version"]
    return found


# --------------------------------------------------------------------------- TOML out


def dumps(data: Mapping[str, Any]) -> str:
    """TOML text for Cargo.toml data (tables as headers, arrays of tables as [[...]]).

    >>> print(dumps({"package": {"name": "a"}, "target": {"cfg(unix)": {"dependencies": {"b": "1"}}}}))
    [package]
    name = "a"
    <BLANKLINE>
    [target."cfg(unix)".dependencies]
    b = "1"
    <BLANKLINE>
    """
    lines: list[str] = []
    _emit(lines, (), data)
    return "\n".join(lines).lstrip("\n") + "\n"


def _emit(lines: list[str], path: tuple[str, ...], table: Mapping[str, Any]) -> None:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, dict) and not _array_of_tables(v)]
    if path and (scalars or not table):
        lines += ["", f"[{'.'.join(_key(p) for p in path)}]"]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in scalars]
    for k, v in table.items():
        if isinstance(v, dict):
            _emit(lines, (*path, k), v)
        elif _array_of_tables(v):
            for item in v:
                lines += ["", f"[[{'.'.join(_key(p) for p in (*path, k))}]]"]
                lines += [f"{_key(ik)} = {_value(iv)}" for ik, iv in item.items()]


def _array_of_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _key(key: str) -> str:
    bare = key and all(c.isalnum() or c in "-_" for c in key) and key.isascii()
    return key if bare else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
