"""Which interpreters the engine's own builds may stand in for (container/native.py), and the hard links
the bootstrap restores. The real thing, an image configured with them and checked by dpkg, is in
tests/e2e/test_native_interpreters_e2e.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from debforge.archive.index import PackageIndex, PackageRecord
from debforge.cache import Cache
from debforge.container.native import _hard_links, _same_versions, _tool_paths, native_interpreters
from debforge.dists import make_target
from debforge.errors import OfflineError
from debforge.session import Session


def rec(name: str, version: str, arch: str) -> PackageRecord:
    return PackageRecord(name=name, version=version, arch=arch, sha256=f"{name}-{version}-{arch}")


def index(*records: PackageRecord) -> PackageIndex:
    by_name: dict[str, tuple[PackageRecord, ...]] = {}
    for r in records:
        by_name[r.name] = (*by_name.get(r.name, ()), r)
    return PackageIndex(
        dist="bookworm", arch="amd64", release_key="k", packages=by_name, providers={}, name_ids={}
    )


def tree(tmp_path: Path, *files: str) -> Path:
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"\x7fELF")
    return tmp_path


TARGET = make_target("bookworm", "arm64")
TARGET_RECORDS = (rec("dash", "0.5.12-2", "arm64"), rec("perl-base", "5.36.0-7+deb12u3", "arm64"))


def test_only_the_targets_own_versions_stand_in(tmp_path: Path) -> None:
    root = tree(tmp_path, "usr/bin/dash", "usr/bin/perl")
    native = index(rec("dash", "0.5.12-2", "amd64"), rec("perl-base", "5.36.0-7+deb12u2", "amd64"))
    wanted = _same_versions(native, TARGET_RECORDS, root, TARGET)
    assert {n: r.version for n, r in wanted.items()} == {"dash": "0.5.12-2"}  # perl-base: another version
    both = index(rec("dash", "0.5.12-2", "amd64"), rec("perl-base", "5.36.0-7+deb12u3", "amd64"))
    assert sorted(_same_versions(both, TARGET_RECORDS, root, TARGET)) == ["dash", "perl-base"]


def test_the_targets_perl_stays_beside_a_perl_module_built_for_it(tmp_path: Path) -> None:
    # liblocale-gettext-perl's XS module is in the target's arch directory, which a native perl never reads.
    module = "usr/lib/aarch64-linux-gnu/perl5/5.36/Locale/gettext.pm"
    root = tree(tmp_path, "usr/bin/dash", "usr/bin/perl", module)
    both = index(rec("dash", "0.5.12-2", "amd64"), rec("perl-base", "5.36.0-7+deb12u3", "amd64"))
    assert sorted(_same_versions(both, TARGET_RECORDS, root, TARGET)) == ["dash"]


def test_an_interpreter_the_tree_lacks_or_links_is_left_alone(tmp_path: Path) -> None:
    root = tree(tmp_path, "usr/bin/dash.real")
    (root / "usr/bin/dash").symlink_to("dash.real")
    both = index(rec("dash", "0.5.12-2", "amd64"), rec("perl-base", "5.36.0-7+deb12u3", "amd64"))
    assert _same_versions(both, TARGET_RECORDS, root, TARGET) == {}


def test_tools_of_the_targets_own_versions_come_too(tmp_path: Path) -> None:
    records = (*TARGET_RECORDS, rec("coreutils", "9.1-1", "arm64"), rec("sed", "4.9-1", "arm64"))
    native = index(
        rec("coreutils", "9.1-1", "amd64"), rec("sed", "4.9-2", "amd64"), rec("grep", "3.8-5", "amd64")
    )
    # sed: another version; grep: not in the target's closure.
    assert sorted(_same_versions(native, records, tree(tmp_path), TARGET)) == ["coreutils"]


def test_a_tool_packages_programs_but_those_bound_to_the_machine(tmp_path: Path) -> None:
    staging = tree(tmp_path, "usr/bin/chown", "usr/bin/uname", "usr/bin/od", "usr/bin/[", "usr/share/doc/x")
    (staging / "usr/bin/egrep").write_text('#!/bin/sh\nexec grep -E "$@"\n')  # a script
    (staging / "var/lib/dpkg/info").mkdir(parents=True)
    listed = [
        "/.",
        "/bin",
        "/bin/chown",
        "/bin/uname",
        "/usr/bin/od",
        "/usr/bin/[",
        "/usr/bin/egrep",
        "/usr/share/doc/x",
    ]
    (staging / "var/lib/dpkg/info/coreutils.list").write_text("".join(f"{p}\n" for p in listed))
    # /bin/chown is found at usr/bin/chown (the staging tree is merged-/usr); uname and od tell the
    # machines apart, egrep is a script, /usr/share/doc is not a program directory.
    assert _tool_paths(staging, "coreutils") == ["usr/bin/chown", "usr/bin/["]


def test_hard_links_of_a_swapped_interpreter_are_found(tmp_path: Path) -> None:
    root = tree(tmp_path, "usr/bin/perl", "usr/bin/dash")
    os.link(root / "usr/bin/perl", root / "usr/bin/perl5.36.0")
    assert _hard_links(root, ["usr/bin/perl", "usr/bin/dash"]) == [("usr/bin/perl", "usr/bin/perl5.36.0")]
    assert _hard_links(root, ["usr/bin/dash"]) == []


def test_offline_without_the_native_debs_the_targets_interpreters_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import debforge.archive

    def offline(*_: object, **__: object) -> PackageIndex:
        raise OfflineError("--offline forbids downloading the amd64 index")

    monkeypatch.setattr(debforge.archive, "fetch_index", offline)
    root = tree(tmp_path / "root", "usr/bin/dash", "usr/bin/perl")
    native = make_target("bookworm", "amd64")
    with Session(cache=Cache(tmp_path / "cache"), offline=True) as session:
        found = native_interpreters(
            session, native, TARGET, records=TARGET_RECORDS, root=root, work=tmp_path / "work"
        )
    assert found is None
