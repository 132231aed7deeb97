"""Tar streams laid out byte for byte as GNU tar writes them for `dpkg-deb --build` (--format=gnu)."""

from __future__ import annotations

import os
import tarfile
from typing import Literal

from debforge.deb.compress import Sink

Kind = Literal["file", "dir", "symlink"]

# GNU tar's default blocking factor 20: an archive is padded to a multiple of 10240 bytes, as dpkg-deb's is.
_TAR_RECORD = 10240
_TYPEFLAG = {"file": b"0", "dir": b"5", "symlink": b"2"}


def _numeric(value: int, width: int) -> bytes:
    """An octal header field with its NUL, or GNU's base-256 form when octal does not fit (files > 8 GiB)."""
    if value < 8 ** (width - 1):
        return b"%0*o\0" % (width - 1, value)
    return b"\x80" + value.to_bytes(width - 1, "big")


def _tar_header(
    name: bytes, typeflag: bytes, *, mode: int, size: int, mtime: int, linkname: bytes = b""
) -> bytes:
    """One 512-byte header laid out as GNU tar 1.34 writes it (--format=gnu, root:root, no device numbers)."""
    header = bytearray(512)
    header[0:100] = name[:100].ljust(100, b"\0")
    header[100:148] = (
        _numeric(mode, 8) + _numeric(0, 8) + _numeric(0, 8) + _numeric(size, 12) + _numeric(mtime, 12)
    )
    header[148:156] = b" " * 8  # the checksum is computed with its own field as spaces
    header[156:157] = typeflag
    header[157:257] = linkname[:100].ljust(100, b"\0")
    header[257:265] = b"ustar  \0"  # GNU magic + version
    header[265:329] = b"root".ljust(32, b"\0") * 2  # uname, gname
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def _gnu_long_entry(typeflag: bytes, value: bytes) -> bytes:
    """A `././@LongLink` entry carrying a name or target longer than 100 bytes, as GNU tar writes it."""
    payload = value + b"\0"
    header = _tar_header(b"././@LongLink", typeflag, mode=0o644, size=len(payload), mtime=0)
    return header + payload + b"\0" * (-len(payload) % 512)


class TarWriter:
    """GNU-format tar entries (as `tar --format=gnu` in dpkg-deb) owned by root:root, one fixed mtime."""

    def __init__(self, sink: Sink, *, mtime: int) -> None:
        self._sink = sink
        self._mtime = mtime
        self._written = 0

    def add(self, name: str, kind: Kind, mode: int, size: int = 0, *, linkname: str = "") -> None:
        """Write one header; a file's `size` bytes must follow through `data`."""
        encoded, target = os.fsencode(name), os.fsencode(linkname)
        # GNU tar writes a long target ('K') before a long name ('L'), then the header with both cut short.
        if len(target) > tarfile.LENGTH_LINK:
            self._put(_gnu_long_entry(tarfile.GNUTYPE_LONGLINK, target))
        if len(encoded) > tarfile.LENGTH_NAME:
            self._put(_gnu_long_entry(tarfile.GNUTYPE_LONGNAME, encoded))
        typeflag = _TYPEFLAG[kind]
        self._put(_tar_header(encoded, typeflag, mode=mode, size=size, mtime=self._mtime, linkname=target))

    def data(self, chunk: bytes) -> None:
        """Part of the current file's content."""
        self._put(chunk)

    def end_file(self) -> None:
        """Pad the current file's content to a 512-byte block."""
        self._put(b"\0" * (-self._written % 512))

    def close(self) -> None:
        """Two zero blocks, then zeros up to the record size."""
        self._put(b"\0" * 1024)
        self._put(b"\0" * (-self._written % _TAR_RECORD))

    def _put(self, data: bytes) -> None:
        self._written += len(data)
        self._sink.write(data)
