"""Safe extraction of .debs into a tree: ar members, streaming member tars, hostile-member checks."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import lzma
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import zstandard

from debforge.errors import RootfsError
from debforge.rootfs.pathfilter import PathFilter

# The top-level directories a merged-/usr system turns into symlinks (usrmerge's list; usr-is-merged
# checks bin, sbin and lib). bookworm and trixie are merged; the others are made only when used.
_MERGED_ALWAYS = ("bin", "sbin", "lib")
_MERGED_LAZY = ("lib32", "lib64", "libx32", "libo32")
# control.tar members that dpkg keeps in /var/lib/dpkg/info (dpkg's own list, minus control itself).
INFO_FILES = (
    "conffiles", "md5sums", "shlibs", "symbols", "triggers",
    "preinst", "postinst", "prerm", "postrm", "config", "templates",
)  # fmt: skip
_MAX_LINK_HOPS = 40  # as the kernel's MAXSYMLINKS
# A data.tar larger than this is extracted as it streams instead of being decompressed ahead into
# memory (a decompression bomb then fills the disk it would fill anyway, not the memory).
PREFETCH_LIMIT = 1 << 29  # 512 MiB


@dataclass(frozen=True, slots=True, kw_only=True)
class Unpacked:
    """What one .deb left in the tree: its control files and the paths dpkg would list."""

    package: str
    control: dict[str, bytes]
    paths: tuple[str, ...]


@dataclass(slots=True)
class Tree:
    """Extraction state of one tree: root, layout and the absolute symlinks to rewrite at the end."""

    root: Path
    merged_usr: bool
    merged_links: tuple[str, ...] = ()  # the arch's /lib64-style links, made up front (Target.merged_links)
    as_root: bool = field(default_factory=lambda: os.geteuid() == 0)
    absolute_links: dict[Path, str] = field(default_factory=dict)
    real_dirs: dict[tuple[str, ...], Path] = field(default_factory=dict)  # never invalidated: dirs stay dirs
    path_filter: PathFilter | None = None  # dpkg's --path-exclude: matching files are listed, not unpacked


# --------------------------------------------------------------------------- reading a .deb


class _Slice(io.RawIOBase):
    """A read-only window on one ar member, so a decompressor cannot read past its end."""

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self._fh, self._left = fh, size

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]  # RawIOBase accepts any buffer
        n = self._fh.readinto(memoryview(buf)[: min(len(buf), self._left)])  # type: ignore[attr-defined]  # files have readinto
        self._left -= n
        return int(n)


def _ar_members(fh: IO[bytes], deb: Path) -> Iterator[tuple[str, int]]:
    """(name, size) of each ar member, leaving `fh` at the member's data (deb(5): ar with 60-byte headers)."""
    if fh.read(8) != b"!<arch>\n":
        raise RootfsError(f"{deb.name} is not a Debian package (no ar header)")
    while header := fh.read(60):
        if len(header) < 60:  # noqa: PLR2004 - ar header size
            raise RootfsError(f"{deb.name} is truncated")
        name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
        start = fh.tell()
        yield name, size
        fh.seek(start + size + size % 2)  # members are 2-byte aligned


@contextlib.contextmanager
def _open_member(fh: IO[bytes], name: str, size: int, deb: Path) -> Iterator[IO[bytes] | gzip.GzipFile]:
    """The decompressed bytes of a control/data member (dpkg accepts xz, zst, gz, none)."""
    compressed: IO[bytes] = io.BufferedReader(_Slice(fh, size), 1 << 16)
    with contextlib.ExitStack() as stack:
        if name.endswith(".xz"):
            yield stack.enter_context(lzma.LZMAFile(compressed))
        elif name.endswith(".zst"):
            yield stack.enter_context(zstandard.ZstdDecompressor().stream_reader(compressed))
        elif name.endswith(".gz"):
            yield stack.enter_context(gzip.GzipFile(fileobj=compressed))
        elif name.endswith(".tar"):
            yield compressed
        else:
            raise RootfsError(f"{deb.name}: unsupported member compression {name}")


