"""The .deb writer: a PackageSpec becomes ar + control.tar + data.tar bytes, reproducibly and atomically.

Format code only (style rule 9): nothing here knows about Rust, recipes or targets.
"""

from __future__ import annotations

import hashlib
import io
import math
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from debforge.cache import HashingWriter, atomic_output
from debforge.deb.check import DATA_MEMBERS, check_spec
from debforge.deb.compress import Compression, gzip_bytes, open_compressor
from debforge.deb.tarstream import TarWriter
from debforge.deb.tree import Directory, FileFromBytes, FileFromPath, FileKind, Symlink, TreeEntry, kind_of
from debforge.errors import PackageError
from debforge.report import Reporter

__all__ = [
    "Directory", "FileFromBytes", "FileFromPath", "FileKind", "Package", "PackageSpec", "Symlink",
    "TreeEntry", "changelog_gz", "control_fields", "control_text", "deb_filename", "write_deb",
]  # fmt: skip

_SUFFIX: dict[Compression, str] = {"xz": "xz", "zstd": "zst", "gzip": "gz"}
_CHUNK = 1 << 20
# dpkg-gencontrol's output order for a binary package (Dpkg::Control::FieldsCore, CTRL_PKG_DEB); fields
# it does not know follow, sorted by name (Dpkg::Control::HashCore::output).
_FIELD_ORDER = (
    "Package", "Package-Type", "Source", "Version", "Kernel-Version", "Built-For-Profiles",
    "Auto-Built-Package", "Architecture", "Subarchitecture", "Installer-Menu-Item", "Build-Essential",
    "Essential", "Protected", "Origin", "Bugs", "Maintainer", "Installed-Size", "Pre-Depends", "Depends",
    "Recommends", "Suggests", "Enhances", "Conflicts", "Breaks", "Replaces", "Provides", "Built-Using",
    "Static-Built-Using", "Section", "Priority", "Multi-Arch", "Homepage", "Description", "Tag", "Task",
)  # fmt: skip
_RANK = {name.lower(): rank for rank, name in enumerate(_FIELD_ORDER)}


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageSpec:
    """Everything a binary package is made of; relation fields are already-formatted strings."""

    name: str
    version: str
    arch: str
    maintainer: str
    description: str  # first line: the synopsis; following lines: the extended description
    section: str | None = None
    priority: str | None = "optional"
    homepage: str | None = None
    source: str | None = None
    pre_depends: str = ""
    depends: str = ""
    recommends: str = ""
    suggests: str = ""
    enhances: str = ""
    conflicts: str = ""
    breaks: str = ""
    replaces: str = ""
    provides: str = ""
    multi_arch: str | None = None
    essential: bool = False
    files: tuple[TreeEntry, ...] = ()
    conffiles: tuple[str, ...] = ()
    scripts: Mapping[str, bytes] = field(default_factory=dict)
    extra_fields: Mapping[str, str] = field(default_factory=dict)
    source_date_epoch: int = 0
    compression: Compression = "xz"


@dataclass(frozen=True, slots=True, kw_only=True)
class Package:
    """A written .deb: where it is, what it was made from, and its control paragraph."""

    path: Path
    spec: PackageSpec
    sha256: str
    size: int
    installed_size: int
    control: str

    def to_json(self) -> dict[str, object]:
        """The facts a build record or `--json` prints."""
        return {
            "path": str(self.path),
            "package": self.spec.name,
            "version": self.spec.version,
            "architecture": self.spec.arch,
            "sha256": self.sha256,
            "size": self.size,
            "installed_size": self.installed_size,
        }


@dataclass(frozen=True, slots=True)
class _Member:
    """One tar entry of data.tar, in archive order."""

    name: str  # "./usr/bin/foo"; "./" for the root
    kind: FileKind
    mode: int
    size: int
    entry: TreeEntry | None  # None for a parent directory nobody listed


def changelog_gz(data: bytes) -> bytes:
    """Compress a changelog as Debian ships it (`gzip -9n`: no name, mtime 0, so reproducible)."""
    return gzip_bytes(data)


def deb_filename(spec: PackageSpec) -> str:
    """`<name>_<version without epoch>_<arch>.deb`, the name dpkg-name and the archive use."""
    return f"{spec.name}_{spec.version.partition(':')[2] or spec.version}_{spec.arch}.deb"


def write_deb(
    spec: PackageSpec,
    out_dir: Path,
    *,
    reporter: Reporter,
    allow_zstd: bool = False,
    threads: int | None = None,
) -> Package:
    """Validate `spec` and write its .deb into `out_dir` atomically; the bytes never depend on `threads`.

    `allow_zstd` says the target's dpkg reads zstd members (Debian 12 and later).
    """
    check_spec(spec, allow_zstd=allow_zstd)
    members = _plan_members(spec)
    size_kib = _installed_size(members)
    control = control_text(spec, installed_size=size_kib)
    path = out_dir / deb_filename(spec)
    try:
        with (
            reporter.step(f"write {path.name}"),
            atomic_output(path) as tmp,
            # An unnamed file (O_TMPFILE): data.tar must be complete before its ar header can be written.
            tempfile.TemporaryFile(dir=out_dir) as data_file,
        ):
            md5s = _write_data_tar(members, spec, data_file, threads=threads, reporter=reporter)
            control_tar = _control_tar(spec, control, md5s, threads=threads)
            digest, size = _write_ar(tmp, spec, control_tar, data_file)
    except OSError as exc:
        raise PackageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return Package(path=path, spec=spec, sha256=digest, size=size, installed_size=size_kib, control=control)


