"""rootfs: safe extraction against hostile archives, merged /usr, symlink rewriting, dpkg database, cache."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from debforge import rootfs
from debforge.archive.index import PackageRecord
from debforge.cache import Cache
from debforge.dists import make_target
from debforge.errors import RootfsError
from debforge.session import Session
from tests.conftest import require_tool

TARGET = make_target("bookworm", "arm64")

# ----------------------------------------------------------------------------- hand-made .debs

Entry = tuple[str, str, bytes | str]  # (kind, name, data or link target); kind: file dir sym lnk chr fifo


def _tar(entries: list[Entry], compression: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for kind, name, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            info.mode = 0o755 if kind == "dir" else 0o644
            if kind == "file":
                assert isinstance(data, bytes)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "sym": tarfile.SYMTYPE,
                "lnk": tarfile.LNKTYPE,
                "chr": tarfile.CHRTYPE,
                "fifo": tarfile.FIFOTYPE,
            }[kind]
            if kind in ("sym", "lnk"):
                assert isinstance(data, str)
                info.linkname = data
            tar.addfile(info)
    raw = buf.getvalue()
    if compression == "xz":
        import lzma

        return lzma.compress(raw)
    if compression == "zst":
        return zstandard.ZstdCompressor().compress(raw)
    import gzip

    return gzip.compress(raw, mtime=0)


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = [b"!<arch>\n"]
    for name, data in members:
        out.append(f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode())
        out.append(data + (b"\n" if len(data) % 2 else b""))
    return b"".join(out)


def make_deb(
    path: Path,
    package: str,
    entries: list[Entry],
    *,
    compression: str = "xz",
    control_extra: dict[str, bytes] | None = None,
    multi_arch: str = "no",
) -> Path:
    """A .deb with exactly these data members (no checks: hostile ones are the point)."""
    control = (
        f"Package: {package}\nVersion: 1.0\nArchitecture: arm64\nMaintainer: T <t@example.org>\n"
        + (f"Multi-Arch: {multi_arch}\n" if multi_arch != "no" else "")
        + f"Description: test {package}\n"
    ).encode()
    files: list[Entry] = [("dir", "./", b""), ("file", "./control", control)]
    files += [("file", f"./{n}", d) for n, d in (control_extra or {}).items()]
    path.write_bytes(
        _ar(
            [
                ("debian-binary", b"2.0\n"),
                ("control.tar.gz", _tar(files, "gz")),
                (f"data.tar.{compression}", _tar(entries, compression)),
            ]
        )
    )
    return path


def record(name: str, deb: Path, multi_arch: str = "no") -> PackageRecord:
    import hashlib

    return PackageRecord(
        name=name,
        version="1.0",
        arch="arm64",
        multi_arch=multi_arch,
        sha256=hashlib.sha256(deb.read_bytes()).hexdigest(),
    )


def unpack(tmp_path: Path, package: str, entries: list[Entry], **kw: object) -> Path:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    deb = make_deb(tmp_path / f"{package}.deb", package, entries, **kw)  # type: ignore[arg-type]
    rec = record(package, deb)
    rootfs.fill_tree(root, [rec], {rec.sha256: deb}, TARGET, configured=True)
    return root


def all_files(top: Path) -> set[str]:
    return {str(p.relative_to(top)) for p in top.rglob("*")}


# ----------------------------------------------------------------------------- hostile archives

HOSTILE: dict[str, tuple[list[Entry], str]] = {
    "dotdot": ([("file", "../../etc/x", b"pwned")], "../../etc/x"),
    "dotdot-inner": ([("dir", "./usr/", b""), ("file", "./usr/../../x", b"pwned")], "./usr/../../x"),
    "absolute": ([("file", "/etc/x", b"pwned")], "/etc/x"),
    "symlink-to-root": ([("sym", "./evil", "/"), ("file", "./evil/etc/x", b"pwned")], "./evil/etc/x"),
    "symlink-up": ([("sym", "./evil", "../../.."), ("file", "./evil/x", b"pwned")], "./evil/x"),
    "symlink-chain": (
        [
            ("dir", "./a/", b""),
            ("sym", "./a/up", ".."),
            ("sym", "./a/esc", "up/.."),
            ("file", "./a/esc/x", b"p"),
        ],
        "./a/esc/x",
    ),
    "hardlink-out": ([("lnk", "./x", "../../etc/passwd")], "./x"),
    "hardlink-abs": ([("lnk", "./x", "/etc/passwd")], "./x"),
    "char-device": ([("chr", "./dev/null", b"")], "./dev/null"),
    "fifo": ([("fifo", "./fifo", b"")], "./fifo"),
}


@pytest.mark.parametrize("compression", ["xz", "zst", "gz"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_member_is_refused_and_nothing_escapes(tmp_path: Path, case: str, compression: str) -> None:
    entries, bad_member = HOSTILE[case]
    sandbox = tmp_path / "a" / "b"
    sandbox.mkdir(parents=True)
    before = all_files(tmp_path)
    with pytest.raises(RootfsError) as err:
        unpack(sandbox, "evilpkg", entries, compression=compression)
    assert "evilpkg" in str(err.value)
    assert repr(bad_member) in str(err.value)
    outside = all_files(tmp_path) - before
    assert all(p.startswith("a/b/") for p in outside), outside
    assert not (tmp_path / "etc").exists()
    assert not (tmp_path / "x").exists()


# ----------------------------------------------------------------------------- layout


def test_merged_usr_and_relative_symlinks(tmp_path: Path) -> None:
    root = unpack(
        tmp_path,
        "libfoo",
        [
            ("dir", "./", b""),
            ("dir", "./lib/", b""),
            ("dir", "./lib/aarch64-linux-gnu/", b""),
            ("file", "./lib/aarch64-linux-gnu/libfoo.so.1", b"\x7fELF"),
            ("dir", "./bin/", b""),
            ("file", "./bin/foo", b"#!/bin/sh\n"),
            ("dir", "./usr/lib/aarch64-linux-gnu/", b""),
            ("sym", "./usr/lib/aarch64-linux-gnu/libfoo.so", "/lib/aarch64-linux-gnu/libfoo.so.1"),
            ("sym", "./usr/bin/foo-link", "/bin/foo"),
            ("lnk", "./usr/bin/foo-hard", "./bin/foo"),
        ],
    )
    for top in ("bin", "sbin", "lib"):
        assert str((root / top).readlink()) == f"usr/{top}"
    assert (root / "usr/lib/aarch64-linux-gnu/libfoo.so.1").read_bytes() == b"\x7fELF"
    assert str((root / "usr/lib/aarch64-linux-gnu/libfoo.so").readlink()) == "libfoo.so.1"
    assert str((root / "usr/bin/foo-link").readlink()) == "foo"
    assert (root / "usr/bin/foo-hard").stat().st_ino == (root / "usr/bin/foo").stat().st_ino
    # dpkg lists the paths as the package ships them, not where merged /usr puts them.
    listed = (root / "var/lib/dpkg/info/libfoo.list").read_text().splitlines()
    assert listed[0] == "/." and "/bin/foo" in listed and "/lib/aarch64-linux-gnu/libfoo.so.1" in listed


def test_a_package_shipping_the_merged_usr_links_itself(tmp_path: Path) -> None:
    # trixie's base-files ships /bin -> usr/bin and friends (DEP 17); the tree already has them.
    root = unpack(
        tmp_path,
        "base-files",
        [
            ("dir", "./", b""),
            ("sym", "./bin", "usr/bin"),
            ("sym", "./lib", "usr/lib"),
            ("dir", "./usr/bin/", b""),
            ("file", "./usr/bin/true-ish", b"#!/bin/sh\n"),
        ],
    )
    for top in ("bin", "lib"):
        assert str((root / top).readlink()) == f"usr/{top}"
    assert (root / "bin/true-ish").read_bytes() == b"#!/bin/sh\n"
    listed = (root / "var/lib/dpkg/info/base-files.list").read_text().splitlines()
    assert "/bin" in listed and "/lib" in listed


def test_relative_directory_symlink_inside_tree_is_followed(tmp_path: Path) -> None:
    root = unpack(
        tmp_path,
        "docs",
        [
            ("dir", "./usr/share/doc/real/", b""),
            ("sym", "./usr/share/doc/alias", "real"),
            ("file", "./usr/share/doc/alias/f", b"x"),
        ],
    )
    assert (root / "usr/share/doc/real/f").read_bytes() == b"x"


def test_dpkg_database_files(tmp_path: Path) -> None:
    extra = {
        "shlibs": b"libfoo 1 libfoo (>= 1.0)\n",
        "symbols": b"libfoo.so.1 libfoo #MINVER#\n foo@Base 1.0\n",
        "triggers": b"activate-noawait ldconfig\n",
        "postinst": b"#!/bin/sh\nexit 0\n",
        "conffiles": b"/etc/foo.conf\n",
        "md5sums": b"0123 usr/lib/x\n",
    }
    entries: list[Entry] = [("dir", "./etc/", b""), ("file", "./etc/foo.conf", b"a=1\n")]
    root = unpack(tmp_path, "libfoo1", entries, control_extra=extra, multi_arch="same")
    # Multi-Arch: same → "<pkg>:<arch>.*", as dpkg names them.
    deb = make_deb(tmp_path / "m.deb", "libbar1", entries[:1], control_extra=extra, multi_arch="same")
    root2 = tmp_path / "root2"
    root2.mkdir()
    rec = record("libbar1", deb, multi_arch="same")
    rootfs.fill_tree(root2, [rec], {rec.sha256: deb}, TARGET, configured=False)
    info = root2 / "var/lib/dpkg/info"
    assert {p.name for p in info.iterdir()} >= {
        "libbar1:arm64.list",
        "libbar1:arm64.shlibs",
        "libbar1:arm64.symbols",
    }
    assert os.access(info / "libbar1:arm64.postinst", os.X_OK)
    status = (root / "var/lib/dpkg/status").read_text()
    assert "Package: libfoo1\nStatus: install ok installed\n" in status
    import hashlib

    digest = hashlib.md5(b"a=1\n").hexdigest()  # noqa: S324 - dpkg's conffile hash
    assert f" /etc/foo.conf {digest}" in status
    assert "Status: install ok unpacked" in (root2 / "var/lib/dpkg/status").read_text()
    assert (root / "var/lib/dpkg/triggers/File").exists()


def test_unconfigured_conffiles_wait_as_dpkg_new(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    deb = make_deb(
        tmp_path / "c.deb",
        "conf",
        [("dir", "./etc/", b""), ("file", "./etc/c.conf", b"x")],
        control_extra={"conffiles": b"/etc/c.conf\n"},
    )
    rec = record("conf", deb)
    rootfs.fill_tree(root, [rec], {rec.sha256: deb}, TARGET, configured=False)
    assert (root / "etc/c.conf.dpkg-new").read_bytes() == b"x"
    assert not (root / "etc/c.conf").exists()
    assert " /etc/c.conf newconffile" in (root / "var/lib/dpkg/status").read_text()


def test_later_package_overwrites_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    a = make_deb(tmp_path / "a.deb", "a", [("dir", "./etc/", b""), ("file", "./etc/x", b"a")])
    b = make_deb(
        tmp_path / "b.deb", "b", [("dir", "./etc/", b""), ("file", "./etc/x", b"b")], compression="zst"
    )
    ra, rb = record("a", a), record("b", b)
    rootfs.fill_tree(root, [ra, rb], {ra.sha256: a, rb.sha256: b}, TARGET, configured=True)
    assert (root / "etc/x").read_bytes() == b"b"


# ----------------------------------------------------------------------------- cache behaviour


@dataclass(frozen=True)
class FakeClosure:
    packages: tuple[PackageRecord, ...]
    key: str


def _closure(tmp_path: Path) -> tuple[FakeClosure, dict[str, Path]]:
    deb = make_deb(
        tmp_path / "p.deb",
        "p",
        [("dir", "./usr/", b""), ("dir", "./usr/bin/", b""), ("file", "./usr/bin/p", b"p")],
    )
    rec = record("p", deb)
    return FakeClosure(packages=(rec,), key="k" * 64), {rec.sha256: deb}


def test_build_sysroot_caches_and_clones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closure, debs = _closure(tmp_path)
    calls: list[int] = []
    real_fill = rootfs.fill_tree

    def counting_fill(*args: object, **kw: object) -> None:
        calls.append(1)
        real_fill(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(rootfs, "downloading", lambda session, records: contextlib.nullcontext(debs))
    monkeypatch.setattr(rootfs, "fill_tree", counting_fill)
    cache = Cache(tmp_path / "cache").ensure()
    barrier = threading.Barrier(2)
    results: list[rootfs.Sysroot] = []

    def build() -> None:
        barrier.wait()
        with Session(cache=cache) as session:
            results.append(rootfs.build_sysroot(session, closure, TARGET, read_only=True))

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0].path == results[1].path
    assert calls == [1]
    with Session(cache=cache) as session:
        clone = rootfs.build_sysroot(session, closure, TARGET)
    assert clone.path != results[0].path
    assert (clone.path / "usr/bin/p").stat().st_ino == (results[0].path / "usr/bin/p").stat().st_ino
    out = rootfs.export_tree(results[0], tmp_path / "out")
    assert (out / "usr/bin/p").read_bytes() == b"p" and str((out / "bin").readlink()) == "usr/bin"
    with pytest.raises(RootfsError, match="not empty"):
        rootfs.export_tree(results[0], tmp_path / "out")


KILL_SCRIPT = """
import sys, time
from pathlib import Path
from debforge import rootfs
from debforge.cache import Cache
from debforge.dists import make_target
from debforge.session import Session
from tests.test_rootfs import _closure
from debforge.rootfs import extract
real = extract._extract_member
def slow(*a, **k):
    real(*a, **k)
    print("extracting", flush=True)
    time.sleep(30)
