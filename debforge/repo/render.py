"""Pure rendering of an apt repository's text: pool paths, Packages stanzas, Release files."""

from __future__ import annotations

import gzip
import lzma
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath

from debforge.repo.debfile import DebInfo

# apt-pkg/tagfile-order.c (apt 2.6, bookworm): the field order apt-ftparchive writes stanzas in,
# "inspired by both dpkg and dak". Fields not listed follow in the control file's own order.
# Checked against `apt-ftparchive packages` here (tests/test_repo.py uses it as the oracle).
PACKAGE_FIELD_ORDER: tuple[str, ...] = (
    "Package", "Package-Type", "Architecture", "Subarchitecture", "Version", "Revision",
    "Package-Revision", "Package_Revision", "Kernel-Version", "Built-Using", "Static-Built-Using",
    "Built-For-Profiles", "Auto-Built-Package", "Multi-Arch", "Status", "Priority", "Class",
    "Protected", "Important", "Essential", "Installer-Menu-Item", "Section", "Source", "Origin",
    "Phased-Update-Percentage", "Maintainer", "Original-Maintainer", "Bugs", "Config-Version",
    "Conffiles", "Triggers-Awaited", "Triggers-Pending", "Installed-Size", "Provides", "Pre-Depends",
    "Depends", "Recommends", "Recommended", "Suggests", "Optional", "Conflicts", "Breaks", "Replaces",
    "Enhances", "Filename", "MSDOS-Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512", "Homepage",
    "Description", "Description-md5", "Tag", "Task",
)  # fmt: skip
_RANK = {name.lower(): i for i, name in enumerate(PACKAGE_FIELD_ORDER)}
# Fields the archive computes itself; a deb's own copies (there should be none) are dropped.
_ARCHIVE_FIELDS = frozenset({"filename", "size", "md5sum", "sha1", "sha256", "sha512"})


def pool_prefix(source: str) -> str:
    """The pool subdirectory for a source package, as Debian's archive lays it out.

    >>> pool_prefix("hello"), pool_prefix("libssl3"), pool_prefix("lib"), pool_prefix("libfoo")
    ('h', 'libs', 'l', 'libf')
    """
    return source[:4] if source.startswith("lib") and len(source) > 3 else source[:1]  # noqa: PLR2004 - len("lib")


def pool_filename(info: DebInfo, component: str) -> PurePosixPath:
    """`pool/<component>/<prefix>/<source>/<name>_<version without epoch>_<arch>.deb`.

    Debian drops the epoch from file names (dpkg-name, dak) since `:` is awkward in URLs.
    """
    version = info.version.split(":", 1)[-1]
    name = f"{info.name}_{version}_{info.arch}.deb"
    return PurePosixPath("pool", component, pool_prefix(info.source), info.source, name)


def package_stanza(info: DebInfo, filename: PurePosixPath) -> str:
    """One Packages stanza: the control fields plus Filename, Size, MD5sum, SHA256, in apt's order."""
    fields = [(k, v) for k, v in info.fields if k.lower() not in _ARCHIVE_FIELDS]
    fields += [
        ("Filename", str(filename)),
        ("Size", str(info.size)),
        ("MD5sum", info.md5),
        ("SHA256", info.sha256),
    ]
    unknown = len(_RANK)
    order = sorted(range(len(fields)), key=lambda i: (_RANK.get(fields[i][0].lower(), unknown), i))
    return "".join(f"{fields[i][0]}: {fields[i][1]}\n" for i in order)


def render_packages(stanzas: Iterable[str]) -> bytes:
    """A Packages file: stanzas separated by one blank line (deb822)."""
    return "\n".join(stanzas).encode("utf-8")


def compress_gz(data: bytes) -> bytes:
    """gzip with mtime 0 and no file name, so equal input gives equal bytes (idempotent publish)."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def compress_xz(data: bytes) -> bytes:
    """xz, preset 6, CRC64: the same bytes for the same input."""
    return lzma.compress(data, format=lzma.FORMAT_XZ, preset=6)


def format_date(when: datetime) -> str:
    """A Release date in the RFC 2822 form apt parses, in UTC as Debian's archive writes it.

    >>> format_date(datetime(2024, 6, 10, 8, 47, 43, tzinfo=UTC))
    'Mon, 10 Jun 2024 08:47:43 UTC'
    """
    # Not strftime("%a %b"): those follow the locale, and apt only accepts the English names.
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    u = when.astimezone(UTC)
    return f"{days[u.weekday()]}, {u.day:02d} {months[u.month - 1]} {u.year} {u:%H:%M:%S} UTC"


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexFile:
    """One file a Release lists: its path below dists/<dist>/, size and hashes."""

    path: str
    size: int
    md5: str
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseInfo:
    """Everything that goes into one dist's Release file."""

    origin: str
    label: str
    suite: str
    codename: str
    date: datetime
    valid_for: timedelta | None
    architectures: tuple[str, ...]
    components: tuple[str, ...]
    description: str
    files: tuple[IndexFile, ...]


def render_release(info: ReleaseInfo) -> bytes:
    """The Release file, fields in the order Debian's archive writes them, with by-hash enabled."""
    head: list[tuple[str, str]] = [
        ("Origin", info.origin),
        ("Label", info.label),
        ("Suite", info.suite),
        ("Codename", info.codename),
        ("Date", format_date(info.date)),
    ]
    if info.valid_for is not None:
        head.append(("Valid-Until", format_date(info.date + info.valid_for)))
    head += [
        ("Architectures", " ".join(info.architectures)),
        ("Components", " ".join(info.components)),
        ("Description", info.description),
        # apt fetches indexes as by-hash/SHA256/<hash> when this is set, so a Release always
        # finds the exact files it lists even while a newer publish replaces the named ones.
        ("Acquire-By-Hash", "yes"),
    ]
    lines = [f"{k}: {v}" for k, v in head if v]
    files = sorted(info.files, key=lambda f: f.path)
    lines += _hash_block("MD5Sum", [(f.md5, f.size, f.path) for f in files])
    lines += _hash_block("SHA256", [(f.sha256, f.size, f.path) for f in files])
    return ("\n".join(lines) + "\n").encode("utf-8")


def _hash_block(title: str, rows: Sequence[tuple[str, int, str]]) -> list[str]:
    # apt-ftparchive's layout: the size right-aligned in 16 columns.
    return [f"{title}:", *(f" {digest} {size:>16} {path}" for digest, size, path in rows)]


def parse_release_hashes(text: str) -> dict[str, tuple[int, str]]:
    """path → (size, sha256) from a Release or InRelease text (a reader's view, used by tests too)."""
    out: dict[str, tuple[int, str]] = {}
    in_sha256 = False
    for line in text.splitlines():
        if not line.startswith(" "):
            in_sha256 = line.strip() == "SHA256:"
            continue
        if in_sha256 and len(parts := line.split()) == 3:  # noqa: PLR2004 - hash, size, path
            out[parts[2]] = (int(parts[1]), parts[0])
    return out
