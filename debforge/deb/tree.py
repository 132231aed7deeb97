"""The objects of a package's installed tree (data.tar): one frozen type per kind, and their union."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from debforge.deb.tarstream import Kind

FileKind = Kind  # what an entry of the installed tree is, as the tar writer names it


@dataclass(frozen=True, slots=True, kw_only=True)
class FileFromPath:
    """A regular file of the installed tree whose bytes are read from `source` when the .deb is written."""

    dest: PurePosixPath
    source: Path
    mode: int | None = None  # None: 0755 when `source` is executable, else 0644


@dataclass(frozen=True, slots=True, kw_only=True)
class FileFromBytes:
    """A regular file of the installed tree with its bytes given inline (copyright, changelog, overrides)."""

    dest: PurePosixPath
    data: bytes
    mode: int = 0o644


@dataclass(frozen=True, slots=True, kw_only=True)
class Directory:
    """A directory listed on its own (parents of other entries are added as 0755 anyway)."""

    dest: PurePosixPath
    mode: int = 0o755


@dataclass(frozen=True, slots=True, kw_only=True)
class Symlink:
    """A symbolic link; dpkg-deb archives it with mode 0777 and `target` verbatim."""

    dest: PurePosixPath
    target: str


# One object of the installed tree (data.tar), as its own type per kind.
TreeEntry = FileFromPath | FileFromBytes | Directory | Symlink


def kind_of(entry: TreeEntry) -> FileKind:
    """The tar entry type an object of the tree is archived as."""
    match entry:
        case Directory():
            return "dir"
        case Symlink():
            return "symlink"
        case FileFromPath() | FileFromBytes():
            return "file"
