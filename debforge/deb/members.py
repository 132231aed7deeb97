"""Walk a .deb's ar and tar members without trusting them: sizes, names and links (deb(5), dpkg's tarfn).

Nothing is extracted: members are decompressed a little at a time in memory, their headers checked,
and only the control file is kept. What a hostile package could use against whoever unpacks it
(`..` or absolute member names, a path through a symlink member, a hard link to something outside,
truncation that hides the rest of an archive, a decompression bomb) is refused with one sentence.
"""

from __future__ import annotations

import bz2
import lzma
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import zstandard

from debforge.errors import PackageError

AR_MAGIC = b"!<arch>\n"
_AR_HEADER = 60
_BLOCK = 512
# control.tar holds the control file, maintainer scripts, conffiles, shlibs/symbols and md5sums: a few
# KiB for most packages, and md5sums stays in the low MiB even for packages shipping tens of thousands
# of files. Past 10 MiB it is a decompression bomb, not a package, so reading stops there.
CONTROL_TAR_MAX = 10 << 20
# GNU long names and pax headers are paths and a few keywords; anything larger is not a header.
_META_MAX = 1 << 20
# Compressed bytes fed to a decompressor per step: even zstd's best ratio (~32768:1 with RLE blocks)
# then yields at most 32 MiB at once, so a bomb is caught by the caps before it fills memory.
_STEP = 1 << 10
# deb(5): control.tar may be gzip, xz, zstd or plain; data.tar may also be bzip2 or lzma (deprecated).
_CONTROL_SUFFIXES = ("", ".gz", ".xz", ".zst")
_DATA_SUFFIXES = ("", ".gz", ".xz", ".zst", ".bz2", ".lzma")
# dpkg's tar reader (lib/dpkg/tarfn.c) knows these entry types; GNU long name/link and pax headers
# are read here and folded into the entry they precede.
_ENTRY_TYPES = frozenset(
    {tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.LNKTYPE, tarfile.SYMTYPE, tarfile.DIRTYPE}
    | {tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE}
)
_META_TYPES = frozenset(
    {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE}
)
_CONTROL = ("control",)
_CORRUPT = (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, zstandard.ZstdError)


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, /) -> bytes: ...


def _decompressor(suffix: str) -> _Decompressor:
    if suffix == ".gz":
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    if suffix == ".xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    if suffix == ".lzma":
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
    if suffix == ".bz2":
        return bz2.BZ2Decompressor()
    return zstandard.ZstdDecompressor().decompressobj()


class _ArMember:
    """The bytes of one ar member; running out before the size its header gives is truncation."""

    def __init__(self, fh: BinaryIO, name: str, size: int, origin: str) -> None:
        self._fh, self.name, self.size, self.left, self._origin = fh, name, size, size, origin

    def read(self, n: int) -> bytes:
        want = min(n, self.left)
        data = self._fh.read(want)
        if len(data) < want:
            raise PackageError(f"{self._origin}: its ar member {self.name} is truncated")
        self.left -= want
        return data


class _Stream:
    """A member's tar bytes, decompressed step by step and refused once they pass `limit`."""

    def __init__(self, member: _ArMember, suffix: str, limit: int | None, origin: str) -> None:
        self._member, self._suffix, self._limit, self._origin = member, suffix, limit, origin
        self._dec = None if not suffix else _decompressor(suffix)
        self._buf = bytearray()
        self._produced = 0

    def read(self, n: int) -> bytes:
        """Up to `n` bytes; fewer only at the end of the member."""
        while len(self._buf) < n and self._fill():
            pass
        out = bytes(self._buf[:n])
        del self._buf[:n]  # cheap: CPython's bytearray drops a prefix without copying the rest
        return out

    def _fill(self) -> bool:
        chunk = self._member.read(_STEP)
        if self._dec is None:
            data = chunk
        elif not chunk:
            if not self._dec.eof:
                raise PackageError(f"{self._origin}: its {self._member.name} is truncated")
            return False
        else:
            data = self._decompress(self._dec, chunk)
        self._produced += len(data)
        if self._limit is not None and self._produced > self._limit:
            raise PackageError(
                f"{self._origin}: its {self._member.name} unpacks to more than {self._limit >> 20} MiB, "
                "far more than any package's control files"
            )
        self._buf += data
        return bool(chunk)

    def _decompress(self, dec: _Decompressor, chunk: bytes) -> bytes:
        try:
            if dec.eof:  # another gzip member, xz stream or zstd frame follows (all valid)
                dec = self._dec = _decompressor(self._suffix)
            out = dec.decompress(chunk)
            while dec.eof and (rest := dec.unused_data):
                dec = self._dec = _decompressor(self._suffix)
                out += dec.decompress(rest)
        except _CORRUPT as exc:
            raise PackageError(f"{self._origin}: its {self._member.name} is corrupt ({exc})") from exc
        return out


