"""The engine's own dash, perl and tools standing in for the target's during an emulated image's first
configuration.

Under QEMU a maintainer script pays for its interpreter before it does anything: a shell about 120 ms,
perl 160 ms plus the compiling of its modules, about a second for each deb-systemd-helper or debconf
run; and every chown, mkdir or sed it runs costs 80 ms. The scripts are the same text on every
architecture, and dash, perl, coreutils, sed and grep of one version behave the same on every
architecture (but for the few programs that print the machine: _ARCH_BOUND), so the engine's builds of
the *same versions* run them natively. dpkg and its programs (update-alternatives, dpkg-divert, ...)
stay the target's, under QEMU: they know their architecture.

The native files come into the container at /debforge/native (never into the image's layers); the
bootstrap moves the libraries into paths the target tree does not have, swaps the two interpreters in,
puts the tools first in PATH, and undoes all of it before its last ldconfig and the commit
(container/bootstrap.py). Built with and without them, a bookworm arm64 image has the same files,
modes, owners, link counts and contents (but for apt's and ldconfig's caches and a log, which hold
times).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from debforge import rootfs
from debforge.archive.index import PackageIndex, PackageRecord
from debforge.dists import Target
from debforge.elf.patch import patch_elf
from debforge.elf.read import read_elf
from debforge.errors import OfflineError
from debforge.session import Session

# Package of each interpreter, and the shared libraries they and the tools load (perl: libm, libcrypt;
# coreutils: libacl, libattr, libgmp, libselinux, which loads libpcre2; grep: libpcre2).
_INTERPRETERS = {"dash": "usr/bin/dash", "perl-base": "usr/bin/perl"}
_LIBRARIES = ("libc6", "libcrypt1", "libacl1", "libattr1", "libgmp10", "libselinux1", "libpcre2-8-0")
# The tools the scripts call by name come first in their PATH (/debforge/native/bin), for the same
# reason: a bookworm minbase's scripts run chown, chmod, mkdir, mv, sed, ... about 700 times. Not
# those whose output tells the machines apart (uname and arch: the architecture; od: the byte order),
# nor stdbuf, which preloads a library of its own arch.
_TOOLS = ("coreutils", "sed", "grep")
_ARCH_BOUND = frozenset({"uname", "arch", "od", "stdbuf"})
# Where the bootstrap finds the native loader (container/bootstrap.py copies this directory in).
_LOADER = PurePosixPath("/debforge/native/ld.so")


def native_interpreters(
    session: Session,
    native: Target,
    target: Target,
    *,
    records: tuple[PackageRecord, ...],
    root: Path,
    work: Path,
) -> Path | None:
    """The `native` arch's dash, perl-base and tools of the versions in `records`, laid out in `work`
    to stand in for the target's in the unpacked `root` (the directory to copy in as
    /debforge/native); None when none can (other versions, the paths taken, or a perl module built for
    the target that the native perl could not load).

    The directory holds the interpreters, their loader (`ld.so`), the tools (`bin/`), `root/` (the
    libraries, at their path) and three lists for the bootstrap: `swaps`, the target's interpreters to
    replace while the scripts run; `links`, the hard links to make again afterwards; `added`, the new
    directories of the tree to remove afterwards. With --offline and those debs not in the cache, the
    target's own interpreters and tools run (the build needs nothing more than before)."""
    from debforge.archive import fetch_index  # noqa: PLC0415 - as in container/image.py

    try:
        index = fetch_index(session, native)
        wanted = _same_versions(index, records, root, target)
        libdir = f"usr/lib/{native.gnu_triplet}"
        if not wanted or os.path.lexists(root / libdir):
            return None
        libraries = [c for name in _LIBRARIES if (c := index.candidate(name)) is not None]
        staging = _unpack(session, [*wanted.values(), *libraries], work / "native-staging", native)
    except OfflineError:
        return None
    loads = _loadable(staging, libdir)
    swaps = [path for name in wanted if (path := _INTERPRETERS.get(name)) and loads(path)]
    tools = [path for name in wanted if name in _TOOLS for path in _tool_paths(staging, name) if loads(path)]
    if not swaps and not tools:
        return None
    return _arrange(staging, work / "native", root, libdir, swaps=swaps, tools=tools)


def _loadable(staging: Path, libdir: str) -> Callable[[str], bool]:
    """Whether a program of the staging tree finds every library it needs, and they theirs, in `libdir`
    (as _LIBRARIES brought them): trixie's coreutils needs libcrypto and libsystemd in a few programs
    (sha256sum, who), bullseye's grep libpcre3; those stay the target's."""
    libs = (staging / libdir).iterdir() if (staging / libdir).is_dir() else iter(())
    needs = {p.name: set(read_elf(p).needed) for p in libs if p.is_file() and _is_elf(p)}
    found = set(needs)
    while found != (kept := {name for name in found if needs[name] <= found}):
        found = kept
    return lambda path: set(read_elf(staging / path).needed) <= found


