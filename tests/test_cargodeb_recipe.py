"""cargo-deb drop-in (issue 14): what cargo-deb accepts loads, with cargo-deb's meaning.

Each fixture is a tiny Cargo project written here, one per key family; nothing is built.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from debforge.errors import RecipeError, UsageError
from debforge.recipe import (
    BuildOverrides,
    BuiltSource,
    CargoBuild,
    FileSource,
    LinkSource,
    Overrides,
    Recipe,
    load_recipe,
)
from debforge.recipe.parts import link_target
from tests.test_recipe import MAIN_RS, Recording, cargo_project, write


def load(path: Path, **kw: object) -> tuple[Recipe, Recording]:
    reporter = Recording()
    recipe = load_recipe(path, arch="arm64", reporter=reporter, **kw)  # type: ignore[arg-type]
    return recipe, reporter


def cargo_build(recipe: Recipe) -> CargoBuild:
    assert isinstance(recipe.build, CargoBuild)
    return recipe.build


def dests(recipe: Recipe) -> dict[str, object]:
    return {str(a.dest): a.source for a in recipe.assets}


# ---------------------------------------------------------------- assets


def test_glob_with_a_directory_dest_installs_every_match_into_it(tmp_path: Path) -> None:
    meta = (
        '[package.metadata.deb]\nassets = [["data/*", "var/lib/foo", "644"], ["one/*", "usr/share/x", "644"]]'
    )
    root = cargo_project(tmp_path, metadata=meta, extra={"data/a": "a", "data/b": "b", "one/only": "1"})
    recipe, _ = load(root)
    found = dests(recipe)
    assert found["/var/lib/foo/a"] == FileSource(path=root / "data/a")
    assert found["/var/lib/foo/b"] == FileSource(path=root / "data/b")
    assert "/usr/share/x/only" in found  # one match: still a directory dest, as in cargo-deb
    assert all(a.mode == 0o644 for a in recipe.assets)


def test_symlink_assets_are_kept_with_policy_targets_and_may_dangle(tmp_path: Path) -> None:
    meta = """
        [package.metadata.deb]
        preserve-symlinks = true
        assets = [
          ["links/tool", "usr/bin/tool-alias", "755"],
          ["links/conf", "usr/share/foo/conf", "644"],
          ["links/gone", "usr/share/foo/gone", "644"],
          { source = "links/copied", dest = "usr/share/foo/copied", mode = "644", preserve-symlinks = false },
        ]
    """
    root = cargo_project(tmp_path, metadata=meta.replace("\n        ", "\n"), extra={"real.txt": "x"})
    links = root / "links"
    links.mkdir()
    (links / "tool").symlink_to("/usr/lib/foo/tool")  # within /usr: stays relative
    (links / "conf").symlink_to("../../../etc/foo.conf")  # /usr → /etc: made absolute (Policy 10.5)
    (links / "gone").symlink_to("/nonexistent/file")  # dangling: allowed
    (links / "copied").symlink_to("../real.txt")  # preserve-symlinks = false: the target's bytes
    found = dests(load(root)[0])
    assert found["/usr/bin/tool-alias"] == LinkSource(target="../lib/foo/tool")
    assert found["/usr/share/foo/conf"] == LinkSource(target="/etc/foo.conf")
    assert found["/usr/share/foo/gone"] == LinkSource(target="/nonexistent/file")
    assert found["/usr/share/foo/copied"] == FileSource(path=links / "copied")


@pytest.mark.parametrize(
    ("dest", "target", "expected"),
    [
        ("/usr/bin/a", "/usr/lib/a/a", "../lib/a/a"),
        ("/usr/bin/a", "b", "b"),
        ("/etc/a", "/usr/share/a", "/usr/share/a"),
        ("/usr/lib/x/libx.so", "libx.so.1", "libx.so.1"),
    ],
)
def test_link_target_policy_10_5(dest: str, target: str, expected: str) -> None:
    assert link_target(PurePosixPath(dest), target) == expected


def test_only_the_binaries_the_assets_name_are_built(tmp_path: Path) -> None:
    meta = '[package.metadata.deb]\nassets = [["target/release/second", "usr/bin/", "755"]]'
    root = cargo_project(tmp_path, metadata=meta, extra={"src/bin/second.rs": MAIN_RS})
    build = cargo_build(load(root)[0])
    assert build.binaries == ("second",)
    assert build.packages == ()  # a lone package needs no -p


def test_other_target_release_files_are_build_script_output(tmp_path: Path) -> None:
    """cargo-deb copies any target/release/ file; a name no target builds is expected from a build
    script, said (with the closest target name, for a typo) but not refused."""
    man = '["target/release/my-tol.1", "usr/share/man/man1/", "644"]'
    meta = f'[package.metadata.deb]\nassets = ["$auto", {man}]'
    root = cargo_project(tmp_path, metadata=meta)
    recipe, reporter = load(root)
    build = cargo_build(recipe)
    assert (build.binaries, build.extra_files) == (("my_tool",), ("my-tol.1",))
    assert dests(recipe)["/usr/share/man/man1/my-tol.1"] == BuiltSource(name="my-tol.1")
    assert any("'target/release/my-tol.1' is no bin or cdylib target" in i for i in reporter.infos)


# ---------------------------------------------------------------- maintainer


def test_authors_without_email_is_written_verbatim_with_a_warning(tmp_path: Path) -> None:
    root = cargo_project(tmp_path / "p")
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('"Jane Doe <jane@example.org>"', '"Jane Doe"'))
    recipe, reporter = load(root)
    assert recipe.maintainer == "Jane Doe"
    assert any("'authors' in [package]" in w and "Jane Doe" in w for w in reporter.warnings)


def test_metadata_maintainer_without_email_is_a_warning_not_a_refusal(tmp_path: Path) -> None:
    root = cargo_project(tmp_path, metadata='[package.metadata.deb]\nmaintainer = "The Team"')
    recipe, reporter = load(root)
    assert recipe.maintainer == "The Team"
    assert any("'maintainer' in [package.metadata.deb]" in w for w in reporter.warnings)


def test_no_maintainer_anywhere_names_the_fix(tmp_path: Path) -> None:
    root = cargo_project(tmp_path)
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('authors = ["Jane Doe <jane@example.org>"]\n', ""))
    with pytest.raises(RecipeError, match="no maintainer") as info:
        load(root)
    assert "--maintainer" in (info.value.hint or "")
    recipe, _ = load(root, overrides=Overrides(maintainer="Ops <ops@example.org>"))
    assert recipe.maintainer == "Ops <ops@example.org>"


# ---------------------------------------------------------------- workspaces

WS_MEMBER = """\
[package]
name = "{name}"
version.workspace = true
edition = "2021"
description = "The {name} member"
authors.workspace = true
license.workspace = true
{extra}
"""


def workspace(root: Path, root_extra: str = "", app_meta: str = "", lib_meta: str = "") -> Path:
    files = {
        "Cargo.toml": (
            f'[workspace]\nmembers = ["crates/*"]\nresolver = "2"\n{root_extra}'
            '[workspace.package]\nversion = "2.0.0-beta.1"\nauthors = ["Ann"]\nlicense = "MIT"\n'
        ),
        "crates/app/Cargo.toml": WS_MEMBER.format(name="app", extra=app_meta),
        "crates/app/src/main.rs": MAIN_RS,
        "crates/helper/Cargo.toml": WS_MEMBER.format(name="helper", extra=lib_meta),
        "crates/helper/src/main.rs": MAIN_RS,
    }
    return write(root, files)


def test_virtual_root_picks_the_only_member_with_deb_metadata(tmp_path: Path) -> None:
    meta = '[package.metadata.deb]\nassets = ["$auto", ["target/release/helper", "usr/libexec/app/", "755"]]'
    root = workspace(tmp_path, app_meta=meta)
    recipe, reporter = load(root)
    build = cargo_build(recipe)
    assert recipe.name == "app" and recipe.version == "2.0.0~beta.1"
    assert recipe.source_dir == root.absolute()  # cargo builds from the workspace root
    assert build.manifest == (root / "crates/app/Cargo.toml").absolute()
    assert build.binaries == ("app", "helper") and build.packages == ("app", "helper")
    assert dests(recipe)["/usr/libexec/app/helper"] == BuiltSource(name="helper")
    assert recipe.maintainer == "Ann"  # workspace-inherited authors, verbatim
    assert any("is not of the form" in w for w in reporter.warnings)


def test_virtual_root_default_members_then_dash_p_then_error(tmp_path: Path) -> None:
    root = workspace(tmp_path / "a", root_extra='default-members = ["crates/helper"]\n')
    assert load(root)[0].name == "helper"
    root = workspace(tmp_path / "b")
    with pytest.raises(RecipeError, match="several packages") as info:
        load(root)
    assert "-p NAME" in (info.value.hint or "")
    assert load(root, package="app")[0].name == "app"
    with pytest.raises(RecipeError, match=r"-p nope: there is no package of that name .*app, helper"):
        load(root, package="nope")


# ---------------------------------------------------------------- overrides (cargo-deb's flags)


def test_command_line_overrides_win(tmp_path: Path) -> None:
    meta = '[package.metadata.deb]\nsection = "utils"\nfeatures = ["a"]\nprofile = "dist"\nrevision = "3"'
    root = cargo_project(tmp_path, metadata=meta)
    build = BuildOverrides(
        profile="fast", features=("b",), no_default_features=True, cargo_flags=("--locked",),
        strip=False, separate_debug_symbols=True, compress_debug_symbols=False,
        profile_env=(("CARGO_PROFILE_FAST_LTO", "true"),),
    )  # fmt: skip
    flags = Overrides(deb_revision="7", section="net", multiarch="same", compression="gzip", build=build)
    recipe, _ = load(root, overrides=flags)
    spec = cargo_build(recipe)
    assert (recipe.deb_version, recipe.section, recipe.multi_arch, recipe.compression) == (
        "1.2.3-7", "net", "same", "gzip",
    )  # fmt: skip
    assert (spec.profile, spec.features, spec.default_features) == ("fast", ("a", "b"), False)
    assert not spec.strip and not spec.split_debug  # --no-strip keeps everything in the file
    assert spec.profile_env == (("CARGO_PROFILE_FAST_LTO", "true"),)
    whole, _ = load(root, overrides=Overrides(deb_version="9.9-local1"))
    assert whole.deb_version == "9.9-local1"  # --deb-version replaces the whole Version


def test_bad_override_values_are_usage_errors(tmp_path: Path) -> None:
    root = cargo_project(tmp_path)
    with pytest.raises(UsageError, match="--deb-version gives 'x y'"):
        load(root, overrides=Overrides(deb_version="x y"))
    with pytest.raises(UsageError, match="--section 'my utils' is not one word"):
        load(root, overrides=Overrides(section="my utils"))
    with pytest.raises(RecipeError, match="--profile dev"):
        load(root, overrides=Overrides(build=BuildOverrides(profile="dev")))


def test_unknown_section_is_written_verbatim_with_a_warning(tmp_path: Path) -> None:
    # cargo-deb's own README uses section = "utility"; cargo-deb writes it as it is.
    root = cargo_project(tmp_path, metadata='[package.metadata.deb]\nsection = "utility"')
    recipe, reporter = load(root)
    assert recipe.section == "utility"
    [warning] = reporter.warnings
    assert warning.startswith("'section' in [package.metadata.deb] of ")
    assert "Cargo.toml: 'utility' is written as it is" in warning and "did you mean 'utils'?" in warning
    flagged, reporter = load(root, overrides=Overrides(section="stuff"))
    assert flagged.section == "stuff" and "--section 'stuff' is written as it is" in reporter.warnings[-1]


def test_a_section_that_is_not_one_word_is_still_refused(tmp_path: Path) -> None:
    root = cargo_project(tmp_path, metadata='[package.metadata.deb]\nsection = "my utils"')
    with pytest.raises(RecipeError, match=r"invalid 'section' in \[package.metadata.deb\] of .*not one word"):
        load(root)


def test_variant_with_merge_assets_by_dest(tmp_path: Path) -> None:
    meta = """
