"""Unit tests of the .deb writer: layout, control, Installed-Size, reproducibility, atomicity, bad input."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import lzma
import os
import random
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import zstandard

from debforge.deb import (
    Directory,
    FileFromBytes,
    FileFromPath,
    PackageSpec,
    Symlink,
    TreeEntry,
    changelog_gz,
    control_text,
    deb_filename,
    write_deb,
)
from debforge.deb.compress import ParallelXzWriter, open_compressor
from debforge.errors import PackageError
from debforge.report import NullReporter

SDE = 1_700_000_000


def read_ar(data: bytes) -> list[tuple[bytes, bytes]]:
    """(header, body) of each ar member, checking the global header."""
    assert data[:8] == b"!<arch>\n"
    members, offset = [], 8
    while offset < len(data):
        header = data[offset : offset + 60]
        size = int(header[48:58])
        members.append((header, data[offset + 60 : offset + 60 + size]))
        offset += 60 + size + size % 2
    return members


def decompress(name: bytes, body: bytes) -> bytes:
    if name.endswith(b".xz"):
        return lzma.decompress(body)
    if name.endswith(b".zst"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    return gzip.decompress(body)


def open_member(deb: bytes, prefix: bytes) -> tuple[bytes, tarfile.TarFile]:
    for header, body in read_ar(deb):
        if header.startswith(prefix):
            raw = decompress(header[:16].rstrip(), body)
            return raw, tarfile.open(fileobj=io.BytesIO(raw))
    raise AssertionError(f"no {prefix!r} member")


def sample_spec(src: Path, **changes: Any) -> PackageSpec:
    """A small package with every kind of entry, a conffile and a maintainer script."""
    script = src / "hello"
    if not script.exists():
        src.mkdir(parents=True, exist_ok=True)
        script.write_bytes(b"#!/bin/sh\necho hello\n")
        script.chmod(0o755)
        (src / "big").write_bytes(b"x" * 1025)
    spec = PackageSpec(
        name="hello",
        version="1:1.0~rc1-1",
        arch="arm64",
        maintainer="Jane Doe <jane@example.org>",
        description="greet the world\nA longer text.\n\nSecond paragraph.",
        section="utils",
        homepage="https://example.org/hello",
        depends="libc6 (>= 2.34), libssl3 | libssl1.1",
        breaks="oldhello (<< 1.0)",
        conflicts="otherhello",
        files=(
            FileFromPath(dest=PurePosixPath("/usr/bin/hello"), source=script),
            FileFromPath(dest=PurePosixPath("/usr/share/hello/big"), source=src / "big"),
            FileFromBytes(dest=PurePosixPath("/etc/hello.conf"), data=b"greeting=hi\n"),
            Symlink(dest=PurePosixPath("/usr/bin/hi"), target="hello"),
            Directory(dest=PurePosixPath("/var/lib/hello"), mode=0o750),
            FileFromBytes(dest=PurePosixPath("/usr/share/hello/empty"), data=b""),
        ),
        conffiles=("/etc/hello.conf",),
        scripts={"postinst": b"#!/bin/sh\nset -e\n", "triggers": b"interest /usr/share/hello\n"},
        source_date_epoch=SDE,
    )
    return dataclasses.replace(spec, **changes)


@pytest.fixture
def spec(tmp_path: Path) -> PackageSpec:
    return sample_spec(tmp_path / "src")


def build(spec: PackageSpec, out: Path, **kwargs: Any) -> bytes:
    return write_deb(spec, out, reporter=NullReporter(), **kwargs).path.read_bytes()


def test_ar_members_and_headers(spec: PackageSpec, tmp_path: Path) -> None:
    package = write_deb(spec, tmp_path / "out", reporter=NullReporter())
    assert package.path.name == "hello_1.0~rc1-1_arm64.deb"
    data = package.path.read_bytes()
    assert package.size == len(data)
    assert package.sha256 == hashlib.sha256(data).hexdigest()
    assert oct(package.path.stat().st_mode & 0o777) == "0o644"
    members = read_ar(data)
    assert [header[:16] for header, _ in members] == [
        b"debian-binary   ",
        b"control.tar.xz  ",
        b"data.tar.xz     ",
    ]
    assert members[0][1] == b"2.0\n"
    for header, _ in members:
        assert header[16:48] == b"1700000000  0     0     100644  "


def test_data_tar_layout(spec: PackageSpec, tmp_path: Path) -> None:
    raw, tar = open_member(build(spec, tmp_path / "out"), b"data.tar")
    assert len(raw) % 10240 == 0
    names = [(m.name, m.type, oct(m.mode), m.linkname) for m in tar.getmembers()]
    assert names == [
        (".", tarfile.DIRTYPE, "0o755", ""),
        ("./etc", tarfile.DIRTYPE, "0o755", ""),
        ("./etc/hello.conf", tarfile.REGTYPE, "0o644", ""),
        ("./usr", tarfile.DIRTYPE, "0o755", ""),
        ("./usr/bin", tarfile.DIRTYPE, "0o755", ""),
        ("./usr/bin/hello", tarfile.REGTYPE, "0o755", ""),
        ("./usr/share", tarfile.DIRTYPE, "0o755", ""),
        ("./usr/share/hello", tarfile.DIRTYPE, "0o755", ""),
        ("./usr/share/hello/big", tarfile.REGTYPE, "0o644", ""),
        ("./usr/share/hello/empty", tarfile.REGTYPE, "0o644", ""),
        ("./var", tarfile.DIRTYPE, "0o755", ""),
        ("./var/lib", tarfile.DIRTYPE, "0o755", ""),
        ("./var/lib/hello", tarfile.DIRTYPE, "0o750", ""),
        ("./usr/bin/hi", tarfile.SYMTYPE, "0o777", "hello"),
    ]
    for member in tar.getmembers():
        assert (member.uid, member.gid, member.uname, member.gname, member.mtime) == (
            0,
            0,
            "root",
            "root",
            SDE,
        )
    assert raw[257:265] == b"ustar  \0"  # GNU tar magic, as dpkg-deb's tar --format=gnu writes
    assert raw[:3] == b"./\0"  # the root keeps its trailing slash
    extracted = tar.extractfile("./usr/bin/hello")
    assert extracted is not None
    assert extracted.read() == b"#!/bin/sh\necho hello\n"


def test_control_tar_layout(spec: PackageSpec, tmp_path: Path) -> None:
    _, tar = open_member(build(spec, tmp_path / "out"), b"control.tar")
    modes = {m.name: oct(m.mode) for m in tar.getmembers()}
    assert modes == {
        ".": "0o755",
        "./conffiles": "0o644",
        "./control": "0o644",
        "./md5sums": "0o644",
        "./postinst": "0o755",
        "./triggers": "0o644",
    }

    def text(name: str) -> str:
        member = tar.extractfile(name)
        assert member is not None
        return member.read().decode()

    assert text("./conffiles") == "/etc/hello.conf\n"
    md5 = hashlib.md5(b"#!/bin/sh\necho hello\n").hexdigest()  # noqa: S324 - the md5sums format
    lines = text("./md5sums").splitlines()
    # conffiles are left out, as dh_md5sums does; paths are relative and sorted.
    assert lines[0] == f"{md5}  usr/bin/hello"
    assert [line.split("  ")[1] for line in lines] == [
        "usr/bin/hello",
        "usr/share/hello/big",
        "usr/share/hello/empty",
    ]
    assert text("./control").startswith("Package: hello\nVersion: 1:1.0~rc1-1\nArchitecture: arm64\n")


def test_control_field_order_follows_dpkg(spec: PackageSpec) -> None:
    spec = dataclasses.replace(
        spec,
        source="hello-src (1.0)",
        pre_depends="dpkg (>= 1.17)",
        recommends="r",
        suggests="s",
        enhances="e",
        replaces="oldhello",
        provides="hello-api (= 1)",
        multi_arch="foreign",
        essential=True,
        extra_fields={"X-Zeta": "z", "Built-Using": "rustc (= 1.63)", "X-Alpha": "a"},
    )
    fields = [
        line.split(":")[0] for line in control_text(spec, installed_size=7).splitlines() if line[0] != " "
    ]
    assert fields == [
        "Package", "Source", "Version", "Architecture", "Essential", "Maintainer", "Installed-Size",
        "Pre-Depends", "Depends", "Recommends", "Suggests", "Enhances", "Conflicts", "Breaks", "Replaces",
        "Provides", "Built-Using", "Section", "Priority", "Multi-Arch", "Homepage", "Description",
        "X-Alpha", "X-Zeta",
    ]  # fmt: skip
    assert "Description: greet the world\n A longer text.\n .\n Second paragraph.\n" in control_text(
        spec, installed_size=7
    )


def test_installed_size_counts_like_dpkg_gencontrol(spec: PackageSpec, tmp_path: Path) -> None:
    # 9 directories (./ etc usr usr/bin usr/share usr/share/hello var var/lib var/lib/hello), files:
    # hello (21 B) 1, big (1025 B) 2, hello.conf 1, empty 0; symlink 1.
    package = write_deb(spec, tmp_path / "out", reporter=NullReporter())
    assert package.installed_size == 9 + 1 + 2 + 1 + 0 + 1
    assert f"Installed-Size: {package.installed_size}\n" in package.control


def test_reproducible_across_runs_paths_mtimes_and_threads(spec: PackageSpec, tmp_path: Path) -> None:
    first = build(spec, tmp_path / "a", threads=1)
    other_src = tmp_path / "elsewhere" / "checkout"
    other = sample_spec(other_src)
    os.utime(other_src / "hello", (1, 1))  # an mtime older than SOURCE_DATE_EPOCH must not leak either
    assert build(other, tmp_path / "b", threads=4) == first
    assert build(spec, tmp_path / "a", threads=2) == first


@pytest.mark.parametrize("compression", ["xz", "zstd", "gzip"])
def test_every_compression_round_trips(spec: PackageSpec, tmp_path: Path, compression: str) -> None:
    spec = dataclasses.replace(spec, compression=compression)  # type: ignore[arg-type]
    data = build(spec, tmp_path / "out", allow_zstd=True)
    suffix = {"xz": b"xz", "zstd": b"zst", "gzip": b"gz"}[compression]
    assert read_ar(data)[2][0].startswith(b"data.tar." + suffix)
    _, tar = open_member(data, b"data.tar")
    assert "./usr/bin/hello" in tar.getnames()
    if compression == "gzip":
        body = read_ar(data)[2][1]
        assert body[3] == 0  # no FNAME flag
        assert body[4:8] == b"\0\0\0\0"  # mtime 0


def payload(size: int, seed: int = 7) -> bytes:
    """Half compressible text, half random bytes: both paths of the compressor."""
    rng = random.Random(seed)  # noqa: S311 - deterministic test data, not secrets
    text = b"".join(b"line %d: the quick brown fox\n" % i for i in range(size // 60))
    return text + rng.randbytes(size - len(text))


def test_parallel_xz_is_one_valid_stream_whatever_the_thread_count() -> None:
    data = payload(700_000)
    outputs = []
    for threads in (1, 2, 4):
        sink = io.BytesIO()
        writer = ParallelXzWriter(sink, threads=threads, block_size=64 << 10)
        for start in range(0, len(data), 50_000):
            writer.write(data[start : start + 50_000])
        writer.close()
        outputs.append(sink.getvalue())
    assert outputs[0] == outputs[1] == outputs[2]
    assert lzma.decompress(outputs[0], format=lzma.FORMAT_XZ) == data
    # One stream: a decompressor stops at the footer with nothing left over.
    decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    assert decompressor.decompress(outputs[0]) == data
    assert decompressor.eof
    assert decompressor.unused_data == b""


def test_parallel_xz_of_nothing_is_a_valid_empty_stream() -> None:
    sink = io.BytesIO()
    ParallelXzWriter(sink, threads=2).close()
    assert lzma.decompress(sink.getvalue()) == b""


def test_zstd_is_the_same_whatever_the_thread_count() -> None:
    data = payload(3_000_000)
    outputs = []
    for threads in (1, 4):
        sink = io.BytesIO()
        writer = open_compressor("zstd", sink, threads=threads)
        writer.write(data)
        writer.close()
        outputs.append(sink.getvalue())
    assert outputs[0] == outputs[1]
    assert zstandard.ZstdDecompressor().decompressobj().decompress(outputs[0]) == data


def test_changelog_gz_has_no_name_and_no_time() -> None:
    body = b"hello (1.0-1) unstable; urgency=medium\n"
    packed = changelog_gz(body)
    assert packed[:4] == b"\x1f\x8b\x08\x00"  # deflate, no FNAME/FEXTRA/FCOMMENT flags
    assert packed[4:8] == b"\0\0\0\0"
    assert zlib.decompress(packed, 31) == body
    assert changelog_gz(body) == packed


def test_filename_drops_the_epoch(spec: PackageSpec) -> None:
    assert deb_filename(spec) == "hello_1.0~rc1-1_arm64.deb"
    assert deb_filename(dataclasses.replace(spec, version="2.0")) == "hello_2.0_arm64.deb"


class _FailingBar:
    def __init__(self, after: int) -> None:
        self.left = after

    def advance(self, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            raise KeyboardInterrupt  # the user pressing ^C in the middle of data.tar


class _FailingReporter(NullReporter):
    """Fault injection: interrupts the write once some bytes of data.tar went out."""

    @contextmanager
    def progress(self, title: str, total: int | None) -> Iterator[_FailingBar]:  # type: ignore[override]
        del title, total
        yield _FailingBar(after=100)


def test_interrupted_write_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("unrelated")
    src = tmp_path / "src"
    src.mkdir()
    (src / "blob").write_bytes(payload(3 << 20))
    spec = sample_spec(
        tmp_path / "src2", files=(FileFromPath(dest=PurePosixPath("/usr/share/x/blob"), source=src / "blob"),)
    )
    spec = dataclasses.replace(spec, conffiles=())
    with pytest.raises(KeyboardInterrupt):
        write_deb(spec, out, reporter=_FailingReporter())
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_existing_deb_is_replaced_whole_or_not_at_all(spec: PackageSpec, tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = build(spec, out)
    with pytest.raises(KeyboardInterrupt):
        write_deb(spec, out, reporter=_FailingReporter())
    assert (out / deb_filename(spec)).read_bytes() == before
    assert len(list(out.iterdir())) == 1


BAD_INPUT = [
    ({"name": "Hello"}, "package name 'Hello' is invalid"),
    ({"name": "h"}, "package name 'h' is invalid"),
    ({"version": "1.0_beta"}, "version '1.0_beta' is invalid"),
    ({"version": "v1.0"}, "the upstream part must start with a digit"),
    ({"version": "1.0-"}, "version '1.0-' is invalid: it does not have the form [epoch:]upstream[-revision]"),
    ({"arch": "ARM64"}, "architecture 'ARM64' is not a Debian architecture name"),
    ({"maintainer": "jane <jane>"}, "must read 'Full Name <email@address>'"),
    ({"description": ""}, "the description needs a one-line synopsis"),
    ({"section": "games 2"}, "section 'games 2' is not one word of printable ASCII (deb-control(5))"),
    ({"section": "utils\nX-Evil: 1"}, "is not one word of printable ASCII"),
    ({"priority": "low"}, "priority 'low' is not one of"),
    ({"multi_arch": "maybe"}, "Multi-Arch 'maybe' is not one of"),
    ({"homepage": "example.org"}, "is not an http(s) URL"),
    ({"depends": "libc6 (>= )"}, "Depends: 'libc6 (>= )' is not a valid relation"),
    ({"depends": "libc6 [amd64]"}, "Depends: 'libc6 [amd64]' is not a valid relation"),
    ({"depends": "${shlibs:Depends}"}, "is not a valid relation"),
    ({"conflicts": "a | b"}, "Conflicts: alternatives ('|') are not allowed"),
    ({"provides": "xy (>= 1)"}, "Provides: only '=' versions are allowed"),
    ({"depends": "foo (>= x1)"}, "version 'x1' is invalid"),
    ({"extra_fields": {"Depends": "x"}}, "control field 'Depends' is set from the package spec"),
    ({"extra_fields": {"X Bad": "x"}}, "control field name 'X Bad' is invalid"),
    (
        {"conffiles": ("/etc/missing.conf",)},
        "conffile /etc/missing.conf is not an absolute path of a regular file",
    ),
    ({"scripts": {"postinst": b"set -e\n"}}, "maintainer script postinst must start with '#!'"),
    ({"scripts": {"install": b"#!/bin/sh\n"}}, "'install' is not a maintainer script"),
    ({"compression": "zstd"}, "zstd-compressed .debs cannot be read by dpkg before Debian 12"),
    ({"source_date_epoch": -1}, "SOURCE_DATE_EPOCH -1 is out of range"),
]


@pytest.mark.parametrize(("changes", "sentence"), BAD_INPUT, ids=[s for _, s in BAD_INPUT])
def test_bad_input_is_one_clear_sentence_and_writes_nothing(
    tmp_path: Path, changes: dict[str, Any], sentence: str
) -> None:
    spec = sample_spec(tmp_path / "src", **changes)
    out = tmp_path / "out"
    with pytest.raises(PackageError) as caught:
        write_deb(spec, out, reporter=NullReporter())
    assert sentence in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not out.exists()


FILE = PurePosixPath("/usr/bin/x")
BAD_FILES: list[tuple[tuple[TreeEntry, ...], str]] = [
    ((FileFromBytes(dest=PurePosixPath("usr/bin/x"), data=b""),), "must be an absolute path"),
    ((FileFromBytes(dest=PurePosixPath("/usr/../x"), data=b""),), "must be an absolute path"),
    ((FileFromBytes(dest=FILE, data=b""), Symlink(dest=FILE, target="y")), "/usr/bin/x is listed twice"),
    (
        (FileFromBytes(dest=FILE, data=b""), FileFromBytes(dest=FILE / "y", data=b"")),
        "below /usr/bin/x, which is a file",
    ),
    ((Symlink(dest=FILE, target="y"), Directory(dest=FILE / "z")), "below /usr/bin/x, which is a symlink"),
    ((FileFromPath(dest=FILE, source=Path("/nonexistent/x")),), "cannot read its source /nonexistent/x"),
    ((FileFromPath(dest=FILE, source=Path("/")),), "its source / is not a regular file"),
    ((Symlink(dest=FILE, target=""),), "a symlink needs a target"),
    ((FileFromBytes(dest=FILE, data=b"", mode=0o10000),), "is not a permission mode"),
    ((Directory(dest=FILE, mode=-1),), "is not a permission mode"),
]


@pytest.mark.parametrize(("files", "sentence"), BAD_FILES, ids=[s for _, s in BAD_FILES])
def test_bad_files_are_refused(tmp_path: Path, files: tuple[TreeEntry, ...], sentence: str) -> None:
    spec = sample_spec(tmp_path / "src", files=files, conffiles=())
    with pytest.raises(PackageError) as caught:
        write_deb(spec, tmp_path / "out", reporter=NullReporter())
    assert sentence in str(caught.value)


def test_source_changing_size_while_packaging_is_refused(tmp_path: Path) -> None:
    grow = tmp_path / "grow"
    grow.write_bytes(b"abc")

    class GrowingReporter(NullReporter):
        @contextmanager
        def progress(self, title: str, total: int | None) -> Iterator[Any]:
            grow.write_bytes(b"abcdef")  # the build writes the file again after it was measured
            with super().progress(title, total) as bar:
                yield bar

    spec = sample_spec(tmp_path / "src", files=(FileFromPath(dest=FILE, source=grow),), conffiles=())
    with pytest.raises(PackageError, match="changed size while it was being packaged"):
        write_deb(spec, tmp_path / "out", reporter=GrowingReporter())
    assert list((tmp_path / "out").iterdir()) == []


def test_sections_with_area_prefix_are_accepted(tmp_path: Path) -> None:
    # Any one word is written: cargo-deb writes its metadata's section verbatim ("utility" in its README).
    for section in ("contrib/utils", "non-free/libs", "non-free-firmware/kernel", "rust", "utility"):
        spec = sample_spec(tmp_path / "src", section=section)
        assert f"Section: {section}\n" in write_deb(spec, tmp_path / "out", reporter=NullReporter()).control


def test_unwritable_output_is_a_package_error(spec: PackageSpec, tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file where the output directory should be")
    with pytest.raises(PackageError, match=r"^cannot write .*/out/hello_1.0~rc1-1_arm64.deb: "):
        write_deb(spec, blocker, reporter=NullReporter())


def test_a_package_without_files_still_has_the_root_directory(tmp_path: Path) -> None:
    spec = sample_spec(tmp_path / "src", files=(), conffiles=(), scripts={})
    package = write_deb(spec, tmp_path / "out", reporter=NullReporter())
    _, tar = open_member(package.path.read_bytes(), b"data.tar")
    assert tar.getnames() == ["."]
    _, control = open_member(package.path.read_bytes(), b"control.tar")
    assert control.getnames() == [".", "./control"]  # no empty md5sums, as dh_md5sums leaves none
    assert package.installed_size == 1