@dataclass(frozen=True, slots=True)
class _Entry:
    """One tar entry with its effective name and link target, and the header's own (they may differ)."""

    info: tarfile.TarInfo
    names: tuple[str, ...]  # every name a tar reader might use for this entry
    links: tuple[str, ...]  # likewise for the link target


class _Tar:
    """A streaming tar reader that refuses truncation and anything after the end-of-archive block."""

    def __init__(self, stream: _Stream, what: str, origin: str) -> None:
        self._stream, self.what, self.origin = stream, what, origin

    def bad(self, why: str) -> PackageError:
        return PackageError(f"{self.origin}: its {self.what} {why}")

    def entries(self, keep: Callable[[_Entry], bool]) -> Iterator[tuple[_Entry, bytes | None]]:
        """Each entry, with its data when `keep` asks for it; checks the archive's end at the end."""
        while (entry := self._next()) is not None:
            size = entry.info.size
            data = self._exact(size) if keep(entry) else None
            self._skip((size if data is None else 0) + (-size % _BLOCK))
            yield entry, data
        # GNU tar pads the archive with NULs; anything else after the end-of-archive block is a hidden
        # second archive that `tar --ignore-zeros` would unpack.
        while chunk := self._stream.read(1 << 16):
            if chunk.count(0) != len(chunk):
                raise self.bad("has data after its end-of-archive block")

    def _next(self) -> _Entry | None:
        pax: dict[str, str] = {}
        long: dict[bytes, str] = {}
        while True:
            block = self._exact(_BLOCK, header=True)
            if block.count(0) == _BLOCK:
                return None
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
            except tarfile.HeaderError as exc:
                raise self.bad(f"has a corrupt member header ({exc})") from None
            if info.type not in _META_TYPES:
                return self._entry(info, pax, long)
            if info.size > _META_MAX:
                raise self.bad(f"has a {info.size}-byte extended header")
            data = self._exact(info.size)
            self._skip(-info.size % _BLOCK)
            if info.type == tarfile.XHDTYPE:
                pax.update(_pax_records(data, self))
            elif info.type != tarfile.XGLTYPE:  # dpkg ignores global pax headers; so does this
                long[info.type] = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")

    def _entry(self, info: tarfile.TarInfo, pax: dict[str, str], long: dict[bytes, str]) -> _Entry:
        header_name, header_link = info.name, info.linkname
        info.name = pax.get("path") or long.get(tarfile.GNUTYPE_LONGNAME) or header_name
        info.linkname = pax.get("linkpath") or long.get(tarfile.GNUTYPE_LONGLINK) or header_link
        if info.type not in _ENTRY_TYPES:
            raise self.bad(f"member {info.name!r} has a type dpkg does not unpack ({info.type!r})")
        if "size" in pax:
            if not pax["size"].isdigit():
                raise self.bad(f"member {info.name!r} has a bad pax size {pax['size']!r}")
            info.size = int(pax["size"])
        # With a pax path, check the header's own name too: an unpacker that ignores pax uses it.
        # (GNU long names are honoured by dpkg and GNU tar alike; their header name is a stub.)
        names = tuple(dict.fromkeys((info.name, header_name if "path" in pax else info.name)))
        links = tuple(dict.fromkeys((info.linkname, header_link if "linkpath" in pax else info.linkname)))
        return _Entry(info=info, names=names, links=links)

    def _exact(self, n: int, *, header: bool = False) -> bytes:
        data = self._stream.read(n)
        if len(data) < n:
            where = "without an end-of-archive block" if header and not data else "inside a member"
            raise self.bad(f"is truncated: it ends {where}")
        return data

    def _skip(self, n: int) -> None:
        while n > 0:
            n -= len(self._exact(min(n, 1 << 16)))


