"""The package pipeline: Depends merging, copyright, changelog, scripts, timestamps (pure helpers), and
which packages ship the NEEDED sonames, against a local archive whose Contents cannot be read."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from debforge.archive import PackageRecord
from debforge.builder import Artifact, Artifacts
from debforge.cache import Cache
from debforge.deb import Package, PackageSpec, changelog_gz
from debforge.dists import make_target
from debforge.elf import ElfInfo, patch_elf, read_elf
from debforge.elf import read as elf_read
from debforge.errors import ElfError, FetchError, OfflineError, PackageError
from debforge.pipeline.elfs import runtime_depends
from debforge.pipeline.policy import (
    GENERATED_CHANGELOG_OVERRIDE,
    SourceDate,
    changelog_date,
    copyright_text,
    generated_changelog,
    merge_depends,
    render_lintian_overrides,
    render_maintainer_scripts,
    source_date_epoch,
    substitute_debhelper,
    systemd_snippets,
    wrap_extended,
)
from debforge.pipeline.record import build_record
from debforge.pipeline.runtime import (
    contents_error,
    needed_sonames,
    runtime_sysroot,
    soname_packages,
    sysroot_packages,
)
from debforge.recipe import (
    AUTO,
    Asset,
    BinaryBuild,
    FileSource,
    LintianOverride,
    MaintainerScript,
    Recipe,
    RelationFields,
    SystemdUnits,
    UnitFile,
)
from debforge.report import NullReporter
from debforge.resolve import Closure
from debforge.rootfs import make_sysroot
from debforge.session import Freshness, Session
from tests.conftest import require_tool
from tests.helpers.aptrepo import Fault, Repo, build_repo, make_key, serve
from tests.helpers.elfs import compile_c

EPOCH = 1704067200  # Mon, 01 Jan 2024 00:00:00 +0000
TARGET = make_target("bookworm", "arm64")


def _recipe(tmp_path: Path, **changes: object) -> Recipe:
    recipe = Recipe(
        recipe_file=tmp_path / "debforge.toml",
        source_dir=tmp_path,
        name="hello",
        version="1.2.3",
        revision="1",
        maintainer="Jane Doe <jane@example.org>",
        description="say hello",
        relations=RelationFields(depends=(AUTO,)),
        build=BinaryBuild(binary=tmp_path / "hello"),
    )
    return dataclasses.replace(recipe, **changes)  # type: ignore[arg-type]  # test-chosen fields


# --- Depends ---------------------------------------------------------------------------------------


def test_auto_is_replaced_in_place_and_duplicates_dropped() -> None:
    merged = merge_depends(
        ["ca-certificates", AUTO, "libc6 (>= 2.34)", "adduser | passwd"],
        "libc6 (>= 2.34), libssl3 (>= 3.0.0)",
    )
    assert merged == "ca-certificates, libc6 (>= 2.34), libssl3 (>= 3.0.0), adduser | passwd"


def test_without_auto_the_computed_value_is_left_out() -> None:
    assert merge_depends(["foo"], "libc6 (>= 2.34)") == "foo"


def test_auto_with_nothing_computed_leaves_the_recipe_relations() -> None:
    assert merge_depends([AUTO, "foo"], "") == "foo"


def test_misc_depends_follow_the_computed_ones() -> None:
    merged = merge_depends([AUTO], "libc6 (>= 2.34)", extra=["init-system-helpers (>= 1.54~)"])
    assert merged == "libc6 (>= 2.34), init-system-helpers (>= 1.54~)"


# --- soname → package ------------------------------------------------------------------------------


def _elf(path: str, needed: tuple[str, ...], soname: str | None = None) -> ElfInfo:
    return ElfInfo(
        path=Path(path), machine="EM_AARCH64", deb_arch="arm64", elf_class=64, endian="little",
        abi=(2, 1, "EM_AARCH64"), interpreter=None, needed=needed, soname=soname, rpath=(), runpath=(),
        versions={}, defined_versions=(), is_shared_object=soname is not None,
    )  # fmt: skip


CONTENTS = {
    "lib/aarch64-linux-gnu/libc.so.6": ("libc6",),
    "usr/lib/aarch64-linux-gnu/libssl.so.3": ("libssl3-old-suite", "libssl3"),
}
INDEX = {"libc6", "libssl3"}


def test_needed_sonames_skip_the_libraries_the_files_provide() -> None:
    infos = [
        _elf("/x/hello", ("libc.so.6", "libssl.so.3", "libhello.so.1")),
        _elf("/x/libhello.so.1", ("libc.so.6", "libz.so.1"), soname="libhello.so.1"),
    ]
    expected = {"libc.so.6": "hello", "libssl.so.3": "hello", "libz.so.1": "libhello.so.1"}
    assert needed_sonames(infos) == expected


def test_sonames_map_to_candidate_packages_through_contents() -> None:
    needed = {"libc.so.6": "hello", "libssl.so.3": "hello"}
    found = soname_packages(
        needed, TARGET, lambda p: CONTENTS.get(p, ()), lambda name: name if name in INDEX else None
    )
    assert found == {"libc.so.6": "libc6", "libssl.so.3": "libssl3"}


def test_a_soname_no_package_ships_is_named() -> None:
    with pytest.raises(ElfError, match=r"hello needs libnix\.so\.2, which no bookworm arm64 package ships"):
        soname_packages({"libnix.so.2": "hello"}, TARGET, lambda p: (), lambda name: None)


def test_without_a_build_sysroot_nothing_is_known_before_contents() -> None:
    infos = [_elf("/x/hello", ("libc.so.6",))]
    assert sysroot_packages(infos, needed_sonames(infos), None, TARGET, lambda name: name) == {}


def test_unreadable_contents_names_the_sonames_and_the_build_depends_to_add(tmp_path: Path) -> None:
    cause = FetchError("http://m/dists/trixie/main/Contents-arm64.gz answered 404 Not Found")
    error = contents_error(
        {"libfoo.so.1": "hello", "libbar.so.2": "hello"}, make_target("trixie", "arm64"), cause,
        recipe_file=tmp_path / "debforge.toml", candidate=lambda name: name if name == "libfoo-dev" else None,
    )  # fmt: skip
    assert str(error) == (
        "hello needs libfoo.so.1 and libbar.so.2, and Contents-arm64 of trixie could not be read "
        "(http://m/dists/trixie/main/Contents-arm64.gz answered 404 Not Found); add the -dev packages "
        f"that ship them (probably libfoo-dev) to build-depends in {tmp_path / 'debforge.toml'} so they "
        "are found without Contents"
    )


def test_unreadable_contents_without_a_recipe_to_fix_says_so() -> None:
    error = contents_error(
        {"libfoo.so.1": "hello"}, TARGET, FetchError("boom"), recipe_file=None, candidate=lambda name: None
    )
    assert str(error) == "hello needs libfoo.so.1, and Contents-arm64 of bookworm could not be read (boom)"
    assert error.hint is not None
    assert "build-depends" not in error.hint


# --- copyright -------------------------------------------------------------------------------------


def test_copyright_from_license_file_is_dep5_with_the_text(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text("MIT License\n\nPermission is hereby granted.\n")
    recipe = _recipe(
        tmp_path, license="MIT", license_file=tmp_path / "LICENSE", copyright="2023 Jane Doe",
        homepage="https://example.org/hello",
    )  # fmt: skip
    assert copyright_text(recipe, EPOCH) == (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: hello\n"
        "Source: https://example.org/hello\n"
        "\n"
        "Files: *\n"
        "Copyright: 2023 Jane Doe\n"
        "License: MIT\n"
        " MIT License\n"
        " .\n"
        " Permission is hereby granted.\n"
    )


def test_license_file_skip_drops_leading_lines(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text("Title\nSubtitle\nThe text.\n")
    text = copyright_text(
        _recipe(tmp_path, license="MIT", license_file=tmp_path / "LICENSE", license_file_skip=2), EPOCH
    )
    assert text.endswith("License: MIT\n The text.\n")


def test_dual_license_gets_a_paragraph_per_license(tmp_path: Path) -> None:
    text = copyright_text(_recipe(tmp_path, license="MIT OR Apache-2.0"), EPOCH)
    assert "License: MIT or Apache-2.0\n" in text
    assert "\nLicense: Apache-2.0\n On Debian systems, the complete text" in text
    assert "/usr/share/common-licenses/Apache-2.0." in text
    assert "\nLicense: MIT\n " in text


def test_notice_without_year_gets_the_build_year(tmp_path: Path) -> None:
    assert "Copyright: 2024 Jane Doe <jane@example.org>\n" in copyright_text(_recipe(tmp_path), EPOCH)


def test_copyright_file_is_used_verbatim(tmp_path: Path) -> None:
    ready = tmp_path / "copyright"
    ready.write_text("Format: x\n\nFiles: *\nCopyright: 1999 Someone\nLicense: GPL-2\n")
    assert copyright_text(_recipe(tmp_path, copyright_file=ready, license="MIT"), EPOCH) == ready.read_text()


# --- changelog and SOURCE_DATE_EPOCH ---------------------------------------------------------------


def test_generated_changelog_is_a_valid_dated_entry(tmp_path: Path) -> None:
    text = generated_changelog(_recipe(tmp_path), EPOCH).decode()
    assert text.startswith("hello (1.2.3-1) unstable; urgency=medium\n\n  * ")
    assert text.endswith("\n -- Jane Doe <jane@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n")
    assert changelog_date(text) == EPOCH
    assert gzip.decompress(changelog_gz(text.encode())).decode() == text


def test_dpkg_parsechangelog_reads_the_generated_changelog(tmp_path: Path) -> None:
    if shutil.which("dpkg-parsechangelog") is None:
        pytest.skip("dpkg-dev is not installed")
    path = tmp_path / "changelog"
    path.write_bytes(generated_changelog(_recipe(tmp_path), EPOCH))
    done = subprocess.run(
        ["dpkg-parsechangelog", "-l", path, "-S", "Timestamp"], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == str(EPOCH)


def test_epoch_from_the_environment_wins(tmp_path: Path) -> None:
    date = source_date_epoch(_recipe(tmp_path), {"SOURCE_DATE_EPOCH": "1700000000"})
    assert (date.epoch, date.origin) == (1700000000, "env")


@pytest.mark.parametrize("value", ["0", "-5", "yesterday", "100000000"])
def test_epoch_zero_garbage_or_before_1975_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(PackageError, match="SOURCE_DATE_EPOCH"):
        source_date_epoch(_recipe(tmp_path), {"SOURCE_DATE_EPOCH": value})


def _commit(root: Path, when: int) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = {"GIT_AUTHOR_DATE": f"@{when} +0000", "GIT_COMMITTER_DATE": f"@{when} +0000",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e.org", "PATH": "/usr/bin:/bin", "HOME": str(root)}  # fmt: skip
    (root / "f").write_text("x")
    for argv in (["git", "init", "-q"], ["git", "add", "f"], ["git", "commit", "-q", "-m", "x"]):
        subprocess.run(argv, cwd=root, env=env, check=True)


def _changelog(root: Path) -> Path:
    changelog = root / "changelog"
    changelog.write_text(
        "hello (1.0-1) unstable; urgency=low\n\n  * x\n\n -- A <a@b.org>  Mon, 01 Jan 2024 00:00:00 +0000\n"
    )
    return changelog


def test_epoch_from_the_last_commit_of_the_project(tmp_path: Path) -> None:
    _commit(tmp_path, 1710000000)
    date = source_date_epoch(_recipe(tmp_path), {})
    assert (date.epoch, date.origin) == (1710000000, "git")


def test_epoch_from_the_changelog_outside_git(tmp_path: Path) -> None:
    os.utime(_changelog(tmp_path), (1790000000, 1790000000))  # a newer file does not beat the changelog
    date = source_date_epoch(_recipe(tmp_path, changelog=tmp_path / "changelog"), {})
    assert (date.epoch, date.origin) == (EPOCH, "changelog")


def test_environment_beats_git_and_changelog(tmp_path: Path) -> None:
    _commit(tmp_path, 1710000000)
    recipe = _recipe(tmp_path, changelog=_changelog(tmp_path))
    assert source_date_epoch(recipe, {"SOURCE_DATE_EPOCH": "1700000000"}).origin == "env"
    assert source_date_epoch(recipe, {}).origin == "git"  # git beats the changelog


def _tree(root: Path, files: dict[str, int]) -> Path:
    """A project of files with the given mtimes, as an unpacked tarball leaves it (no git, no changelog)."""
    for name, mtime in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
        os.utime(path, (mtime, mtime))
    return root


def test_without_git_or_changelog_the_newest_project_file_dates_the_package(tmp_path: Path) -> None:
    root = _tree(tmp_path / "proj", {"debforge.toml": 1700000000, "src/main.rs": 1710000000,
                                     "target/release/hello": 1790000000, ".git/index": 1790000000,
                                     ".hg/dirstate": 1790000000, "hello_1.0-1_arm64.deb": 1790000000,
                                     "hello_1.0-1_arm64.deb.buildinfo.json": 1790000000})  # fmt: skip
    os.utime(root / "src", (1795000000, 1795000000))  # a directory's mtime is not a file's
    date = source_date_epoch(_recipe(root), {})
    assert (date.epoch, date.origin) == (1710000000, "mtime")
    assert str(root / "src/main.rs") in date.note


def test_the_mtime_date_does_not_depend_on_where_the_tree_is(tmp_path: Path) -> None:
    first = _tree(tmp_path / "a", {"debforge.toml": 1700000000, "src/main.rs": 1710000000})
    second = shutil.copytree(first, tmp_path / "elsewhere" / "b")  # copy2 keeps mtimes, as cp -p and tar do
    dates = [source_date_epoch(_recipe(root), {}) for root in (first, second)]
    assert dates[0].epoch == dates[1].epoch == 1710000000
    assert dates[0].origin == dates[1].origin == "mtime"


def test_mtimes_before_1975_are_raised_to_1975(tmp_path: Path) -> None:
    root = _tree(tmp_path / "nix", {"debforge.toml": 1, "bin/hello": 1})  # /nix/store files have mtime 1
    date = source_date_epoch(_recipe(root), {})
    assert (date.epoch, date.origin) == (157766400, "mtime")
    assert "1975" in date.note


def test_a_prebuilt_binary_is_dated_by_itself_not_its_directory(tmp_path: Path) -> None:
    root = _tree(tmp_path / "bin", {"hello": 1710000000, "unrelated": 1790000000})
    recipe = _recipe(root, recipe_file=root / "hello", build=BinaryBuild(binary=root / "hello"))
    assert source_date_epoch(recipe, {}).epoch == 1710000000


def test_a_project_without_files_is_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="cannot choose a reproducible timestamp") as caught:
        source_date_epoch(_recipe(tmp_path / "missing"), {})
    assert "\n" not in str(caught.value)


def test_long_extended_description_lines_are_wrapped_and_verbatim_lines_kept() -> None:
    text = "word " * 40 + "\n\n  $ verbatim example " + "x" * 90
    wrapped = wrap_extended(text.strip())
    assert all(len(line) <= 79 for line in wrapped.splitlines() if not line.startswith(" "))
    assert wrapped.split() == text.split()
    assert wrapped.endswith("  $ verbatim example " + "x" * 90)


# --- maintainer scripts ----------------------------------------------------------------------------


def _script(tmp_path: Path, name: str, body: str) -> MaintainerScript:
    path = tmp_path / name
    path.write_text(body)
    return MaintainerScript(name=name, path=path, debhelper="#DEBHELPER#" in body)


def _units(tmp_path: Path, *, enable: bool = True, start: bool = True) -> SystemdUnits:
    unit = tmp_path / "hello.service"
    unit.write_text("[Service]\nExecStart=/usr/bin/hello\n")
    files = (UnitFile(source=unit, dest=PurePosixPath("/usr/lib/systemd/system/hello.service")),)
    return SystemdUnits(unit_scripts=tmp_path, files=files, enable=enable, start=start)


def test_debhelper_marker_without_snippets_is_removed(tmp_path: Path) -> None:
    script = _script(tmp_path, "postinst", "#!/bin/sh\nset -e\n#DEBHELPER#\necho done\n")
    assert substitute_debhelper(script, "") == b"#!/bin/sh\nset -e\necho done\n"


def test_script_without_marker_is_kept_as_is(tmp_path: Path) -> None:
    script = _script(tmp_path, "postinst", "#!/bin/sh\necho hi\n")
    assert substitute_debhelper(script, "snippet\n") == b"#!/bin/sh\necho hi\n"


def test_systemd_snippets_go_where_the_marker_stands(tmp_path: Path) -> None:
    script = _script(tmp_path, "postinst", "#!/bin/sh\nset -e\n#DEBHELPER#\necho done\n")
    recipe = _recipe(tmp_path, scripts=(script,), systemd=(_units(tmp_path),))
    postinst = render_maintainer_scripts(recipe)["postinst"].decode()
    head, _, tail = postinst.partition("deb-systemd-helper unmask 'hello.service'")
    assert head.startswith("#!/bin/sh\nset -e\n")
    assert tail.endswith("echo done\n")
    assert "deb-systemd-invoke $_dh_action 'hello.service'" in tail


def test_systemd_units_without_scripts_get_generated_ones(tmp_path: Path) -> None:
    scripts = render_maintainer_scripts(_recipe(tmp_path, systemd=(_units(tmp_path),)))
    assert sorted(scripts) == ["postinst", "postrm", "prerm"]
    assert all(body.startswith(b"#!/bin/sh\nset -e\n") for body in scripts.values())
    assert b"deb-systemd-helper purge 'hello.service'" in scripts["postrm"]
    assert b'[ "$1" = remove ]' in scripts["prerm"]  # restart-after-upgrade: stop only on removal


def test_disabled_unit_is_neither_enabled_nor_started(tmp_path: Path) -> None:
    snippets = systemd_snippets([_units(tmp_path, enable=False, start=False)])
    assert sorted(snippets) == ["postrm"]


def test_generated_scripts_pass_sh_syntax_check(tmp_path: Path) -> None:
    for name, body in render_maintainer_scripts(_recipe(tmp_path, systemd=(_units(tmp_path),))).items():
        path = tmp_path / name
        path.write_bytes(body)
        subprocess.run(["sh", "-n", path], check=True)


def test_lintian_overrides_carry_their_reason() -> None:
    text = render_lintian_overrides("hello", [LintianOverride(tag="no-manual-page", reason="a demo")])
    assert text == "# a demo\nhello: no-manual-page\n"
    assert GENERATED_CHANGELOG_OVERRIDE.tag == "initial-upload-closes-no-bugs"


# --- the runtime sysroot against a local archive whose Contents cannot be read ---------------------

CROSS_LIBC = Path("/usr/aarch64-linux-gnu/lib/libc.so.6")
MULTIARCH_LIB = "usr/lib/aarch64-linux-gnu"


@dataclasses.dataclass(frozen=True)
class _Elfs:
    libfoo: Path
    hello: Path  # NEEDED libfoo.so.1, libc.so.6
    hello_bar: Path  # NEEDED libfoo.so.1, libbar.so.2 (no package of the archive ships it), libc.so.6


@pytest.fixture(scope="module")
def elfs(tmp_path_factory: pytest.TempPathFactory) -> _Elfs:
    require_tool("aarch64-linux-gnu-gcc")
    work = tmp_path_factory.mktemp("elfs")
    libs = {
        name: compile_c(work / f"lib{name}.so.{major}", source=f"int {name}(void) {{ return {major}; }}\n",
                        args=["-shared", "-fPIC", f"-Wl,-soname,lib{name}.so.{major}"])
        for name, major in (("foo", 1), ("bar", 2))
    }  # fmt: skip
    hello = compile_c(work / "hello", source="int foo(void);\nint main(void) { return foo(); }\n",
                      args=[str(libs["foo"])])  # fmt: skip
    both = "int foo(void);\nint bar(void);\nint main(void) { return foo() + bar(); }\n"
    hello_bar = compile_c(work / "hello-bar", source=both, args=[str(libs["foo"]), str(libs["bar"])])
    return _Elfs(libfoo=libs["foo"], hello=hello, hello_bar=hello_bar)


# What the packages' control areas hold for dpkg-shlibdeps (rootfs puts them in the dpkg database).
LIBC_SHLIBS = b"libc 6 libc6 (>= 2.36)\n"
LIBFOO_SYMBOLS = b"libfoo.so.1 libfoo1 #MINVER#\n* Build-Depends-Package: libfoo-dev\n foo@Base 1.0\n"


@pytest.fixture(scope="module")
def archive(elfs: _Elfs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    """libc6 and libfoo1 with their real arm64 libraries, the -dev packages a recipe build-depends on."""
    for tool in ("gpg", "gpgv", "dpkg-deb"):
        require_tool(tool)
    key = make_key(tmp_path_factory.mktemp("key"))
    packages: list[dict[str, Any]] = [
        {"Package": "libc6", "Version": "2.36-9", "Multi-Arch": "same",
         "files": {"lib/aarch64-linux-gnu/libc.so.6": CROSS_LIBC.read_bytes(), "DEBIAN/shlibs": LIBC_SHLIBS}},
        {"Package": "libc6-dev", "Version": "2.36-9", "Multi-Arch": "same", "Depends": "libc6 (= 2.36-9)"},
        {"Package": "libgcc-s1", "Version": "12.2.0-14", "Multi-Arch": "same"},
        {"Package": "libfoo1", "Version": "1.0-1", "Multi-Arch": "same", "Depends": "libc6",
         "files": {f"{MULTIARCH_LIB}/libfoo.so.1": elfs.libfoo.read_bytes(),
                   "DEBIAN/symbols": LIBFOO_SYMBOLS}},
        {"Package": "libfoo-dev", "Version": "1.0-1", "Multi-Arch": "same", "Depends": "libfoo1 (= 1.0-1)"},
    ]  # fmt: skip
    # No by-hash copies: every Contents request then has "Contents" in its path, so none slips past.
    yield build_repo(tmp_path_factory.mktemp("repo"), packages, key=key, by_hash=False)
    key.close()


NO_CONTENTS = [Fault("Contents-arm64.gz", "404", times=-1), Fault("Contents-arm64", "404", times=-1)]


@pytest.mark.integration
def test_sonames_the_build_sysroot_knows_never_fetch_contents(
    archive: Repo, elfs: _Elfs, tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "cache").ensure()
    with serve(archive.root, faults=NO_CONTENTS) as server, Session(cache=cache) as session:
        target = archive.target(server.url)
        # The build-depends tree exactly as the builder lays it out (debforge/builder/rust.py).
        build_root = make_sysroot(session, target, ["libfoo-dev"]).path
        runtime = runtime_sysroot(
            session,
            [read_elf(elfs.hello)],
            target,
            build_root=build_root,
            recipe_file=tmp_path / "debforge.toml",
        )
    assert [record.name for record in runtime.closure.packages] == ["libc6", "libfoo1"]
    assert (runtime.sysroot.path / MULTIARCH_LIB / "libfoo.so.1").is_file()
    assert any("Packages" in path for path in server.paths())  # the server was used at all
    assert [path for path in server.paths() if "Contents" in path] == []


@pytest.mark.integration
def test_unknown_soname_with_unreadable_contents_says_which_build_depends_to_add(
    archive: Repo, elfs: _Elfs, tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "cache").ensure()
    recipe_file = tmp_path / "debforge.toml"
    with serve(archive.root, faults=NO_CONTENTS) as server, Session(cache=cache) as session:
        target = archive.target(server.url)
        build_root = make_sysroot(session, target, ["libfoo-dev"]).path
        with pytest.raises(PackageError) as caught:
            runtime_sysroot(
                session, [read_elf(elfs.hello_bar)], target, build_root=build_root, recipe_file=recipe_file
            )
    message = str(caught.value)
    # Only the soname the build sysroot lacks is named: libfoo.so.1 and libc.so.6 were found there.
    assert message.startswith(
        "hello-bar needs libbar.so.2, and Contents-arm64 of bookworm could not be read ("
    )
    assert "404" in message
    advice = f"add the -dev package that ships it to build-depends in {recipe_file} so it is found without"
    assert message.endswith(f"{advice} Contents")
    assert any("Contents-arm64" in path for path in server.paths())


# --- --offline reaches every download of `package` ---------------------------------------------------

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def _cargo_recipe_needing_libfoo(tmp_path: Path) -> Recipe:
    """recipes/hello-ssl, copied, with build-depends the local archive has (libfoo-dev)."""
    from debforge.recipe import load_recipe

    project = tmp_path / "project"
    shutil.copytree(RECIPES / "hello-ssl", project, ignore=shutil.ignore_patterns("target"))
    toml = project / "debforge.toml"
    toml.write_text(
        toml.read_text().replace('build-depends = ["libssl-dev"]', 'build-depends = ["libfoo-dev"]')
    )
    return load_recipe(project, arch="arm64", reporter=NullReporter())


@pytest.mark.integration
def test_package_offline_with_an_empty_cache_asks_the_mirror_nothing(archive: Repo, tmp_path: Path) -> None:
    from debforge.pipeline import package

    recipe = _cargo_recipe_needing_libfoo(tmp_path)
    cache = Cache(tmp_path / "cache").ensure()
    with serve(archive.root) as server, Session(cache=cache, offline=True) as session:
        with pytest.raises(
            OfflineError, match=r"InRelease from .* is not in the cache and --offline forbids"
        ):
            package(session, recipe, archive.target(server.url), out=tmp_path / "out")
        assert server.requests == []
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_package_offline_never_downloads_the_build_depends(archive: Repo, tmp_path: Path) -> None:
    # The index is cached (and stale: ttl 0), the build-depends .debs are not. Offline, the build's
    # sysroot must neither re-check the InRelease nor download libfoo-dev and its dependencies.
    from debforge.archive import fetch_index
    from debforge.pipeline import package

    recipe = _cargo_recipe_needing_libfoo(tmp_path)
    cache = Cache(tmp_path / "cache").ensure()
    with serve(archive.root) as server:
        target = archive.target(server.url)
        with Session(cache=cache) as online:
            fetch_index(online, target)
        before = len(server.requests)
        stale = Session(cache=cache, offline=True, freshness=Freshness(ttl=0))
        with stale as session, pytest.raises(OfflineError) as caught:
            package(session, recipe, target, out=tmp_path / "out")
        assert server.requests[before:] == []
    assert str(caught.value).startswith("--offline forbids downloading ")
    assert "libfoo-dev_1.0-1" in str(caught.value)
    debs = [hashlib.sha256(deb.read_bytes()).hexdigest() for deb in archive.debs.values()]
    assert [sha for sha in debs if cache.has_blob(sha)] == []


# --- the shipped ELF files: read once, after repair; versioned build-depends raise minimums ---------


@pytest.mark.integration
@pytest.mark.parametrize(
    "case",
    [
        (("libfoo-dev",), "libfoo1 (>= 1.0)"),  # unversioned: the symbols file's minimum, as before
        (("libfoo-dev (>= 1.0-1)",), "libfoo1 (>= 1.0-1)"),  # dpkg-shlibdeps' Build-Depends-Package rule
    ],
)
def test_each_shipped_elf_is_read_once_and_build_depends_versions_raise_the_minimum(
    archive: Repo,
    elfs: _Elfs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[tuple[str, ...], str],
) -> None:
    build_depends, libfoo = case
    # A built file with a foreign (Nix-style) loader that repair must fix, and an ELF "file" asset.
    built = tmp_path / "a" / "hello"
    built.parent.mkdir()
    built.write_bytes(patch_elf(elfs.hello, interpreter=PurePosixPath("/nix/ld-linux-aarch64.so.1")))
    greet = compile_c(tmp_path / "greet")
    artifacts = Artifacts(files=(Artifact(source=built, name="hello", arch="arm64", sha256=""),))
    asset = Asset(source=FileSource(path=greet), dest=PurePosixPath("/usr/bin/greet"), mode=0o755)
    recipe = _recipe(tmp_path, build=BinaryBuild(binary=built, build_depends=build_depends), assets=(asset,))
    reads: Counter[Path] = Counter()
    facts = elf_read._facts  # every read_elf goes through it, whichever module imported read_elf

    def counting(path: Path, elf: object) -> ElfInfo:
        reads[path] += 1
        return facts(path, elf)

    cache = Cache(tmp_path / "cache").ensure()
    with serve(archive.root, faults=NO_CONTENTS) as server, Session(cache=cache) as session:
        target = archive.target(server.url)
        artifacts = dataclasses.replace(artifacts, sysroot=make_sysroot(session, target, ["libfoo-dev"]).path)
        monkeypatch.setattr(elf_read, "_facts", counting)
        result = runtime_depends(session, recipe, target, artifacts)
    assert [reads[path] for path in (built, greet)] == [1, 1]
    # A sysroot library both files need is read at most once by the guard and once by the lookup.
    assert max(reads.values()) == 2
    assert [info.path for info in result.elfs] == [built, greet]
    assert result.elfs[0].interpreter == target.ld_so  # the one read came after the repair
    assert read_elf(built).interpreter == target.ld_so
    assert [record.name for record in result.closure.packages] == ["libc6", "libfoo1"]
    assert result.depends == f"libc6 (>= 2.36), {libfoo}"


# --- the build record ------------------------------------------------------------------------------


def test_build_record_is_the_json_document_the_record_file_always_held(tmp_path: Path) -> None:
    recipe_bytes = b'[package]\nname = "hello"\n'
    (tmp_path / "debforge.toml").write_bytes(recipe_bytes)
    recipe = _recipe(tmp_path)
    spec = PackageSpec(name="hello", version="1.2.3-1", arch="arm64", maintainer=recipe.maintainer,
                       description="say hello", depends="libc6 (>= 2.36), libfoo1 (>= 1.0)")  # fmt: skip
    deb = Package(path=tmp_path / "hello_1.2.3-1_arm64.deb", spec=spec, sha256="ab" * 32, size=2048,
                  installed_size=12, control="")  # fmt: skip
    dbgsym = Package(
        path=tmp_path / "hello-dbgsym_1.2.3-1_arm64.deb", sha256="ef" * 32, size=1024, installed_size=4,
        spec=dataclasses.replace(spec, name="hello-dbgsym", extra_fields={"Build-Ids": "1234abcd 5678ef00"}),
        control="",
    )  # fmt: skip
    toolchain = (("rustc", "rustc 1.63.0"), ("cargo", "cargo 1.65.0"), ("cc", "aarch64-linux-gnu-gcc 12.2.0"))
    artifacts = Artifacts(
        files=(Artifact(source=tmp_path / "hello", name="hello", arch="arm64", sha256="cd" * 32),),
        toolchain=toolchain,
    )
    packages = tuple(
        PackageRecord(name=n, version=v, arch="arm64") for n, v in (("libc6", "2.36-9"), ("libfoo1", "1.0-1"))
    )
    closure = Closure(dist="bookworm", arch="arm64", roots=("libc6", "libfoo1"), packages=packages)
    date = SourceDate(epoch=EPOCH, origin="env")
    record = build_record(recipe, TARGET, deb, artifacts, closure, date=date, dbgsym=dbgsym)
    # The dict build_record returned before it became a frozen BuildRecord, key for key.
    before: dict[str, object] = {
        "format": 1, "package": "hello", "version": "1.2.3-1", "architecture": "arm64",
        "deb": "hello_1.2.3-1_arm64.deb", "sha256": "ab" * 32, "size": 2048, "installed_size": 12,
        "depends": "libc6 (>= 2.36), libfoo1 (>= 1.0)",
        "recipe": {"file": "debforge.toml", "sha256": hashlib.sha256(recipe_bytes).hexdigest()},
        "target": {"dist": "bookworm", "arch": "arm64", "mirror": TARGET.mirror},
        "source_date_epoch": {"value": EPOCH, "from": "env"},
        "sysroot": ["libc6=2.36-9", "libfoo1=1.0-1"],
        "toolchain": dict(toolchain),
        "artifacts": [{"name": "hello", "sha256": "cd" * 32}],
        "dbgsym": {"deb": dbgsym.path.name, "sha256": "ef" * 32, "size": 1024,
                   "build_ids": ["1234abcd", "5678ef00"]},
    }  # fmt: skip
    assert record.text() == json.dumps(before, indent=2, sort_keys=True) + "\n"
    assert json.dumps(record.to_json(), indent=2) + "\n" == record.text()  # `--json` prints the same text
    without = build_record(recipe, TARGET, deb, artifacts, closure, date=date)
    assert "dbgsym" not in without.to_json()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.depends = "x"  # type: ignore[misc]
