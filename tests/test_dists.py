"""Targets: every supported arch has every fact, and bad names get a sentence listing what exists."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from debforge.dists import arch_facts, make_target, supported_arches, supported_dists
from debforge.errors import TargetError


@pytest.mark.parametrize("dist", supported_dists())
def test_every_arch_of_every_dist_has_every_fact(dist: str) -> None:
    for arch in supported_arches(dist):
        target = make_target(dist, arch)
        assert target.gnu_triplet and target.rust_triple and target.qemu_arch
        assert target.ld_so.is_absolute() and target.ld_so.name.startswith("ld-")
        assert target.elf_class in (32, 64)
        assert target.elf_machine.startswith("EM_")
        assert target.docker_platform.startswith("linux/")


def test_arch_table_rows_are_complete_and_distinct() -> None:
    facts = arch_facts()
    assert set(facts) == {"amd64", "arm64", "armhf", "i386", "riscv64"}
    triplets = [row[0] for row in facts.values()]
    assert len(set(triplets)) == len(triplets)
    assert all(all(row) for row in facts.values())


def test_suites_order_and_security_mirror() -> None:
    target = make_target("trixie", "arm64", mirror="http://m/debian", security_mirror="http://s/sec")
    assert [s.name for s in target.suites] == ["trixie", "trixie-updates", "trixie-security"]
    assert [s.mirror for s in target.suites] == ["http://m/debian", "http://m/debian", "http://s/sec"]
    assert target.suites[2].base_url == "http://s/sec/dists/trixie-security"
    assert target.components == ("main",)


def test_known_loaders() -> None:
    assert make_target("bookworm", "amd64").ld_so == PurePosixPath("/lib64/ld-linux-x86-64.so.2")
    assert make_target("bookworm", "armhf").ld_so == PurePosixPath("/lib/ld-linux-armhf.so.3")
    assert make_target("trixie", "riscv64").ld_so == PurePosixPath("/lib/ld-linux-riscv64-lp64d.so.1")
    assert make_target("bookworm", "arm64").glibc == "2.36"


def test_unknown_dist_lists_supported() -> None:
    with pytest.raises(TargetError, match=r"unknown dist 'buster'; supported dists: bookworm, trixie"):
        make_target("buster", "arm64")


def test_arch_not_in_dist_lists_supported() -> None:
    with pytest.raises(TargetError, match=r"bookworm has no architecture 'riscv64'; supported on bookworm: "):
        make_target("bookworm", "riscv64")
