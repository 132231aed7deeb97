"""Recipes: debforge.toml schema, cargo-deb compatibility, Debian rules, and every bad-input sentence."""

from __future__ import annotations

import textwrap
import tomllib
from dataclasses import FrozenInstanceError
from pathlib import Path, PurePosixPath

import pytest

from debforge.errors import RecipeError
from debforge.recipe import (
    AUTO,
    BinaryBuild,
    BuiltSource,
    CargoBuild,
    FileSource,
    Recipe,
    binary_recipe,
    load_recipe,
)
from debforge.recipe.debian import check_version, full_version, mangle_cargo_version, parse_relation_group
from debforge.report import NullReporter

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
MAIN_RS = 'fn main() { println!("hi"); }\n'


class Recording(NullReporter):
    """A reporter that keeps warnings and infos, to assert on them."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.infos: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def info(self, message: str) -> None:
        self.infos.append(message)


def write(root: Path, files: dict[str, str]) -> Path:
    """Write a project tree; returns its root."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def cargo_project(
    root: Path, *, package: str = "", metadata: str = "", extra: dict[str, str] | None = None
) -> Path:
    """A tiny no-deps Cargo project with optional extra [package] lines and metadata tables."""
    manifest = (
        '[package]\nname = "my_tool"\nversion = "1.2.3"\nedition = "2021"\n'
        'description = "A tool"\nauthors = ["Jane Doe <jane@example.org>"]\nlicense = "MIT"\n'
        f"{package}\n{metadata}\n"
    )
    return write(root, {"Cargo.toml": manifest, "src/main.rs": MAIN_RS, **(extra or {})})


def load(path: Path, arch: str = "arm64", **kw: object) -> Recipe:
    return load_recipe(path, arch=arch, reporter=Recording(), **kw)  # type: ignore[arg-type]


def error_of(path: Path, arch: str = "arm64") -> str:
    """The sentence a bad recipe raises; asserts it is one line."""
    with pytest.raises(RecipeError) as info:
        load_recipe(path, arch=arch, reporter=Recording())
    message = str(info.value)
    assert "\n" not in message
    return message


NATIVE_MINIMAL = """\
[package]
name = "demo"
version = "2.0"
maintainer = "Jane Doe <jane@example.org>"
description = "A demo"

[build]
kind = "binary"
binary = "bin/demo"
"""


def native(root: Path, text: str = NATIVE_MINIMAL, **files: str) -> Path:
    return write(root, {"debforge.toml": text, "bin/demo": "\x7fELF", **files})


# --- the recipes shipped in recipes/ --------------------------------------------------------------


def test_hello_ssl_recipe() -> None:
    recipe = load(RECIPES / "hello-ssl")
    assert (recipe.name, recipe.version, recipe.deb_version) == ("hello-ssl", "0.1.0", "0.1.0-1")
    assert isinstance(recipe.build, CargoBuild) and recipe.build.kind == "cargo"
    assert recipe.build.build_depends == ("libssl-dev",)
    assert recipe.build.binaries == ("hello-ssl",)
    assert recipe.build.manifest == RECIPES / "hello-ssl" / "Cargo.toml"
    assert recipe.relations.depends == (AUTO,) and recipe.relations.auto
    [asset] = recipe.assets
    assert asset.source == BuiltSource(name="hello-ssl")
    assert (asset.dest, asset.mode) == (PurePosixPath("/usr/bin/hello-ssl"), 0o755)
    assert recipe.test is not None and (recipe.test.run, recipe.test.expect) == ("hello-ssl", "OpenSSL ")
    assert recipe.changelog is not None and recipe.changelog.read_text().startswith("hello-ssl (0.1.0-1)")
    assert recipe.license == "MIT" and recipe.license_file is not None and recipe.license_file.is_file()
    assert recipe.section == "utils" and recipe.source_dir.is_absolute()
    assert all(o.reason and "\n" not in o.reason for o in recipe.lintian_overrides)


