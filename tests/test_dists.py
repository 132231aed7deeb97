"""Targets: every dist and arch has every fact, and bad names get a sentence listing what exists."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from debforge.dists import (
    ARCH_FACTS,
    DEFAULT_SECURITY_MIRROR,
    DIST_FACTS,
    make_target,
    security_mirror_for,
    supported_arches,
    supported_dists,
)
from debforge.errors import TargetError


def test_every_dist_has_every_fact() -> None:
    for fact, table in DIST_FACTS.items():
        assert set(table) == set(supported_dists()), f"dist table {fact!r} does not cover every dist"


def test_every_arch_of_every_dist_has_every_arch_fact() -> None:
    arches = {arch for dist in supported_dists() for arch in supported_arches(dist)}
    for fact, table in ARCH_FACTS.items():
        assert set(table) == arches, f"arch table {fact!r} does not cover every arch"


@pytest.mark.parametrize("dist", supported_dists())
def test_every_target_is_complete(dist: str) -> None:
    for arch in supported_arches(dist):
        target = make_target(dist, arch)
        assert target.gnu_triplet.endswith(("-linux-gnu", "-linux-gnueabihf"))
        assert target.multiarch.endswith(("-linux-gnu", "-linux-gnueabihf")) and target.rust_triple
        assert target.ld_so.is_absolute() and target.ld_so.name.startswith("ld-")
        assert target.elf_class in (32, 64) and target.elf_machine.startswith("EM_")
        assert target.docker_platform.startswith("linux/") and target.qemu_arch
        assert target.glibc.startswith("2.") and target.keyring.is_absolute()
        assert target.suites[0].name == dist and target.mirror.startswith("http")
        assert isinstance(target.merged_usr, bool) and isinstance(target.zstd, bool)


def test_arch_facts_are_distinct_per_arch() -> None:
    for fact in ("gnu_type", "multiarch", "rust_triple", "ld_so", "qemu", "docker_platform"):
        values = list(ARCH_FACTS[fact].values())
        assert len(set(values)) == len(values), f"two arches share their {fact}"


def test_i386_gnu_type_differs_from_its_multiarch_tuple() -> None:
    # dpkg-architecture -ai386: DEB_HOST_GNU_TYPE=i686-linux-gnu, DEB_HOST_MULTIARCH=i386-linux-gnu.
    target = make_target("bookworm", "i386")
    assert (target.gnu_triplet, target.multiarch) == ("i686-linux-gnu", "i386-linux-gnu")


def test_suites_order_and_security_mirror() -> None:
    target = make_target("trixie", "arm64", mirror="http://m/debian", security_mirror="http://s/sec")
    assert [s.name for s in target.suites] == ["trixie", "trixie-updates", "trixie-security"]
    assert [s.mirror for s in target.suites] == ["http://m/debian", "http://m/debian", "http://s/sec"]
    assert target.suites[2].base_url == "http://s/sec/dists/trixie-security"
    assert target.security_mirror == "http://s/sec"
    assert target.components == ("main",)


def test_security_mirror_follows_the_mirror() -> None:
    assert make_target("bookworm", "arm64").security_mirror == DEFAULT_SECURITY_MIRROR
    assert (
        make_target("bookworm", "arm64", mirror="http://m/debian/").suites[-1].mirror
        == "http://m/debian-security"
    )
    assert security_mirror_for("trixie", "http://deb.debian.org/debian") == DEFAULT_SECURITY_MIRROR


def test_known_facts() -> None:
    assert make_target("bookworm", "amd64").ld_so == PurePosixPath("/lib64/ld-linux-x86-64.so.2")
    assert make_target("bookworm", "armhf").ld_so == PurePosixPath("/lib/ld-linux-armhf.so.3")
    assert make_target("trixie", "riscv64").ld_so == PurePosixPath("/lib/ld-linux-riscv64-lp64d.so.1")
    bookworm = make_target("bookworm", "arm64")
    assert (bookworm.glibc, bookworm.merged_usr, bookworm.zstd) == ("2.36", True, True)
    assert bookworm.keyring == Path("/usr/share/keyrings/debian-archive-keyring.gpg")


def test_unknown_dist_lists_supported() -> None:
    with pytest.raises(TargetError, match=r"unknown dist 'buster'; supported dists: bookworm, trixie"):
        make_target("buster", "arm64")


def test_arch_not_in_dist_lists_supported() -> None:
    with pytest.raises(TargetError, match=r"bookworm has no architecture 'riscv64'; supported on bookworm: "):
        make_target("bookworm", "riscv64")
