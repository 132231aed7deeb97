"""The pure parts of the package pipeline: Depends merging, copyright, changelog, scripts, timestamps."""

from __future__ import annotations

import dataclasses
import gzip
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from debforge.deb import changelog_gz
from debforge.dists import make_target
from debforge.elf import ElfInfo
from debforge.errors import ElfError, PackageError
from debforge.pipeline import soname_packages
from debforge.pipeline.policy import (
    GENERATED_CHANGELOG_OVERRIDE,
    changelog_date,
    copyright_text,
    generated_changelog,
    lintian_overrides,
    maintainer_scripts,
    merge_depends,
    source_date_epoch,
    substitute_debhelper,
    systemd_snippets,
    wrap_extended,
)
from debforge.recipe import (
    AUTO,
    BuildSpec,
    LintianOverride,
    MaintainerScript,
    Recipe,
    Relations,
    SystemdUnits,
    UnitFile,
)

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
        relations=Relations(depends=(AUTO,)),
        build=BuildSpec(kind="binary"),
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


def test_sonames_map_to_candidate_packages_and_own_libraries_are_skipped() -> None:
    infos = [
        _elf("/x/hello", ("libc.so.6", "libssl.so.3", "libhello.so.1")),
        _elf("/x/libhello.so.1", ("libc.so.6",), soname="libhello.so.1"),
    ]
    found = soname_packages(
        infos, TARGET, lambda p: CONTENTS.get(p, ()), lambda name: name if name in INDEX else None
    )
    assert found == {"libc.so.6": "libc6", "libssl.so.3": "libssl3"}


def test_a_soname_no_package_ships_is_named() -> None:
    with pytest.raises(ElfError, match=r"hello needs libnix\.so\.2, which no bookworm arm64 package ships"):
        soname_packages([_elf("/x/hello", ("libnix.so.2",))], TARGET, lambda p: (), lambda name: None)


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


def test_epoch_from_the_last_commit_of_the_project(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = {"GIT_AUTHOR_DATE": "@1710000000 +0000", "GIT_COMMITTER_DATE": "@1710000000 +0000",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e.org", "PATH": "/usr/bin:/bin"}  # fmt: skip
    (tmp_path / "f").write_text("x")
    for argv in (["git", "init", "-q"], ["git", "add", "f"], ["git", "commit", "-q", "-m", "x"]):
        subprocess.run(argv, cwd=tmp_path, env=env, check=True)
    date = source_date_epoch(_recipe(tmp_path), {})
    assert (date.epoch, date.origin) == (1710000000, "git")


def test_epoch_from_the_changelog_outside_git(tmp_path: Path) -> None:
    changelog = tmp_path / "changelog"
    changelog.write_text(
        "hello (1.0-1) unstable; urgency=low\n\n  * x\n\n -- A <a@b.org>  Mon, 01 Jan 2024 00:00:00 +0000\n"
    )
    date = source_date_epoch(_recipe(tmp_path, changelog=changelog), {})
    assert (date.epoch, date.origin) == (EPOCH, "changelog")


def test_no_epoch_source_is_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="cannot choose a reproducible timestamp") as caught:
        source_date_epoch(_recipe(tmp_path), {})
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
    postinst = maintainer_scripts(recipe)["postinst"].decode()
    head, _, tail = postinst.partition("deb-systemd-helper unmask 'hello.service'")
    assert head.startswith("#!/bin/sh\nset -e\n")
    assert tail.endswith("echo done\n")
    assert "deb-systemd-invoke $_dh_action 'hello.service'" in tail


def test_systemd_units_without_scripts_get_generated_ones(tmp_path: Path) -> None:
    scripts = maintainer_scripts(_recipe(tmp_path, systemd=(_units(tmp_path),)))
    assert sorted(scripts) == ["postinst", "postrm", "prerm"]
    assert all(body.startswith(b"#!/bin/sh\nset -e\n") for body in scripts.values())
    assert b"deb-systemd-helper purge 'hello.service'" in scripts["postrm"]
    assert b'[ "$1" = remove ]' in scripts["prerm"]  # restart-after-upgrade: stop only on removal


def test_disabled_unit_is_neither_enabled_nor_started(tmp_path: Path) -> None:
    snippets = systemd_snippets([_units(tmp_path, enable=False, start=False)])
    assert sorted(snippets) == ["postrm"]


def test_generated_scripts_pass_sh_syntax_check(tmp_path: Path) -> None:
    for name, body in maintainer_scripts(_recipe(tmp_path, systemd=(_units(tmp_path),))).items():
        path = tmp_path / name
        path.write_bytes(body)
        subprocess.run(["sh", "-n", path], check=True)


def test_lintian_overrides_carry_their_reason() -> None:
    text = lintian_overrides("hello", [LintianOverride(tag="no-manual-page", reason="a demo")])
    assert text == "# a demo\nhello: no-manual-page\n"
    assert GENERATED_CHANGELOG_OVERRIDE.tag == "initial-upload-closes-no-bugs"
