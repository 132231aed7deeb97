"""Targets: every dist and arch has every fact, and bad names get a sentence listing what exists."""

from __future__ import annotations

import tomllib
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
        assert target.gnu_triplet.endswith(("-linux-gnu", "-linux-gnueabihf", "-linux-gnueabi"))
        assert target.multiarch.endswith(("-linux-gnu", "-linux-gnueabihf", "-linux-gnueabi"))
        assert target.rust_triple.split("-")[1:3] == ["unknown", "linux"]
        assert target.cross_gcc.startswith("gcc-") and "_" not in target.cross_gcc
        assert target.ld_so.is_absolute() and target.ld_so.name.startswith("ld")
        assert target.elf_class in (32, 64) and target.elf_machine.startswith("EM_")
        assert target.docker_platform.startswith("linux/") and target.qemu_arch
        assert target.glibc.startswith("2.") and target.keyring.is_absolute()
        assert target.suites[0].name == dist and target.mirror.startswith("http")
        assert isinstance(target.merged_usr, bool) and isinstance(target.zstd, bool)
        assert target.compressor in ("xz", "zstd", "gzip") and len(target.rust_packages) == 3
        assert target.elf_big_endian == (arch == "s390x")


def test_arch_facts_are_distinct_per_arch() -> None:
    # (qemu-arm runs both armel and armhf, so the qemu name is not among them)
    for fact in ("gnu_type", "multiarch", "rust_triple", "cross_gcc", "ld_so", "docker_platform"):
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
    with pytest.raises(
        TargetError, match=r"unknown dist 'buster'; supported dists: bullseye, bookworm, trixie, forky, sid"
    ):
        make_target("buster", "arm64")


def test_arch_not_in_dist_lists_supported() -> None:
    with pytest.raises(TargetError, match=r"bookworm has no architecture 'riscv64'; supported on bookworm: "):
        make_target("bookworm", "riscv64")


def test_missing_arch_names_the_dists_that_have_it() -> None:
    with pytest.raises(TargetError) as caught:
        make_target("bullseye", "riscv64")
    assert caught.value.hint == "riscv64 is in trixie, forky, sid"
    with pytest.raises(TargetError) as armel:
        make_target("sid", "armel")
    assert armel.value.hint == "armel is in bookworm, trixie"


def test_release_suites_as_the_mirror_has_them() -> None:
    # sid has no -updates and no -security; forky (testing) has both.
    assert [s.name for s in make_target("sid", "amd64").suites] == ["sid"]
    assert [s.name for s in make_target("forky", "s390x").suites] == [
        "forky",
        "forky-updates",
        "forky-security",
    ]
    assert [s.name for s in make_target("bullseye", "armhf").suites][-1] == "bullseye-security"


def test_backports_adds_the_suite_last_on_the_main_mirror() -> None:
    target = make_target("bookworm", "arm64", mirror="http://m/debian", backports=True)
    assert [s.name for s in target.suites][-1] == "bookworm-backports" and target.backports
    assert target.suites[-1].mirror == "http://m/debian"
    assert not make_target("bookworm", "arm64").backports


@pytest.mark.parametrize("dist", ["bullseye", "forky", "sid"])
def test_backports_without_a_suite_says_which_dists_have_one(dist: str) -> None:
    with pytest.raises(
        TargetError, match=rf"{dist} has no backports suite on the mirror; dists with one: bookworm, trixie"
    ):
        make_target(dist, "amd64", backports=True)


def test_new_arch_facts() -> None:
    armel = make_target("bookworm", "armel")
    assert (armel.rust_triple, armel.gnu_triplet, str(armel.ld_so)) == (
        "armv5te-unknown-linux-gnueabi",
        "arm-linux-gnueabi",
        "/lib/ld-linux.so.3",
    )
    s390x = make_target("trixie", "s390x")
    assert (s390x.elf_machine, s390x.elf_class, s390x.elf_big_endian, s390x.qemu_arch) == (
        "EM_S390",
        64,
        True,
        "s390x",
    )
    assert make_target("bookworm", "i386").cross_gcc == "gcc-i686-linux-gnu"
    assert make_target("bookworm", "amd64").cross_gcc == "gcc-x86-64-linux-gnu"
    assert str(make_target("sid", "ppc64el").ld_so) == "/lib64/ld64.so.2"
    bullseye = make_target("bullseye", "arm64")
    assert (bullseye.glibc, bullseye.zstd, bullseye.debug_zstd) == ("2.31", False, False)


def test_rust_packages_agree_with_the_builder_image() -> None:

    image = tomllib.loads((Path(__file__).parents[1] / "images/builder/image.toml").read_text())
    for dist in supported_dists():
        rustc, cargo, std = make_target(dist, "amd64").rust_packages
        entry = image["dist"][dist]
        assert (entry["rustc"], entry["std"]) == (rustc, std), dist
        assert {rustc, cargo} <= set(entry["packages"]), dist


def test_merged_usr_links_follow_debootstrap_per_arch() -> None:
    # debootstrap's setup_merged_usr: the loader of amd64 (/lib64/ld-linux-x86-64.so.2) needs /lib64.
    assert make_target("trixie", "amd64").merged_links == ("lib32", "lib64", "libx32")
    assert make_target("trixie", "ppc64el").merged_links == ("lib64",)
    assert make_target("trixie", "arm64").merged_links == ()
    for dist in supported_dists():
        for arch in supported_arches(dist):
            target = make_target(dist, arch)
            top = target.ld_so.parts[1]
            assert top == "lib" or top in target.merged_links, f"{arch}: {target.ld_so} needs /{top}"
