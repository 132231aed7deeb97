"""Closure → Sysroot: .debs unpacked safely into a merged-/usr tree with a dpkg database, cached."""

from __future__ import annotations

import functools
import os
import shutil
import stat
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from debforge.archive import download_packages, fetch_index
from debforge.archive.download import downloading
from debforge.archive.index import PackageRecord
from debforge.cache import key
from debforge.dists import Target
from debforge.errors import RootfsError
from debforge.resolve import resolve_closure
from debforge.rootfs.dpkgdb import DpkgDatabase, info_name, write_dpkg_database
from debforge.rootfs.extract import (
    Tree,
    Unpacked,
    prepare_layout,
    read_data_tar,
    rewrite_absolute_links,
    unpack_deb,
)
from debforge.rootfs.pathfilter import NO_DOCS, PathFilter

__all__ = [
    "NO_DOCS",
    "ROOTFS_FORMAT",
    "SYSROOT_BASE",
    "ClosureLike",
    "DpkgDatabase",
    "PathFilter",
    "Sysroot",
    "Unpacked",
    "build_sysroot",
    "clone_tree",
    "downloading",
    "export_tree",
    "fetch_debs",
    "fill_tree",
    "info_name",
    "make_sysroot",
    "unpack_deb",
    "write_dpkg_database",
]

if TYPE_CHECKING:
    from debforge.session import Session

# Bump when the layout of the trees written here changes: it is part of every tree key.
ROOTFS_FORMAT = 1
# What a linker needs besides the requested packages: libc6-dev brings crt1.o/crti.o/crtn.o, libc.so,
# libc_nonshared.a, libm/libpthread stubs and the headers (with linux-libc-dev, libcrypt-dev through its
# Depends); libgcc-s1 brings libgcc_s.so.1, which Rust's std links with -lgcc_s. The gcc runtime objects
# (crtbegin.o, libgcc.a) come from the cross compiler's own libgcc-N-dev-<arch>-cross, not the sysroot.
SYSROOT_BASE = ("libc6-dev", "libgcc-s1")


