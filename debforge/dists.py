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
NO_SECURITY = "none"  # --security-mirror none: the target has no security suites
DEFAULT_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")

# --------------------------------------------------------------------------- per dist
# fmt: off
# Architectures of the dist's release (Release: Architectures) that debforge supports, as the
# mirror lists them: bullseye (LTS) keeps only four, armel ends with trixie, riscv64 starts there.
_ARCHES: dict[str, tuple[str, ...]] = {
    "bullseye": ("amd64", "arm64", "armhf", "i386"),
    "bookworm": ("amd64", "arm64", "armel", "armhf", "i386", "ppc64el", "s390x"),
    "trixie":   ("amd64", "arm64", "armel", "armhf", "i386", "ppc64el", "riscv64", "s390x"),
    "forky":    ("amd64", "arm64", "armhf", "i386", "ppc64el", "riscv64", "s390x"),
    "sid":      ("amd64", "arm64", "armhf", "i386", "ppc64el", "riscv64", "s390x"),
}
# Suites on the main mirror, then on the security mirror: apt breaks ties between equal versions by
# the order it reads the sources, so this order is kept in every sources list debforge writes.
# sid (unstable) has neither -updates nor -security.
_SUITES: dict[str, tuple[str, ...]] = {
    "bullseye": ("bullseye", "bullseye-updates"),
    "bookworm": ("bookworm", "bookworm-updates"),
    "trixie":   ("trixie",   "trixie-updates"),
    "forky":    ("forky",    "forky-updates"),
    "sid":      ("sid",),
}
_SECURITY_SUITES: dict[str, tuple[str, ...]] = {
    "bullseye": ("bullseye-security",),
    "bookworm": ("bookworm-security",),
    "trixie":   ("trixie-security",),
    "forky":    ("forky-security",),
    "sid":      (),
}
# The backports suite `--backports` adds (on the main mirror, after the others). Its Release says
# NotAutomatic: yes and ButAutomaticUpgrades: yes, so apt (and debforge) pin it at 100.
# bullseye-backports is archived (gone from the mirror); testing and unstable have none.
_BACKPORTS: dict[str, str | None] = {
    "bullseye": None,
    "bookworm": "bookworm-backports",
    "trixie":   "trixie-backports",
    "forky":    None,
    "sid":      None,
}
_MIRROR: dict[str, str] = dict.fromkeys(_ARCHES, DEFAULT_MIRROR)
_SECURITY_MIRROR: dict[str, str] = dict.fromkeys(_ARCHES, DEFAULT_SECURITY_MIRROR)
_KEYRING: dict[str, Path] = dict.fromkeys(_ARCHES, DEFAULT_KEYRING)
# glibc shipped, for messages only: the target's own libc.so.6 is authoritative.
_GLIBC: dict[str, str] = {
    "bullseye": "2.31",
    "bookworm": "2.36",
    "trixie":   "2.41",
    "forky":    "2.43",
    "sid":      "2.43",
}
# Merged /usr: /bin, /sbin and /lib* are symlinks into /usr. debootstrap makes it the default for
# new systems from bullseye on (debootstrap 1.0.124), and usrmerge is mandatory from bookworm.
_MERGED_USR: dict[str, bool] = dict.fromkeys(_ARCHES, True)
# dpkg-deb reads zstd-compressed members from dpkg 1.21.18 on; bookworm (Debian 12) is the first
# release that has it (bullseye's dpkg 1.20 refuses them).
_ZSTD: dict[str, bool] = {"bullseye": False, "bookworm": True, "trixie": True, "forky": True, "sid": True}
# zstd-compressed ELF debug sections (objcopy --compress-debug-sections=zstd): binutils 2.40 and
# gdb 13 read and write them, both linked with libzstd from bookworm on (gdb 13.1-3 Depends libzstd1).
_DEBUG_ZSTD: dict[str, bool] = dict(_ZSTD)
# dpkg-deb's default compressor for the data member (dpkg-deb(1) -Z): xz in every supported release.
_COMPRESSOR: dict[str, str] = dict.fromkeys(_ARCHES, "xz")
# The Rust toolchain packages of the dist (rustc, cargo, the std the cross build takes for the
# target arch), the same as images/builder/image.toml's [dist.*] tables (tests check they agree).
# bookworm's own rustc (1.63) is too old for current crates; its rustc-web line is kept current.
_RUST: dict[str, tuple[str, str, str]] = {
    "bullseye": ("rustc", "cargo", "libstd-rust-dev"),
    "bookworm": ("rustc-web", "cargo-web", "libstd-rust-web-dev"),
    "trixie":   ("rustc", "cargo", "libstd-rust-dev"),
    "forky":    ("rustc", "cargo", "libstd-rust-dev"),
    "sid":      ("rustc", "cargo", "libstd-rust-dev"),
}
# The oldest rustc (major.minor) those packages give: what the mirror had for the dist's builder
# (bookworm-security's rustc-web, which only moves forward; forky and sid at least trixie's).
_RUSTC: dict[str, str] = {
    "bullseye": "1.48", "bookworm": "1.96", "trixie": "1.85", "forky": "1.85", "sid": "1.85",
}
# The dist whose toolchain builds for this one when a project needs a newer rustc than the dist's:
# its rustc and its Rust std for the target arch, linking against the target's own sysroot.
_TOOLCHAIN_DIST: dict[str, str | None] = {
    "bullseye": "bookworm", "bookworm": "trixie", "trixie": None, "forky": None, "sid": None,
}
# The arches the dist's own Rust std (rust_packages[2]) is not built for: their toolchain is always
# toolchain_dist's. bookworm's rustc-web is built for every bookworm arch but armel.
_NO_RUST_STD: dict[str, tuple[str, ...]] = {
    "bullseye": (), "bookworm": ("armel",), "trixie": (), "forky": (), "sid": (),
}

