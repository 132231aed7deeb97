"""Read a .deb without dpkg and without trusting it: its control stanza, size and hashes (deb(5))."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from debforge.deb import members
from debforge.deb.check import check_control
from debforge.errors import PackageError

Fields = tuple[tuple[str, str], ...]  # (name, value) in the order the control file has them

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

    Lines end at '\\n' only (as dpkg reads them, not str.splitlines' dozen separators), and a blank
    line ends the stanza: a binary package has exactly one.

    >>> parse_control("Package: foo\\nDescription: short\\n long\\n .\\n more\\n")
    (('Package', 'foo'), ('Description', 'short\\n long\\n .\\n more'))
    """
    fields: list[tuple[str, str]] = []
    ended = False
    for line in text.split("\n"):
        if not line:
            ended = ended or bool(fields)
        elif ended:
            raise ValueError("it has a second stanza after a blank line")
        elif line[0] in " \t":
            fields.append(_continue(fields, line))
        elif ":" in line:
            name, _, value = line.partition(":")
            fields.append((name.strip(), value.strip()))
        else:
            raise ValueError(f"line {line!r} has no colon")
    return tuple(fields)


def _continue(fields: list[tuple[str, str]], line: str) -> tuple[str, str]:
    if not fields:
        raise ValueError("it starts with a continuation line")
    name, value = fields.pop()
    if not line.strip():  # dpkg: "blank line in value of field"
        raise ValueError(f"the {name} field has a blank line in its value")
    return name, f"{value}\n{line.rstrip()}"


def read_deb(path: Path) -> DebInfo:
    """Read and check `path`: its members (nothing is extracted), its control stanza, its hashes.

    PackageError (one sentence naming the file) for anything dpkg would refuse or a hostile
    package could use: bad names in control fields, unsafe data.tar members, truncation, bombs.
    """
    try:
        with path.open("rb") as fh:
            deb = members.DebArchive(fh, str(path))
            fields = _control_fields(members.read_control_tar(deb), path)
            members.check_data_tar(deb)
            fh.seek(0)
            size, md5, sha256 = _hash_stream(fh)
    except OSError as exc:
        raise PackageError(f"cannot read {path}: {exc.strerror}") from exc
    return DebInfo(fields=fields, size=size, md5=md5, sha256=sha256)


def _control_fields(control: bytes, path: Path) -> Fields:
    """The control stanza, checked before anything uses a field (they become pool paths and names)."""
    try:
        fields = parse_control(control.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PackageError(f"{path} has a malformed control file: {exc}") from exc
    check_control(fields, str(path))
    return fields


def _hash_stream(fh: BinaryIO) -> tuple[int, str, str]:
    md5, sha256, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    while chunk := fh.read(_CHUNK):
        md5.update(chunk)
        sha256.update(chunk)
        size += len(chunk)
    return size, md5.hexdigest(), sha256.hexdigest()