def _pax_records(data: bytes, tar: _Tar) -> dict[str, str]:
    """pax extended header records, `<length> <key>=<value>\\n` (POSIX.1-2001 pax format)."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        length_text, space, _ = data[pos : pos + 20].partition(b" ")
        if not space or not length_text.isdigit() or int(length_text) <= len(length_text) + 1:
            raise tar.bad("has a corrupt pax header")
        record = data[pos + len(length_text) + 1 : pos + int(length_text)]
        pos += int(length_text)
        key, equals, value = record.removesuffix(b"\n").partition(b"=")
        if not equals:
            raise tar.bad("has a corrupt pax header")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
    return records


def not_deb(origin: str, why: str) -> PackageError:
    """The error for a file that is not a .deb at all."""
    return PackageError(
        f"{origin} is not a Debian binary package (.deb): {why}",
        hint="pass the .deb files built by `debforge package` or dpkg-deb",
    )


class DebArchive:
    """The ar members of an open .deb, in order; each is read at most once, as a stream."""

    def __init__(self, fh: BinaryIO, origin: str) -> None:
        if fh.read(len(AR_MAGIC)) != AR_MAGIC:
            raise not_deb(origin, "it is not an ar archive")
        self._fh, self.origin = fh, origin
        self._current: _ArMember | None = None

    def next_member(self, *, skip_reserved: bool = True) -> _ArMember | None:
        """The next member (deb(5): names starting with '_' are reserved and skipped), or None at the end."""
        while (member := self._next()) is not None and skip_reserved and member.name.startswith("_"):
            pass
        return member

    def _next(self) -> _ArMember | None:
        if (done := self._current) is not None:
            while done.left:
                done.read(1 << 16)
            self._fh.read(done.size % 2)  # ar pads members to an even offset
        header = self._fh.read(_AR_HEADER)
        if not header:
            return None
        size_text = header[48:58].decode("ascii", "replace").strip()
        if len(header) < _AR_HEADER or header[58:60] != b"`\n" or not size_text.isdigit():
            raise not_deb(self.origin, "its ar member header is corrupt")
        name = header[:16].decode("ascii", "replace").rstrip().removesuffix("/")  # GNU ar ends names with /
        self._current = _ArMember(self._fh, name, int(size_text), self.origin)
        return self._current


def read_control_tar(deb: DebArchive) -> bytes:
    """Check debian-binary and control.tar (the first two members, deb(5)); return the control file."""
    first = deb.next_member(skip_reserved=False)
    if first is None or first.name != "debian-binary" or not first.read(16).startswith(b"2."):
        raise not_deb(deb.origin, "its first member is not debian-binary 2.x")
    member = deb.next_member()
    if member is None or not member.name.startswith("control.tar"):
        raise not_deb(deb.origin, "it has no control.tar member")
    tar = _open_tar(member, "control.tar", _CONTROL_SUFFIXES, CONTROL_TAR_MAX, deb.origin)
    control: bytes | None = None
    for entry, data in tar.entries(keep=lambda e: e.info.isreg() and _parts(e.info.name, tar) == _CONTROL):
        for name in entry.names:
            _parts(name, tar)
        if data is not None:
            if control is not None:
                raise tar.bad("has two control files")
            control = data
    if control is None:
        raise not_deb(deb.origin, "its control.tar has no control file")
    return control


def check_data_tar(deb: DebArchive) -> None:
    """Check data.tar (the third member) entry by entry, then walk whatever trails it to the end."""
    member = deb.next_member()
    if member is None or not member.name.startswith("data.tar"):
        raise not_deb(deb.origin, "it has no data.tar member after control.tar")
    tar = _open_tar(member, "data.tar", _DATA_SUFFIXES, None, deb.origin)
    tree = _Tree(tar)
    for entry, _ in tar.entries(keep=lambda _: False):
        tree.add(entry)
    # deb(5): readers ignore members after data.tar; they are still read, so truncation shows.
    while deb.next_member(skip_reserved=False) is not None:
        pass


def _open_tar(
    member: _ArMember, what: str, suffixes: tuple[str, ...], limit: int | None, origin: str
) -> _Tar:
    suffix = member.name.removeprefix(what)
    if suffix not in suffixes:
        raise not_deb(origin, f"its {member.name} uses a compression dpkg does not know")
    return _Tar(_Stream(member, suffix, limit, origin), what, origin)


class _Tree:
    """What data.tar has laid down so far: enough to tell where each later entry would land."""

    def __init__(self, tar: _Tar) -> None:
        self._tar = tar
        self._symlinks: set[tuple[str, ...]] = set()
        self._files: set[tuple[str, ...]] = set()

    def add(self, entry: _Entry) -> None:
        info = entry.info
        for name in entry.names:
            self._not_through_symlink(name, _parts(name, self._tar))
        parts = _parts(info.name, self._tar)
        if info.issym():
            self._symlinks.add(parts)
        elif info.islnk():
            # A tar hard link names an entry archived earlier; anything else would link to whatever
            # the unpacking system has at that path (/etc/shadow, say).
            for link in entry.links:
                target = _parts(link, self._tar, what="hard link target")
                self._not_through_symlink(link, target)
                if target not in self._files:
                    raise self._tar.bad(
                        f"member {info.name!r} is a hard link to {link!r}, which is not an earlier file in it"
                    )
        if info.isreg() or info.islnk():
            self._files.add(parts)

    def _not_through_symlink(self, name: str, parts: tuple[str, ...]) -> None:
        # dpkg and tar would follow the symlink and write wherever it points, outside the package.
        for i in range(len(parts)):
            if parts[:i] in self._symlinks:
                link = "/".join(parts[:i]) or "."
                raise self._tar.bad(f"member {name!r} goes through the symlink {link!r} in it")


def _parts(name: str, tar: _Tar, *, what: str = "member") -> tuple[str, ...]:
    """A member name's components below the package root; refuses names that leave it."""
    if name.startswith("/"):
        raise tar.bad(f"{what} {name!r} is an absolute path (dpkg-deb writes ./-relative ones)")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise tar.bad(f"{what} {name!r} climbs out of the package with '..'")
    # dpkg: "newline not allowed in archive object name" (src/main/archives.c).
    if "\n" in name:
        raise tar.bad(f"{what} {name!r} has a newline in its name, which dpkg refuses")
    return parts