[package.metadata.deb]
assets = [["a.conf", "etc/my/a.conf", "644"], ["b.txt", "usr/share/my/b.txt", "644"]]
[package.metadata.deb.variants.lite]
merge-assets.append = [["c.txt", "usr/share/my/c.txt", "644"]]
merge-assets.by.dest = [["b2.txt", "usr/share/my/b.txt", "600"]]
"""
    files = {"a.conf": "a", "b.txt": "b", "b2.txt": "b2", "c.txt": "c"}
    recipe, _ = load(cargo_project(tmp_path, metadata=meta, extra=files), variant="lite")
    found = {str(a.dest): a for a in recipe.assets}
    assert recipe.name == "my-tool-lite"
    assert set(found) == {"/etc/my/a.conf", "/usr/share/my/b.txt", "/usr/share/my/c.txt"}
    assert found["/usr/share/my/b.txt"].mode == 0o600
    assert recipe.conffiles == (PurePosixPath("/etc/my/a.conf"),)


def test_variant_merge_assets_by_src_replaces_the_entry_with_that_source(tmp_path: Path) -> None:
    meta = """
[package.metadata.deb]
assets = [["b.txt", "usr/share/my/b.txt", "644"]]
[package.metadata.deb.variants.big]
name = "my-tool-xl"
merge-assets.by.src = [["b.txt", "usr/share/my/moved.txt", "600"]]
"""
    recipe, _ = load(cargo_project(tmp_path, metadata=meta, extra={"b.txt": "b"}), variant="big")
    assert recipe.name == "my-tool-xl"
    assert [(str(a.dest), a.mode) for a in recipe.assets] == [("/usr/share/my/moved.txt", 0o600)]


# ---------------------------------------------------------------- keys and flags, end to end in the recipe


def test_every_relation_field_takes_arch_qualifiers_in_list_or_string_form(tmp_path: Path) -> None:
    # cargo-deb 2.10: one syntax (a string or a list) for every relationship field; [arch] is kept for
    # the target's arch and dropped otherwise, as dpkg-gencontrol reduces a source relation.
    meta = """