# --------------------------------------------------------------------------- per arch
# DEB_HOST_GNU_TYPE: the cross toolchain's prefix (<type>-gcc, <type>-objcopy).
_GNU_TYPE: dict[str, str] = {
    "amd64":   "x86_64-linux-gnu",
    "arm64":   "aarch64-linux-gnu",
    "armel":   "arm-linux-gnueabi",
    "armhf":   "arm-linux-gnueabihf",
    "i386":    "i686-linux-gnu",
    "ppc64el": "powerpc64le-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
    "s390x":   "s390x-linux-gnu",
}
# DEB_HOST_MULTIARCH: the library directory /usr/lib/<tuple> (equal to the GNU type except on i386).
_MULTIARCH: dict[str, str] = {
    "amd64":   "x86_64-linux-gnu",
    "arm64":   "aarch64-linux-gnu",
    "armel":   "arm-linux-gnueabi",
    "armhf":   "arm-linux-gnueabihf",
    "i386":    "i386-linux-gnu",
    "ppc64el": "powerpc64le-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
    "s390x":   "s390x-linux-gnu",
}
# Debian's armel baseline is ARMv5TE (soft float), armhf ARMv7 with VFPv3-D16 and Thumb-2.
_RUST_TRIPLE: dict[str, str] = {
    "amd64":   "x86_64-unknown-linux-gnu",
    "arm64":   "aarch64-unknown-linux-gnu",
    "armel":   "armv5te-unknown-linux-gnueabi",
    "armhf":   "armv7-unknown-linux-gnueabihf",
    "i386":    "i686-unknown-linux-gnu",
    "ppc64el": "powerpc64le-unknown-linux-gnu",
    "riscv64": "riscv64gc-unknown-linux-gnu",
    "s390x":   "s390x-unknown-linux-gnu",
}
# The cross C compiler's package: gcc-<GNU type>, with `_` turned into `-` (package names have none).
_CROSS_GCC: dict[str, str] = {arch: "gcc-" + gnu.replace("_", "-") for arch, gnu in _GNU_TYPE.items()}
# The multilib directories a merged-/usr system links into /usr besides bin, sbin and lib: /lib64 must
# exist on amd64 for the loader path libc.so names (debootstrap's setup_merged_usr, per arch).
_MERGED_LINKS: dict[str, tuple[str, ...]] = {
    "amd64":   ("lib32", "lib64", "libx32"),
    "arm64":   (),
    "armel":   (),
    "armhf":   (),
    "i386":    ("lib64", "libx32"),
    "ppc64el": ("lib64",),
    "riscv64": (),
    "s390x":   ("lib32",),
}
# PT_INTERP of the FHS loader (the path glibc's ABI fixes for the arch, not a multiarch path).
_LD_SO: dict[str, str] = {
    "amd64":   "/lib64/ld-linux-x86-64.so.2",
    "arm64":   "/lib/ld-linux-aarch64.so.1",
    "armel":   "/lib/ld-linux.so.3",
    "armhf":   "/lib/ld-linux-armhf.so.3",
    "i386":    "/lib/ld-linux.so.2",
    "ppc64el": "/lib64/ld64.so.2",
    "riscv64": "/lib/ld-linux-riscv64-lp64d.so.1",
    "s390x":   "/lib/ld64.so.1",
}
# ELF e_machine, class and byte order.
_ELF: dict[str, tuple[str, int, str]] = {
    "amd64":   ("EM_X86_64",  64, "little"),
    "arm64":   ("EM_AARCH64", 64, "little"),
    "armel":   ("EM_ARM",     32, "little"),
    "armhf":   ("EM_ARM",     32, "little"),
    "i386":    ("EM_386",     32, "little"),
    "ppc64el": ("EM_PPC64",   64, "little"),
    "riscv64": ("EM_RISCV",   64, "little"),
    "s390x":   ("EM_S390",    64, "big"),
}
# qemu's name (qemu-<name>, the binfmt_misc entry), which is also `uname -m` under emulation
# (armel and armhf share qemu-arm).
_QEMU: dict[str, str] = {
    "amd64":   "x86_64",
    "arm64":   "aarch64",
    "armel":   "arm",
    "armhf":   "arm",
    "i386":    "i386",
    "ppc64el": "ppc64le",
    "riscv64": "riscv64",
    "s390x":   "s390x",
}
# The CPU model QEMU emulates for the arch's processes (QEMU_CPU), where its default does not do.
# arm64: QEMU's `max` CPU (its default) with pointer authentication's IMPLEMENTATION DEFINED
# algorithm instead of the architected QARMA5 cipher, which is costly to compute in software at every
# signed call and return (QEMU's own advice; its 10.0 made impdef the default). Trixie's programs
# are built with branch protection (their ELF notes say "AArch64 feature: BTI, PAC"; bookworm's do
# not): its `apt-cache gencaches` took 25.5 s with QARMA5 and 3.6 s with impdef. Still `max`, so
# pointers are signed and checked and every other feature stays. (An ARMv8.0 Cortex-A53 was as quick
# there, but an emulated build of the multi-crate recipe ran over 24 minutes on it, not 285 s.)
_QEMU_CPU: dict[str, str] = {
    "amd64":   "",
    "arm64":   "max,pauth-impdef=on",
    "armel":   "",
    "armhf":   "",
    "i386":    "",
    "ppc64el": "",
    "riscv64": "",
    "s390x":   "",
}
_DOCKER_PLATFORM: dict[str, str] = {
    "amd64":   "linux/amd64",
    "arm64":   "linux/arm64",
    "armel":   "linux/arm/v5",
    "armhf":   "linux/arm/v7",
    "i386":    "linux/386",
    "ppc64el": "linux/ppc64le",
    "riscv64": "linux/riscv64",
    "s390x":   "linux/s390x",
}
# fmt: on
# `uname -m` names that are not the qemu name of their Debian arch.
_UNAME_ALIASES = {"armv7l": "armhf", "i686": "i386", "i586": "i386"}

