"""crates = "debian" without the archive: Cargo.toml walks, cfg tables, requirement → package choice,
the missing-crate sentence, the build's copy of the project. The real archive, Docker and QEMU check
the same on fd-find and ripgrep in tests/e2e/test_rust_projects_e2e.py."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from debforge.builder.debcrates.manifest import Need, read_needs
from debforge.builder.debcrates.mapping import CrateChoice, Missing, choose, lacking_features, missing_error
from debforge.builder.debcrates.source import dumps, prepare_source, read_lock
from tests.test_resolve import make_index, pkg

ARM64 = "aarch64-unknown-linux-gnu"
HOST = "x86_64-unknown-linux-gnu"

_APP = """\
[package]
name = "app"
version = "0.1.0"

[dependencies]
clap = { version = "4.0", features = ["derive"] }
serde_json = { version = "1", optional = true }
lib = { path = "lib", features = ["fast"] }
renamed = { package = "regex", version = "1.7", default-features = false }

[features]
default = ["json"]
json = ["dep:serde_json"]

[dev-dependencies]
tempfile = "3"

[build-dependencies]
cc = "1"

[target.'cfg(windows)'.dependencies]
winapi = "0.3"

[target.'cfg(target_arch = "aarch64")'.dependencies]
libc = "0.2"

[target.'cfg(target_arch = "x86_64")'.build-dependencies]
pkg-config = "0.3"
"""
_LIB = """\
[package]
name = "lib"
version = "0.1.0"

[dependencies]
memchr = { version = "2.5", optional = true }
log = "0.4"

[features]
fast = ["memchr?/std", "dep:memchr"]
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "lib").mkdir(parents=True)
    (tmp_path / "Cargo.toml").write_text(_APP)
    (tmp_path / "lib" / "Cargo.toml").write_text(_LIB)
    return tmp_path / "Cargo.toml"


def _needs(manifest: Path, **kw: object) -> dict[str, Need]:
    return {n.key: n for n in read_needs(manifest, target=ARM64, host=HOST, **kw)}  # type: ignore[arg-type]


def test_the_walk_follows_features_path_dependencies_and_platforms(tmp_path: Path) -> None:
    needs = _needs(_project(tmp_path))
    built = sorted(k for k, n in needs.items() if n.built)
    assert built == ["cc", "clap", "libc", "log", "memchr", "pkg-config", "renamed", "serde_json"]
    assert sorted(k for k, n in needs.items() if not n.built) == ["tempfile", "winapi"]
    assert needs["clap"].features == ("derive",)
    assert needs["memchr"].features == ("std",)  # `memchr?/std` of lib's feature `fast`, asked by app
    assert (needs["renamed"].crate, needs["renamed"].default_features) == ("regex", False)
    assert needs["cc"].kind == "build" and needs["tempfile"].kind == "dev"


def test_without_default_features_an_optional_dependency_stays_off(tmp_path: Path) -> None:
    needs = _needs(_project(tmp_path), default_features=False)
    assert not needs["serde_json"].built
    assert _needs(tmp_path / "Cargo.toml", default_features=False, features=("json",))["serde_json"].built


def test_build_dependencies_follow_the_host_platform(tmp_path: Path) -> None:
    manifest = _project(tmp_path)
    on_arm_host = {n.key: n for n in read_needs(manifest, target=ARM64, host=ARM64)}
    assert not on_arm_host["pkg-config"].built and on_arm_host["libc"].built


def _crate(name: str, version: str, *features: str, extra: str = "") -> object:
    """A librust-*-dev record as debcargo writes it: Provides for versions and features."""
    major, minor, _ = version.split(".")
    stem = f"librust-{name}"
    short = major if major != "0" else f"0.{minor}"
    provides = [f"{stem}-{v}-dev (= {version}-1)" for v in (major, short, version)]
    provides += [f"{stem}+{f}-dev (= {version}-1)" for f in features]
    provides += [f"{stem}-{v}+{f}-dev (= {version}-1)" for v in (major, short) for f in features]
    return pkg(f"{stem}-dev", f"{version}-1", provides=", ".join(dict.fromkeys(provides)), depends=extra)


def test_the_newest_version_meeting_the_requirement_with_its_features_is_chosen() -> None:
    index = make_index([
        _crate("clap", "4.0.32", "default", "derive"),  # type: ignore[list-item]
        pkg("librust-clap+unstable-dev", "4.0.32-1", depends="librust-clap-dev (= 4.0.32-1)"),
    ])  # fmt: skip
    need = Need(crate="clap", key="clap", requirement="4.0.22", features=("derive", "unstable"),
                manifest=Path("Cargo.toml"), table=("dependencies",))  # fmt: skip
    got = choose(index, need)
    assert isinstance(got, CrateChoice)
    assert got.version == (4, 0, 32)
    assert got.packages == ("librust-clap-dev", "librust-clap+unstable-dev")


def test_a_version_debian_lacks_is_one_sentence_with_the_choices() -> None:
    index = make_index([_crate("normpath", "0.3.1", "default")])  # type: ignore[list-item]
    need = Need(crate="normpath", key="normpath", requirement="0.3.2", manifest=Path("/p/Cargo.toml"),
                table=("dependencies",))  # fmt: skip
    got = choose(index, need)
    assert isinstance(got, Missing)
    assert str(missing_error(got, "bookworm")) == (
        "crate normpath 0.3.2 (dependencies of /p/Cargo.toml) cannot come from Debian: Debian bookworm only "
        'ships normpath 0.3.1; vendor it (crates = "vendored"), take crates from crates.io '
        '(crates = "registry"), or change the requirement with a [patch] or a version bump'
    )


