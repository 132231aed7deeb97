"""The build stage without Docker or network: cargo's command line and cross environment, the
host-toolchain check, error tails, and the prebuilt-binary passthrough."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from debforge.builder import Artifacts, build, cargo
from debforge.builder.rust import plan_build
from debforge.builder.toolchain import toolchain_target
from debforge.cache import Cache
from debforge.dists import make_target
from debforge.errors import BuildError, RecipeError, UsageError
from debforge.recipe import BinaryBuild, CargoBuild, Recipe, load_recipe
from debforge.report import NullReporter
from debforge.session import Session
from tests.helpers.elfs import compile_c

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
ARM64 = make_target("bookworm", "arm64")


def run_build(cache_dir: Path, recipe: Recipe, **options: Any) -> Artifacts:
    """build() in a Session of its own over `cache_dir`, as one CLI command runs it."""
    with Session(cache=Cache(cache_dir)) as session:
        return build(session, recipe, ARM64, **options)


def hello_recipe() -> Recipe:
    return load_recipe(RECIPES / "hello-ssl", arch="arm64", reporter=NullReporter())


def test_cargo_argv_release_locked_target() -> None:
    spec = hello_recipe().build
    argv = cargo.cargo_argv(spec, triple="aarch64-unknown-linux-gnu", locked=True, manifest="/s/Cargo.toml")
    assert argv[:4] == ["cargo", "build", "--manifest-path", "/s/Cargo.toml"]
    assert "--release" in argv and "--locked" in argv
    assert argv[argv.index("--target") + 1] == "aarch64-unknown-linux-gnu"
    assert "--bin=hello-ssl" in argv


def test_cargo_argv_features_profile_and_native() -> None:
    spec = dataclasses.replace(
        hello_recipe().build, features=("a", "b"), default_features=False, profile="dist", cdylibs=("x-y",)
    )
    argv = cargo.cargo_argv(spec, triple=None, locked=False, manifest="Cargo.toml")
    assert "--target" not in argv and "--locked" not in argv and "--release" not in argv
    assert argv[argv.index("--profile") + 1] == "dist"
    assert argv[argv.index("--features") + 1] == "a,b"
    assert "--no-default-features" in argv and "--lib" in argv
    assert cargo.artifact_names(spec) == ["hello-ssl", "libx_y.so"]
    assert cargo.profile_dir("dev") == "debug" and cargo.profile_dir("release") == "release"


def test_cross_env_configures_every_snag() -> None:
    env = cargo.cross_env(ARM64, cargo.IN_CONTAINER, std=True)
    sysroot = cargo.IN_CONTAINER.sysroot
    assert env["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER"] == "aarch64-linux-gnu-gcc"
    flags = env["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS"].split()
    assert f"--sysroot={cargo.IN_CONTAINER.std}/usr" in flags
    assert f"-Clink-arg=--sysroot={sysroot}" in flags
    assert any(f.startswith("--remap-path-prefix=/debforge/src=") for f in flags)
    assert "RUSTFLAGS" not in env  # target-only: build scripts keep the builder's std
    assert env["CC_aarch64_unknown_linux_gnu"] == "aarch64-linux-gnu-gcc"
    assert env["AR_aarch64_unknown_linux_gnu"] == "aarch64-linux-gnu-ar"
    assert env["PKG_CONFIG_SYSROOT_DIR"] == sysroot
    assert env["PKG_CONFIG_LIBDIR"] == (
        f"{sysroot}/usr/lib/aarch64-linux-gnu/pkgconfig:{sysroot}/usr/share/pkgconfig"
    )
    assert env["PKG_CONFIG_ALLOW_CROSS"] == "1"
    assert env["AARCH64_UNKNOWN_LINUX_GNU_OPENSSL_LIB_DIR"] == f"{sysroot}/usr/lib/aarch64-linux-gnu"
    assert env["AARCH64_UNKNOWN_LINUX_GNU_OPENSSL_INCLUDE_DIR"] == f"{sysroot}/usr/include"
    assert env["CARGO_TARGET_DIR"] == cargo.IN_CONTAINER.target_dir


def test_cross_env_host_has_no_std_flag() -> None:
    paths = dataclasses.replace(cargo.IN_CONTAINER, std="")
    flags = cargo.cross_env(ARM64, paths, std=False)["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS"]
    assert not any(f.startswith("--sysroot=") for f in flags.split())


def test_cargo_config_replaces_crates_io() -> None:
    text = cargo.cargo_config("debian", cargo.IN_CONTAINER, "/debforge/sysroot/usr/share/cargo/registry")
    assert 'replace-with = "local"' in text
    assert 'directory = "/debforge/sysroot/usr/share/cargo/registry"' in text
    assert 'directory = "/debforge/src/vendor"' in cargo.cargo_config("vendored", cargo.IN_CONTAINER, "x")
    assert cargo.cargo_config("registry", cargo.IN_CONTAINER, "x") == ""


def test_error_tail_starts_at_cargo_error() -> None:
    log = "   Compiling a v1\n   Compiling b v1\nerror[E0425]: cannot find value `x`\n --> src/main.rs:1:1\n"
    assert cargo.error_tail(log).startswith("error[E0425]")
    assert cargo.error_tail("just\nnoise") == "just\nnoise"


def fake_rustc(bindir: Path, sysroot: Path) -> None:
    """A rustc that answers -V and --print sysroot like rustup's stable 1.95 without extra targets."""
    bindir.mkdir()
    script = bindir / "rustc"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in -V) echo "rustc 1.95.0 (59807616e 2026-04-14)";; '
        f'--print) echo "{sysroot}";; esac\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    (sysroot / "lib/rustlib/x86_64-unknown-linux-gnu/lib").mkdir(parents=True)


