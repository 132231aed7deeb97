"""Targets: every fact debforge knows about a Debian dist and architecture, one table per fact.

Each table is keyed by dist or by Debian arch, so a new dist or arch is one row in each table, and
tests/test_dists.py fails when a row is missing (cargo-deb's "every Rust target maps to a Debian
arch" test, mkosi's `Architecture.to_qemu()` tables).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from debforge.errors import TargetError

DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
DEFAULT_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")

# --------------------------------------------------------------------------- per dist
# fmt: off
# Architectures of the dist's release (Release: Architectures), as debforge supports them.
_ARCHES: dict[str, tuple[str, ...]] = {
    "bookworm": ("amd64", "arm64", "armhf", "i386"),
    "trixie":   ("amd64", "arm64", "armhf", "i386", "riscv64"),
}
# Suites on the main mirror, then on the security mirror: apt breaks ties between equal versions by
# the order it reads the sources, so this order is kept in every sources list debforge writes.
_SUITES: dict[str, tuple[str, ...]] = {
    "bookworm": ("bookworm", "bookworm-updates"),
    "trixie":   ("trixie",   "trixie-updates"),
}
_SECURITY_SUITES: dict[str, tuple[str, ...]] = {
    "bookworm": ("bookworm-security",),
    "trixie":   ("trixie-security",),
}
_MIRROR: dict[str, str] = {
    "bookworm": DEFAULT_MIRROR,
    "trixie":   DEFAULT_MIRROR,
}
_SECURITY_MIRROR: dict[str, str] = {
    "bookworm": DEFAULT_SECURITY_MIRROR,
    "trixie":   DEFAULT_SECURITY_MIRROR,
}
_KEYRING: dict[str, Path] = {
    "bookworm": DEFAULT_KEYRING,
    "trixie":   DEFAULT_KEYRING,
}
# glibc shipped, for messages only: the target's own libc.so.6 is authoritative.
_GLIBC: dict[str, str] = {
    "bookworm": "2.36",
    "trixie":   "2.41",
}
# Merged /usr: /bin, /sbin and /lib* are symlinks into /usr (usrmerge, the default since bookworm).
_MERGED_USR: dict[str, bool] = {
    "bookworm": True,
    "trixie":   True,
}
# dpkg-deb reads zstd-compressed members from dpkg 1.21.18 on; bookworm (Debian 12) is the first
# release that has it.
_ZSTD: dict[str, bool] = {
    "bookworm": True,
    "trixie":   True,
}

# --------------------------------------------------------------------------- per arch
# DEB_HOST_GNU_TYPE: the cross toolchain's prefix (gcc-<type>, <type>-objcopy).
_GNU_TYPE: dict[str, str] = {
    "amd64":   "x86_64-linux-gnu",
    "arm64":   "aarch64-linux-gnu",
    "armhf":   "arm-linux-gnueabihf",
    "i386":    "i686-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
}
# DEB_HOST_MULTIARCH: the library directory /usr/lib/<tuple> (equal to the GNU type except on i386).
_MULTIARCH: dict[str, str] = {
    "amd64":   "x86_64-linux-gnu",
    "arm64":   "aarch64-linux-gnu",
    "armhf":   "arm-linux-gnueabihf",
    "i386":    "i386-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
}
_RUST_TRIPLE: dict[str, str] = {
    "amd64":   "x86_64-unknown-linux-gnu",
    "arm64":   "aarch64-unknown-linux-gnu",
    "armhf":   "armv7-unknown-linux-gnueabihf",
    "i386":    "i686-unknown-linux-gnu",
    "riscv64": "riscv64gc-unknown-linux-gnu",
}
# PT_INTERP of the FHS loader (the path glibc's ABI fixes for the arch, not a multiarch path).
_LD_SO: dict[str, str] = {
    "amd64":   "/lib64/ld-linux-x86-64.so.2",
    "arm64":   "/lib/ld-linux-aarch64.so.1",
    "armhf":   "/lib/ld-linux-armhf.so.3",
    "i386":    "/lib/ld-linux.so.2",
    "riscv64": "/lib/ld-linux-riscv64-lp64d.so.1",
}
# ELF e_machine and class.
_ELF: dict[str, tuple[str, int]] = {
    "amd64":   ("EM_X86_64",  64),
    "arm64":   ("EM_AARCH64", 64),
    "armhf":   ("EM_ARM",     32),
    "i386":    ("EM_386",     32),
    "riscv64": ("EM_RISCV",   64),
}
# qemu's name (qemu-<name>, the binfmt_misc entry), which is also `uname -m` under emulation.
_QEMU: dict[str, str] = {
    "amd64":   "x86_64",
    "arm64":   "aarch64",
    "armhf":   "arm",
    "i386":    "i386",
    "riscv64": "riscv64",
}
_DOCKER_PLATFORM: dict[str, str] = {
    "amd64":   "linux/amd64",
    "arm64":   "linux/arm64",
    "armhf":   "linux/arm/v7",
    "i386":    "linux/386",
    "riscv64": "linux/riscv64",
}
# fmt: on
# `uname -m` names that are not the qemu name of their Debian arch.
_UNAME_ALIASES = {"armv7l": "armhf", "i686": "i386", "i586": "i386"}

# Every table, by what it is keyed by: tests check each covers every supported dist or arch.
DIST_FACTS: Mapping[str, Mapping[str, object]] = {
    "arches": _ARCHES,
    "suites": _SUITES,
    "security_suites": _SECURITY_SUITES,
    "mirror": _MIRROR,
    "security_mirror": _SECURITY_MIRROR,
    "keyring": _KEYRING,
    "glibc": _GLIBC,
    "merged_usr": _MERGED_USR,
    "zstd": _ZSTD,
}
ARCH_FACTS: Mapping[str, Mapping[str, object]] = {
    "gnu_type": _GNU_TYPE,
    "multiarch": _MULTIARCH,
    "rust_triple": _RUST_TRIPLE,
    "ld_so": _LD_SO,
    "elf": _ELF,
    "qemu": _QEMU,
    "docker_platform": _DOCKER_PLATFORM,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Suite:
    """One apt source: a suite on a mirror, with its components."""

    name: str
    mirror: str
    components: tuple[str, ...]

    @property
    def base_url(self) -> str:
        """`<mirror>/dists/<suite>`."""
        return f"{self.mirror.rstrip('/')}/dists/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A Debian dist and architecture, with every fact later stages need about them."""

    dist: str
    arch: str
    suites: tuple[Suite, ...]
    mirror: str
    security_mirror: str
    keyring: Path
    glibc: str
    merged_usr: bool
    zstd: bool
    gnu_triplet: str
    multiarch: str
    rust_triple: str
    ld_so: PurePosixPath
    elf_machine: str
    elf_class: int
    qemu_arch: str
    docker_platform: str

    @property
    def components(self) -> tuple[str, ...]:
        """Components of the main suite (the same for every suite of a target)."""
        return self.suites[0].components