def test_a_crate_or_feature_debian_lacks_is_named() -> None:
    index = make_index([_crate("nix", "0.26.1", "default", "signal")])  # type: ignore[list-item]
    absent = choose(index, Need(crate="jemallocator", key="jemallocator", requirement="0.5",
                                manifest=Path("Cargo.toml"), table=("dependencies",)))  # fmt: skip
    assert isinstance(absent, Missing) and absent.have == ()
    assert "ships no crate jemallocator (librust-jemallocator-dev)" in str(missing_error(absent, "bookworm"))
    feature = choose(index, Need(crate="nix", key="nix", requirement="0.26", features=("zerocopy",),
                                 manifest=Path("Cargo.toml"), table=("dependencies",)))  # fmt: skip
    assert isinstance(feature, Missing) and feature.feature == "zerocopy"


def test_the_copy_leaves_out_dropped_dependencies_and_the_upstream_lock(tmp_path: Path) -> None:
    manifest = _project(tmp_path / "p")
    (tmp_path / "p" / "Cargo.lock").write_text(
        'version = 3\n[[package]]\nname = "clap"\nversion = "4.1.0"\n'
        'source = "registry+https://github.com/rust-lang/crates.io-index"\n'
    )
    (tmp_path / "p" / "target").mkdir()
    (tmp_path / "p" / "target" / "big").write_text("x")
    needs = _needs(manifest)
    copy = prepare_source(tmp_path / "p", tmp_path / "w" / "src", [needs["winapi"]], crate_set="a")
    data = tomllib.loads((copy / "Cargo.toml").read_text())
    assert "winapi" not in data["target"]["cfg(windows)"]["dependencies"]
    assert data["dependencies"]["clap"] == {"version": "4.0", "features": ["derive"]}
    assert not (copy / "Cargo.lock").exists() and not (copy / "target").exists()
    assert read_lock(tmp_path / "p" / "Cargo.lock") == {"clap": "4.1.0"}
    # A warm run keeps cargo's lock and every file's mtime; a new crate set throws the lock away.
    (copy / "Cargo.lock").write_text("version = 3\n")
    before = (copy / "lib" / "Cargo.toml").stat().st_mtime_ns
    prepare_source(tmp_path / "p", tmp_path / "w" / "src", [needs["winapi"]], crate_set="a")
    assert (copy / "Cargo.lock").exists() and (copy / "lib" / "Cargo.toml").stat().st_mtime_ns == before
    prepare_source(tmp_path / "p", tmp_path / "w" / "src", [needs["winapi"]], crate_set="b")
    assert not (copy / "Cargo.lock").exists()


@pytest.mark.parametrize("text", [_APP, _LIB])
def test_dumps_round_trips_cargo_manifests(text: str) -> None:
    data = tomllib.loads(text)
    assert tomllib.loads(dumps(data)) == data


def test_a_feature_item_debian_lacks_is_left_out_of_the_copy(tmp_path: Path) -> None:
    """cargo resolves every feature to write Cargo.lock: ripgrep's off `simd-accel = ["grep/simd-accel"]`
    fails against Debian's grep, which has no simd-accel; so that item goes, the others stay."""
    (tmp_path / "p").mkdir()
    manifest = tmp_path / "p" / "Cargo.toml"
    manifest.write_text(
        '[package]\nname = "rg"\nversion = "1.0.0"\n\n[dependencies]\ngrep = "0.2"\n\n'
        '[features]\npcre2 = ["grep/pcre2"]\nsimd-accel = ["grep/simd-accel"]\n'
    )
    index = make_index([_crate("grep", "0.2.10", "default", "pcre2")])  # type: ignore[list-item]
    need = _needs(manifest)["grep"]
    choice = choose(index, need)
    assert isinstance(choice, CrateChoice)
    lacking = lacking_features(index, [choice], [manifest])
    assert lacking == [(manifest, "simd-accel", "grep/simd-accel")]
    copy = prepare_source(tmp_path / "p", tmp_path / "w" / "src", [], crate_set="a", features=lacking)
    assert tomllib.loads((copy / "Cargo.toml").read_text())["features"] == {
        "pcre2": ["grep/pcre2"],
        "simd-accel": [],
    }


def test_a_rewritten_manifest_keeps_its_mtime_when_nothing_changed(tmp_path: Path) -> None:
    """cargo rebuilds a package whose files are newer than its last build: a warm run must touch none."""
    manifest = _project(tmp_path / "p")
    drop = [_needs(manifest)["winapi"]]
    copy = prepare_source(tmp_path / "p", tmp_path / "w" / "src", drop, crate_set="a")
    before = (copy / "Cargo.toml").stat().st_mtime_ns
    prepare_source(tmp_path / "p", tmp_path / "w" / "src", drop, crate_set="a")
    assert (copy / "Cargo.toml").stat().st_mtime_ns == before
    manifest.write_text(
        manifest.read_text() + '\n[badges]\nmaintenance = { status = "passively-maintained" }\n'
    )
    prepare_source(tmp_path / "p", tmp_path / "w" / "src", drop, crate_set="a")
    assert "badges" in tomllib.loads((copy / "Cargo.toml").read_text())