def _is_elf(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"\x7fELF"


def _same_versions(
    index: PackageIndex, records: tuple[PackageRecord, ...], root: Path, target: Target
) -> dict[str, PackageRecord]:
    """Native records of the interpreters the target tree has, and of the tools, in exactly the target's
    versions."""
    installed = {r.name: r.version for r in records}
    # An XS module outside perl-base lives in the target's own arch directory, which the native perl
    # does not search (libperl5.x, liblocale-gettext-perl, ...): then the target's perl stays.
    foreign_perl = any((root / f"usr/lib/{target.gnu_triplet}" / d).exists() for d in ("perl", "perl5"))
    interpreters = [
        name
        for name, path in _INTERPRETERS.items()
        if (root / path).is_file() and not (root / path).is_symlink()
        and not (name == "perl-base" and foreign_perl)
    ]  # fmt: skip
    wanted = {}
    for name in (*interpreters, *_TOOLS):
        same = [r for r in index.versions(name) if r.version == installed.get(name)]
        if same:
            wanted[name] = same[0]
    return wanted


def _unpack(session: Session, records: list[PackageRecord], staging: Path, native: Target) -> Path:
    """The records unpacked into `staging`, merged-/usr whatever the dist (bullseye's dash is in /bin):
    the interpreters and libraries are then found at usr/bin and usr/lib/<triplet>."""
    staging.mkdir(parents=True)
    debs = rootfs.fetch_debs(session, records)
    rootfs.fill_tree(staging, records, debs, dataclasses.replace(native, merged_usr=True), configured=True)
    return staging


def _tool_paths(staging: Path, package: str) -> list[str]:
    """The programs of a tool package in the staging tree (merged /usr: /bin/x is usr/bin/x), from the
    file list dpkg keeps for it; not those bound to the machine (_ARCH_BOUND), nor scripts (grep's
    egrep: the native dash runs it, and it runs the native grep)."""
    listed = (staging / "var/lib/dpkg/info" / f"{package}.list").read_text().splitlines()
    found = []
    for line in listed:
        path = PurePosixPath(line)
        if str(path.parent) not in ("/bin", "/usr/bin") or path.name in _ARCH_BOUND:
            continue
        placed = staging / "usr/bin" / path.name
        if placed.is_file() and not placed.is_symlink() and _is_elf(placed):
            found.append(f"usr/bin/{path.name}")
    return found


def _arrange(
    staging: Path, out: Path, root: Path, libdir: str, *, swaps: list[str], tools: list[str]
) -> Path | None:
    """Lay out /debforge/native: the interpreters, their loader, the tools in bin/, and under root/
    the libraries.

    The loader stays in /debforge/native, the programs' PT_INTERP patched to it (a shorter string,
    written in place): a /lib64 would not survive, usr-is-merged's postinst removes the links a merged
    /usr of the target's arch does not have."""
    loader = read_elf(staging / (swaps or tools)[0]).interpreter
    if loader is None:
        return None
    out.mkdir()
    (out / "bin").mkdir()
    shutil.copy2((staging / str(loader).lstrip("/")).resolve(), out / "ld.so")
    for path, into in [*((p, out) for p in swaps), *((p, out / "bin") for p in tools)]:
        binary = into / PurePosixPath(path).name
        binary.write_bytes(patch_elf(staging / path, interpreter=_LOADER, drop_non_fhs_rpaths=False))
        binary.chmod(0o755)
    shutil.copytree(staging / libdir, out / "root" / libdir, symlinks=True)
    (out / "swaps").write_text("".join(f"{path}\n" for path in swaps))
    (out / "links").write_text("".join(f"{path} {other}\n" for path, other in _hard_links(root, swaps)))
    (out / "added").write_text(f"{libdir}\n")
    return out


def _hard_links(root: Path, paths: list[str]) -> list[tuple[str, str]]:
    """(path, other name of the same file) in the target tree: perl-base ships /usr/bin/perl5.x.y as
    a hard link of /usr/bin/perl."""
    inodes = {(st.st_dev, st.st_ino): path for path in paths if (st := (root / path).lstat()).st_nlink > 1}
    found: list[tuple[str, str]] = []
    if not inodes:
        return found
    for top, _dirs, files in os.walk(root):
        for name in files:
            st = (full := Path(top) / name).lstat()
            other = str(full.relative_to(root))
            if (path := inodes.get((st.st_dev, st.st_ino))) is not None and other != path:
                found.append((path, other))
    return found