def _default_mode(entry: TreeEntry) -> int:
    if isinstance(entry, Symlink):
        return 0o777
    if entry.mode is not None:
        return entry.mode
    # Only a FileFromPath leaves its mode open: it keeps its source's executable bit (cargo-deb).
    return 0o755 if entry.source.stat().st_mode & 0o111 else 0o644


def _entry_size(entry: TreeEntry) -> int:
    match entry:
        case FileFromPath(source=source):
            return source.stat().st_size
        case FileFromBytes(data=data):
            return len(data)
        case Directory() | Symlink():
            return 0


def _link_target(entry: TreeEntry | None) -> str:
    return entry.target if isinstance(entry, Symlink) else ""


def _sort_key(member: _Member) -> tuple[bool, tuple[bytes, ...]]:
    # dpkg-deb --build walks the tree depth-first with each directory's entries sorted bytewise, and
    # emits symlinks after everything else (dpkg-deb/build.c), so an unpacker never follows a symlink
    # made earlier in the same archive.
    parts = tuple(part.encode() for part in PurePosixPath(member.name).parts)
    return member.kind == "symlink", parts


def _tar_name(dest: PurePosixPath, kind: FileKind) -> str:
    """`./usr/bin/foo`, with a trailing slash for directories, as dpkg-deb names entries."""
    relative = str(dest.relative_to("/"))
    if relative == ".":
        return "./"
    return f"./{relative}/" if kind == "dir" else f"./{relative}"


def _plan_members(spec: PackageSpec) -> tuple[_Member, ...]:
    """Every tar entry: the given ones, plus each parent directory (0755) down from `./`."""
    listed = {entry.dest: entry for entry in spec.files}
    # dpkg-deb always archives the root directory, even for a package with no files.
    members = {PurePosixPath("/"): _Member("./", "dir", 0o755, 0, None)}
    for dest, entry in listed.items():
        for parent in dest.parents:
            if parent not in listed and parent not in members:
                members[parent] = _Member(_tar_name(parent, "dir"), "dir", 0o755, 0, None)
        kind, mode = kind_of(entry), _default_mode(entry) & 0o7777
        members[dest] = _Member(_tar_name(dest, kind), kind, mode, _entry_size(entry), entry)
    return tuple(sorted(members.values(), key=_sort_key))


def _installed_size(members: Iterable[_Member]) -> int:
    """Installed-Size in KiB as dpkg-gencontrol counts it: ceil(size/1024) per file or symlink, 1 per dir.

    A symlink's size is its target's length (lstat), so it counts 1 KiB like a directory does.
    """
    total = 0
    for member in members:
        if member.kind == "file":
            total += math.ceil(member.size / 1024)
        elif member.kind == "symlink":
            total += math.ceil(len(_link_target(member.entry).encode()) / 1024)
        else:
            total += 1
    return total


def _description(text: str) -> str:
    """Policy 5.6.13: the synopsis, then the extended lines each indented by one space, '.' for blanks."""
    synopsis, _, extended = text.strip("\n").partition("\n")
    lines = [f" {line}" if line.strip() else " ." for line in extended.rstrip().splitlines()]
    return "\n".join([synopsis.strip(), *lines])


def control_fields(spec: PackageSpec, *, installed_size: int) -> list[tuple[str, str]]:
    """The control paragraph as (field, value) pairs in the order dpkg-gencontrol writes them."""
    fields = {
        "Package": spec.name,
        "Source": spec.source or "",
        "Version": spec.version,
        "Architecture": spec.arch,
        "Essential": "yes" if spec.essential else "",
        "Maintainer": spec.maintainer,
        "Installed-Size": str(installed_size),
        "Pre-Depends": spec.pre_depends,
        "Depends": spec.depends,
        "Recommends": spec.recommends,
        "Suggests": spec.suggests,
        "Enhances": spec.enhances,
        "Conflicts": spec.conflicts,
        "Breaks": spec.breaks,
        "Replaces": spec.replaces,
        "Provides": spec.provides,
        "Section": spec.section or "",
        "Priority": spec.priority or "",
        "Multi-Arch": spec.multi_arch or "",
        "Homepage": spec.homepage or "",
        "Description": _description(spec.description),
        **spec.extra_fields,
    }
    present = [(name, value.strip()) for name, value in fields.items() if value.strip()]
    return sorted(present, key=lambda item: (_RANK.get(item[0].lower(), len(_RANK)), item[0]))


def control_text(spec: PackageSpec, *, installed_size: int) -> str:
    """The `control` file: one paragraph, continuation lines kept as given."""
    return "".join(
        f"{name}: {value}\n" for name, value in control_fields(spec, installed_size=installed_size)
    )


