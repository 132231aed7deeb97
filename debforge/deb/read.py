"""Read a .deb without dpkg: its control stanza, size and hashes (own ar + tar reader, deb(5))."""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from debforge.errors import PackageError

Fields = tuple[tuple[str, str], ...]  # (name, value) in the order the control file has them

_AR_MAGIC = b"!<arch>\n"
_AR_HEADER = 60
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class DebInfo:
    """A .deb's control fields plus the file facts an index lists (Size, MD5sum, SHA256)."""

    fields: Fields
    size: int
    md5: str
    sha256: str

    def get(self, name: str, default: str = "") -> str:
        """A control field's value (field names are case-insensitive, Policy 5.1)."""
        low = name.lower()
        return next((v for k, v in self.fields if k.lower() == low), default)

    @property
    def name(self) -> str:
        """The Package field."""
        return self.get("Package")

    @property
    def version(self) -> str:
        """The Version field."""
        return self.get("Version")

    @property
    def arch(self) -> str:
        """The Architecture field."""
        return self.get("Architecture")

    @property
    def source(self) -> str:
        """The source package name: `Source` without its `(version)`, else the binary name."""
        return self.get("Source").split("(")[0].strip() or self.name

    def to_json(self) -> dict[str, object]:
        """A JSON-ready record (also the on-disk cache format)."""
        return {
            "fields": [list(f) for f in self.fields],
            "size": self.size,
            "md5": self.md5,
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> DebInfo:
        """Inverse of to_json."""
        raw = data["fields"]
        if not isinstance(raw, list):
            raise TypeError("cached deb record without a field list")
        return cls(
            fields=tuple((str(k), str(v)) for k, v in raw),
            size=int(str(data["size"])),
            md5=str(data["md5"]),
            sha256=str(data["sha256"]),
        )


def parse_control(text: str) -> Fields:
    """Split one deb822 stanza into (name, value) pairs, keeping continuation lines verbatim.

    >>> parse_control("Package: foo\\nDescription: short\\n long\\n .\\n more\\n")
    (('Package', 'foo'), ('Description', 'short\\n long\\n .\\n more'))
    """
    fields: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] in " \t":
            if not fields:
                raise ValueError("continuation line before the first field")
            name, value = fields[-1]
            fields[-1] = (name, f"{value}\n{line.rstrip()}")
        elif ":" in line:
            name, _, value = line.partition(":")
            fields.append((name.strip(), value.strip()))
        else:
            raise ValueError(f"line without a colon: {line!r}")
    return tuple(fields)


def read_deb(path: Path) -> DebInfo:
    """Read `path`'s control stanza and hashes; PackageError (one sentence) if it is not a .deb."""
    try:
        with path.open("rb") as fh:
            control = _read_control(fh, path)
            fh.seek(0)
            size, md5, sha256 = _hash_stream(fh)
    except OSError as exc:
        raise PackageError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        fields = parse_control(control.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PackageError(f"{path} has a malformed control file: {exc}") from exc
    info = DebInfo(fields=fields, size=size, md5=md5, sha256=sha256)
    for needed in ("Package", "Version", "Architecture"):
        if not info.get(needed):
            raise PackageError(f"{path} has no {needed} field in its control file")
    return info


def _hash_stream(fh: BinaryIO) -> tuple[int, str, str]:
    md5, sha256, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    while chunk := fh.read(_CHUNK):
        md5.update(chunk)
        sha256.update(chunk)
        size += len(chunk)
    return size, md5.hexdigest(), sha256.hexdigest()


def _not_deb(path: Path, why: str) -> PackageError:
    return PackageError(
        f"{path} is not a Debian binary package (.deb): {why}",
        hint="pass the .deb files built by `debforge package` or dpkg-deb",
    )


def _read_control(fh: BinaryIO, path: Path) -> bytes:
    # deb(5): an ar archive whose first member is debian-binary "2.0\n", then control.tar[.gz|.xz|.zst].
    if fh.read(len(_AR_MAGIC)) != _AR_MAGIC:
        raise _not_deb(path, "it is not an ar archive")
    first = True
    while header := fh.read(_AR_HEADER):
        if len(header) < _AR_HEADER:
            break
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise _not_deb(path, "its ar member header is corrupt") from None
        data = fh.read(size)
        fh.read(size % 2)  # ar pads members to an even offset
        if first and (name != "debian-binary" or not data.startswith(b"2.")):
            raise _not_deb(path, "its first member is not debian-binary 2.x")
        first = False
        if name.startswith("control.tar"):
            return _control_from_tar(_decompress(name, data, path), path)
    raise _not_deb(path, "it has no control.tar member")


def _decompress(member: str, data: bytes, path: Path) -> bytes:
    try:
        if member.endswith(".gz"):
            return gzip.decompress(data)
        if member.endswith(".xz"):
            return lzma.decompress(data)
        if member.endswith(".zst"):
            return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError) as exc:
        raise _not_deb(path, f"its {member} is corrupt ({exc})") from exc
    if member == "control.tar":
        return data
    raise _not_deb(path, f"its {member} uses a compression dpkg does not know")


def _control_from_tar(data: bytes, path: Path) -> bytes:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                if member.isfile() and member.name.lstrip("./") == "control":
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        return extracted.read()
    except tarfile.TarError as exc:
        raise _not_deb(path, f"its control.tar is corrupt ({exc})") from exc
    raise _not_deb(path, "its control.tar has no control file")
