"""The staging tree a C/C++ install step wrote: checked, trimmed to what a runtime package ships, listed.

What is dropped by default is what debhelper leaves to a -dev package or drops itself: headers,
static archives, libtool `.la` files (dh_auto_install drops them from runtime packages; Debian's
libtool policy), pkg-config and CMake package files, and the unversioned `libfoo.so` link, which
exists only for the linker (Policy 8.4). Manual and info pages are gzip-compressed (Policy 12.1
and 12.3; dh_compress `gzip -9n`).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from debforge.errors import BuildError

# Policy 9.1.2: /usr/local belongs to the local administrator; no package ships files there.
_FORBIDDEN_TOP = ("usr/local",)
_DEV_DIRS = ("usr/include",)
_DEV_SUFFIXES = (".a", ".la")
_UNVERSIONED_SO = re.compile(r"^lib.+\.so$")
_COMPRESSED_DIRS = ("usr/share/man", "usr/share/info")


@dataclass(frozen=True, slots=True, kw_only=True)
class Staged:
    """What the staging tree holds once checked and trimmed: files and symlinks by relative path."""

    files: tuple[tuple[str, Path], ...]  # ("usr/bin/tree", its file in the staging dir)
    links: tuple[tuple[str, str], ...]  # ("usr/lib/x/libfoo.so.1", "libfoo.so.1.2.3")
    dropped: tuple[str, ...]  # relative paths left out as development files


def collect_stage(stage: Path, *, what: str, keep_dev_files: bool) -> Staged:
    """Check the staging tree of `what` (a build, named in messages), trim it and list what remains."""
    entries = sorted(p for p in stage.rglob("*") if p.is_symlink() or p.is_file())
    if not entries:
        raise BuildError(
            f"the install step of {what} put no files into the staging tree ($DESTDIR)",
            hint='install into $DESTDIR, e.g. install-args = ["PREFIX=$DESTDIR/usr"] for a plain Makefile',
        )
    _check_paths(stage, entries, what)
    dropped = [] if keep_dev_files else _drop_dev_files(stage, entries)
    _compress_pages(stage)
    remaining = sorted(p for p in stage.rglob("*") if p.is_symlink() or p.is_file())
    files = tuple((_rel(stage, p), p) for p in remaining if not p.is_symlink())
    links = tuple((_rel(stage, p), str(p.readlink())) for p in remaining if p.is_symlink())
    return Staged(files=files, links=links, dropped=tuple(dropped))


def _rel(stage: Path, path: Path) -> str:
    return path.relative_to(stage).as_posix()


def _check_paths(stage: Path, entries: list[Path], what: str) -> None:
    """Refuse /usr/local and a doubled $DESTDIR: both mean the install ignored its prefix."""
    for path in entries:
        rel = _rel(stage, path)
        if "/" not in rel:  # Policy 9.1: the FHS has no files in the root directory itself
            raise BuildError(
                f"the install step of {what} put {rel} at the top of the staging tree, so it would "
                f"be installed as /{rel}",
                hint="install into the FHS directories below $DESTDIR, e.g. $DESTDIR/usr/bin",
            )
        if rel.startswith(tuple(f"{top}/" for top in _FORBIDDEN_TOP)):
            raise BuildError(
                f"the install step of {what} put /{rel} under /usr/local, which a Debian package must "
                "not use (Policy 9.1.2)",
                hint='install with prefix /usr, e.g. install-args = ["PREFIX=$DESTDIR/usr"]',
            )
        if rel.startswith(str(stage).lstrip("/") + "/") or rel.startswith("debforge/stage/"):
            raise BuildError(
                f"the install step of {what} put /{rel} inside the staging tree twice: "
                "$DESTDIR was added to a path the Makefile already prefixes with DESTDIR",
                hint="drop $DESTDIR from the argument that the Makefile joins with DESTDIR itself",
            )
        if path.is_symlink() and str(path.readlink()).startswith(str(stage)):
            raise BuildError(
                f"the install step of {what} made /{rel} a symlink into the staging tree "
                f"({path.readlink()!s}), which is gone once the package is installed"
            )


def is_dev_file(rel: str, path: Path) -> bool:
    """Whether a staged path belongs in a -dev package rather than the runtime one.

    >>> from pathlib import Path
    >>> is_dev_file("usr/include/foo.h", Path("/nonexistent"))
    True
    >>> is_dev_file("usr/lib/aarch64-linux-gnu/pkgconfig/foo.pc", Path("/nonexistent"))
    True
    >>> is_dev_file("usr/bin/foo", Path("/nonexistent"))
    False
    """
    pure = PurePosixPath(rel)
    if rel.startswith(tuple(f"{d}/" for d in _DEV_DIRS)) or pure.suffix in _DEV_SUFFIXES:
        return True
    if pure.suffix == ".pc" and pure.parent.name == "pkgconfig":
        return True
    if "cmake" in pure.parts[:-1] and pure.parts[:2] == ("usr", "lib"):  # CMake package config files
        return True
    # Policy 8.4: the unversioned libfoo.so is a symlink for `-lfoo` at link time only.
    return path.is_symlink() and _UNVERSIONED_SO.match(pure.name) is not None


def _drop_dev_files(stage: Path, entries: list[Path]) -> list[str]:
    dropped = []
    for path in entries:
        rel = _rel(stage, path)
        if is_dev_file(rel, path):
            path.unlink()
            dropped.append(rel)
    return dropped


def _compress_pages(stage: Path) -> None:
    """gzip -9n every manual and info page, and point symlinks to them at the .gz (dh_compress)."""
    for top in _COMPRESSED_DIRS:
        base = stage / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.name.endswith(".gz") or path.name == "dir":
                continue
            if path.is_symlink():
                target = str(path.readlink())
                path.unlink()
                path.with_name(path.name + ".gz").symlink_to(target + ".gz")
            elif path.is_file():
                # mtime 0 and no file name in the header, as `gzip -9n`: the bytes are reproducible.
                data = gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
                packed = path.with_name(path.name + ".gz")
                packed.write_bytes(data)
                packed.chmod(0o644)
                path.unlink()