class ClosureLike(Protocol):
    """What rootfs needs of a resolver Closure: the exact records and a key naming them."""

    @property
    def packages(self) -> tuple[PackageRecord, ...]:
        """Every record of the closure."""

    @property
    def key(self) -> str:
        """A hash of the exact closure."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Sysroot:
    """A Debian tree of one exact closure: `path` is the cached tree (read-only) or a private clone."""

    path: Path
    target: Target
    closure_key: str


# --------------------------------------------------------------------------- public API


def build_sysroot(
    session: Session, closure: ClosureLike, target: Target, *, read_only: bool = False
) -> Sysroot:
    """The tree of `closure` (cached by its key); `read_only` returns the cache entry itself, else a clone."""
    cache = session.cache
    # The arch's merged-/usr links are in the key only where there are some, so the trees of the
    # other arches (made before they were) keep their keys.
    links = {"merged_links": list(target.merged_links)} if target.merged_links else {}
    tree_key = key(
        {"format": ROOTFS_FORMAT, "kind": "sysroot", "closure": closure.key, "dist": target.dist, **links}
    )
    with (
        downloading(session, closure.packages) as debs,
        session.reporter.step(f"Unpacking {len(closure.packages)} packages"),
    ):
        path = cache.build_tree(
            tree_key, lambda work: fill_tree(work, closure.packages, debs, target, configured=True)
        )
    if not read_only:
        clone = cache.tempdir("sysroot-") / "root"
        clone_tree(path, clone)
        path = clone
    return Sysroot(path=path, target=target, closure_key=closure.key)


def export_tree(sysroot: Sysroot, out: Path) -> Path:
    """Copy the sysroot to `out` cheaply (hard links; plain copies across filesystems)."""
    if out.exists() and any(out.iterdir()):
        raise RootfsError(f"{out} exists and is not empty", hint="choose a new --out directory or empty it")
    clone_tree(sysroot.path, out)
    return out


def make_sysroot(
    session: Session, target: Target, packages: Sequence[str], *, out: Path | None = None
) -> Sysroot:
    """`debforge sysroot PKG... [--out DIR]`: resolve PKGs plus SYSROOT_BASE, build (or reuse) the tree,
    and export it to `out` (else return the read-only cached tree)."""
    index = fetch_index(session, target)
    closure = resolve_closure(index, [*packages, *SYSROOT_BASE])
    sysroot = build_sysroot(session, closure, target, read_only=True)
    if out is None:
        return sysroot
    with session.reporter.step(f"Linking the tree into {out}"):
        return replace(sysroot, path=export_tree(sysroot, out))


def fetch_debs(session: Session, records: Sequence[PackageRecord]) -> dict[str, Path]:
    """The verified .deb of every record (sha256 → blob path), downloaded in parallel when missing."""
    return download_packages(session, list(records))


def fill_tree(
    root: Path,
    records: Sequence[PackageRecord],
    debs: Mapping[str, Path],
    target: Target,
    *,
    configured: bool,
    path_filter: PathFilter | None = None,
) -> None:
    """Unpack every record into `root` and write the dpkg database (installed, or unpacked for bootstrap);
    `path_filter` leaves out what dpkg's --path-exclude would."""
    tree = Tree(
        root=root, merged_usr=target.merged_usr, merged_links=target.merged_links, path_filter=path_filter
    )
    prepare_layout(tree)
    done: list[tuple[PackageRecord, Unpacked]] = []
    # dpkg's order is kept (a later package overwrites an earlier one's file); only the decompression,
    # most of the time, runs ahead on the other cores. `debs` may still be downloading (PendingDebs):
    # each lookup waits for its own deb only.
    lookups = [functools.partial(debs.__getitem__, record.sha256) for record in records]
    for record, (deb, data_tar) in zip(records, _decompressed_ahead(lookups), strict=True):
        done.append((record, unpack_deb(deb, tree, package=record.name, data_tar=data_tar)))
    rewrite_absolute_links(tree)
    write_dpkg_database(root, done, target.arch, configured=configured)


def _decompressed_ahead(debs: Sequence[Callable[[], Path]]) -> Iterator[tuple[Path, bytes | None]]:
    """Each deb's path and read_data_tar, in order, computed up to a few debs ahead on worker threads."""

    def read(lookup: Callable[[], Path]) -> tuple[Path, bytes | None]:
        deb = lookup()
        return deb, read_data_tar(deb)

    window = max(2, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=window, thread_name_prefix="decompress") as pool:
        pending: deque[Future[tuple[Path, bytes | None]]] = deque()
        for lookup in debs:
            pending.append(pool.submit(read, lookup))
            if len(pending) > window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def clone_tree(src: Path, dest: Path) -> None:
    """Recreate `src` at `dest` with hard-linked files (like `cp -al`), copying when links cannot cross."""
    dest.mkdir(parents=True, exist_ok=True)
    for dirpath, dirnames, filenames in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        for name in (*dirnames, *filenames):
            s, d = Path(dirpath) / name, dest / rel / name
            st = s.lstat()
            if stat.S_ISDIR(st.st_mode):
                d.mkdir(mode=0o700)
                continue
            if stat.S_ISLNK(st.st_mode):
                d.symlink_to(s.readlink())
            else:
                _link_or_copy(s, d)
        _copy_dir_meta(Path(dirpath), dest / rel)


# --------------------------------------------------------------------------- clone helpers


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dest, follow_symlinks=False)


def _copy_dir_meta(src: Path, dest: Path) -> None:
    st = src.stat()
    dest.chmod(stat.S_IMODE(st.st_mode))
    if os.geteuid() == 0:
        os.chown(dest, st.st_uid, st.st_gid)
