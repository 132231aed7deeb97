"""ELF fixtures: tiny cross-compiled programs, hand-made headers, and a real bookworm arm64 sysroot.

The sysroot is built from real .debs of the Debian archive the way dpkg would leave it: files
extracted (usrmerged, as bookworm is), and a dpkg database with `status` and
`info/<pkg>[:arch].{list,symbols,shlibs}`. It is cached under /tmp so reruns are fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import lzma
import os
import re
import shutil
import struct
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from debforge.run import run

MIRROR = "http://deb.debian.org/debian"
CACHE = Path(os.environ.get("DEBFORGE_TEST_CACHE", "/tmp/debforge-test-cache")) / "elfs"

# Packages whose files make up the oracle sample: C, C++ (libstdc++), Rust, libraries, a static binary.
# (package, path inside the package)
# fmt: off
ORACLE_SAMPLE: tuple[tuple[str, str], ...] = (
    ("coreutils", "/usr/bin/ls"),
    ("coreutils", "/usr/bin/sort"),
    ("bash", "/bin/bash"),
    ("grep", "/bin/grep"),
    ("sed", "/bin/sed"),
    ("tar", "/bin/tar"),
    ("gzip", "/bin/gzip"),
    ("xz-utils", "/usr/bin/xz"),
    ("zstd", "/usr/bin/zstd"),
    ("openssl", "/usr/bin/openssl"),
    ("curl", "/usr/bin/curl"),
    ("jq", "/usr/bin/jq"),
    ("file", "/usr/bin/file"),
    ("nano", "/bin/nano"),
    ("sqlite3", "/usr/bin/sqlite3"),
    ("alsa-utils", "/usr/bin/aplay"),
    ("libc6", "/lib/aarch64-linux-gnu/libc.so.6"),
    ("libc6", "/lib/aarch64-linux-gnu/libm.so.6"),
    ("libc-bin", "/sbin/ldconfig"),
    ("libssl3", "/usr/lib/aarch64-linux-gnu/libssl.so.3"),
    ("libzstd1", "/usr/lib/aarch64-linux-gnu/libzstd.so.1.5.4"),
    ("libxml2", "/usr/lib/aarch64-linux-gnu/libxml2.so.2.9.14"),
    ("libgcc-s1", "/lib/aarch64-linux-gnu/libgcc_s.so.1"),
    ("ninja-build", "/usr/bin/ninja"),
    ("ccache", "/usr/bin/ccache"),
    ("libjsoncpp25", "/usr/lib/aarch64-linux-gnu/libjsoncpp.so.1.9.5"),
    ("libre2-9", "/usr/lib/aarch64-linux-gnu/libre2.so.9"),
    ("libsnappy1v5", "/usr/lib/aarch64-linux-gnu/libsnappy.so.1.1.9"),
    ("fish", "/usr/bin/fish"),
    ("ripgrep", "/usr/bin/rg"),
    ("fd-find", "/usr/bin/fdfind"),
    ("hyperfine", "/usr/bin/hyperfine"),
    ("exa", "/usr/bin/exa"),
    ("bat", "/usr/bin/batcat"),
    ("gawk", "/usr/bin/gawk"),  # libgmp10, libmpfr6, libsigsegv2: shlibs files only
    ("procps", "/bin/ps"),  # libproc2-0: shlibs only
    ("libsasl2-2", "/usr/lib/aarch64-linux-gnu/libsasl2.so.2"),
)

# Several files in one package: dpkg-shlibdeps keeps the strongest requirement per dependency.
ORACLE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("/usr/bin/ls", "/usr/bin/rg", "/usr/bin/ninja", "/usr/bin/gawk"),
    ("/lib/aarch64-linux-gnu/libc.so.6", "/usr/bin/curl", "/usr/lib/aarch64-linux-gnu/libxml2.so.2.9.14"),
)
# fmt: on


@dataclass(frozen=True, slots=True)
class DebRecord:
    """What the fixture needs from one Packages stanza."""

    name: str
    version: str
    filename: str
    depends: tuple[str, ...]  # first alternative of every Depends/Pre-Depends clause
    provides: tuple[str, ...]


_FIELD = re.compile(r"^([A-Za-z-]+):\s*(.*)$")


def _parse_packages(text: str) -> dict[str, DebRecord]:
    records: dict[str, DebRecord] = {}
    provided: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            m = _FIELD.match(line)
            if m:
                fields[m.group(1)] = m.group(2)
        if "Package" not in fields:
            continue
        deps = ", ".join(x for x in (fields.get("Pre-Depends"), fields.get("Depends")) if x)
        first = tuple(_bare(c.split("|")[0]) for c in deps.split(",") if c.strip())
        provides = tuple(_bare(p) for p in fields.get("Provides", "").split(",") if p.strip())
        rec = DebRecord(fields["Package"], fields["Version"], fields["Filename"], first, provides)
        records[rec.name] = rec
        for p in provides:
            provided.setdefault(p, rec.name)
    for virtual, real in provided.items():
        records.setdefault(virtual, records[real])
    return records


def _bare(relation: str) -> str:
    return relation.strip().split()[0].split(":")[0]


def packages_index() -> dict[str, DebRecord]:
    """bookworm/main arm64 Packages, downloaded once and cached."""
    cached = CACHE / "Packages-bookworm-arm64"
    if not cached.exists():
        url = f"{MIRROR}/dists/bookworm/main/binary-arm64/Packages.xz"
        resp = requests.get(url, timeout=120)
        resp.raise_for_status()
        _atomic_write(cached, lzma.decompress(resp.content))
    return _parse_packages(cached.read_text())


def closure(roots: Iterable[str], index: Mapping[str, DebRecord]) -> list[DebRecord]:
    """Depends/Pre-Depends closure (first alternatives), sorted by name."""
    seen: dict[str, DebRecord] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        rec = index.get(name)
        if rec is None or rec.name in seen:
            continue
        seen[rec.name] = rec
        todo.extend(rec.depends)
    return sorted(seen.values(), key=lambda r: r.name)


def download_deb(rec: DebRecord) -> Path:
    """The .deb of `rec`, from the cache or the mirror."""
    path = CACHE / "debs" / Path(rec.filename).name
    if not path.exists():
        resp = requests.get(f"{MIRROR}/{rec.filename}", timeout=300)
        resp.raise_for_status()
        _atomic_write(path, resp.content)
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(path)


# bookworm is usrmerged: these top-level directories are links into /usr.
_MERGED = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def _merged(name: str) -> str:
    head, _, rest = name.partition("/")
    return f"usr/{head}/{rest}".rstrip("/") if head in _MERGED else name


def _install_deb(deb: Path, root: Path, info: Path) -> str:
    """Extract one .deb into root and record it in the dpkg database; return its status stanza."""
    data = run(["dpkg-deb", "--fsys-tarfile", deb]).stdout
    listing: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        for m in members:
            name = m.name.removeprefix("./").rstrip("/")
            listing.append("/" + name if name and name != "." else "/.")
            m.name = _merged(name) if name else "."
            if m.islnk():
                m.linkname = _merged(m.linkname.removeprefix("./"))
        tar.extractall(root, members=[m for m in members if m.name != "."], filter="tar")
    ctrl = Path(tempfile.mkdtemp(dir=root.parent))
    try:
        run(["dpkg-deb", "-e", deb, ctrl])
        control = (ctrl / "control").read_text()
        fields = {m.group(1): m.group(2) for m in map(_FIELD.match, control.splitlines()) if m}
        name, arch = fields["Package"], fields["Architecture"]
        # dpkg names the database files of Multi-Arch: same packages <pkg>:<arch>.*
        stem = f"{name}:{arch}" if fields.get("Multi-Arch") == "same" else name
        (info / f"{stem}.list").write_text("\n".join(listing) + "\n")
        for member in ("symbols", "shlibs", "md5sums", "triggers"):
            if (ctrl / member).exists():
                shutil.copy(ctrl / member, info / f"{stem}.{member}")
    finally:
        shutil.rmtree(ctrl)
    return _status_stanza(control)


def _status_stanza(control: str) -> str:
    lines = control.rstrip("\n").splitlines()
    return "\n".join([lines[0], "Status: install ok installed", *lines[1:]]) + "\n"


def build_sysroot(roots: Iterable[str]) -> Path:
    """A bookworm arm64 tree with a dpkg database holding the closure of `roots` (cached)."""
    index = packages_index()
    recs = closure(roots, index)
    key = hashlib.sha256("\n".join(r.filename for r in recs).encode()).hexdigest()[:16]
    final = CACHE / f"sysroot-{key}"
    if final.exists():
        return final
    work = Path(tempfile.mkdtemp(dir=CACHE, prefix=".sysroot-"))
    root = work / "root"
    for top in _MERGED:
        (root / "usr" / top).mkdir(parents=True, exist_ok=True)
        (root / top).symlink_to(f"usr/{top}")
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    stanzas = [_install_deb(download_deb(r), root, info) for r in recs]
    (root / "var/lib/dpkg/status").write_text("\n".join(stanzas))
    (root / "var/lib/dpkg/arch").write_text("arm64\n")
    # Without info/format "1" dpkg assumes the pre-multiarch layout and ignores <pkg>:<arch>.list.
    (info / "format").write_text("1\n")
    for extra in ("updates", "triggers", "alternatives"):
        (root / "var/lib/dpkg" / extra).mkdir(exist_ok=True)
    (root / "var/lib/dpkg/diversions").touch()
    (root / "var/lib/dpkg/statoverride").touch()
    with contextlib.suppress(OSError):  # another session built it meanwhile
        root.rename(final)
    shutil.rmtree(work, ignore_errors=True)
    return final


def oracle_sysroot() -> Path:
    """The sysroot holding every package of ORACLE_SAMPLE and their dependencies."""
    return build_sysroot(sorted({pkg for pkg, _ in ORACLE_SAMPLE}))


# --- small ELF files the unit tests build ------------------------------------------------------

HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello from debforge"); return 0; }\n'


def compile_c(
    out: Path, *, cc: str = "aarch64-linux-gnu-gcc", source: str = HELLO_C, args: Iterable[str] = ()
) -> Path:
    """Compile `source` with the cross compiler `cc` into `out`."""
    src = out.with_suffix(".c")
    src.write_text(source)
    run([cc, "-O1", "-o", out, src, *args])
    return out


def elf_header(
    *, elf_class: int = 2, endian: int = 1, osabi: int = 0, machine: int = 183, flags: int = 0
) -> bytes:
    """A minimal ELF header (no sections, no segments) with the given identity fields."""
    fmt = "<" if endian == 1 else ">"
    ident = b"\x7fELF" + bytes([elf_class, endian, 1, osabi]) + bytes(8)
    if elf_class == 2:
        rest = struct.pack(fmt + "HHIQQQIHHHHHH", 2, machine, 1, 0, 0, 0, flags, 64, 56, 0, 64, 0, 0)
    else:
        rest = struct.pack(fmt + "HHIIIIIHHHHHH", 2, machine, 1, 0, 0, 0, flags, 52, 32, 0, 40, 0, 0)
    return ident + rest


# --- the reference: real dpkg-shlibdeps against the arm64 sysroot -------------------------------

_ORACLE_CONTROL = (
    "Source: oracle\nMaintainer: debforge <debforge@example.org>\n\nPackage: oracle\nArchitecture: arm64\n"
)


def dpkg_shlibdeps(
    files: Iterable[tuple[Path, str]], sysroot: Path, workdir: Path, *, links: Iterable[tuple[str, str]] = ()
) -> str:
    """shlibs:Depends from the real dpkg-shlibdeps for `files` (source, install path) in one package;
    `links` (install path, target) are laid out too, as symlinks the package ships (not analysed).

    The host's dpkg database is never touched: dpkg-shlibdeps reads the sysroot's through
    --admindir, and in a private mount namespace (unshare -m) the sysroot's multiarch library
    directory is bind-mounted over the host's (empty) /usr/lib/aarch64-linux-gnu, so the paths
    dpkg-shlibdeps finds are the very paths the sysroot's .list files record.
    """
    pkgdir = workdir / "debian/oracle"
    (pkgdir / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (workdir / "debian/control").write_text(_ORACLE_CONTROL)
    args = []
    for src, dest in files:
        target = pkgdir / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        args.append(str(target.relative_to(workdir)))
    for dest, link_target in links:
        link = pkgdir / dest.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(link_target)
    script = 'mount --bind "$1" /usr/lib/aarch64-linux-gnu && shift && exec "$@"'
    env = {**os.environ, "LC_ALL": "C", "DEB_HOST_ARCH": "arm64", "DEB_HOST_MULTIARCH": "aarch64-linux-gnu",
           "DEB_HOST_GNU_TYPE": "aarch64-linux-gnu"}  # fmt: skip
    done = run(
        ["unshare", "-m", "--", "sh", "-c", script, "sh", sysroot / "usr/lib/aarch64-linux-gnu",
         "dpkg-shlibdeps", "-O", f"--admindir={sysroot}/var/lib/dpkg", *args],
        cwd=workdir, env=env,
    )  # fmt: skip
    for line in done.text.splitlines():
        if line.startswith("shlibs:Depends="):
            return line.removeprefix("shlibs:Depends=")
    return ""


def sample_file(sysroot: Path, path: str) -> Path:
    """Where a sample's file sits in the (usrmerged) sysroot."""
    return sysroot / _merged(path.lstrip("/"))
