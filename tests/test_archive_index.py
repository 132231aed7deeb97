"""Unit tests: relation parsing, version ordering, the compact index and its lazy lookups."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from debian.deb822 import Packages, PkgRelation
from debian.debian_support import Version

from debforge.archive.compact import PackagesFile, index_from_packages, load_compact, write_compact
from debforge.archive.index import LazyRecords, Origin, Relation, parse_relations, parse_stanza
from debforge.archive.version import compare_versions, satisfies, split_version

SAMPLE = Path(__file__).parent / "data" / "Packages-bookworm-arm64-sample"
RELATION_FIELDS = ("Depends", "Pre-Depends", "Recommends", "Suggests", "Conflicts", "Breaks", "Replaces",
                   "Enhances", "Provides")  # fmt: skip


def origin(suite: str = "bookworm", rank: int = 0) -> Origin:
    return Origin(suite=suite, suite_rank=rank, component="main", mirror="http://mirror.invalid/debian")


def _as_debian(relations: tuple[tuple[Relation, ...], ...]) -> list[list[tuple[object, ...]]]:
    return [[(r.name, r.arch, (r.op, r.version) if r.op else None) for r in group] for group in relations]


def _from_debian(parsed: Any) -> list[list[tuple[object, ...]]]:
    return [[(t["name"], t["archqual"], t["version"]) for t in group] for group in parsed]


def test_relations_agree_with_python_debian_on_a_real_packages_sample() -> None:
    checked = 0
    with SAMPLE.open() as fh:
        for stanza in Packages.iter_paragraphs(fh, use_apt_pkg=False):
            for field in RELATION_FIELDS:
                if field in stanza:
                    expected = _from_debian(PkgRelation.parse_relations(stanza[field]))
                    assert _as_debian(parse_relations(stanza[field])) == expected, (stanza["Package"], field)
                    checked += 1
    assert checked > 300


@pytest.mark.parametrize(
    "text",
    ["foo [amd64 !i386] | bar:any (>= 1:2.0~rc1) <!nocheck> <cross>", "a(<<1),b ( >= 2 )", "x:native (< 3)"],
)
def test_source_only_syntax_is_accepted_and_agrees(text: str) -> None:
    assert _as_debian(parse_relations(text)) == _from_debian(PkgRelation.parse_relations(text))


def test_version_ordering_agrees_with_python_debian() -> None:
    text = SAMPLE.read_text()
    versions = sorted({line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Version: ")})
    versions += [
        "1.0~rc1",
        "1.0",
        "1.0-0",
        "1.0+b1",
        "1:0.1",
        "2.36-9+deb12u10",
        "2.36-9+deb12u9",
        "1.0a",
        "1.0~",
    ]
    assert len(versions) > 150
    for a, b in itertools.combinations(versions[:120] + versions[-9:], 2):
        ours = compare_versions(a, b)
        theirs = (Version(a) > Version(b)) - (Version(a) < Version(b))
        assert (ours > 0) - (ours < 0) == theirs, (a, b)


def test_split_version_and_satisfies() -> None:
    assert split_version("1.2-3-4") == (0, "1.2-3", "4")
    assert split_version("7") == (0, "7", "")
    assert satisfies("1.0", "<", "1.0")  # dpkg's obsolete `<` means `<=`
    assert not satisfies("1.0+b1", "<<", "1.0")
    assert satisfies("2.0", None, None)


def test_parse_stanza_joins_continuation_lines() -> None:
    fields = parse_stanza("Package: a\nDescription: short\n long line\n .\nVersion: 1\n")
    assert fields == {"Package": "a", "Description": "short\n long line\n .", "Version": "1"}


MAIN = """\
Package: app
Version: 1.0
Architecture: arm64
Pre-Depends: init-system
Depends: libfoo1 (>= 1.0), mta | mail-transport-agent, perl:any
Conflicts: old-app
Provides: app-virtual (= 1.0), other-virtual
Filename: pool/main/a/app/app_1.0_arm64.deb
Size: 100
SHA256: aaaa

Package: libfoo1
Source: foo (1.0-1)
Version: 1.0-1
Architecture: arm64
Multi-Arch: same
Essential: yes
Priority: required
Installed-Size: 42
Recommends: foo-data
Filename: pool/main/f/foo/libfoo1_1.0-1_arm64.deb
Size: 200
SHA256: bbbb

Package: exim
Version: 4
Architecture: arm64
Provides: mail-transport-agent
Filename: pool/main/e/exim/exim_4_arm64.deb
Size: 1
SHA256: cccc
"""
SECURITY = """\
Package: libfoo1
Source: foo
Version: 1.0-1+deb12u1
Architecture: arm64
Filename: pool/updates/main/f/foo/libfoo1_1.0-1+deb12u1_arm64.deb
Size: 201
SHA256: dddd