@contextlib.contextmanager
def _open_member_tar(fh: IO[bytes], name: str, size: int, deb: Path) -> Iterator[tarfile.TarFile]:
    """A streaming tar reader on a compressed control/data member."""
    with _open_member(fh, name, size, deb) as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
        yield tar


def read_data_tar(deb: Path, *, limit: int = PREFETCH_LIMIT) -> bytes | None:
    """The decompressed data.tar of `deb`, read whole ahead of its extraction; None above `limit` bytes
    or in an unusual layout (several xz streams), which then stream as before.

    One decompressor call over the whole member: lzma, zlib and zstandard release the GIL for the length
    of a call, so worker threads decompress several debs at once on the other cores.
    """
    with deb.open("rb") as fh:
        for name, size in _ar_members(fh, deb):
            if name.startswith("data.tar"):
                return _decompress_whole(name, fh.read(size), limit)
    return None


def _decompress_whole(name: str, data: bytes, limit: int) -> bytes | None:
    if name.endswith(".xz"):
        xz = lzma.LZMADecompressor()
        out = xz.decompress(data, max_length=limit + 1)
        whole = xz.eof and not xz.unused_data.strip(b"\0")  # xz stream padding is zero bytes
    elif name.endswith(".gz"):
        gz = zlib.decompressobj(wbits=31)
        out = gz.decompress(data, limit + 1)
        whole = gz.eof and not gz.unused_data
    elif name.endswith(".zst"):
        try:
            out, whole = zstandard.ZstdDecompressor().decompress(data, max_output_size=limit + 1), True
        except zstandard.ZstdError:  # no content size in the frame header, or larger than the limit
            return None
    else:
        out, whole = data, name.endswith(".tar")
    return out if whole and len(out) <= limit else None


def unpack_deb(deb: Path, tree: Tree, *, package: str, data_tar: bytes | None = None) -> Unpacked:
    """Read control.tar into memory and extract data.tar safely into the tree (from `data_tar`, the
    member already decompressed by read_data_tar, when given)."""
    control: dict[str, bytes] = {}
    paths: list[str] = []
    files: list[tuple[str, Path]] = []
    with deb.open("rb") as fh:
        for name, size in _ar_members(fh, deb):
            if name.startswith("control.tar"):
                with _open_member_tar(fh, name, size, deb) as tar:
                    control = _read_control(tar)
            elif name.startswith("data.tar") and data_tar is not None:
                with tarfile.open(fileobj=io.BytesIO(data_tar), mode="r|") as tar:
                    paths = _extract_data(tar, tree, package, files)
            elif name.startswith("data.tar"):
                with _open_member_tar(fh, name, size, deb) as tar:
                    paths = _extract_data(tar, tree, package, files)
    if "control" not in control:
        raise RootfsError(f"{deb.name} has no control file")
    if "md5sums" not in control:
        control["md5sums"] = _md5sums(files, control.get("conffiles", b""))
    return Unpacked(package=package, control=control, paths=tuple(paths))


def _read_control(tar: tarfile.TarFile) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for member in tar:
        name = member.name.removeprefix("./")
        if member.isfile() and name in {"control", *INFO_FILES}:
            data = tar.extractfile(member)
            files[name] = data.read() if data else b""
    return files


# --------------------------------------------------------------------------- safe extraction


def _hostile(package: str, member: str, why: str) -> RootfsError:
    return RootfsError(
        f"refusing to unpack {package}: member {member!r} {why}",
        hint="the .deb is malformed or hostile; debforge never writes outside the tree",
    )


def member_parts(name: str, package: str) -> tuple[str, ...]:
    """The path components of a tar member name; reject absolute names and `..` (dpkg does too)."""
    if name.startswith("/"):
        raise _hostile(package, name, "has an absolute name")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise _hostile(package, name, "contains '..'")
    return parts


def prepare_layout(tree: Tree) -> None:
    """Make the empty tree's root, and on merged-/usr dists the /bin → usr/bin style links."""
    tree.root.chmod(0o755)
    if tree.merged_usr:
        # As debootstrap and usr-is-merged expect: /bin → usr/bin etc. before any package lands.
        # trixie's libc6 ships its loader in /usr/lib64 only; /lib64 comes from base-files, which a
        # sysroot does not hold, so the arch's links are made here as debootstrap makes them.
        for top in (*_MERGED_ALWAYS, *tree.merged_links):
            (tree.root / "usr" / top).mkdir(parents=True, exist_ok=True)
            (tree.root / top).symlink_to(f"usr/{top}")
        (tree.root / "usr").chmod(0o755)