def test_hello_ssl_has_no_crates_io_dependencies() -> None:
    manifest = tomllib.loads((RECIPES / "hello-ssl" / "Cargo.toml").read_text())
    lock = tomllib.loads((RECIPES / "hello-ssl" / "Cargo.lock").read_text())
    assert not {"dependencies", "build-dependencies"} & manifest.keys()
    assert [p["name"] for p in lock["package"]] == ["hello-ssl"]
    assert "OpenSSL_version" in (RECIPES / "hello-ssl" / "src/main.rs").read_text()


def test_cargo_deb_style_recipe_without_debforge_toml() -> None:
    root = RECIPES / "cargo-deb-style"
    assert not (root / "debforge.toml").exists()
    recipe = load(root)
    assert recipe.recipe_file.name == "Cargo.toml"
    assert (recipe.name, recipe.deb_version) == ("cargo-deb-style", "0.2.0~beta.1-1")
    assert recipe.build.binaries == ("greet",)
    dests = {str(a.dest): a for a in recipe.assets}
    assert dests["/usr/bin/greet"].source == BuiltSource(name="greet")
    assert dests["/usr/bin/greet"].mode == 0o755
    assert recipe.conffiles == (PurePosixPath("/etc/cargo-deb-style/greeting.conf"),)
    assert recipe.copyright == "2024, debforge developers <debforge@example.org>"
    assert recipe.extended_description is not None and "greeting.conf" in recipe.extended_description
    assert recipe.relations.depends == (AUTO,)
    assert recipe.changelog is not None and "0.2.0~beta.1-1" in recipe.changelog.read_text()


# A recipe with an upstream.toml gets its source at test time (tests/test_build_c.py loads those).
@pytest.mark.parametrize(
    "recipe_dir",
    sorted(p.name for p in RECIPES.iterdir() if p.is_dir() and not (p / "upstream.toml").is_file()),
)
def test_every_shipped_recipe_loads(recipe_dir: str) -> None:
    recipe = load(RECIPES / recipe_dir)
    assert recipe.name and recipe.deb_version and recipe.maintainer and recipe.description
    assert check_version(recipe.deb_version) is None
    for asset in recipe.assets:
        assert isinstance(asset.source, BuiltSource) or asset.source.path.is_file()


def test_recipe_is_frozen_and_hashable() -> None:
    recipe = load(RECIPES / "hello-ssl")
    with pytest.raises(FrozenInstanceError):
        recipe.name = "x"  # type: ignore[misc]
    assert hash(recipe.assets) == hash(load(RECIPES / "hello-ssl").assets)


# --- debforge.toml schema -------------------------------------------------------------------------


def test_native_binary_recipe_defaults(tmp_path: Path) -> None:
    recipe = load(native(tmp_path))
    assert (recipe.deb_version, recipe.priority, recipe.build.kind) == ("2.0-1", "optional", "binary")
    assert recipe.build == BinaryBuild(binary=tmp_path / "bin/demo")
    [asset] = recipe.assets  # $auto for a prebuilt binary: /usr/bin/<file name>
    assert (asset.source.name, asset.dest) == ("demo", PurePosixPath("/usr/bin/demo"))
    assert recipe.relations.depends == (AUTO,)


def test_native_defaults_from_cargo_toml(tmp_path: Path) -> None:
    cargo_project(tmp_path, package='readme = "README.md"', extra={"README.md": "# hi\n"})
    write(
        tmp_path, {"debforge.toml": '[build]\nbuild-depends = ["libssl-dev [arm64]", "libfoo-dev [amd64]"]\n'}
    )
    recipe = load(tmp_path)
    assert (recipe.name, recipe.version, recipe.maintainer) == (
        "my-tool",
        "1.2.3",
        "Jane Doe <jane@example.org>",
    )
    assert recipe.description == "A tool" and recipe.license == "MIT"
    assert recipe.build.build_depends == ("libssl-dev",)
    assert {str(a.dest) for a in recipe.assets} == {"/usr/bin/my_tool", "/usr/share/doc/my-tool/README.md"}