extract._extract_member = slow
closure, debs = _closure(Path(sys.argv[1]))
import contextlib
rootfs.downloading = lambda session, records: contextlib.nullcontext(debs)
cache = Cache(Path(sys.argv[2])).ensure()
rootfs.build_sysroot(Session(cache=cache), closure, make_target("bookworm", "arm64"))
"""


def test_kill_during_extraction_leaves_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Cache(tmp_path / "cache").ensure()
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(tmp_path), str(cache.root)],
        cwd=repo,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"extracting"
    proc.kill()
    proc.wait()
    proc.stdout.close()
    assert not list((cache.root / "trees").iterdir())
    closure, debs = _closure(tmp_path)
    monkeypatch.setattr(rootfs, "downloading", lambda session, records: contextlib.nullcontext(debs))
    with Session(cache=cache) as session:
        again = rootfs.build_sysroot(session, closure, TARGET, read_only=True)
    assert (again.path / "usr/bin/p").read_bytes() == b"p"
    assert [p.name for p in (cache.root / "trees").iterdir()] == [again.path.name]


def test_status_is_read_by_dpkg(tmp_path: Path) -> None:
    """A quick unit-level oracle: dpkg-query reads what we wrote (full integration test below)."""
    dpkg = require_tool("dpkg-query")
    root = unpack(tmp_path, "hello-test", [("dir", "./usr/", b"")])
    out = subprocess.run(
        [dpkg, f"--admindir={root}/var/lib/dpkg", "-W", "-f=${Package} ${Status}\\n"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "hello-test install ok installed"
    assert out.stderr == ""


# ----------------------------------------------------------------------------- integration: real dpkg


def _dpkg_deb(
    tmp_path: Path, name: str, control: str, files: dict[str, bytes], meta: dict[str, bytes]
) -> Path:
    dpkg_deb = require_tool("dpkg-deb")
    src = tmp_path / f"src-{name}"
    (src / "DEBIAN").mkdir(parents=True)
    (src / "DEBIAN/control").write_text(control)
    for member, data in meta.items():
        (src / "DEBIAN" / member).write_bytes(data)
    for rel, data in files.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if data.startswith(b"->"):
            path.symlink_to(data[2:].decode())
        else:
            path.write_bytes(data)
    out = tmp_path / f"{name}.deb"
    subprocess.run(
        [dpkg_deb, "--root-owner-group", "-Zxz", "--build", src, out], check=True, capture_output=True
    )
    return out


@pytest.mark.integration
def test_dpkg_reads_the_database_of_a_sysroot(tmp_path: Path) -> None:
    dpkg = require_tool("dpkg")
    dpkg_query = require_tool("dpkg-query")
    head = "Version: 1.0-1\nArchitecture: arm64\nMaintainer: T <t@example.org>\n"
    lib = _dpkg_deb(
        tmp_path,
        "libfoo1",
        f"Package: libfoo1\n{head}Multi-Arch: same\nDescription: foo library\n",
        {"lib/aarch64-linux-gnu/libfoo.so.1": b"\x7fELF-not-really", "etc/foo.conf": b"a=1\n"},
        {
            "shlibs": b"libfoo 1 libfoo1 (>= 1.0)\n",
            "triggers": b"activate-noawait ldconfig\n",
            "conffiles": b"/etc/foo.conf\n",
        },
    )
    dev = _dpkg_deb(
        tmp_path,
        "libfoo-dev",
        f"Package: libfoo-dev\n{head}Depends: libfoo1 (= 1.0-1)\nDescription: foo headers\n",
        {
            "usr/lib/aarch64-linux-gnu/libfoo.so": b"->/lib/aarch64-linux-gnu/libfoo.so.1",
            "usr/include/foo.h": b"int foo;\n",
        },
        {},
    )
    recs = [record("libfoo-dev", dev), record("libfoo1", lib, multi_arch="same")]
    root = tmp_path / "sysroot"
    root.mkdir()
    rootfs.fill_tree(root, recs, {recs[0].sha256: dev, recs[1].sha256: lib}, TARGET, configured=True)
    admin = f"--admindir={root}/var/lib/dpkg"
    listed = subprocess.run([dpkg, admin, "-l"], capture_output=True, text=True, check=True)
    assert listed.stderr == ""
    assert any(line.split()[:3] == ["ii", "libfoo1:arm64", "1.0-1"] for line in listed.stdout.splitlines())
    assert any(line.split()[:2] == ["ii", "libfoo-dev:arm64"] for line in listed.stdout.splitlines())
    owner = subprocess.run(
        [dpkg_query, admin, "-S", "/lib/aarch64-linux-gnu/libfoo.so.1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert owner.stdout.startswith("libfoo1:arm64:")
    audit = subprocess.run([dpkg, admin, "--audit"], capture_output=True, text=True, check=True)
    assert audit.stdout == "" and audit.stderr == ""
    assert (root / "var/lib/dpkg/info/libfoo1:arm64.shlibs").read_text() == "libfoo 1 libfoo1 (>= 1.0)\n"
    assert str((root / "usr/lib/aarch64-linux-gnu/libfoo.so").readlink()) == "libfoo.so.1"
    assert (root / "usr/lib/aarch64-linux-gnu/libfoo.so").read_bytes() == b"\x7fELF-not-really"


def test_merged_layout_makes_the_arch_links_up_front(tmp_path: Path) -> None:
    # trixie's amd64 libc6 ships its loader only in /usr/lib64; libc.so names /lib64/ld-linux-x86-64.so.2.
    from debforge.rootfs.extract import Tree, prepare_layout

    root = tmp_path / "root"
    root.mkdir()
    prepare_layout(Tree(root=root, merged_usr=True, merged_links=("lib64",)))
    assert (root / "lib64").is_symlink() and str((root / "lib64").readlink()) == "usr/lib64"
    assert (root / "usr/lib64").is_dir() and (root / "bin").is_symlink() and not (root / "lib32").exists()


# ----------------------------------------------------------------------------- dpkg path filters

DOC_ENTRIES: list[Entry] = [
    ("dir", "./", b""), ("dir", "./usr/", b""), ("dir", "./usr/bin/", b""),
    ("file", "./usr/bin/tool", b"elf"),
    ("dir", "./usr/share/", b""), ("dir", "./usr/share/doc/", b""), ("dir", "./usr/share/doc/tool/", b""),
    ("file", "./usr/share/doc/tool/copyright", b"c"), ("file", "./usr/share/doc/tool/README.gz", b"r"),
    ("dir", "./usr/share/man/", b""), ("dir", "./usr/share/man/man1/", b""),
    ("file", "./usr/share/man/man1/tool.1.gz", b"m"), ("dir", "./usr/share/locale/", b""),
    ("file", "./usr/share/locale/locale.alias", b"a"), ("dir", "./usr/share/locale/de/", b""),
    ("dir", "./usr/share/locale/de/LC_MESSAGES/", b""),
    ("file", "./usr/share/locale/de/LC_MESSAGES/t.mo", b"d"),
    ("sym", "./usr/share/doc/tool-data", "tool"), ("dir", "./usr/share/tool/", b""),
    ("file", "./usr/share/tool/data", b"x"),
]  # fmt: skip


def test_path_filter_leaves_out_what_dpkg_leaves_out(tmp_path: Path) -> None:
    """NO_DOCS unpacks the same files and directories as dpkg given the same --path-exclude/--path-include
    rules (dpkg, the oracle, unpacks into its own --root), and the .list still names every path, as dpkg's."""
    require_tool("dpkg")
    deb = make_deb(tmp_path / "tool.deb", "tool", DOC_ENTRIES)
    ours = tmp_path / "ours"
    ours.mkdir()
    rec = record("tool", deb)
    rootfs.fill_tree(ours, [rec], {rec.sha256: deb}, TARGET, configured=False, path_filter=rootfs.NO_DOCS)
    theirs = tmp_path / "theirs"
    (theirs / "var/lib/dpkg/updates").mkdir(parents=True)
    (theirs / "var/lib/dpkg/info").mkdir()
    (theirs / "var/lib/dpkg/status").touch()
    rules = [f"--path-{'include' if inc else 'exclude'}={pat}" for inc, pat in rootfs.NO_DOCS.rules]
    subprocess.run(
        ["dpkg", f"--root={theirs}", "--force-not-root", "--force-script-chrootless", "--force-architecture",
         *rules, "--unpack", str(deb)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert all_files(ours / "usr/share") == all_files(theirs / "usr/share")
    assert "doc/tool/copyright" in all_files(ours / "usr/share")
    assert "man/man1/tool.1.gz" not in all_files(ours / "usr/share")
    listed = (ours / "var/lib/dpkg/info/tool.list").read_text().splitlines()
    assert sorted(listed) == sorted((theirs / "var/lib/dpkg/info/tool.list").read_text().splitlines())
    assert "/usr/share/man/man1/tool.1.gz" in listed