def _placed(tree: Tree, parts: tuple[str, ...]) -> tuple[str, ...]:
    """Where a path lands on a merged-/usr system: /bin/x is written as /usr/bin/x."""
    if not (tree.merged_usr and parts and parts[0] in (*_MERGED_ALWAYS, *_MERGED_LAZY)):
        return parts
    if parts[0] in _MERGED_LAZY and not (tree.root / parts[0]).is_symlink():
        (tree.root / "usr" / parts[0]).mkdir(mode=0o755, exist_ok=True)
        (tree.root / parts[0]).symlink_to(f"usr/{parts[0]}")
    return ("usr", *parts)


def _resolve_dir(tree: Tree, parts: Sequence[str], package: str, member: str) -> Path:
    """The real directory for `parts` inside the tree, creating missing ones. Symlinks are followed as the
    kernel would (dpkg follows directory symlinks), but only relative ones that stay inside the tree."""
    known = tree.real_dirs.get(tuple(parts))
    if known is not None:
        return known
    real: list[str] = []  # components of a real directory below the root: ".." pops one
    todo, hops = list(parts), 0
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not real:
                raise _hostile(package, member, "would be written through a symlink out of the tree")
            real.pop()
            continue
        nxt = tree.root.joinpath(*real, part)
        try:
            mode = nxt.lstat().st_mode
        except FileNotFoundError:
            nxt.mkdir(mode=0o755)
            mode = stat.S_IFDIR
        if stat.S_ISDIR(mode):
            real.append(part)
        elif stat.S_ISLNK(mode):
            hops += 1
            target = str(nxt.readlink())
            if target.startswith("/") or hops > _MAX_LINK_HOPS:
                why = (
                    "a symlink loop" if hops > _MAX_LINK_HOPS else f"the absolute symlink {part} -> {target}"
                )
                raise _hostile(package, member, f"would be written through {why}")
            todo = target.split("/") + todo
        else:
            raise _hostile(package, member, f"needs {nxt.relative_to(tree.root)} to be a directory")
    cur = tree.root.joinpath(*real)
    tree.real_dirs[tuple(parts)] = cur
    return cur


def _md5sums(files: list[tuple[str, Path]], conffiles: bytes) -> bytes:
    """What dpkg writes for a package that ships no md5sums: every regular file except conffiles."""
    skip = {line.split()[-1].lstrip("/") for line in conffiles.decode().splitlines() if line.split()}
    lines = []
    for name, real in files:
        if name not in skip:
            lines.append(f"{hashlib.md5(real.read_bytes()).hexdigest()}  {name}\n")  # noqa: S324 - dpkg's format
    return "".join(lines).encode()


def _extract_data(tar: tarfile.TarFile, tree: Tree, package: str, files: list[tuple[str, Path]]) -> list[str]:
    """Extract every member; return the paths as dpkg lists them (package names, not merged ones) and
    add each regular file to `files` as (name, where it landed)."""
    paths = ["/."]
    for member in tar:
        parts = member_parts(member.name, package)
        if not parts:
            continue  # "./" itself
        paths.append("/" + "/".join(parts))
        if _filtered(tree, paths[-1], member):
            continue
        if _is_merge_link(tree, parts, member):
            _placed(tree, parts)  # makes a lazy one (lib64 → usr/lib64) if prepare_layout did not
            continue
        placed = _placed(tree, parts)
        parent = _resolve_dir(tree, placed[:-1], package, member.name)
        _extract_member(tar, member, tree, parent / placed[-1], package)
        if member.isfile():
            files.append(("/".join(parts), parent / placed[-1]))
    return paths