# Every table, by what it is keyed by: tests check each covers every supported dist or arch.
DIST_FACTS: Mapping[str, Mapping[str, object]] = {
    "arches": _ARCHES,
    "suites": _SUITES,
    "security_suites": _SECURITY_SUITES,
    "backports": _BACKPORTS,
    "mirror": _MIRROR,
    "security_mirror": _SECURITY_MIRROR,
    "keyring": _KEYRING,
    "glibc": _GLIBC,
    "merged_usr": _MERGED_USR,
    "zstd": _ZSTD,
    "debug_zstd": _DEBUG_ZSTD,
    "compressor": _COMPRESSOR,
    "rust": _RUST,
    "rustc": _RUSTC,
    "toolchain_dist": _TOOLCHAIN_DIST,
    "no_rust_std": _NO_RUST_STD,
}
ARCH_FACTS: Mapping[str, Mapping[str, object]] = {
    "gnu_type": _GNU_TYPE,
    "multiarch": _MULTIARCH,
    "rust_triple": _RUST_TRIPLE,
    "cross_gcc": _CROSS_GCC,
    "merged_links": _MERGED_LINKS,
    "ld_so": _LD_SO,
    "elf": _ELF,
    "qemu": _QEMU,
    "qemu_cpu": _QEMU_CPU,
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
    debug_zstd: bool  # the target's binutils and gdb handle zstd-compressed debug sections
    compressor: str  # dpkg-deb's default data compressor on the dist
    rust_packages: tuple[str, str, str]  # rustc, cargo and the target std of the dist
    rustc: str  # the oldest major.minor of the dist's own rustc (rust_packages[0])
    toolchain_dist: str | None  # the newer dist whose rustc builds for it when `rustc` is too old
    own_rust: bool  # False: the dist's Rust std is not built for this arch (toolchain_dist's builds)
    backports: bool  # the dist's backports suite is among `suites` (pinned 100 by its Release)
    gnu_triplet: str
    multiarch: str
    rust_triple: str
    cross_gcc: str  # the Debian package of the cross C compiler
    merged_links: tuple[str, ...]  # /lib64-style links into /usr on merged-/usr systems of this arch
    ld_so: PurePosixPath
    elf_machine: str
    elf_class: int
    elf_big_endian: bool
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


# The arches a machine of one arch also runs itself, without QEMU: an amd64 kernel runs i386
# programs (its IA32 emulation, on in Debian's kernels), so Docker's linux/386 needs no binfmt there.
# Not armhf on arm64: not every arm64 CPU has AArch32.
RUNS_ALSO: Mapping[str, tuple[str, ...]] = {"amd64": ("i386",)}


def host_arch() -> str | None:
    """The Debian architecture of this machine (None for one debforge does not know)."""
    return machine_arch(os.uname().machine)


def machine_arch(machine: str) -> str | None:
    """The Debian architecture of a `uname -m` name (a Docker engine's `Architecture`), else None.

    >>> machine_arch("aarch64"), machine_arch("x86_64"), machine_arch("vax")
    ('arm64', 'amd64', None)
    """
    return next((arch for arch, name in _QEMU.items() if name == machine), _UNAME_ALIASES.get(machine))


def platform_arch(platform: str) -> str | None:
    """The Debian architecture of a Docker platform (as debforge writes it), else None.

    >>> platform_arch("linux/arm64"), platform_arch("linux/arm/v7"), platform_arch("linux/vax")
    ('arm64', 'armhf', None)
    """
    return next((arch for arch, name in _DOCKER_PLATFORM.items() if name == platform), None)


def qemu_cpu(arch: str) -> str:
    """The CPU model QEMU should emulate for `arch`'s processes ("": QEMU's default).

    >>> qemu_cpu("arm64"), qemu_cpu("armhf")
    ('max,pauth-impdef=on', '')
    """
    return _QEMU_CPU.get(arch, "")


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


def dists_with_arch(arch: str) -> tuple[str, ...]:
    """The supported dists that have `arch`, oldest first.

    >>> dists_with_arch("riscv64")
    ('trixie', 'forky', 'sid')
    """
    return tuple(dist for dist, arches in _ARCHES.items() if arch in arches)


def _check(dist: str, arch: str, *, backports: bool) -> None:
    if dist not in _ARCHES:
        raise TargetError(f"unknown dist {dist!r}; supported dists: {', '.join(_ARCHES)}")
    if arch not in _ARCHES[dist]:
        arches = ", ".join(_ARCHES[dist])
        having = dists_with_arch(arch)
        hint = f"{arch} is in {', '.join(having)}" if having else f"no supported dist has {arch!r}"
        raise TargetError(f"{dist} has no architecture {arch!r}; supported on {dist}: {arches}", hint=hint)
    if backports and _BACKPORTS[dist] is None:
        with_backports = ", ".join(d for d, name in _BACKPORTS.items() if name)
        raise TargetError(f"{dist} has no backports suite on the mirror; dists with one: {with_backports}")


def make_target(
    dist: str,
    arch: str,
    *,
    mirror: str | None = None,
    security_mirror: str | None = None,
    components: tuple[str, ...] = ("main",),
    keyring: Path | None = None,
    backports: bool = False,
) -> Target:
    """Build the Target for `dist`/`arch`, or raise TargetError listing what is supported.

    Without `mirror` the dist's default mirror is used; without `security_mirror`, the one
    `security_mirror_for` derives from `mirror`. `backports` adds the dist's backports suite last.

    >>> t = make_target("bookworm", "arm64")
    >>> [s.name for s in t.suites]
    ['bookworm', 'bookworm-updates', 'bookworm-security']
    >>> t.rust_triple, str(t.ld_so), t.merged_usr
    ('aarch64-unknown-linux-gnu', '/lib/ld-linux-aarch64.so.1', True)
    >>> [s.name for s in make_target("bullseye", "arm64", security_mirror="none").suites]
    ['bullseye', 'bullseye-updates']
    """
    _check(dist, arch, backports=backports)
    main = mirror or _MIRROR[dist]
    security = security_mirror or security_mirror_for(dist, mirror)
    on_mirror = [(name, main) for name in _SUITES[dist]]
    # "none": no security suite at all, as a sources.list without the security line (a mirror that
    # carries no debian-security, or one whose security pool lacks the arch).
    on_security = [] if security == NO_SECURITY else [(name, security) for name in _SECURITY_SUITES[dist]]
    backports_suite = _BACKPORTS[dist]
    extra = [(backports_suite, main)] if backports and backports_suite else []
    pairs = on_mirror + on_security + extra
    suites = tuple(Suite(name=n, mirror=m, components=components) for n, m in pairs)
    machine, elf_class, byte_order = _ELF[arch]
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
        debug_zstd=_DEBUG_ZSTD[dist],
        compressor=_COMPRESSOR[dist],
        rust_packages=_RUST[dist],
        rustc=_RUSTC[dist],
        toolchain_dist=_TOOLCHAIN_DIST[dist],
        own_rust=arch not in _NO_RUST_STD[dist],
        backports=bool(extra),
        gnu_triplet=_GNU_TYPE[arch],
        multiarch=_MULTIARCH[arch],
        rust_triple=_RUST_TRIPLE[arch],
        cross_gcc=_CROSS_GCC[arch],
        merged_links=_MERGED_LINKS[arch],
        ld_so=PurePosixPath(_LD_SO[arch]),
        elf_machine=machine,
        elf_class=elf_class,
        elf_big_endian=byte_order == "big",
        qemu_arch=_QEMU[arch],
        docker_platform=_DOCKER_PLATFORM[arch],
    )