def test_host_toolchain_without_target_std_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_rustc(tmp_path / "bin", tmp_path / "sysroot")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "nocargo"))
    with pytest.raises(BuildError) as err:
        run_build(tmp_path / "cache", hello_recipe(), toolchain="host")
    assert str(err.value) == (
        "the host's rustc 1.95 has no std for aarch64-unknown-linux-gnu; use --toolchain container "
        "(default), or install it with `dpkg --add-architecture arm64 && apt install libstd-rust-dev:arm64`"
    )
    assert not (tmp_path / "cache" / "trees").exists() or not any((tmp_path / "cache" / "trees").iterdir())


def test_real_host_rustc_without_aarch64_std(tmp_path: Path) -> None:
    """The machine's own rustc (rustup stable, x86_64 only here) gives the rustup fix."""
    rustup = Path.home() / ".cargo/bin/rustup"
    sysroot = Path.home() / ".rustup/toolchains"
    if not rustup.is_file() or any(sysroot.glob("*/lib/rustlib/aarch64-unknown-linux-gnu")):
        pytest.skip("this host has no rustup rustc, or it has the aarch64 std")
    with pytest.raises(
        BuildError,
        match=r"has no std for aarch64-unknown-linux-gnu; use --toolchain "
        r"container \(default\), or install it with `rustup target add aarch64-unknown-linux-gnu`",
    ):
        run_build(tmp_path / "cache", hello_recipe(), toolchain="host")


def test_emulate_with_host_toolchain_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        run_build(tmp_path, hello_recipe(), toolchain="host", emulate=True)