Package: app
Version: 1.0
Architecture: arm64
Filename: pool/updates/main/a/app/app_1.0_arm64.deb
Size: 101
SHA256: eeee
"""


def small_index() -> object:
    return index_from_packages(
        [(origin(), MAIN.encode()), (origin("bookworm-security", 2), SECURITY.encode())]
    )


def test_candidate_is_newest_across_suites_and_ties_keep_sources_order() -> None:
    index = index_from_packages(
        [(origin(), MAIN.encode()), (origin("bookworm-security", 2), SECURITY.encode())]
    )
    assert [r.version for r in index.versions("libfoo1")] == ["1.0-1+deb12u1", "1.0-1"]
    lib = index.candidate("libfoo1")
    assert lib is not None
    assert (lib.suite, lib.suite_rank, lib.source) == ("bookworm-security", 2, "foo")
    app = index.candidate("app")  # same version in both suites: the main suite wins, as in apt
    assert app is not None
    assert (app.suite, app.sha256, app.url) == (
        "bookworm", "aaaa", "http://mirror.invalid/debian/pool/main/a/app/app_1.0_arm64.deb"
    )  # fmt: skip
    assert index.candidate("missing") is None
    assert index.versions("missing") == ()


def test_record_fields() -> None:
    index = index_from_packages([(origin(), MAIN.encode())])
    app, lib = index.candidate("app"), index.candidate("libfoo1")
    assert app is not None
    assert lib is not None
    assert app.pre_depends == ((Relation("init-system"),),)
    assert app.depends[1] == (Relation("mta"), Relation("mail-transport-agent"))
    assert app.depends[2] == (Relation("perl", "any"),)
    assert app.provides == (("app-virtual", "1.0"), ("other-virtual", None))
    assert app.conflicts == ((Relation("old-app"),),)
    assert (lib.multi_arch, lib.essential, lib.priority, lib.installed_size) == ("same", True, "required", 42)
    assert (lib.source, lib.source_version, lib.size) == ("foo", "1.0-1", 200)
    doc = app.to_json()
    assert doc["depends"] == "libfoo1 (>= 1.0), mta | mail-transport-agent, perl:any"
    assert doc["provides"] == "app-virtual (= 1.0), other-virtual"


def test_providers_and_name_ids_follow_apt_order() -> None:
    index = index_from_packages(
        [(origin(), MAIN.encode()), (origin("bookworm-security", 2), SECURITY.encode())]
    )
    assert [r.name for r in index.provided_by("mail-transport-agent")] == ["exim"]
    assert [r.version for r in index.provided_by("app-virtual")] == ["1.0"]
    # Own name, then Pre-Depends, Depends, Conflicts, ..., then Provides; stanza by stanza.
    assert list(index.name_ids) == [
        "app", "init-system", "libfoo1", "mta", "mail-transport-agent", "perl", "old-app",
        "app-virtual", "other-virtual", "foo-data", "exim",
    ]  # fmt: skip
    assert index.name_ids["perl"] == 5


def test_lookups_are_lazy() -> None:
    index = index_from_packages([(origin(), MAIN.encode())])
    assert isinstance(index.packages, LazyRecords)
    assert "exim" in index.packages
    assert sorted(index.names()) == ["app", "exim", "libfoo1"]
    assert len(index.packages._memo) == 0  # membership and iteration decode nothing
    first = index.candidate("exim")
    assert index.candidate("exim") is first
    assert len(index.packages._memo) == 1


def test_compact_form_round_trips_through_disk(tmp_path: Path) -> None:
    write_compact(tmp_path, [PackagesFile(origin=origin(), data=MAIN.encode())])
    index = load_compact(tmp_path, dist="bookworm", arch="arm64", release_key="k")
    assert index is not None
    memory = index_from_packages([(origin(), MAIN.encode())])
    for name in memory.names():
        assert index.versions(name) == memory.versions(name)
    assert list(index.name_ids) == list(memory.name_ids)
    (tmp_path / "tables.marshal").write_bytes(b"garbage")
    assert load_compact(tmp_path, dist="bookworm", arch="arm64", release_key="k") is None


def test_sample_index_matches_python_debian_records() -> None:
    index = index_from_packages([(origin(), SAMPLE.read_bytes())])
    with SAMPLE.open() as fh:
        stanzas = list(Packages.iter_paragraphs(fh, use_apt_pkg=False))
    for stanza in stanzas:
        record = next(r for r in index.versions(stanza["Package"]) if r.version == stanza["Version"])
        assert record.sha256 == stanza["SHA256"]
        assert record.size == int(stanza["Size"])
        assert str(record.filename) == stanza["Filename"]
        assert record.arch == stanza["Architecture"]
        assert record.multi_arch == stanza.get("Multi-Arch", "no")