def test_native_relations_are_filtered_for_the_arch(tmp_path: Path) -> None:
    text = NATIVE_MINIMAL + textwrap.dedent("""\
        [relations]
        depends = ["$auto", "libfoo1 [arm64] | libfoo0", "libbar [!arm64]"]
        recommends = "ca-certificates, curl (>= 7.0) [amd64]"
        provides = ["demo-api (= 2)"]
        """)
    arm = load(native(tmp_path, text), arch="arm64").relations
    amd = load(native(tmp_path, text), arch="amd64").relations
    assert arm.depends == (AUTO, "libfoo1 | libfoo0")
    assert amd.depends == (AUTO, "libfoo0", "libbar")
    assert arm.recommends == ("ca-certificates",)
    assert amd.recommends == ("ca-certificates", "curl (>= 7.0)")
    assert arm.provides == ("demo-api (= 2)",)


def test_native_assets_conffiles_modes_and_globs(tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        assets = [
            "$auto",
            ["etc/demo.conf", "etc/demo/", "644"],
            { source = "doc/**/*.md", dest = "usr/share/doc/demo/", mode = 0o644 },
            { source = "state.conf", dest = "opt/demo/state.conf" },
        ]
        """) + NATIVE_MINIMAL.replace("[build]", 'conf-files = ["/opt/demo/state.conf"]\n\n[build]')
    files = {"etc/demo.conf": "x", "doc/a.md": "a", "doc/sub/b.md": "b", "state.conf": "s"}
    recipe = load(native(tmp_path, text, **files))
    dests = {str(a.dest): a.mode for a in recipe.assets}
    assert dests == {
        "/usr/bin/demo": 0o755,
        "/etc/demo/demo.conf": 0o644,
        "/usr/share/doc/demo/a.md": 0o644,
        "/usr/share/doc/demo/sub/b.md": 0o644,
        "/opt/demo/state.conf": None,
    }
    assert recipe.conffiles == (PurePosixPath("/etc/demo/demo.conf"), PurePosixPath("/opt/demo/state.conf"))


def test_native_scripts_systemd_test_and_lintian(tmp_path: Path) -> None:
    text = NATIVE_MINIMAL + textwrap.dedent("""\
        [scripts]
        dir = "debian"

        [systemd]
        enable = false

        [test]
        run = "demo --version"

        [lintian]
        overrides = [{ tag = "no-manual-page", reason = "tiny demo" }]
        """)
    files = {
        "debian/postinst": "#!/bin/sh\nset -e\n#DEBHELPER#\n",
        "debian/prerm": "#!/bin/sh\nexit 0\n",
        "debian/demo.service": "[Service]\nExecStart=/usr/bin/demo\n",
        "debian/demo.timer": "[Timer]\n",
    }
    recipe = load(native(tmp_path, text, **files))
    assert [(s.name, s.debhelper) for s in recipe.scripts] == [("postinst", True), ("prerm", False)]
    [units] = recipe.systemd
    assert not units.enable and units.start
    assert [str(f.dest) for f in units.files] == [
        "/usr/lib/systemd/system/demo.service",
        "/usr/lib/systemd/system/demo.timer",
    ]
    assert recipe.test is not None and recipe.test.expect is None
    assert recipe.lintian_overrides[0].tag == "no-manual-page"


def test_revision_zero_or_empty_is_omitted(tmp_path: Path) -> None:
    for value, expected in (('"0"', "2.0"), ('""', "2.0"), ('"3"', "2.0-3"), ("2", "2.0-2")):
        text = NATIVE_MINIMAL.replace('version = "2.0"', f'version = "2.0"\nrevision = {value}')
        assert load(native(tmp_path, text)).deb_version == expected


# --- cargo-deb compatibility ----------------------------------------------------------------------


def test_cargo_project_without_metadata_gets_cargo_deb_defaults(tmp_path: Path) -> None:
    recipe = load(cargo_project(tmp_path))
    assert (recipe.name, recipe.deb_version, recipe.priority) == ("my-tool", "1.2.3-1", "optional")
    assert recipe.maintainer == "Jane Doe <jane@example.org>"
    assert recipe.copyright == "Jane Doe <jane@example.org>"
    assert recipe.relations.depends == (AUTO,)
    assert recipe.build.kind == "cargo" and recipe.build.build_depends == ()
    assert recipe.build.binaries == ("my_tool",)
    assert [str(a.dest) for a in recipe.assets] == ["/usr/bin/my_tool"]


def test_cargo_bins_explicit_and_discovered(tmp_path: Path) -> None:
    extra = {"src/bin/helper.rs": MAIN_RS}
    root = cargo_project(tmp_path, metadata='[[bin]]\nname = "tool"\npath = "src/main.rs"\n', extra=extra)
    assert load(root).build.binaries == ("tool", "helper")


def test_cargo_deb_metadata_keys(tmp_path: Path) -> None:
    metadata = textwrap.dedent("""\
        [package.metadata.deb]
        name = "mytool"
        revision = ""
        depends = "$auto, libfoo1 [arm64], libbar1 [!arm64]"
        conflicts = "oldtool"
        license-file = ["LICENSE", "2"]
        features = ["fast"]
        default-features = false
        conf-files = ["/usr/share/mytool/defaults"]
        assets = [
            ["target/release/my_tool", "usr/bin/mytool", "755"],
            ["defaults", "usr/share/mytool/", "644"],
        ]
        maintainer-scripts = "debian/"
        systemd-units = { enable = false }
        dbgsym = true
        """)
    extra = {
        "LICENSE": "header\nheader\nMIT text\n",
        "defaults": "d",
        "debian/mytool.service": "[Service]\n",
        "debian/postinst": "#DEBHELPER#\n",
    }
    recipe = load(cargo_project(tmp_path, metadata=metadata, extra=extra))
    assert (recipe.name, recipe.deb_version) == ("mytool", "1.2.3")
    assert recipe.relations.depends == (AUTO, "libfoo1")
    assert recipe.relations.conflicts == ("oldtool",)
    assert recipe.license_file_skip == 2
    assert recipe.build.features == ("fast",) and not recipe.build.default_features and recipe.build.dbgsym
    assert recipe.conffiles == (PurePosixPath("/usr/share/mytool/defaults"),)
    assert recipe.assets[0].dest == PurePosixPath("/usr/bin/mytool")
    assert recipe.scripts[0].debhelper
    assert not recipe.systemd[0].enable
    assert recipe.systemd[0].files[0].unit == "mytool.service"


def test_cargo_deb_unknown_key_is_a_warning_with_suggestion(tmp_path: Path) -> None:
    root = cargo_project(tmp_path, metadata='[package.metadata.deb]\ndepnds = "libc6"\n')
    reporter = Recording()
    recipe = load_recipe(root, arch="arm64", reporter=reporter)
    assert recipe.relations.depends == (AUTO,)
    [warning] = reporter.warnings
    assert "unknown key 'depnds' in [package.metadata.deb] of" in warning
    assert "Cargo.toml; did you mean 'depends'?" in warning


def test_cargo_deb_variant_is_merged(tmp_path: Path) -> None:
    metadata = textwrap.dedent("""\
        [package.metadata.deb]
        section = "utils"
        depends = "$auto"
        assets = [["target/release/my_tool", "usr/bin/", "755"], ["a.conf", "etc/my-tool/tool.conf", "644"]]

        [package.metadata.deb.variants.lite]
        depends = "$auto, liblite1"
        features = ["lite"]
        merge-assets.append = [["extra.txt", "usr/share/my-tool/", "644"]]
        merge-assets.by.dest = [["b.conf", "etc/my-tool/tool.conf", "600"]]
        """)
    files = {"a.conf": "a", "b.conf": "b", "extra.txt": "e"}
    root = cargo_project(tmp_path, metadata=metadata, extra=files)
    recipe = load(root, variant="lite")
    assert (recipe.name, recipe.variant, recipe.section) == ("my-tool-lite", "lite", "utils")
    assert recipe.relations.depends == (AUTO, "liblite1")
    assert recipe.build.features == ("lite",)
    dests = {str(a.dest): a for a in recipe.assets}
    conf = dests["/etc/my-tool/tool.conf"]
    assert conf.source == FileSource(path=root / "b.conf") and conf.mode == 0o600
    assert "/usr/share/my-tool/extra.txt" in dests
    assert load(root).name == "my-tool"
    assert "there is no variant 'full' (variants: lite)" in error_of_variant(root, "full")


def error_of_variant(root: Path, variant: str) -> str:
    with pytest.raises(RecipeError) as info:
        load_recipe(root, arch="arm64", reporter=Recording(), variant=variant)
    return str(info.value)


def test_cargo_workspace_inheritance(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"Cargo.toml": '[workspace]\nmembers = ["tool"]\n[workspace.package]\nversion = "3.1.0-rc.2"\n'},
    )
    member = cargo_project(tmp_path / "tool", package="")
    text = (member / "Cargo.toml").read_text().replace('version = "1.2.3"', "version.workspace = true")
    (member / "Cargo.toml").write_text(text)
    assert load(member).deb_version == "3.1.0~rc.2-1"
    text = text.replace('license = "MIT"', "license.workspace = true")
    (member / "Cargo.toml").write_text(text)
    message = error_of(member)
    assert "'license' in [package] of" in message and "[workspace.package]" in message


def test_cargo_unlicensed_when_unpublished(tmp_path: Path) -> None:
    root = cargo_project(tmp_path, package="publish = false")
    text = (root / "Cargo.toml").read_text().replace('license = "MIT"\n', "")
    (root / "Cargo.toml").write_text(text)
    assert load(root).license == "UNLICENSED"


def test_debforge_extras_in_cargo_metadata(tmp_path: Path) -> None:
    metadata = textwrap.dedent("""\
        [package.metadata.debforge]
        build-depends = ["libssl-dev"]
        crates = "debian"
        test = { run = "my_tool", expect = "hi" }
        lintian-overrides = [{ tag = "no-manual-page", reason = "demo" }]
        """)
    recipe = load(cargo_project(tmp_path, metadata=metadata))
    assert recipe.build.build_depends == ("libssl-dev",) and recipe.build.crates == "debian"
    assert recipe.test is not None and recipe.test.expect == "hi"


# --- Debian rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cargo", "debian"),
    [
        ("1.0.0", "1.0.0"),
        ("1.0.0-alpha.1", "1.0.0~alpha.1"),
        ("1.0.0-rc1", "1.0.0~rc1"),
        ("1.0.0-beta", "1.0.0-beta"),  # letters only: kept, as cargo-deb does
        ("1.0.0-2", "1.0.0-2"),  # digits only: kept
        ("1.0.0+build.5", "1.0.0+build.5"),
        ("1.0.0-alpha.1+git.abc", "1.0.0~alpha.1+git.abc"),
    ],
)
def test_version_mangling(cargo: str, debian: str) -> None:
    assert mangle_cargo_version(cargo) == debian
    assert check_version(full_version(debian, "1")) is None


def test_mangled_prerelease_sorts_before_release() -> None:
    from debian.debian_support import Version

    assert Version(mangle_cargo_version("1.0.0-alpha.1")) < Version("1.0.0")


@pytest.mark.parametrize("bad", ["v1.0", "1.0 beta", "1.0_1", "", "1:", "a:1.0", "1.0-"])
def test_versions_debian_rejects(bad: str) -> None:
    assert check_version(bad) is not None


def test_relation_parsing() -> None:
    assert parse_relation_group("libc6:arm64 (>= 2.36) <!nocheck>", "arm64") == "libc6:arm64 (>= 2.36)"
    assert parse_relation_group("aa [linux-any] | bb [any-amd64]", "arm64") == "aa"
    for bad in (
        "libc6 (>= 2.36",
        "libc6 (=> 2)",
        "Libc6",
        "aa || bb",
        "a",
        "foo [arm64 !amd64]",
        "x (>= v1)",
    ):
        with pytest.raises(ValueError, match=r"not a valid|architecture list"):
            parse_relation_group(bad, "arm64")


# --- bad input: one sentence, naming file and key -------------------------------------------------


def test_malformed_toml_names_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    native(tmp_path / "x", '[package]\nname = "demo"\n[build\n')
    assert error_of(Path("x")) == (
        "x/debforge.toml is not valid TOML: "
        "Expected ']' at the end of a table declaration (at line 3, column 7)"
    )


def test_malformed_cargo_toml_names_the_line(tmp_path: Path) -> None:
    write(tmp_path, {"Cargo.toml": '[package]\nname = "x\n'})
    message = error_of(tmp_path)
    assert "Cargo.toml is not valid TOML" in message and "line 2" in message


def test_unknown_key_suggests_the_closest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    native(tmp_path / "recipes/x", NATIVE_MINIMAL + '[relations]\ndepnds = ["libc6"]\n')
    assert error_of(Path("recipes/x")) == (
        "unknown key 'depnds' in [relations] of recipes/x/debforge.toml; did you mean 'depends'?"
    )


def test_unknown_table_is_an_error(tmp_path: Path) -> None:
    message = error_of(native(tmp_path, NATIVE_MINIMAL + "[pakage.extra]\nx = 1\n"))
    assert message.startswith("unknown key 'pakage' in ") and message.endswith("did you mean 'package'?")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (('description = "A demo"\n', ""), "missing required key 'description' in [package] of "),
        (
            ('maintainer = "Jane Doe <jane@example.org>"\n', ""),
            "missing required key 'maintainer' in [package]",
        ),
        (('version = "2.0"\n', ""), "missing required key 'version' in [package] of "),
        (('kind = "binary"\n', ""), "missing required key 'kind' in [build] of "),
        (('binary = "bin/demo"\n', ""), "missing required key 'binary' in [build] of "),
    ],
)
def test_missing_required_field(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    assert expected in error_of(native(tmp_path, NATIVE_MINIMAL.replace(*edit)))


def test_asset_source_missing(tmp_path: Path) -> None:
    text = NATIVE_MINIMAL + '[[assets]]\nsource = "etc/missing.conf"\ndest = "etc/demo/"\n'
    message = error_of(native(tmp_path, text))
    assert (
        message.startswith("asset source 'etc/missing.conf' of 'assets' in ") and "does not exist" in message
    )


def test_asset_glob_matching_nothing(tmp_path: Path) -> None:
    text = 'assets = [["doc/*.md", "usr/share/doc/demo/"]]\n' + NATIVE_MINIMAL
    assert "asset source 'doc/*.md' of 'assets' in " in error_of(native(tmp_path, text))


def test_relation_syntax_error_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    native(tmp_path, NATIVE_MINIMAL + '[relations]\ndepends = ["$auto", "libc6 (>= 2.36"]\n')
    assert error_of(Path()) == (
        "invalid 'depends' in [relations] of debforge.toml: 'libc6 (>= 2.36' is not a valid relation"
    )


def test_cargo_deb_relation_syntax_error(tmp_path: Path) -> None:
    root = cargo_project(tmp_path, metadata='[package.metadata.deb]\ndepends = "$auto, libc6 (>> )"\n')
    assert "invalid 'depends' in [package.metadata.deb] of" in error_of(root)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (('name = "demo"', 'name = "Demo_Tool"'), "invalid 'name' in [package] of"),
        (('version = "2.0"', 'version = "v2.0"'), "'v2.0-1' is not a valid Debian version"),
        (('version = "2.0"', 'version = "2.0 beta"'), "is not a valid Debian version"),
        (
            ('name = "demo"', 'name = "demo"\nsection = "utility"'),
            "not a Debian section; did you mean 'utils'?",
        ),
        (('name = "demo"', 'name = "demo"\npriority = "optinal"'), "did you mean 'optional'?"),
        (
            ('name = "demo"', 'name = "demo"\nsection = "nonfree/utils"'),
            "has an unknown archive area 'nonfree'",
        ),
        (("Jane Doe <jane@example.org>", "Jane Doe"), "is not of the form 'Full Name <email@example.org>'"),
        (('kind = "binary"', 'kind = "scons"'), "'scons' is not a build kind"),
        (('kind = "binary"', 'kind = "binary"\ncrates = "cratesio"'), "'cratesio' is not a crates source"),
        (('name = "demo"', "name = 5"), "invalid 'name' in [package] of"),
    ],
)
def test_invalid_values_name_file_and_key(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    message = error_of(native(tmp_path, NATIVE_MINIMAL.replace(*edit)))
    assert expected in message
    assert "debforge.toml" in message


def test_version_debian_would_reject_from_cargo(tmp_path: Path) -> None:
    root = cargo_project(tmp_path, metadata='[package.metadata.deb]\nrevision = "1_2"\n')
    assert "is not a valid Debian version" in error_of(root)


def test_bad_assets(tmp_path: Path) -> None:
    cases = {
        '["target/debug/demo", "usr/bin/"]': "is a development build",
        '["target/aarch64-unknown-linux-gnu/release/demo", "usr/bin/"]': "hardcodes a cross-compilation path",
        '["target/release/other", "usr/bin/"]': "is not built by this project (it builds demo)",
        '["bin/demo", "usr/bin/", "79x"]': "is not an octal number",
        '["bin/demo"]': "is not an asset",
        '["bin/demo", "../x"]': "must not contain '..'",
    }
    for entry, expected in cases.items():
        text = f"assets = [{entry}]\n" + NATIVE_MINIMAL
        assert expected in error_of(native(tmp_path, text)), entry


def test_auto_only_in_depends(tmp_path: Path) -> None:
    text = NATIVE_MINIMAL + '[relations]\nrecommends = ["$auto"]\n'
    assert "'$auto' is only allowed in depends" in error_of(native(tmp_path, text))


def test_conffile_must_be_an_asset(tmp_path: Path) -> None:
    text = NATIVE_MINIMAL.replace("[build]", 'conf-files = ["/etc/nope.conf"]\n[build]')
    assert "conffile /etc/nope.conf is not installed by any asset" in error_of(native(tmp_path, text))


def test_systemd_without_unit_files(tmp_path: Path) -> None:
    text = NATIVE_MINIMAL + '[systemd]\nunit-scripts = "units"\n'
    (tmp_path / "units").mkdir()
    assert "no unit file for 'demo' (e.g. demo.service)" in error_of(native(tmp_path, text))


def test_lintian_override_needs_a_one_line_reason(tmp_path: Path) -> None:
    text = NATIVE_MINIMAL + '[lintian]\noverrides = [{ tag = "x" }]\n'
    assert "missing required key 'reason' in [lintian.overrides]" in error_of(native(tmp_path, text))


def test_no_recipe_at_all(tmp_path: Path) -> None:
    assert "has neither debforge.toml nor Cargo.toml" in error_of(tmp_path)


def test_cargo_kind_without_cargo_toml(tmp_path: Path) -> None:
    text = NATIVE_MINIMAL.replace('kind = "binary"\nbinary = "bin/demo"\n', 'kind = "cargo"\n')
    assert "needs a Cargo.toml" in error_of(native(tmp_path, text))


# --- prebuilt binary without a recipe file (--binary FILE --name N --deb-version V) -----------------


def test_binary_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = write(tmp_path, {"result/bin/foo": "\x7fELF"}) / "result/bin/foo"
    monkeypatch.setenv("DEBFULLNAME", "Jane Doe")
    monkeypatch.setenv("DEBEMAIL", "jane@example.org")
    recipe = binary_recipe(binary, name="foo", version="1.2.3")
    assert (recipe.deb_version, recipe.maintainer) == ("1.2.3-1", "Jane Doe <jane@example.org>")
    assert recipe.build == BinaryBuild(binary=binary) and recipe.build.kind == "binary"
    assert recipe.relations.auto
    assert [str(a.dest) for a in recipe.assets] == ["/usr/bin/foo"]
    with pytest.raises(RecipeError, match="--deb-version 'v1' is not a valid Debian version"):
        binary_recipe(binary, name="foo", version="v1")
    with pytest.raises(RecipeError, match="--name 'Foo' is not a valid Debian package name"):
        binary_recipe(binary, name="Foo", version="1")
    monkeypatch.delenv("DEBEMAIL")
    with pytest.raises(RecipeError, match="needs a maintainer"):
        binary_recipe(binary, name="foo", version="1")
