"""--backports: the suite's Release pin (100) ranks it below the release, and `name/suite` requests
switch a package and, where apt would, its versioned dependencies (real-apt oracle:
tests/e2e/test_resolve_oracle.py::test_backports_agree_with_apt)."""

from __future__ import annotations

import pytest

from debforge.archive.compact import index_from_packages
from debforge.archive.index import Origin, PackageIndex
from debforge.archive.release import parse_release
from debforge.errors import ResolveError
from debforge.resolve import resolve_closure

MAIN = """\
Package: tool
Version: 1.0-1
Architecture: arm64
Depends: libtool1 (>= 1.0)

Package: libtool1
Version: 1.0-1
Architecture: arm64

Package: only-main
Version: 2.0-1
Architecture: arm64
"""
BACKPORTS = """\
Package: tool
Version: 2.0-1~bpo12+1
Architecture: arm64
Depends: libtool1 (>= 2.0)

Package: libtool1
Version: 2.0-1~bpo12+1
Architecture: arm64

Package: only-backports
Version: 1.0-1~bpo12+1
Architecture: arm64
"""
RELEASE = "Suite: oldstable-backports\nCodename: bookworm-backports\nNotAutomatic: yes\n"


def _index() -> PackageIndex:
    main = Origin(suite="bookworm", suite_rank=0, component="main", mirror="http://m")
    pin = parse_release(RELEASE + "ButAutomaticUpgrades: yes\n").pin
    bpo = Origin(suite="bookworm-backports", suite_rank=1, component="main", mirror="http://m", pin=pin)
    return index_from_packages(
        [(main, MAIN.encode()), (bpo, BACKPORTS.encode())], dist="bookworm", arch="arm64"
    )


def _versions(wanted: list[str]) -> dict[str, str]:
    return {p.name: p.version for p in resolve_closure(_index(), wanted).packages}


def test_release_pins_as_apt_defaults() -> None:
    assert parse_release(RELEASE + "ButAutomaticUpgrades: yes\n").pin == 100
    assert parse_release(RELEASE).pin == 1
    assert parse_release("Suite: stable\n").pin == 500


def test_plain_request_keeps_the_release_version_although_backports_is_newer() -> None:
    index = _index()
    assert [r.version for r in index.versions("tool")] == ["1.0-1", "2.0-1~bpo12+1"]
    assert _versions(["tool"]) == {"tool": "1.0-1", "libtool1": "1.0-1"}


def test_a_name_only_in_backports_is_its_candidate() -> None:
    assert _versions(["only-backports"]) == {"only-backports": "1.0-1~bpo12+1"}


def test_suite_request_switches_the_versioned_dependency_too() -> None:
    want = {"tool": "2.0-1~bpo12+1", "libtool1": "2.0-1~bpo12+1"}
    assert _versions(["tool/bookworm-backports"]) == want
    assert _versions(["tool/backports"]) == want  # debforge's short name for <dist>-backports


def test_name_equals_version_takes_the_backport() -> None:
    assert _versions(["libtool1=2.0-1~bpo12+1"]) == {"libtool1": "2.0-1~bpo12+1"}


def test_suite_request_for_a_package_the_suite_lacks_names_where_it_is() -> None:
    with pytest.raises(
        ResolveError, match=r"release 'bookworm-backports' has no only-main \(it is in: bookworm\)"
    ):
        resolve_closure(_index(), ["only-main/bookworm-backports"])