def supported_dists() -> tuple[str, ...]:
    """Dists debforge knows, oldest first."""
    return tuple(_ARCHES)


def supported_arches(dist: str | None = None) -> tuple[str, ...]:
    """Architectures debforge knows (for `dist`, when given)."""
    return _ARCHES[dist] if dist in _ARCHES else tuple(sorted(_GNU_TYPE))


def host_arch() -> str | None:
    """The Debian architecture of this machine (None for one debforge does not know)."""
    machine = os.uname().machine
    return next((arch for arch, name in _QEMU.items() if name == machine), _UNAME_ALIASES.get(machine))


def security_mirror_for(dist: str, mirror: str | None) -> str:
    """The security mirror that goes with `mirror`: the dist's own beside its default mirror, else
    `<mirror>-security` (the layout of deb.debian.org and of its usual mirrors).

    >>> security_mirror_for("bookworm", None)
    'http://deb.debian.org/debian-security'
    >>> security_mirror_for("bookworm", "http://mirror.example/debian/")
    'http://mirror.example/debian-security'
    """
    if mirror is None or mirror == _MIRROR.get(dist, DEFAULT_MIRROR):
        return _SECURITY_MIRROR.get(dist, DEFAULT_SECURITY_MIRROR)
    return mirror.rstrip("/") + "-security"


def _check(dist: str, arch: str) -> None:
    if dist not in _ARCHES:
        raise TargetError(f"unknown dist {dist!r}; supported dists: {', '.join(_ARCHES)}")
    if arch not in _ARCHES[dist]:
        arches = ", ".join(_ARCHES[dist])
        raise TargetError(f"{dist} has no architecture {arch!r}; supported on {dist}: {arches}")


def make_target(
    dist: str,
    arch: str,
    *,
    mirror: str | None = None,
    security_mirror: str | None = None,
    components: tuple[str, ...] = ("main",),
    keyring: Path | None = None,
) -> Target:
    """Build the Target for `dist`/`arch`, or raise TargetError listing what is supported.

    Without `mirror` the dist's default mirror is used; without `security_mirror`, the one
    `security_mirror_for` derives from `mirror`.

    >>> t = make_target("bookworm", "arm64")
    >>> [s.name for s in t.suites]
    ['bookworm', 'bookworm-updates', 'bookworm-security']
    >>> t.rust_triple, str(t.ld_so), t.merged_usr
    ('aarch64-unknown-linux-gnu', '/lib/ld-linux-aarch64.so.1', True)
    """
    _check(dist, arch)
    main = mirror or _MIRROR[dist]
    security = security_mirror or security_mirror_for(dist, mirror)
    on_mirror = [(name, main) for name in _SUITES[dist]]
    on_security = [(name, security) for name in _SECURITY_SUITES[dist]]
    suites = tuple(Suite(name=n, mirror=m, components=components) for n, m in on_mirror + on_security)
    machine, elf_class = _ELF[arch]
    return Target(
        dist=dist,
        arch=arch,
        suites=suites,
        mirror=main,
        security_mirror=security,
        keyring=keyring or _KEYRING[dist],
        glibc=_GLIBC[dist],
        merged_usr=_MERGED_USR[dist],
        zstd=_ZSTD[dist],
        gnu_triplet=_GNU_TYPE[arch],
        multiarch=_MULTIARCH[arch],
        rust_triple=_RUST_TRIPLE[arch],
        ld_so=PurePosixPath(_LD_SO[arch]),
        elf_machine=machine,
        elf_class=elf_class,
        qemu_arch=_QEMU[arch],
        docker_platform=_DOCKER_PLATFORM[arch],
    )