def test_project_without_cargo_toml(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with pytest.raises(RecipeError, match=r"neither debforge\.toml nor Cargo\.toml"):
        load_recipe(tmp_path, arch="arm64", reporter=NullReporter())
    recipe = dataclasses.replace(
        hello_recipe(),
        source_dir=tmp_path,
        build=dataclasses.replace(hello_recipe().build, manifest=tmp_path / "Cargo.toml"),
    )
    with pytest.raises(BuildError, match=r"has no Cargo\.toml"):
        run_build(tmp_path / "cache", recipe)


def prebuilt_recipe(tmp_path: Path, binary: Path) -> Recipe:
    return dataclasses.replace(hello_recipe(), build=BinaryBuild(binary=binary))


@pytest.mark.integration
def test_binary_passthrough_copies_to_out(tmp_path: Path) -> None:
    binary = compile_c(tmp_path / "hello")
    out = tmp_path / "out"
    result = run_build(tmp_path / "c", prebuilt_recipe(tmp_path, binary), out=out)
    assert isinstance(result, Artifacts)
    (artifact,) = result.files
    assert artifact.source == out / "hello" and artifact.arch == "arm64"
    assert artifact.source.read_bytes() == binary.read_bytes()
    assert os.access(artifact.source, os.X_OK)
    assert result.to_json()[0]["sha256"] == artifact.sha256
    assert [p.name for p in out.iterdir()] == ["hello"]  # no temporary left behind


@pytest.mark.integration
def test_binary_for_another_arch_is_refused(tmp_path: Path) -> None:
    binary = compile_c(tmp_path / "hello", cc="gcc")
    with pytest.raises(BuildError, match="built for amd64, not arm64"):
        run_build(tmp_path / "c", prebuilt_recipe(tmp_path, binary))


def test_dbgsym_strip_lines_split_debug_info_as_dh_strip_does(tmp_path: Path) -> None:
    """The real script on a real arm64 ELF: debug file by build-id, stripped binary with a debuglink."""
    from debforge.elf import build_id
    from debforge.run import run
    from tests.conftest import require_tool

    require_tool("aarch64-linux-gnu-gcc")
    built, out = tmp_path / "built", tmp_path / "out"
    built.mkdir()
    out.mkdir()
    compile_c(built / "hello", args=["-g", "-Wl,--build-id"])
    lines = cargo.strip_lines("aarch64-linux-gnu-", str(built), str(out), "hello", dbgsym=True)
    run(["sh", "-c", "\n".join(["set -e", *lines])])
    ident = build_id(built / "hello")
    assert ident is not None and build_id(out / "hello") == ident
    debug = out / cargo.DEBUG_DIR / "hello" / f"{ident[2:]}.debug"
    assert build_id(debug) == ident
    sections = run(["aarch64-linux-gnu-readelf", "-S", "-W", out / "hello"]).text
    assert ".gnu_debuglink" in sections and ".debug_info" not in sections
    assert ".debug_info" in run(["aarch64-linux-gnu-readelf", "-S", "-W", debug]).text


def test_strip_lines_without_dbgsym_only_strip() -> None:
    lines = cargo.strip_lines("x-", "/b", "/o", "app", dbgsym=False)
    strip = "x-strip --strip-unneeded --remove-section=.comment --remove-section=.note -o /o/app /b/app"
    assert lines == [strip]


# --------------------------------------------------------------------------- toolchain from a newer dist


def _cargo_project(tmp_path: Path, package: str, build: str = "") -> Path:
    """A one-bin Cargo project with a debforge.toml: `package` lines go into Cargo.toml's [package]."""
    (tmp_path / "src").mkdir(parents=True)
    (tmp_path / "src/main.rs").write_text("fn main() {}\n")
    (tmp_path / "Cargo.toml").write_text(f'[package]\nname = "tool"\nversion = "1.0.0"\n{package}\n')
    (tmp_path / "debforge.toml").write_text(
        '[package]\nmaintainer = "A B <a@example.org>"\ndescription = "a tool"\n'
        f'[build]\nkind = "cargo"\n{build}\n'
    )
    return tmp_path


def hello_spec() -> CargoBuild:
    spec = hello_recipe().build
    assert isinstance(spec, CargoBuild)
    return spec


def _spec(tmp_path: Path, package: str, build: str = "") -> CargoBuild:
    recipe = load_recipe(_cargo_project(tmp_path, package, build), arch="arm64", reporter=NullReporter())
    assert isinstance(recipe.build, CargoBuild)
    return recipe.build


def test_min_rustc_from_rust_version_else_edition(tmp_path: Path) -> None:
    assert hello_spec().min_rustc == "1.56"  # edition 2021, no rust-version
    assert _spec(tmp_path / "a", 'edition = "2021"\nrust-version = "1.70"').min_rustc == "1.70"
    assert _spec(tmp_path / "b", 'edition = "2024"').min_rustc == "1.85"
    assert _spec(tmp_path / "c", "").min_rustc == "1.0"  # Cargo's default edition 2015
    with pytest.raises(RecipeError, match=r"'edition' in \[package\] of .*Cargo.toml is '2031'"):
        _spec(tmp_path / "d", 'edition = "2031"')


def test_a_too_old_rustc_takes_the_newer_dists_toolchain() -> None:
    spec = hello_spec()
    bullseye = make_target("bullseye", "arm64")
    tool = toolchain_target(spec, bullseye)
    assert (tool.dist, tool.arch, tool.rustc) == ("bookworm", "arm64", "1.96")
    assert [s.name for s in tool.suites] == ["bookworm", "bookworm-updates", "bookworm-security"]
    # A project bullseye's own rustc 1.48 builds stays on bullseye; bookworm and trixie keep their own.
    assert toolchain_target(dataclasses.replace(spec, min_rustc="1.40"), bullseye) is bullseye
    assert toolchain_target(spec, ARM64) is ARM64
    trixie = make_target("trixie", "armhf")
    assert toolchain_target(spec, trixie) is trixie


def test_an_arch_without_the_dists_rust_std_takes_the_newer_dists_toolchain() -> None:
    """bookworm's rustc-web has no armel std (the archive lists libstd-rust-web-dev for every other
    bookworm arch): trixie's rustc 1.85 builds for bookworm armel, against bookworm's sysroot."""
    armel = make_target("bookworm", "armel")
    assert not armel.own_rust and make_target("bookworm", "armhf").own_rust
    assert toolchain_target(hello_spec(), armel).dist == "trixie"
    with pytest.raises(BuildError, match=r"bookworm has no Rust std for armel and no newer Debian toolchain"):
        toolchain_target(dataclasses.replace(hello_spec(), min_rustc="1.96"), armel)


def test_toolchain_dist_overrides_the_choice(tmp_path: Path) -> None:
    spec = _spec(tmp_path, 'edition = "2018"', 'toolchain-dist = "trixie"')
    assert spec.toolchain_dist == "trixie"
    assert toolchain_target(spec, make_target("bullseye", "amd64")).dist == "trixie"
    assert toolchain_target(spec, ARM64).dist == "trixie"


def test_toolchain_dist_key_is_checked(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=r"toolchain-dist.*'buster' is not a dist debforge knows"):
        _spec(tmp_path / "a", 'edition = "2021"', 'toolchain-dist = "buster"')
    project = _cargo_project(tmp_path / "b", "")
    (project / "debforge.toml").write_text(
        '[package]\nname = "x"\nversion = "1"\nmaintainer = "A B <a@example.org>"\ndescription = "x"\n'
        '[build]\nkind = "binary"\nbinary = "Cargo.toml"\ntoolchain-dist = "bookworm"\n'
    )
    with pytest.raises(RecipeError, match="'toolchain-dist' is for kind 'cargo' only, not 'binary'"):
        load_recipe(project, arch="arm64", reporter=NullReporter())


def test_no_known_toolchain_new_enough_is_one_sentence() -> None:
    spec = dataclasses.replace(hello_spec(), min_rustc="1.120")
    with pytest.raises(BuildError) as info:
        toolchain_target(spec, make_target("bullseye", "arm64"))
    assert "needs rustc 1.120 (its rust-version or edition), but bullseye's rustc is 1.48" in str(info.value)
    assert "toolchain-dist" in (info.value.hint or "")


def test_emulate_refuses_a_newer_dists_toolchain_before_any_download(tmp_path: Path) -> None:
    with Session(cache=Cache(tmp_path / "cache"), offline=True) as session, pytest.raises(BuildError) as info:
        plan_build(session, hello_recipe(), make_target("bullseye", "arm64"), emulate=True)
    assert "--emulate builds with bullseye's own rustc 1.48" in str(info.value)
    assert "bookworm's rustc" in (info.value.hint or "")


def test_static_link_with_a_newer_gcc_searches_the_targets_libgcc_first() -> None:
    env = cargo.cross_env(ARM64, cargo.IN_CONTAINER, std=True, static=True, libgcc="/usr/lib/gcc/x/10")
    flags = env["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS"].split()
    assert "-Clink-arg=-L/debforge/sysroot/usr/lib/gcc/x/10" in flags
    assert flags.index("-Clink-arg=--sysroot=/debforge/sysroot") < flags.index("-Ctarget-feature=+crt-static")
    plain = cargo.cross_env(ARM64, cargo.IN_CONTAINER, std=True, static=True)
    assert "-L" not in plain["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS"]