def _filtered(tree: Tree, path: str, member: tarfile.TarInfo) -> bool:
    """A path the tree's filter leaves out. dpkg still lists it in the package's .list file (dpkg -L
    shows it, removal skips it); a directory or symlink stays where an include rule may match below it."""
    if tree.path_filter is None:
        return False
    if member.isdir() or member.issym():
        return tree.path_filter.skips_dir(path)
    return tree.path_filter.skips(path)


def _is_merge_link(tree: Tree, parts: tuple[str, ...], member: tarfile.TarInfo) -> bool:
    """A top-level `/bin → usr/bin` style link, which trixie's base-files ships itself (DEP 17).

    The merged tree already has it (prepare_layout), and writing it through _placed would try to
    replace the real usr/bin directory with a link to itself.
    """
    merged = (*_MERGED_ALWAYS, *_MERGED_LAZY)
    if not (tree.merged_usr and member.issym() and len(parts) == 1 and parts[0] in merged):
        return False
    return member.linkname.lstrip("/").removeprefix("./").rstrip("/") == f"usr/{parts[0]}"


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, tree: Tree, dest: Path, package: str
) -> None:
    if member.isdir():
        dest = _resolve_dir(tree, dest.relative_to(tree.root).parts, package, member.name)
    elif member.isfile():
        _write_file(tar, member, dest, package)
    elif member.issym():
        _clear(dest, package, member.name)
        dest.symlink_to(member.linkname)
        if member.linkname.startswith("/"):
            tree.absolute_links[dest] = member.linkname
    elif member.islnk():
        _hard_link(tree, member, dest, package)
    else:
        raise _hostile(package, member.name, "is a device node or FIFO, which a package may not ship")
    _apply_meta(tree, member, dest)


def _clear(dest: Path, package: str, member: str) -> None:
    """Remove what a later package replaces (dpkg overwrites files; a directory is a conflict)."""
    try:
        mode = dest.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise _hostile(package, member, "would replace a directory with a non-directory")
    dest.unlink()


def _write_file(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, package: str) -> None:
    _clear(dest, package, member.name)
    src = tar.extractfile(member)
    # O_NOFOLLOW|O_EXCL: the final component is created fresh, never followed.
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        if src is not None:
            shutil.copyfileobj(src, out, 1 << 20)


def _hard_link(tree: Tree, member: tarfile.TarInfo, dest: Path, package: str) -> None:
    link = member.linkname
    if link.startswith("/") or ".." in link.split("/"):
        raise _hostile(package, member.name, f"is a hard link to {link}, out of the tree")
    parts = member_parts(link, package)
    if not parts:
        raise _hostile(package, member.name, "is a hard link to the tree's root")
    placed = _placed(tree, parts)
    source = _resolve_dir(tree, placed[:-1], package, member.name) / placed[-1]
    if not source.is_file() or source.is_symlink():
        raise _hostile(package, member.name, f"is a hard link to {member.linkname}, which is not a file here")
    _clear(dest, package, member.name)
    os.link(source, dest, follow_symlinks=False)


def _apply_meta(tree: Tree, member: tarfile.TarInfo, dest: Path) -> None:
    if member.issym():
        if tree.as_root:
            os.chown(dest, member.uid, member.gid, follow_symlinks=False)
        return
    if tree.as_root:
        os.chown(dest, member.uid, member.gid, follow_symlinks=False)  # chown first: it clears setuid
    # Without root, keep the tree writable by its owner so it can be cleaned up and re-linked.
    owner_bits = 0o700 if member.isdir() else 0o600
    dest.chmod(member.mode & 0o7777 if tree.as_root else (member.mode & 0o1777) | owner_bits)
    if not member.isdir():
        os.utime(dest, (member.mtime, member.mtime), follow_symlinks=False)


def rewrite_absolute_links(tree: Tree) -> None:
    """Make absolute symlinks relative so the tree works from any mount point (as `symlinks -c`)."""
    for link, target in tree.absolute_links.items():
        if not link.is_symlink() or str(link.readlink()) != target:
            continue  # replaced by a later package
        placed = _placed(tree, member_parts(target.lstrip("/"), "symlink"))
        rel = os.path.relpath(Path(*placed) if placed else ".", link.parent.relative_to(tree.root))
        link.unlink()
        link.symlink_to(rel)
