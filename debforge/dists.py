"""Targets: what debforge knows about each Debian dist and architecture, as tables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from debforge.errors import TargetError

DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
DEFAULT_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")

# dist → (glibc shipped, for messages only: the target's own libc.so.6 is authoritative; arches)
# fmt: off
_DISTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "bookworm": ("2.36", ("amd64", "arm64", "armhf", "i386")),
    "trixie":   ("2.41", ("amd64", "arm64", "armhf", "i386", "riscv64")),
}

# Debian arch → GNU triplet (= multiarch tuple for these), Rust triple, PT_INTERP of the FHS loader,
# ELF e_machine, ELF class, qemu binfmt name, Docker platform.
_ARCHES: dict[str, tuple[str, str, str, str, int, str, str]] = {
    "amd64":   ("x86_64-linux-gnu",      "x86_64-unknown-linux-gnu",      "/lib64/ld-linux-x86-64.so.2",     "EM_X86_64",  64, "x86_64",  "linux/amd64"),
    "arm64":   ("aarch64-linux-gnu",     "aarch64-unknown-linux-gnu",     "/lib/ld-linux-aarch64.so.1",      "EM_AARCH64", 64, "aarch64", "linux/arm64"),
    "armhf":   ("arm-linux-gnueabihf",   "armv7-unknown-linux-gnueabihf", "/lib/ld-linux-armhf.so.3",        "EM_ARM",     32, "arm",     "linux/arm/v7"),
    "i386":    ("i386-linux-gnu",        "i686-unknown-linux-gnu",        "/lib/ld-linux.so.2",              "EM_386",     32, "i386",    "linux/386"),
    "riscv64": ("riscv64-linux-gnu",     "riscv64gc-unknown-linux-gnu",   "/lib/ld-linux-riscv64-lp64d.so.1", "EM_RISCV",  64, "riscv64", "linux/riscv64"),
}
# fmt: on
# `uname -m` names that are not the qemu name of their Debian arch.
_UNAME_ALIASES = {"armv7l": "armhf", "i686": "i386", "i586": "i386"}


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
    keyring: Path
    glibc: str
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
    return tuple(_DISTS)


def supported_arches(dist: str | None = None) -> tuple[str, ...]:
    """Architectures debforge knows (for `dist`, when given)."""
    return _DISTS[dist][1] if dist in _DISTS else tuple(sorted(_ARCHES))


def arch_facts() -> dict[str, tuple[str, str, str, str, int, str, str]]:
    """The per-arch table, for tests that check every arch has every fact."""
    return dict(_ARCHES)


def host_arch() -> str | None:
    """The Debian architecture of this machine (None for one debforge does not know)."""
    machine = os.uname().machine
    return next((arch for arch, row in _ARCHES.items() if row[5] == machine), _UNAME_ALIASES.get(machine))


def make_target(
    dist: str,
    arch: str,
    *,
    mirror: str = DEFAULT_MIRROR,
    security_mirror: str = DEFAULT_SECURITY_MIRROR,
    components: tuple[str, ...] = ("main",),
    keyring: Path | None = None,
) -> Target:
    """Build the Target for `dist`/`arch`, or raise TargetError listing what is supported.

    >>> t = make_target("bookworm", "arm64")
    >>> [s.name for s in t.suites]
    ['bookworm', 'bookworm-updates', 'bookworm-security']
    >>> t.rust_triple, str(t.ld_so)
    ('aarch64-unknown-linux-gnu', '/lib/ld-linux-aarch64.so.1')
    """
    if dist not in _DISTS:
        raise TargetError(f"unknown dist {dist!r}; supported dists: {', '.join(_DISTS)}")
    glibc, arches = _DISTS[dist]
    if arch not in arches:
        raise TargetError(f"{dist} has no architecture {arch!r}; supported on {dist}: {', '.join(arches)}")
    triplet, rust, ld_so, machine, elf_class, qemu, platform = _ARCHES[arch]
    # apt breaks ties between equal versions by the order it reads the sources: keep this order.
    suites = (
        Suite(name=dist, mirror=mirror, components=components),
        Suite(name=f"{dist}-updates", mirror=mirror, components=components),
        Suite(name=f"{dist}-security", mirror=security_mirror, components=components),
    )
    return Target(
        dist=dist,
        arch=arch,
        suites=suites,
        mirror=mirror,
        keyring=keyring or DEFAULT_KEYRING,
        glibc=glibc,
        gnu_triplet=triplet,
        multiarch=triplet,
        rust_triple=rust,
        ld_so=PurePosixPath(ld_so),
        elf_machine=machine,
        elf_class=elf_class,
        qemu_arch=qemu,
        docker_platform=platform,
    )