[package.metadata.deb]
depends = ["$auto", "libfoo1 [arm64] | libfoo0", "libx86 [amd64]"]
pre-depends = "dpkg (>= 1.19) [!amd64]"
recommends = ["ca-certificates [any-arm64]"]
suggests = "tool-extra [linux-any], tool-i386 [i386]"
enhances = ["other [arm64]"]
conflicts = "old-tool [!arm64], older-tool"
breaks = ["broken (<< 1.0) [arm64 armhf]"]
replaces = "gone [amd64]"
provides = ["tool-api (= 2) [arm64]"]
"""
    root = cargo_project(tmp_path, metadata=meta)
    arm = load(root)[0].relations
    amd = load_recipe(root, arch="amd64", reporter=Recording()).relations
    assert arm.depends == ("$auto", "libfoo1 | libfoo0")
    assert amd.depends == ("$auto", "libfoo0", "libx86")
    assert (arm.pre_depends, amd.pre_depends) == (("dpkg (>= 1.19)",), ())
    assert (arm.recommends, arm.suggests, arm.enhances) == (
        ("ca-certificates",), ("tool-extra",), ("other",),
    )  # fmt: skip
    assert (arm.conflicts, amd.conflicts) == (("older-tool",), ("old-tool", "older-tool"))
    assert (arm.breaks, arm.replaces, amd.replaces) == (("broken (<< 1.0)",), (), ("gone",))
    assert (arm.provides, amd.provides) == (("tool-api (= 2)",), ())


def test_triggers_file_becomes_the_control_triggers_file(tmp_path: Path) -> None:
    from debforge.pipeline.policy import render_maintainer_scripts

    text = "interest-noawait /usr/share/my-tool\n"
    meta = '[package.metadata.deb]\ntriggers-file = "debian/triggers"'
    recipe, _ = load(cargo_project(tmp_path, metadata=meta, extra={"debian/triggers": text}))
    assert recipe.triggers_file == tmp_path / "debian/triggers"
    assert render_maintainer_scripts(recipe)["triggers"] == text.encode()
    missing = cargo_project(tmp_path / "missing", metadata=meta)
    with pytest.raises(RecipeError, match=r"'triggers-file' in \[package.metadata.deb\] of .*Cargo.toml"):
        load(missing)


def test_features_default_features_and_dash_f_reach_cargo_build(tmp_path: Path) -> None:
    from debforge.builder.cargo import cargo_argv
    from debforge.cli.cargodeb import _PARAMS, CargoDebFlags

    meta = '[package.metadata.deb]\nfeatures = ["b"]\ndefault-features = false'
    root = cargo_project(tmp_path, metadata=meta)
    given = {name: default for name, _, default in _PARAMS}
    flags = CargoDebFlags(**(given | {"features": ["c,d", "e"]}))
    recipe, _ = load(root, overrides=flags.overrides(maintainer=None, reporter=Recording()))
    argv = cargo_argv(cargo_build(recipe), triple=None, locked=False, manifest="/src/Cargo.toml")
    assert argv[argv.index("--features") + 1] == "b,c,d,e"  # the metadata's, then -F's, as cargo-deb
    assert "--no-default-features" in argv and "--all-features" not in argv
    plain, _ = load(cargo_project(tmp_path / "plain"))
    argv = cargo_argv(cargo_build(plain), triple=None, locked=False, manifest="/src/Cargo.toml")
    assert "--features" not in argv and "--no-default-features" not in argv


def test_profile_from_metadata_or_flag_is_the_cargo_profile_and_target_dir(tmp_path: Path) -> None:
    from debforge.builder.cargo import cargo_argv, debug_env, profile_dir

    root = cargo_project(tmp_path, metadata='[package.metadata.deb]\nprofile = "dist"\ndbgsym = true')
    meta, _ = load(root)
    flag, _ = load(root, overrides=Overrides(build=BuildOverrides(profile="fast-ci")))
    for recipe, profile in ((meta, "dist"), (flag, "fast-ci")):
        spec = cargo_build(recipe)
        argv = cargo_argv(spec, triple=None, locked=False, manifest="/src/Cargo.toml")
        assert argv[argv.index("--profile") + 1] == profile and "--release" not in argv
        assert profile_dir(spec.profile) == profile  # where the target/release/ assets are read from
        assert debug_env(spec) == {f"CARGO_PROFILE_{profile.upper().replace('-', '_')}_DEBUG": "true"}
    default, _ = load(cargo_project(tmp_path / "default"))
    assert "--release" in cargo_argv(cargo_build(default), triple=None, locked=False, manifest="/m")


def test_auto_readme_goes_to_the_doc_dir_of_the_deb_name(tmp_path: Path) -> None:
    # cargo-deb 3.x `$auto`: usr/share/doc/<deb name>/<readme file name>, mode 0644, the file as it is.
    meta = (
        '[package.metadata.deb]\nname = "mytool"\n'
        'assets = ["$auto", ["extra.txt", "usr/share/mytool/", "644"]]'
    )
    root = cargo_project(
        tmp_path, package='readme = "docs/README.md"', metadata=meta,
        extra={"docs/README.md": "# hi\n", "extra.txt": "x"},
    )  # fmt: skip
    found = {str(a.dest): a for a in load(root)[0].assets}
    readme = found["/usr/share/doc/mytool/README.md"]
    assert readme.source == FileSource(path=root / "docs/README.md") and readme.mode == 0o644
    assert "/usr/bin/my_tool" in found and "/usr/share/mytool/extra.txt" in found