def _file_chunks(entry: TreeEntry, expected: int) -> Iterator[bytes]:
    """The content of a file entry, checked against the size the header already announced."""
    if isinstance(entry, FileFromBytes):
        yield entry.data
        return
    if not isinstance(entry, FileFromPath):
        return
    seen = 0
    with entry.source.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            seen += len(chunk)
            yield chunk
    if seen != expected:
        raise PackageError(f"{entry.source} changed size while it was being packaged")


def _write_data_tar(
    members: tuple[_Member, ...],
    spec: PackageSpec,
    out: IO[bytes],
    *,
    threads: int | None,
    reporter: Reporter,
) -> dict[str, str]:
    """Stream data.tar through the compressor into `out`; return md5 by path for `md5sums`."""
    compressor = open_compressor(spec.compression, out, threads=threads)
    try:
        md5s = _stream_data_tar(members, TarWriter(compressor, mtime=spec.source_date_epoch), spec, reporter)
    except BaseException:
        compressor.abort()
        raise
    compressor.close()
    return md5s


def _stream_data_tar(
    members: tuple[_Member, ...], tar: TarWriter, spec: PackageSpec, reporter: Reporter
) -> dict[str, str]:
    md5s: dict[str, str] = {}
    total = sum(member.size for member in members)
    with reporter.progress(f"compress data.tar.{_SUFFIX[spec.compression]}", total) as bar:
        for member in members:
            tar.add(member.name, member.kind, member.mode, member.size, linkname=_link_target(member.entry))
            if member.kind != "file" or member.entry is None:
                continue
            digest = hashlib.md5()  # noqa: S324 - md5sums is dpkg's format, not a security check
            for chunk in _file_chunks(member.entry, member.size):
                digest.update(chunk)
                tar.data(chunk)
                bar.advance(len(chunk))
            tar.end_file()
            md5s[member.name[2:]] = digest.hexdigest()
        tar.close()
    return md5s


def _control_files(spec: PackageSpec, control: str, md5s: Mapping[str, str]) -> dict[str, tuple[bytes, int]]:
    files = {"control": (control.encode(), 0o644)}
    # dh_md5sums leaves conffiles out: dpkg records their hashes from the conffiles list instead.
    skipped = {conffile.lstrip("/") for conffile in spec.conffiles}
    lines = [f"{md5s[path]}  {path}\n" for path in sorted(md5s, key=str.encode) if path not in skipped]
    if lines:
        files["md5sums"] = ("".join(lines).encode(), 0o644)
    if spec.conffiles:
        files["conffiles"] = ("".join(f"{path}\n" for path in spec.conffiles).encode(), 0o644)
    for name, body in spec.scripts.items():
        # Policy 10.9 / dpkg: maintainer scripts must be executable; templates, triggers, shlibs are data.
        files[name] = (body, 0o644 if name in DATA_MEMBERS else 0o755)
    return files


def _control_tar(spec: PackageSpec, control: str, md5s: Mapping[str, str], *, threads: int | None) -> bytes:
    """control.tar, compressed like data.tar (dpkg-deb >= 1.21 does the same)."""
    raw = io.BytesIO()
    tar = TarWriter(raw, mtime=spec.source_date_epoch)
    tar.add("./", "dir", 0o755)
    for name, (body, mode) in sorted(_control_files(spec, control, md5s).items()):
        tar.add(f"./{name}", "file", mode, len(body))
        tar.data(body)
        tar.end_file()
    tar.close()
    buffer = io.BytesIO()
    compressor = open_compressor(spec.compression, buffer, threads=threads, size=len(raw.getvalue()))
    compressor.write(raw.getvalue())
    compressor.close()
    return buffer.getvalue()


def _ar_header(name: str, size: int, mtime: int) -> bytes:
    # dpkg's ar writer (lib/dpkg/ar.c): no trailing '/', uid/gid 0, mode 100644.
    return f"{name:<16}{mtime:<12}{0:<6}{0:<6}{100644:<8}{size:<10}`\n".encode()


def _write_ar(path: Path, spec: PackageSpec, control_tar: bytes, data_file: IO[bytes]) -> tuple[str, int]:
    """The .deb itself: `!<arch>` then debian-binary, control.tar.*, data.tar.* in that order (deb(5))."""
    suffix = _SUFFIX[spec.compression]
    data_size = data_file.seek(0, 2)
    data_file.seek(0)
    with path.open("wb") as fh:
        out = HashingWriter(fh)
        out.write(b"!<arch>\n")
        for name, size, body in (
            ("debian-binary", 4, b"2.0\n"),
            (f"control.tar.{suffix}", len(control_tar), control_tar),
            (f"data.tar.{suffix}", data_size, None),
        ):
            out.write(_ar_header(name, size, spec.source_date_epoch))
            if body is not None:
                out.write(body)
            else:
                while chunk := data_file.read(_CHUNK):
                    out.write(chunk)
            if size % 2:
                out.write(b"\n")
    return out.sha256.hexdigest(), out.size
